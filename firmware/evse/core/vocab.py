# The charger's vocabulary: states, faults, event kinds and warnings. The string values are the
# wire format of the console, the bench's JSONL and the fault journal: never change one.
# Nothing else in the firmware spells these (host_tests/test_vocabulary.py checks it). The
# prefixes ST_ and FAULT_ list them (dir(vocab)): no tuple of them here, it would cost heap.
# States: IEC 61851-1 Annex A system states A-F (levels: Table A.4, sequences: Table A.6);
# 1 = X1, the pilot at a constant +12 V (nothing offered), 2 = X2, the PWM offering a current.

# --- States of the charger ---
ST_BOOT = "boot"           # power-on checks: pilot at F (-12 V), contactor open, no RCD trip
ST_A1 = "A1"               # A, X1: no vehicle connected
ST_B1 = "B1"               # B, X1: vehicle connected, not ready; nothing offered
ST_B2 = "B2"               # B, X2: vehicle connected, current offered (PWM), not asking
ST_C1 = "C1"               # C, X1: vehicle asks for power, none offered (contactor opens)
ST_C2 = "C2"               # C, X2: charging (contactor closed once the self-test passed)
ST_D1 = "D1"               # D, X1: as C1, vehicle needs ventilation
ST_D2 = "D2"               # D, X2: as C2, with ventilation
ST_PAUSED = "paused"       # B, X1 for an EVSE-side reason (limit < 6 A or min_current_a, temperature, latch button)
ST_WAKEUP = "wakeup"       # F for T_step_EF (4 s): waking a sleeping vehicle (Annex A)
ST_DISABLED = "disabled"   # F: operator disabled, EVSE not available (state F)
ST_FAULT = "fault"         # F, then X1 so an unplug is seen: a fault holds the contactor open

# --- Faults (the journal's reasons) ---
FAULT_WELD = "weld"                   # contactor feedback closed while commanded open
FAULT_NO_CLOSE = "no_close"           # contactor feedback open while commanded closed
FAULT_RCD = "rcd"                     # AC residual current trip (IEC 62955 RDC-DD / UL 2231)
FAULT_RCD_DC = "rcd_dc"               # DC residual current (6 mA DC) trip
FAULT_RCD_EARLY = "rcd_early"         # a trip within 2 s of closing
FAULT_RCD_SELFTEST = "rcd_selftest"   # the monitor did not trip on its self-test
FAULT_RCD_LOCKOUT = "rcd_lockout"     # too many trips in one plug-in
FAULT_PILOT = "pilot"                 # impossible pilot level (Table A.4), or no -12 V at boot
FAULT_DIODE = "diode"                 # the vehicle's diode is missing or shorted (Table A.4)
FAULT_STATE_E = "state_e"             # state E: pilot shorted to PE
FAULT_STATE_F = "state_f"             # state F read while the EVSE offered something
FAULT_VENTILATION = "ventilation"     # state D: the vehicle needs ventilation, none here
FAULT_PP = "pp"                       # proximity pilot out of every band (IEC 61851-1 Annex B)
FAULT_OVERCURRENT = "overcurrent"     # I > (I_signalled + 0.5 A) x 1.10 for 7 s
FAULT_INTERNAL = "internal"           # an exception in the control tick
FAULT_SETTINGS = "settings"           # no valid current limit from the installer or the board
FAULT_LOCK = "lock"                   # a Type 2 socket's plug lock: not locked (or not unlocked) in time, or opened

# --- Fault classes ---
# Never clear by themselves: the hardware needs service (or a reset for rcd_early).
LATCHED = (FAULT_WELD, FAULT_RCD_EARLY, FAULT_RCD_SELFTEST)
# The cause may vanish while the car stays: retried on a timer.
RETRY = (FAULT_RCD, FAULT_RCD_DC)
# Last exactly as long as their cause (F; an unplug does not clear them).
HELD = (FAULT_SETTINGS,)

# --- Event kinds: (kind, ...) tuples from the core to the app's listeners ---
EV_STATE = "state"            # (state, name)
EV_FAULT = "fault"            # (fault, name, set)
EV_CONTACTOR = "contactor"    # (contactor, closed)
EV_PILOT = "pilot"            # (pilot, mode, amps_x10); the app hands listeners ...
EV_PWM = "pwm"                # ... (pwm, duty %, amps) instead
EV_SESSION = "session"        # (session, SESSION_START | SESSION_END, reason)
EV_WARNING = "warning"        # (warning, name, on)

SESSION_START = "start"
SESSION_END = "end"
# A session ends for the reason a stop request gave, or "unplugged", or ST_DISABLED.

# --- Warnings ---
WARN_PILOT_UNDECIDED = "pilot_undecided"      # the pilot sits between two bands: no charging
WARN_OVERCURRENT_BLIND = "overcurrent_blind"  # meter lost while closed
WARN_STALL_OPENED = "stall_opened"  # the loop was held; the stall guard opened (until the next close)
WARN_TEMP_SENSOR = "temp_sensor"    # the temperature sensor reads no temperature: no charging

# --- Limit sources (Charger.set_limit); settings and board are never removed ---
SRC_SETTINGS = "settings"
SRC_BOARD = "board"
SRC_CONSOLE = "console"
SRC_REST = "rest"                     # the web page and REST API (a remote source: the fallback watches it)
SRC_SCHEDULE = "schedule"             # charging windows, off-peak tariff (services/planner.py)
SRC_SURPLUS = "surplus"               # solar surplus / grid limit (services/surplus.py)
FIXED_SOURCES = (SRC_SETTINGS, SRC_BOARD)
SRC_FALLBACK = "fallback"     # a remote controller's limit gone silent (evse.core.fallback)
GRID_MODBUS = "modbus"        # grid_source: the grid meter on the Modbus bus (evse.metering.grid)
