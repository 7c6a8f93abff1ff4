# Every timer and threshold of the charging core, with its source.
# Sources: IEC 61851-1 Annex A (Table A.4 levels, Table A.6 sequences), SAE J1772, SAE J3400,
# UL 2231; figures cross-checked in shared/reference/evse-facts.md (section numbers below).
from micropython import const

# --- Pilot output modes (facts 1) ---
PILOT_X1 = const(0)     # constant +12 V: no PWM ("100 %")
PILOT_F = const(1)      # constant -12 V: EVSE not available ("0 %")
PILOT_PWM = const(2)    # nominal duty advertising a current
PILOT_5PCT = const(3)   # 5 %: high-level communication required (ISO 15118 / DIN 70121)

PILOT_FREQ_HZ = const(1000)          # facts 1: 1000 Hz, allowed 980-1020 Hz

# --- Duty and current (facts 2). Duty in hundredths of a percent (0-10000). ---
DUTY_5PCT = const(500)
AMPS_MIN_X10 = const(60)             # 6 A: below it no charging; X1 (pause), never < 10 %
AMPS_LOW_MAX_X10 = const(510)        # 6-51 A: duty % = A / 0.6
AMPS_GAP_MAX_X10 = const(525)        # 51 < A < 52.5 has no encoding: advertise 51 A
AMPS_MAX_X10 = const(800)            # 80 A: 96 %, never more (J1772 readers: > 96.5 % = no charging)
AMPS_MAX = 80                        # the same in amperes: the highest limit any source may give
DUTY_NOMINAL_RAISE_MS = const(5000)  # facts 2: change the nominal duty at most once per 5 s (raises);
                                     # lowering is applied at once (it only makes the EV draw less)

# --- Pilot levels (facts 3, IEC 61851-1 Table A.4 with hysteresis), millivolts ---
PILOT_HIGH_FAULT_MV = const(13000)   # > 13 V: impossible
A_MIN_MV = const(11000)              # 11-13: A
AB_HYST_MV = const(10000)            # 10-11: keep A if it was, else B
B_MIN_MV = const(8000)               # 8-10: B
BC_HYST_MV = const(7000)             # 7-8: keep A/B if it was, else C
C_MIN_MV = const(5000)               # 5-7: C
CD_HYST_MV = const(4000)             # 4-5: keep A/B/C if it was, else D
D_MIN_MV = const(2000)               # 2-4: D
E_MIN_MV = const(-1000)              # -1..2: E (pilot shorted to PE)
                                     # -10..-2 (negative plateau of the PWM, or in F): pilot fault
F_MIN_MV = const(-13000)             # -13..-11: F
F_MAX_MV = const(-11000)
NEG_PLATEAU_MAX_MV = const(-10000)   # diode check (facts 3): PWM negative plateau near -12 V (-11..-13,
NEG_PLATEAU_MIN_MV = const(-14000)   # widened by the +-5 % source and 0.5 V of noise); beyond 14 V: impossible
DIODE_MIRROR_MV = const(2000)        # |pos + neg| below this while pos > 2 V: diode missing/shorted

