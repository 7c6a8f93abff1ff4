# upy-heap: 256k
"""The third safety audit's board behaviour under CPython and the MicroPython unix port (the sweeps and
the wrapping-tick cases are host_tests/test_safety_audit3.py): a PWM too short to read opens the
contactor; an offer withdrawn during the residual-current self-test ends it."""
import gc

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive


def charging():
    mm.reset_world()
    gc.collect()
    d = Drive(config={"max_current": 32})
    d.run(0.5)
    d.charge(32)
    d.run(2.0)
    return d


class StuckPwm:
    """The car unplugged behind a PWM stuck near 99 %: +12 V but for 10 us at -12 V each period."""

    def __init__(self, hi, lo):
        self.hi = hi
        self.lo = lo

    def read(self, t_us):
        return self.lo if t_us % 1000 < 10 else self.hi


def test_a_pwm_too_short_to_read_opens_the_contactor():
    d = charging()
    w = d.world
    pin = d.rig.board.PILOT_ADC_PIN
    src = StuckPwm(w.volts_to_u16(12.0), w.volts_to_u16(-12.0)).read
    t = mm.clock.us
    mm.adc_sources[pin] = src
    d.rig.run(0.2)                        # (the world's own source back only at its next change)
    opened = d.coil_change(0, t)
    assert opened is not None and opened - t <= 100000, (d.state, d.fault, opened)
    assert d.fault == "pilot" and not d.coil


def test_an_offer_withdrawn_during_the_self_test_switches_its_winding_off():
    mm.reset_world()
    gc.collect()
    d = Drive(config={"max_current": 32})
    d.run(0.5)
    d.plug()
    d.run(0.5)
    test_pin = d.rig.board.RCD_TEST_PIN
    d.ev("C")
    while mm.output(test_pin) != 1:
        d.rig.run(0.001)
    d.charger.set_limit("console", 0)     # nothing to offer, the car still asking
    d.run(1.0)
    assert d.state == "C1" and mm.output(test_pin) == 0 and not d.coil, (d.state, mm.output(test_pin))


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
