# upy-heap: 216k
"""The charger's pilot burst against samples that land on the PWM's edges (issue 9, item 9), under
CPython and the MicroPython unix port: the sweep is host_tests/test_safety_pilot_edges.py; here the
cases that failed, and the burst with its edge handling under a locked heap."""
import gc

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive


def session(duty_amps, phase, hlc=False):
    mm.reset_world()
    gc.collect()
    d = Drive(config={"max_current": 80}, start_us=phase)
    d.run(0.5)
    if hlc:
        d.charger.hlc = True
    else:
        d.charger.set_limit("console", duty_amps)
    d.plug()
    d.run(0.3)
    b = (d.state, d.fault)
    d.ev("C")
    d.run(0.8)
    return b, (d.state, d.fault, d.coil)


def test_80_percent_with_both_edges_sampled():
    # NACS 48 A: samples at 802 us (falling ramp) and 2 us (rising ramp) of each period
    assert session(48, 2) == (("B2", None), ("C2", None, True))


def test_96_percent_with_both_edges_sampled():
    assert session(80, 2) == (("B2", None), ("C2", None, True))
    assert session(80, 1) == (("B2", None), ("C2", None, True))


def test_5_percent_car_in_c_reads_c():
    # (and waits, the contactor open: nothing here agrees a current at 5 %)
    assert session(None, 3, hlc=True) == (("B2", None), ("C2", None, False))


def pilot_reads(d, adc):
    """The pilot's ADC pin reads adc.read_u16() instead of the world's circuit; returns what it read."""
    pin = d.rig.board.PILOT_ADC_PIN
    real = mm.adc_sources.get(pin)
    mm.adc_sources[pin] = lambda us: adc.read_u16()
    return real


class EdgyPwmAdc:
    """A 96 % PWM in C read every 20 us with a sample on each ramp; integers only (allocates nothing)."""

    def __init__(self):
        self.t = 2

    def read_u16(self):
        ph = self.t % 1000
        self.t += 20
        if ph < 4:
            return 8936 + 10415 * ph      # rising ramp
        if ph < 960:
            return 44600                  # +6 V (C)
        if ph < 964:
            return 44600 - 8916 * (ph - 960)
        return 8936                       # -12 V


def test_burst_allocates_nothing_and_reads_the_plateaus():
    try:
        import micropython
        lock, unlock = micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        lock = unlock = lambda: None    # CPython: nothing to lock
    d = Drive(config={"max_current": 80})
    d.run(0.5).charge()
    hw, m = d.app.hw, d.app.m
    hw.duty_x100 = 9600               # the long (x3) burst
    real = pilot_reads(d, EdgyPwmAdc())
    lock()
    try:
        for _ in range(20):
            hw.sample_pilot(m)
    finally:
        unlock()
        mm.adc_sources[d.rig.board.PILOT_ADC_PIN] = real
    assert m.pilot_ok and abs(m.pilot_pos - 6000) < 100 and abs(m.pilot_neg + 12000) < 100, (
        m.pilot_pos, m.pilot_neg)


class GarbageAdc:
    """Half the samples thrown across 0 V: more edges than a 1 kHz PWM can make."""

    def __init__(self):
        self.n = 0

    def read_u16(self):
        self.n += 1
        return 8936 if self.n % 3 == 0 else 44600


def test_more_edges_than_a_pwm_is_not_a_state():
    d = Drive(config={"max_current": 32})
    d.run(0.5).charge()
    hw, m = d.app.hw, d.app.m
    pilot_reads(d, GarbageAdc())
    hw.sample_pilot(m)
    assert m.pilot_pos > 13000          # impossible: a pilot fault once confirmed


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