# --- Pilot timing (facts 4) ---
TICK_MS = const(10)                  # control tick; detection plus command within 20 ms (seq 8.1)
QUIET_MAX_MS = const(1000)           # a quiet tick skips the core's step (nothing can change); a full one at least every 1 s
# The stall guard (rp2, evse/shell/guard.py): a hard timer interrupt that reads the pilot while one long
# call in C (a TLS handshake's key exchange) holds the loop; it opens for B, A or a fault (seq 8.1:
# within 100 ms) after STALL_STRIKES readings in a row, STALL_GUARD_MS apart
STALL_MS = const(30)                 # no control tick for 3 periods: the loop is held, the guard reads
STALL_GUARD_MS = const(5)            # the guard's interrupt period
STALL_STRIKES = const(2)             # readings in a row without C or D before it opens (as FAST_CONFIRM)
FAST_CONFIRM = const(2)              # bursts that must agree for A, E, F, faults or C->B (<= 20 ms)
# A pilot that reads a fault level on and off (a broken line: half its samples wild) is a fault too:
# FAST_CONFIRM fault readings among the last FAULT_WINDOW bursts confirm it, clean readings between
# them or not (the Pico's 4 samples per plateau, extremes dropped, read such a pilot clean in most
# bursts, and it waited up to 120 ms for two fault readings in a row)
FAULT_WINDOW = const(4)
UNDECIDED_WARN_BURSTS = const(100)   # a level in a gap with no state to keep, for 1 s: warn (no charging)
BC_QUALIFY_MS_DEFAULT = const(300)   # B->C qualified over 200-500 ms (setting's default, range): chatter guard
BC_QUALIFY_MS_MIN = const(200)
BC_QUALIFY_MS_MAX = const(500)
# What a C qualification's bursts weigh for and against C: the sum of their distances (mV) from the
# B/C edge (BC_HYST_MV), C only when it is below 0 (their mean reads in C, not in the 7-8 V gap: a car
# there with noise read in C now and then). Bounded both ways: a car long in the gap that then asks
# (6 V, 1 V below the edge a burst) is qualified within 50 bursts (0.5 s at 10 ms), and a car clearly
# in C reaches its bound in two bursts, after which its qualification is a fixed point (quiet ticks).
QUALIFY_WEIGHT_MAX = const(50000)
QUALIFY_WEIGHT_MIN = const(-2000)
# seq 10.2: PWM removed, EV in C: open after 6 s at most, as the pins show it. The tick that opens
# applies its outputs a few ms later into its tick than the one that took the PWM off (on the
# emulated Pico the coil 4.7 ms in, X1 3.7 ms in: 6.001 s at the pins, 6.005 s from the pwm line),
# and ticks come 10 ms apart: a tick less keeps it under 6 s (5.99 s).
EV_STOP_WAIT_MS = const(6000 - TICK_MS)
# A hold counts from the whole ms the clock read at its tick's start, and the pin changes when a
# tick applies its outputs, after its pilot burst: 1 ms for the clock and 4 ms for the bursts'
# different lengths (3.2 ms longer at 96 % than at F on the bench; the Pico captures before its
# tick) keep each at least the standard's, as an analyzer reads it (test_pilot_holds.py).
_HOLD_SKEW_MS = const(5)
FAULT_F_MIN_MS = const(300 + _HOLD_SKEW_MS)       # F for at least 300 ms after a fault
X1_MIN_MS = const(3000 + _HOLD_SKEW_MS)           # minimum time at X1 when pausing (3 s)
WAKEUP_F_MS = const(4000 + _HOLD_SKEW_MS)         # one wake-up: F for 4 s, once per plug-in (T_step_EF)

# --- Contactor (facts 6) ---
FEEDBACK_SETTLE_MS = const(150)      # contacts settle (mechanical): a feedback mismatch beyond this is a fault
FEEDBACK_CONFIRM_MS = const(20)      # ... once it has read so this long (three readings at TICK_MS): one
                                     # reading is a spike on the mirror's wire, not a weld (latched) or a drop-out
ECON_PULL_MS = const(200)            # economiser: full coil current, then hold at a lower PWM
ECON_HOLD_DUTY_U16 = const(26214)    # 40 % hold

# --- Residual current (facts 6: UL 2231 CCID20, IEC 62955 RDC-DD) ---
RCD_TEST_MAX_MS = const(500)         # self-test: expect a trip within 500 ms of the test output
RCD_TEST_SETTLE_MS = const(100)      # trip input released after the test, before closing
RCD_EARLY_MS = const(2000)           # a trip within 2 s of closing: hard fault
RCD_RETRY_MS = const(900000)         # retry after 15 min (UL 2231-2 14.4 a: at least 15 min) ...
RCD_MAX_TRIPS = const(5)             # ... at most 4 times: the 5th trip locks out until unplug or reset (14.4 b)

# --- Over-current (facts 7, EVerest practice) ---
OC_OFFSET_X10 = const(5)             # I > (I_signalled + 0.5 A) x 1.10 ...
OC_FACTOR_PCT = const(110)
OC_TRIP_MS = const(7000)             # ... for 7 s
OC_SIGNAL_WINDOW_MS = const(7000)    # judged against the highest current signalled in the last 7 s (+ EV follow)

