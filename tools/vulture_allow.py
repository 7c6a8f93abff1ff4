# vulture's allow-list: names used where vulture cannot see it. Never imported.
#   .venv/bin/vulture firmware tools/vulture_allow.py --min-confidence 60
# Each line is a use of the name; say why beside it.
_ = None

# Dispatched by name: console handles {"cmd": X} with getattr(self, "_cmd_" + X).
_._cmd_help
_._cmd_status
_._cmd_sessions
_._cmd_limit
_._cmd_enable
_._cmd_disable
_._cmd_authorize
_._cmd_stop
_._cmd_clear
_._cmd_log
_._cmd_settings
_._cmd_set
_._cmd_reboot

# Dispatched by name: the OCPP service handles a CALL for action X with getattr(self, "_on_" + X).
_._on_ChangeAvailability
_._on_ChangeConfiguration
_._on_ClearCache
_._on_ClearChargingProfile
_._on_DataTransfer
_._on_GetCompositeSchedule
_._on_GetConfiguration
_._on_GetLocalListVersion
_._on_RemoteStartTransaction
_._on_RemoteStopTransaction
_._on_Reset
_._on_SendLocalList
_._on_SetChargingProfile
_._on_TriggerMessage
_._on_UnlockConnector

# Public API used off the board: the log's lowest level (tests, the REPL), the duty's inverse (what
# a vehicle reads; the duty tests), sealing a settings file (tools/flash.py).
_.debug
_.amps_x100_for_counts
_.seal
