"""A charger that runs for months, eighth audit: MicroPython's ticks_ms wraps every 2**30 ms
(12.4 days) and ticks_diff is right only for stamps less than 2**29 ms (6.2 days) apart; on a
32-bit port an int past 2**30 - 1 is no small int any more (each new value allocates). The virtual
bench's clock wraps like the ports, and idles through days in coarse steps (one control cycle every
`step` seconds: no car, no timer of the core running).

Each scenario failed on the code before its fix (the commit that added it says what it read)."""
import json

from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from evse.metering.s0 import S0Meter

DAY_S = 86400
WRAP_MS = 1 << 30                   # the ports' ticks period
HALF_MS = 1 << 29                   # ticks_diff is right below this
SMALL_INT_MAX = (1 << 30) - 1       # a 32-bit port's largest small int
MASK = WRAP_MS - 1


def long_ints(obj):
    """The ints an object keeps past a 32-bit port's small ints (each update a new long int)."""
    return {k: v for k, v in vars(obj).items() if type(v) is int and not -SMALL_INT_MAX - 1 <= v <= SMALL_INT_MAX}


def idle(b, seconds, step=60):
    """`seconds` of virtual time with one control cycle every `step` seconds (the charger idles:
    the cycles between change nothing but the clocks)."""
    end = mm.clock.us + int(seconds * 1e6)
    while mm.clock.us < end:
        mm.clock.advance_us(min(int(step * 1e6), end - mm.clock.us))
        b.rig.next_tick_us = mm.clock.us
        b.run(0.001)


# --- S0: a week without a pulse is no power (s0.py) --------------------------------------------------

def test_an_s0_meter_silent_for_a_week_does_not_show_the_last_charge_again():
    """7.4 kW (a pulse every 486 ms at 1000 imp/kWh) until the car is full, then no pulse for a
    week: the power and current read 0 all week, and a new car's pulses give its own power."""
    s = S0Meter(1000, nominal_volts=230.0, phases=1)
    iv_us = int(3.6e12 / (1000 * 7400))
    t_us = 0
    for _ in range(20):
        s.on_pulse(t_us & MASK)
        s.poll((t_us // 1000) & MASK)
        t_us += iv_us
    assert abs(s.power_w - 7400) < 10
    shown = []
    t_ms = t_us // 1000
    for _ in range(7 * 24 * 60):               # a poll a minute for a week (the board: every tick)
        t_ms += 60000
        s.poll(t_ms & MASK)
        shown.append((t_ms, s.power_mw, s.ma[0]))
    last_ms = t_ms - 7 * 24 * 60 * 60000
    late = [(t, p, a) for t, p, a in shown if (p or a) and t - last_ms > 500000]   # (s0.MAX_INTERVAL_MS)
    # (before: from 2**29 ms on the time since the last pulse read as negative, and the last
    # interval's 7.4 kW and 32 A were shown again: the current is the core's over-current input)
    assert late == [], late[:3]
    t_us = t_ms * 1000
    for _ in range(6):                          # the next car: 3.7 kW
        t_us += 2 * iv_us
        s.on_pulse(t_us & MASK)
        s.poll((t_us // 1000) & MASK)
        assert s.power_w < 3800, s.power_w      # the first pulse after the week gives no rate
    assert abs(s.power_w - 3700) < 10


# --- the log on flash: a line after a quiet week (log.py) ----------------------------------------------

def _logged(b):
    try:
        with open(b.rig.flash_dir + "/log.txt") as f:
            return f.read()
    except OSError:
        return ""


def test_a_log_line_after_a_quiet_week_reaches_the_flash_within_a_second(tmp_path):
    from evse.services import console
    b = Drive(flash_dir=str(tmp_path))
    console.attach(b.app, console.UartStream(mm.UART(9, 115200)))
    b.run(1)
    b.app.report("meter", "first")
    b.run(1.5)
    assert "first" in _logged(b)
    idle(b, 7 * DAY_S)                          # nothing to log for a week
    b.app.report("meter", "a week later")
    b.run(1.5)
    # (before: its last write 2**29 ms ago read as just now: the line waited in RAM up to 6.2 days
    # more, lost at a power cut, and with 32 more lines the oldest dropped)
    assert "a week later" in _logged(b)


# --- the energy count's clocks stay small ints (energy.py) ---------------------------------------------

def test_idle_for_two_weeks_the_energy_clocks_stay_small_ints(tmp_path):
    b = Drive(config={"meter": "ct", "meter_phases": 1}, flash_dir=str(tmp_path))
    b.run(1)
    e = b.app.meter.energy
    idle(b, 14 * DAY_S)
    # (before: the time since the last checkpoint grew with no energy to write, past 2**30 after
    # 12.4 days: on a 32-bit board a long int made in every control tick's meter poll)
    assert long_ints(e) == {}


def test_a_car_left_plugged_for_two_weeks_its_session_lasts_two_weeks(tmp_path):
    b = Drive(config={"meter": "ct", "meter_phases": 1}, flash_dir=str(tmp_path))
    b.run(1)
    b.charge(16)
    b.run(60)
    b.ev("B")                                   # full: the car stays plugged
    b.run(2)
    e = b.app.meter.energy
    assert e.session_open
    wh = e.wh_session
    idle(b, 14 * DAY_S, step=30)
    # (before: the session's ms passed 2**30 after 12.4 days: a long int in every tick's poll)
    assert long_ints(e) == {}
    b.unplug()
    b.run(2)
    rec = b.app.meter.sessions()[-1]
    assert abs(rec["dur_s"] - (14 * DAY_S + 65)) <= 3, rec
    assert abs(rec["wh"] - wh) < 0.01, (rec, wh)


def test_a_power_cut_after_a_two_week_session_records_its_two_weeks(tmp_path):
    """(A guard of the fix above, passed before it too: the checkpoint still keeps the session's
    whole ms, read back into seconds and ms.)"""
    b = Drive(config={"meter": "ct", "meter_phases": 1}, flash_dir=str(tmp_path))
    b.run(1)
    b.charge(16)
    b.run(60)
    b.ev("B")
    b.run(2)
    idle(b, 14 * DAY_S, step=30)
    b.charge(16)                                # (the car asks again: a checkpoint with its energy)
    b.run(120)
    b.rig.power_off()
    b.rig.power_on()
    b.run(1)
    rec = b.app.meter.energy.restored
    assert rec is not None and rec["reason"] == "power_loss"
    assert abs(rec["dur_s"] - (14 * DAY_S + 185)) <= 65, rec     # (checkpoints a minute apart)
