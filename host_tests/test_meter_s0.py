"""S0 pulse input: counting, debounce, energy remainder, power from the pulse interval."""
import pytest

from evse.metering.s0 import S0Meter

MASK = (1 << 30) - 1


def test_energy_per_pulse_with_remainder():
    s = S0Meter(800)                      # 1.25 Wh per pulse
    t = 0
    for _ in range(3):
        t += 100000
        s.on_pulse(t)
    s.poll(1000)
    assert s.take_mwh() == 3750
    s = S0Meter(3200)                     # 0.3125 Wh per pulse: remainder carried, never lost
    total = 0
    for i in range(1, 1001):
        s.on_pulse(i * 50000)
        s.poll(i * 50)
        total += s.take_mwh()
    assert total == 312500


def test_debounce_drops_bounces():
    s = S0Meter(1000, debounce_us=20000)
    for t in (0, 1000, 3000, 19000, 100000, 100500, 200000):
        s.on_pulse(t)
    assert s.count == 3 and s.bounces == 4


def test_default_debounce_scales_with_pulse_rate():
    assert S0Meter(1000).debounce_us == 20000
    fast = S0Meter(10000)                 # 50 kW at 10000 imp/kWh: a pulse every 7.2 ms
    assert fast.debounce_us == 3600


@pytest.mark.parametrize("watts", [1400, 7400, 11000, 22000])
def test_power_and_current_from_interval(watts):
    imp = 1000
    interval_us = int(3.6e12 / (imp * watts))
    s = S0Meter(imp, nominal_volts=230.0, phases=1)
    t = 5000
    for _ in range(5):
        s.on_pulse(t & MASK)
        t += interval_us
    s.poll((t - interval_us) // 1000)
    assert s.power_w == pytest.approx(watts, rel=0.001)
    assert s.amps[0] == pytest.approx(watts / 230.0, rel=0.001)
    assert s.ok and s.error is None


def test_power_decays_when_pulses_stop():
    s = S0Meter(1000)
    for t in (0, 500000, 1000000):        # 7.2 kW
        s.on_pulse(t)
    s.poll(1000)
    assert s.power_w == pytest.approx(7200)
    s.poll(2000)                          # 1 s without a pulse: at most 3.6 kW
    assert s.power_w == pytest.approx(3600)
    s.poll(61000)
    assert s.power_w == pytest.approx(60, rel=0.01)


def test_three_phase_current_share():
    s = S0Meter(1000, nominal_volts=230.0, phases=3)
    for t in (0, 200000, 400000):         # 18 kW
        s.on_pulse(t)
    s.poll(400)
    assert s.amps == [pytest.approx(18000 / 690, abs=0.001)] * 3    # published in whole mA


def test_tick_wrap_in_interrupt():
    s = S0Meter(1000)
    s.on_pulse(MASK - 100000)
    s.on_pulse(400000)                    # the us counter wrapped between pulses
    s.poll(0)
    assert s.count == 2 and s.power_w == pytest.approx(7200, rel=1e-4)      # 1 Wh in 0.500001 s


def test_bad_setting():
    with pytest.raises(ValueError):
        S0Meter(0)
