"""How many pilot ADC conversions one control tick makes (issue 11: the tick's CPU on the Pico,
where a conversion costs about 17 us of interpreter time).

Bench scenario: the charger boots with no car (A1, +12 V, no PWM), a car is plugged in (B2, the
PWM at 53 %), asks (C2), then its diode shorts (a fault: -12 V, no PWM). With no PWM the pilot is
one level: a handful of conversions, not a 288-sample burst. On the Pico the PWM's plateaus are
sampled where the slice's counter says they are: a few per plateau, not a blind burst over a
whole period. The readings stay right: the states follow the car."""
import pytest

from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

LEVEL_MAX = 8             # conversions a tick with no PWM
PHASED_MAX = 16           # on the Pico with the PWM on: 4 per plateau, and any that straddled an edge


class Counting:
    def __init__(self, src):
        self.src = src
        self.n = 0

    def __call__(self, t_us):
        self.n += 1
        return self.src(t_us)


def reads_per_tick(d, ticks=20):
    """The most pilot conversions any of `ticks` control ticks made."""
    pin = d.rig.board.PILOT_ADC_PIN
    most = 0
    for _ in range(ticks):
        c = Counting(mm.adc_sources[pin])
        mm.adc_sources[pin] = c
        d.run(0.01)
        if mm.adc_sources[pin] is c:      # the world re-installs its source on a change
            mm.adc_sources[pin] = c.src
        most = max(most, c.n)
    return most


@pytest.mark.parametrize("board", ["sim", "rpi_pico"])
def test_a_constant_pilot_takes_a_handful_of_reads(board):
    d = Drive(config={"max_current": 32}, board=board)
    d.run(1.0)
    assert d.state == "A1"
    assert reads_per_tick(d) <= LEVEL_MAX
    d.plug()
    d.run(0.5)
    d.ev("C")
    d.run(1.0)
    assert (d.state, d.coil) == ("C2", True)
    d.world.diode_ok = False
    d.world.recompute()
    d.run(0.5)
    assert (d.state, d.fault, d.coil) == ("fault", "diode", False)
    assert reads_per_tick(d) <= LEVEL_MAX


def test_the_pico_samples_the_pwm_plateaus_where_they_are():
    d = Drive(config={"max_current": 32}, board="rpi_pico")
    d.run(1.0)
    d.plug()
    d.run(0.5)
    assert d.state == "B2"
    assert reads_per_tick(d) <= PHASED_MAX
    d.ev("C")
    d.run(1.0)
    assert (d.state, d.coil) == ("C2", True)
    assert reads_per_tick(d) <= PHASED_MAX
