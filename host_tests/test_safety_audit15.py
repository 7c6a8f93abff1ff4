"""The safety path attacked again (the fifteenth audit): the plug lock's motor while the control
loop is held, its switch's bounces, a lock board with a tethered cable, and every timer of the
core against the boards' wrapping ticks (2**30 ms: a difference turns negative 2**29 ms, 6.2
days, after its start)."""
import pytest

from evse.core import charger as CH
from evse.core import limits as L
from evse.core import ticks as TK
from evse.services import settings

WRAP = 1 << 30          # MicroPython's ticks_ms period on every port
DAY_MS = 24 * 3600 * 1000


def _j1772(**cfg):
    """A tethered J1772 charger; tick(level, ms): one step `ms` after the last, the car at level."""
    c = settings.defaults()
    c["max_current"] = 32
    c["rcd_selftest"] = False
    c.update(cfg)
    ch = CH.Charger(c, diff=TK.ticks_diff)
    m = CH.Measurements()
    m.pilot_ok, m.pp_ohms, m.temp_c, m.feedback = True, 150, 30, 0
    t = [1000]

    def tick(level=9000, ms=10):
        t[0] = (t[0] + ms) & (WRAP - 1)
        mode = ch.out.pilot_mode
        m.pilot_pos = -12000 if mode == L.PILOT_F else level
        m.pilot_neg = level if mode == L.PILOT_X1 else -12000
        m.feedback = 1 if ch.out.contactor else 0
        ch.step(m, t[0])
        if ch.resample:
            ch.step(m, t[0])
    for _ in range(400):
        tick(12000)
    return ch, m, tick


def _days(tick, days, level=9000):
    """days go by, the charger stepped once a minute."""
    for _ in range(int(days * 24 * 60)):
        tick(level, 60000)


def _states(ch, tick, seconds):
    """The states the charger goes through in the next seconds (10 ms ticks): [(state, ms), ...]."""
    seen = []
    for i in range(int(seconds * 100)):
        tick()
        if not seen or seen[-1][0] != ch.state:
            seen.append((ch.state, i * 10))
    return seen


# --- the wake-up of a sleeping car (B2 for wakeup_after_s, once per plug-in) ---

@pytest.mark.parametrize("days", [6.3, 12.3])
def test_a_wake_up_turned_on_days_after_the_plug_in_still_wakes_the_sleeping_car(days):
    """The wake-up off (wakeup_after_s 0) when a car was plugged in; it sleeps in B2 for days; the
    owner turns the wake-up on from the console (a live key): the car is woken (F for 4 s)
    wakeup_after_s later. Before, the B2 timer had run since the plug-in: 6.2 days on its
    wrapping difference read negative and nothing woke the car for the next 6.2 days."""
    ch, m, tick = _j1772(wakeup_after_s=0)
    for _ in range(500):
        tick()
    assert ch.state == "B2"
    _days(tick, days)
    assert ch.state == "B2"
    ch.cfg["wakeup_after_s"] = 30
    seen = _states(ch, tick, 40)
    wake = [ms for s, ms in seen if s == "wakeup"]
    assert wake and wake[0] <= 30000 + 20, seen


@pytest.mark.parametrize("days", [6.3, 12.3])
def test_a_residual_current_trip_for_days_then_gone_offers_the_car_its_current_again(days):
    """A car in B2 and the residual-current monitor tripped (a damp socket, a wet cable) for days,
    nothing closed: the fault rcd, the pilot at X1, retried every 15 min while it trips. Dry
    again, the retry offers again after X1's 3 s and the car charges. Before, the X1 hold's timer
    was the one from the fault's first F: 6.2 days on it read as just started and nothing was
    offered for 6.2 days more (B1, the car waiting, no fault said)."""
    ch, m, tick = _j1772()
    for _ in range(500):
        tick()
    assert ch.state == "B2"
    m.rcd_trip, m.rcd_edges = True, 1
    tick()
    assert ch.fault == "rcd"
    _days(tick, days)
    m.rcd_trip = False
    seen = _states(ch, tick, (L.RCD_RETRY_MS + 10000) / 1000)
    assert ("B2" in [s for s, _ in seen]) and ch.fault is None, seen
    for _ in range(100):
        tick(6000)
    assert ch.state == "C2" and ch.out.contactor, ch.state
