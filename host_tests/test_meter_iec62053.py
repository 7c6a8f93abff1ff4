"""The meters tested as an accredited laboratory tests a billing meter, at the test points of the
standards, on synthetic signals with an exact ground truth.

S0 (IEC 62053-31:1998, 4.1.3.3 and 4.1.3.4): a pulse is ON for t_ON >= 30 ms, OFF for t_OFF >= 30 ms
between pulses, and each edge may take up to 5 ms "including transient effects, e.g. contact
bounce" (public summaries of the standard; Siemens SENTRON PAC3200 manual, 2.6: "the minimum pulse
length is 30 ms"). The input counts rising edges, so a bounce on the trailing edge shows as
rising edges 30-35 ms after the pulse began.
"""
import pytest

from evse.metering.s0 import S0Meter

MASK = (1 << 30) - 1
T_ON_MIN_US = 30000             # IEC 62053-31 4.1.3.3
T_OFF_MIN_US = 30000
T_TRANSITION_MAX_US = 5000      # IEC 62053-31 4.1.3.4, contact bounce included


def s0_line(imp_per_kwh, watts, pulses, t_on_us=T_ON_MIN_US, bounce=(), start=12345):
    """The rising edges an S0 line shows: `pulses` pulses at the rate of `watts`, each with rising
    edges `bounce` us after its leading edge (a trailing edge that bounces)."""
    period = 3.6e12 / (imp_per_kwh * watts)
    assert period >= t_on_us + T_OFF_MIN_US, "not an IEC 62053-31 pulse train"
    edges = []
    for k in range(pulses):
        t0 = start + int(k * period)
        edges.append(t0)
        edges.extend(t0 + t_on_us + b for b in bounce)
    return edges, period


@pytest.mark.parametrize("watts", [1400, 7400, 22000, 50000])
@pytest.mark.parametrize("bounce", [(), (200, 1500, 4800)])
def test_s0_pulses_with_a_bouncing_trailing_edge_count_once(watts, bounce):
    """A 1000 imp/kWh meter (the default) with the shortest pulses the standard allows, up to the
    highest power the input is made for (S0_MAX_POWER_W, 72 ms apart): every pulse counts once,
    a trailing edge that bounces within its 5 ms adds nothing (before: counted at 20 ms)."""
    s = S0Meter(1000)
    edges, _ = s0_line(1000, watts, 200, bounce=bounce)
    for t in edges:
        s.on_pulse(t & MASK)
    s.poll(edges[-1] // 1000 + 1)
    assert s.count == 200 and s.bounces == 200 * len(bounce)
    assert s.take_mwh() == 200 * 1000               # 1 Wh a pulse, exact


def test_s0_leading_edge_bounce_is_dropped_at_every_rate():
    """A leading edge that bounces for its 5 ms counts once, at the meter constants whose pulses at
    50 kW can be IEC 62053-31 pulses (a 10000 imp/kWh meter pulses every 7.2 ms at 50 kW: shorter
    pulses than the standard's, and a debounce of 3.6 ms)."""
    for imp in (100, 400, 1000, 2000):
        s = S0Meter(imp)
        watts = min(50000, 3.6e12 / (imp * (T_ON_MIN_US + T_OFF_MIN_US)))   # as fast as it may pulse
        edges, _ = s0_line(imp, watts, 50, t_on_us=T_ON_MIN_US if imp <= 1000 else 1, bounce=())
        for t in edges:
            for b in (0, 700, 2500, T_TRANSITION_MAX_US - 1):
                s.on_pulse((t + b) & MASK)
        assert s.count == 50, imp