# --- Temperature (facts 7, OpenEVSE practice): the settings' defaults ---
TEMP_HALF_C = const(65)
TEMP_QUARTER_C = const(68)
TEMP_STOP_C = const(71)
TEMP_RESTORE_C = const(62)           # (on average over 1 s: protections._RESTORE_MS)

# --- Meter plausibility (docs/metering.md): a value outside these, NaN or infinite, is a meter
# error: the reading is blind (current_a -1.0) and energy is counted from the sources left. ---
METER_MAX_A = const(400)             # 5 x the largest EV supply current (80 A, J1772): above the
                                     # instantaneous trip of any breaker feeding a charger (IEC 60898-1
                                     # curve B, 3-5 x In), so never a current that lasts a meter poll;
                                     # every real over-current below it still reaches the core's check
METER_MAX_V = const(600)             # RMS: 480 V mains + 10 % (IEC 60038) with margin; 0 is valid
                                     # (a phase of a three-phase meter left unconnected)
METER_MAX_HZ = const(70)             # 50/60 Hz mains (IEC 61851-1); 0 is valid (nothing measured)
METER_MAX_W = const(720000)          # 3 phases x METER_MAX_A x METER_MAX_V: a power no valid reading
                                     # exceeds (negative: export or reversed wiring, counts no energy)
METER_MAX_KWH = const(100000000)     # a lifetime counter: over a century at 100 kW around the clock
METER_MAX_RATE_W = const(100000)     # an energy counter never rises faster (3 x 80 A x 277 V = 66.5 kW)
METER_JUMP_SLACK_WH = const(100)     # ... plus this (counter resolution): more is a jump (meter
                                     # swapped or reset), less than before is going back

# --- Metering's settings (docs/metering.md): their defaults, one source for the settings schema
# (services/settings.py, which holds the ranges) and the meters built without a full settings dict.
# Keywords, not a {...} literal: the keys become qstrs, not a str object each (as settings.SCHEMA) ---
METER_DEFAULTS = dict(
    meter="none",            # the source: none, ct, s0, modbus or a model of modbus_maps.MAPS
    meter_phases=1,          # ct, s0
    nominal_volts=230.0,     # 120/240 in North America
    mains_hz=50,             # 0 = detect (ct)
    ct_ratio=2000.0,         # CT turns ratio (SCT-013-000: 100 A : 50 mA = 2000)
    ct_burden_ohms=22.0,
    ct_vref=3.3,             # ADC full-scale volts
    ct_cal=[1.0, 1.0, 1.0],  # per-phase trim
    ct_spc=40,               # samples per mains cycle per channel
    ct_interval_ms=500,
    volts_per_count=0.0,     # mains volts per ADC count of the voltage channel; 0 = nominal
    meter_addr=1,            # Modbus unit
    meter_baud=9600,         # the shell opens the UART with it
    meter_timeout_ms=300,    # per request
    meter_retries=2,
    meter_interval_ms=1000,
    meter_map="",            # generic map, see core/meter_maps.parse_generic_map
    s0_imp_per_kwh=1000,
)  # type: dict

# --- Proximity (facts 5), ohms ---
PP_OPEN = const(1000000000)          # no PP resistor (open)
PP_NOT_WIRED = const(-1)
PP_LATCHED_MAX = const(300)          # J1772/NACS: 150 ohm latched ...
PP_BUTTON_MIN = const(330)           # ... 480 ohm with the latch button pressed (both +-10 %)
PP_BUTTON_MAX = const(600)
# The same plug in a car: the car's own PP circuit (330 ohm to 5 V, 2.7 kohm to ground, facts 5)
# on the line the boards read through their 1 kohm pull-up to 3.3 V. 150 ohm reads about 1,021 ohm
# (730-1,507 over every part's tolerance: +-10 % resistors, 5 V +-5 %, 3.3 V +-2 %), 480 ohm about
# 6,264 ohm (3,061-49,162); a car whose PP circuit sleeps shows the bare values above.
PP_CAR_LATCHED_MIN = const(650)
PP_CAR_LATCHED_MAX = const(1700)
PP_CAR_BUTTON_MIN = const(2500)
PP_UNPLUGGED_MIN = const(100000)     # J1772 plug out (or PP not wired): pull-up only
BUTTON_OPEN_MS = const(500)          # latch button pressed while charging: PWM off at once, open at
                                     # most this long after the press (the plug takes longer to leave; facts 5)
