"""Metering audit 2: bench scenarios for defects found by an independent review of the meter
sources, the energy count and the charging history (each failed on the code before its fix)."""
import pytest

from evse.metering.s0 import S0Meter

US_PERIOD = 1 << 30          # MicroPython's ticks_us wraps at 2^30 us (about 1074 s)


def s0_session(idle_s, watts=7200, minutes=10, imp=1000):
    """An S0 meter (imp/kWh) on a charger: one pulse, then idle_s without any (no car), then a car
    charging at `watts` for `minutes`, the interrupt stamped with the wrapping ticks_us. Returns
    (pulses the meter sent, pulses counted, Wh counted)."""
    s = S0Meter(imp)
    s.on_pulse(0)
    s.poll(0)
    wh_mwh = s.take_mwh()
    step_us = int(3.6e12 / (imp * watts))
    t = idle_s * 1000000
    end = t + minutes * 60 * 1000000
    sent = 1
    while t < end:
        s.on_pulse(t % US_PERIOD)
        sent += 1
        s.poll(t // 1000)
        wh_mwh += s.take_mwh()
        t += step_us
    return sent, s.count, wh_mwh / 1000


@pytest.mark.parametrize("idle_s", [60, 500, 540, 600, 900, 1070, 1100, 3600])
def test_s0_counts_every_pulse_after_a_long_idle_gap(idle_s):
    """The charger idles with no pulse for idle_s (the meter's S0 is silent without a load), then
    a car charges at 7.2 kW (a pulse every 0.5 s at 1000 imp/kWh). A gap between 537 and 1074 s
    made ticks_diff negative (half the 2^30 us period): every pulse was taken for a bounce against
    the pulse before the gap until the counter came round. Before the fix, idle 600 s: 1201 pulses
    sent, 253 counted, 948 Wh of 1201 Wh lost."""
    sent, counted, wh = s0_session(idle_s)
    assert counted == sent
    assert wh == pytest.approx(sent * 1.0)


def test_s0_bounces_still_dropped_after_a_long_gap():
    s = S0Meter(1000, debounce_us=20000)
    s.on_pulse(0)
    t = 600000000                          # 600 s later (negative ticks_diff against the last)
    for d in (0, 3000, 15000, 500000, 501000):
        s.on_pulse((t + d) % US_PERIOD)
    assert s.count == 3 and s.bounces == 3
    s.poll(600500)
    assert s.take_mwh() == 3000
    assert s.power_w == pytest.approx(7200, rel=1e-4)     # from the 0.5 s interval after the gap
