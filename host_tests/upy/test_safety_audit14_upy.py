"""The fourteenth safety audit's core cases on both interpreters (the bench's:
host_tests/test_safety_audit14.py): a contactor closed for days under the boards' wrapping ticks
(2**30 ms) still tells an ordinary residual-current trip from an early one, and moving the close's
time on allocates nothing."""
from evse.core import charger as CH
from evse.core import limits as L
from evse.core import ticks as TK
from evse.services import settings

import upytest

try:
    import micropython
    heap_lock, heap_unlock = micropython.heap_lock, micropython.heap_unlock
except (ImportError, AttributeError):      # CPython: nothing to lock
    heap_lock = heap_unlock = lambda: None

WRAP_MASK = (1 << 30) - 1


def _charging_for(days):
    """A J1772 car charging, its contactor's mirror following the coil, stepped once a minute for
    days after the close (the ports' ticks: wrapping at 2**30 ms). -> (charger, measurements, now)"""
    cfg = settings.defaults()
    cfg["max_current"] = 32
    cfg["rcd_selftest"] = False
    ch = CH.Charger(cfg, diff=TK.ticks_diff)
    m = CH.Measurements()
    m.pilot_ok, m.pp_ohms, m.temp_c, m.feedback = True, 150, 30, 0
    t = 1000
    for level, n in ((9000, 400), (6000, 400)):
        for _ in range(n):
            t += 10
            mode = ch.out.pilot_mode
            m.pilot_pos = -12000 if mode == L.PILOT_F else level
            m.pilot_neg = level if mode == L.PILOT_X1 else -12000
            m.feedback = 1 if ch.out.contactor else 0
            ch.step(m, t)
            if ch.resample:
                ch.step(m, t)
    assert ch.out.contactor
    t0 = ch.t_closed
    now = t0
    for k in range(1, int(days * 1440) + 1):
        now = (t0 + k * 60000) & WRAP_MASK
        heap_lock()
        try:
            ch.step(m, now)
        finally:
            heap_unlock()
    assert ch.out.contactor and ch.fault is None
    return ch, m, now


def test_a_trip_after_a_week_of_charging_is_an_ordinary_one():
    ch, m, now = _charging_for(7)
    m.rcd_trip, m.rcd_edges, m.rcd_trip_ms = True, 1, now
    ch.step(m, (now + 10) & WRAP_MASK)
    assert ch.fault == "rcd" and not ch.out.contactor, ch.fault


def test_a_drop_out_after_a_week_of_charging_is_seen():
    ch, m, now = _charging_for(7)
    m.feedback = 0
    for k in range(1, L.FEEDBACK_CONFIRM_MS // 10 + 2):    # (read so FEEDBACK_CONFIRM_MS: stop 50)
        ch.step(m, (now + 10 * k) & WRAP_MASK)
    assert ch.fault == "no_close" and not ch.out.contactor, ch.fault


if __name__ == "__main__":
    upytest.run(globals())
