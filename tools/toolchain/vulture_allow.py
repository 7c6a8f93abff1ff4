# vulture's allow-list: names used where vulture cannot see it. Never imported.
#   .venv/bin/vulture firmware tools/toolchain/vulture_allow.py --min-confidence 60
# Each line is a use of the name; say why beside it.
_ = None

# Dispatched by name: console handles {"cmd": X} with getattr(self, "_cmd_" + X).
_._cmd_help
_._cmd_status
_._cmd_sessions
_._cmd_history
_._cmd_limit
_._cmd_grid
_._cmd_authorize
_._cmd_stop
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

# Read by the tests through public names (host_tests/test_public_interfaces.py).
_.queued_bytes      # the console's output waiting for the host: test_console
_.newest            # which of two sealed copies is the newest: test_energy, test_settings
_.timer             # the maintenance watchdog feeder: test_maintenance_upy

# The bench vehicle's pin maps (firmware/bench_vehicle/pins_*.py): read with getattr(pm, NAME + "_PIN").
_.CP_RELAY_PIN
_.R_C_PIN
_.R_D_PIN
_.DIODE_SHORT_PIN
_.CP_SHORT_PIN
_.BUTTON_PIN
_.WELD_PIN
_.POWER_CUT_PIN

# Diagnostics read off the board only (tests, the bench, the REPL).
_.retaken           # CT windows taken again after a hole: test_meter_integration
_.writes            # the energy store's flash writes: test_meter_upy, test_cycle_alloc_upy
_.session_open      # a session open in the energy store: test_energy, test_meter_service
_.failures          # Modbus readings that failed: test_modbus_pymodbus, test_safety_meter
_.exception_code    # the last Modbus exception reply: test_modbus_pymodbus
_.crc_errors        # Modbus frames with a bad CRC: test_modbus_pymodbus, test_meter_upy
_.timeouts          # Modbus requests unanswered: test_modbus_frames, test_meter_upy
_.bounces           # S0 pulses rejected as bounces: test_meter_s0, test_meter_upy
_.offsets           # the CT channels' tracked ADC bias (calibration display): test_meter_ct

# Lazy OCPP handlers, named as strings in operations.HANDLERS ("module.function") and imported
# when their first CALL arrives.
_.reserve_now
_.cancel_reservation
_.unlock_connector
_.update_firmware
_.get_diagnostics
_.certificate_signed
_.delete_certificate
_.extended_trigger_message
_.get_installed_certificate_ids
_.get_log
_.install_certificate
_.signed_update_firmware
# Read by microdot (PyPI, not in firmware/): the web service sets its request size limits.
_.max_content_length
_.max_body_length
_.options_handler       # the web service answers OPTIONS with its own Allow list

# Never read: placeholders that grow MicroPython's attribute table of the objects the tick calls
# (a method call's lookup misses through a full one; host_tests/test_room.py).