BUTTON_SEEN_MS = const(30)           # PP is read once a tick: a press is seen up to 2 ticks after it,
                                     # and taken when the next reading agrees (one is not a press)
T2_FAULT_LOW = const(60)             # Type 2: below 60 ohm, or outside every band below: fault
# (min ohm, max ohm, amps on two or three phases, amps on one) accept bands of the cable coding
# resistor: IEC 61851-1 Table B.2 / facts 5 (80-140, 164-308, 400-936, 1100-2460 ohm; the 100 ohm
# cable is 63 A on three phases, 70 A on one), each 3 % wider for the reading's own error: the
# ADC's step and noise read a resistor at a band's edge up to a few ohms outside it. The gaps stay faults.
T2_BANDS = ((77, 145, 63, 70), (159, 318, 32, 32), (388, 964, 20, 20), (1067, 2534, 13, 13))

# --- A Type 2 socket's plug lock (IEC 61851-1 ed.3: a socket-outlet in mode 3 has a locking device,
# the plug cannot be withdrawn under load; IEC 62196-2 Type 2): an actuator (motor or solenoid) with a
# feedback switch. Locked before any current is offered, unlocked only with the contactor open
# (esp32-evse socket_lock.c, SmartEVSE-3 Timer100ms, EVerest IECStateMachine) ---
LOCK_PULSE_MS = const(600)           # one drive of the actuator (SmartEVSE-3: 600 ms; esp32-evse: 300 ms)
LOCK_RETRY_MS = const(1000)          # the feedback disagrees: drive again this long after the last start
LOCK_MOVE_MS = const(3000)           # the feedback must agree within this of a command (three drives,
                                     # as esp32-evse's retries): else fault 'lock', nothing offered
LOCK_OPEN_CONFIRM_MS = const(20)     # a held lock's switch reading unlocked: the fault once it has read so
                                     # this long (three readings at TICK_MS): one reading is a bounce (a knock,
                                     # a contact's bounce), a bolt that leaves reads open on every reading;
                                     # the contactor still opens within 100 ms (Table A.6 seq 8.1's unplug)
UNLOCK_ANSWER_MS = const(10000)      # OCPP UnlockConnector waits this long for 'unlocked': the EV's
                                     # stop (EV_STOP_WAIT_MS), then the unlock (LOCK_MOVE_MS)

# --- Watchdog ---
WDT_TIMEOUT_MS = const(2000)
MAINT_WINDOW_MS = const(600000)      # REPL after Ctrl-C or a soft reset (tools, flashing): outputs safe,
                                     # watchdog fed by a soft timer for 10 min, then it resets the board


# --- Limits from any source (settings, console, OCPP, the board's rating) ---
def check_number(value, lo, hi):
    """value as a float when it is a real, finite number in lo..hi, else ValueError saying why.
    The one check every current limit passes, whatever its source: "16" is not 16, true is not 1,
    and NaN or infinity is no number (NaN fails every comparison, int(inf) raises)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if value - value != 0:            # inf - inf and NaN - NaN are NaN; any finite x - x is 0
        raise ValueError("must be a finite number")
    if not lo <= value <= hi:
        raise ValueError("out of range %s..%s" % (lo, hi))
    return float(value)


# --- Wi-Fi: the way back in when the configured network cannot be joined (docs/network.md) ---
# No standard; what a home owner expects (OpenEVSE, WLED, Tasmota reopen their set-up access point
# when the station cannot connect). The station keeps trying in the background meanwhile.
WIFI_RESCUE_MS = const(180000)       # no link for 3 min: the set-up access point reopens. Longer than a
                                     # home router's reboot (1-2 min), so a restart or a short outage
                                     # never opens it; short enough that a user is not left waiting
WIFI_REFUSED_MAX = const(3)          # or sooner: 3 attempts in a row refused for the password (about
                                     # 75 s with the back-off). A router that is down or rebooting says
                                     # "not found", never "wrong password"; 3, not 1, in case one answer
                                     # was garbled by a weak signal
