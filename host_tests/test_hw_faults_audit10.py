"""Every hardware call the shell makes, failing at a random tick of a charging session (tenth
audit): the pilot's and the PP's ADC, the temperature sensor, the current transformer's ADC (the
meter), the contactor's pin, its mirror contact, and the flash. Each raises (OSError, ValueError,
MemoryError) or returns what no hardware should (None, NaN, a value out of range), once or from
then on. Whatever it does: the contactor opens within the standard's 100 ms when the reading can
no longer be trusted (facts 4), the pilot stops offering, a fault says so, the loop keeps ticking
(or the watchdog resets the board, outputs safe), and the energy count is neither lost nor
lowered."""
import builtins
import math
import random
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from evse.core import limits as L
from evse.core.protections import THERMAL_STOP

TICK_S = 0.01
OPEN_S = 0.1                  # facts 4: the contactor open within 100 ms
RAISES = (OSError(5, "EIO"), ValueError("bad reading"), MemoryError())
GARBAGE_U16 = (None, math.nan, -1, 0x10000, 1 << 40)


class Broken:
    """A source that fails `times` times (None: from then on), and otherwise gives the real one's."""

    def __init__(self, real, how, times):
        self.real, self.how, self.left = real, how, times

    def failing(self):
        if self.left is None:
            return True
        if self.left > 0:
            self.left -= 1
            return True
        return False

    def __call__(self, *a):
        if not self.failing():
            return self.real(*a)
        if isinstance(self.how, BaseException):
            raise self.how
        return self.how


def charging(tmp_path, **cfg):
    c = {"max_current": 32, "meter": "ct"}
    c.update(cfg)
    d = Drive(config=c, flash_dir=str(tmp_path))
    d.run(0.5)
    d.plug(220 if c.get("connector") == "type2-socket" else 150)
    d.run(0.5)
    d.ev("C")
    d.world.draw_amps = 16
    d.run(8)
    assert d.coil and d.state == "C2", (d.state, d.fault)
    assert d.app.meter.wh_total > 0
    return d


def ticks_until(d, cond, seconds):
    """Run tick by tick up to `seconds`: the time it took for cond to hold, or None."""
    t0 = mm.clock.us
    for _ in range(int(round(seconds / TICK_S))):
        if cond():
            return (mm.clock.us - t0) / 1e6
        d.run(TICK_S)
    return (mm.clock.us - t0) / 1e6 if cond() else None


def offering(d):
    return d.app.charger.out.pilot_mode in (L.PILOT_PWM, L.PILOT_5PCT) or 0 < d.duty < 100


def break_adc(d, pin, how, times):
    real = mm.adc_sources[pin]
    mm.adc_sources[pin] = Broken(real, how, times)


def check_safe_and_counted(d, wh_before, open_within=OPEN_S):
    took = ticks_until(d, lambda: not d.coil, open_within + TICK_S)
    assert took is not None, "contactor still closed %.2f s after the fault: %s %s" % (
        open_within, d.state, d.fault)
    d.run(0.3)
    assert not offering(d), (d.state, d.duty)
    assert d.fault is not None or d.app.charger.thermal.broken or d.app.charger.thermal.level == THERMAL_STOP, (
        d.state, d.fault)
    assert d.app.meter.wh_total >= wh_before, (d.app.meter.wh_total, wh_before)


def pins(d):
    b = d.rig.board
    return {"cp": b.PILOT_ADC_PIN, "pp": b.PP_ADC_PIN, "temp": b.TEMP_ADC_PIN}


@pytest.mark.parametrize("times", [1, None], ids=["once", "for_good"])
@pytest.mark.parametrize("how", RAISES + GARBAGE_U16, ids=repr)
@pytest.mark.parametrize("adc", ["cp", "pp", "temp"])
def test_an_adc_read_failing_at_a_random_tick_while_charging(tmp_path, adc, how, times):
    d = charging(tmp_path)
    d.run(random.Random(repr((adc, how, times))).randrange(1, 100) * TICK_S)
    wh = d.app.meter.wh_total
    break_adc(d, pins(d)[adc], how, times)
    app = d.app
    if times == 1:
        d.run(0.5)
        # one bad read: whatever it did, nothing unsafe, and the loop goes on
        assert d.app is app and d.app.meter.wh_total >= wh
        return
    # temperature: a broken sensor is judged over seconds, too hot a one stops as the EVSE's own
    # stop (PWM off, the car given 6 s: seq 10.2)
    check_safe_and_counted(d, wh, open_within=OPEN_S if adc != "temp" else 10)


@pytest.mark.parametrize("how", RAISES + (None,), ids=repr)
@pytest.mark.parametrize("adc", ["pp", "temp"])
def test_a_tick_that_fails_for_good_keeps_the_energy_through_the_watchdogs_reset(tmp_path, adc, how):
    """Every tick raises: outputs safe, the watchdog not fed resets the board 2 s later. The count
    (a few Wh, under a checkpoint's 0.05 kWh) is on flash before that: no reset loses it."""
    d = charging(tmp_path)
    wh = d.app.meter.wh_total
    app = d.app
    break_adc(d, pins(d)[adc], how, None)
    d.run(0.1)
    assert not d.coil and d.fault == "internal"
    d.run(3)
    assert d.app is not app and not d.coil          # the watchdog's reset
    assert d.app.meter.wh_total >= wh, (d.app.meter.wh_total, wh)


def break_pin(monkeypatch, pin, how, times, writes):
    """Pin(pin).value(): its reads (writes=False) or its writes fail."""
    real = mm.Pin.value
    broken = Broken(None, how, times)

    def value(self, v=None):
        if self.id == pin and (v is not None) == writes and broken.failing():
            if isinstance(how, BaseException):
                raise how
            return how
        return real(self, v)
    monkeypatch.setattr(mm.Pin, "value", value)


@pytest.mark.parametrize("times", [1, None], ids=["once", "for_good"])
@pytest.mark.parametrize("how", RAISES + (None, math.nan, 2, -1), ids=repr)
def test_the_mirror_contact_failing_at_a_random_tick_while_charging(tmp_path, monkeypatch, how, times):
    d = charging(tmp_path)
    d.run(random.Random(repr((how, times))).randrange(1, 100) * TICK_S)
    wh = d.app.meter.wh_total
    app = d.app
    break_pin(monkeypatch, d.rig.board.FEEDBACK_PIN, how, times, writes=False)
    if times == 1:
        d.run(0.5)
        assert d.app is app and d.app.meter.wh_total >= wh
        return
    check_safe_and_counted(d, wh)


@pytest.mark.parametrize("how", RAISES, ids=repr)
def test_the_contactor_pin_refusing_one_write(tmp_path, monkeypatch, how):
    """The coil's pin raises once, on the opening after the car stops: opened at the next try."""
    d = charging(tmp_path)
    wh = d.app.meter.wh_total
    break_pin(monkeypatch, d.rig.board.CONTACTOR_PINS[0], how, 1, writes=True)
    d.ev("B")
    took = ticks_until(d, lambda: not d.coil, OPEN_S)
    assert took is not None and took <= OPEN_S, (d.state, d.fault)
    d.run(1)
    assert not d.coil and not offering(d) and d.app.meter.wh_total >= wh


@pytest.mark.parametrize("times", [1, None], ids=["once", "for_good"])
@pytest.mark.parametrize("how", RAISES + GARBAGE_U16, ids=repr)
def test_the_meter_adc_failing_at_a_random_tick_while_charging(tmp_path, how, times):
    """The current transformer's ADC: the count never goes down, the tick goes on."""
    d = charging(tmp_path)
    d.run(random.Random(repr((how, times))).randrange(1, 100) * TICK_S)
    wh = d.app.meter.wh_total
    app = d.app
    break_adc(d, d.rig.board.CT_ADC_PINS[0], how, times)
    seen = [wh]
    for _ in range(100):
        d.run(TICK_S)
        seen.append(d.app.meter.wh_total)
    assert d.app is app
    assert all(b >= a for a, b in zip(seen, seen[1:])), seen
    assert not (d.coil and offering(d) and d.app.charger.out.amps_x10 > 320)


@pytest.mark.parametrize("how", [OSError(28, "ENOSPC"), OSError(5, "EIO"), MemoryError()], ids=repr)
def test_the_flash_refusing_every_write_from_a_random_tick(tmp_path, monkeypatch, how):
    """The flash full or failing while a session ends and faults are journalled: the loop goes on,
    the contactor follows the car, and the energy counted is still there."""
    d = charging(tmp_path)
    d.run(random.Random(repr(how)).randrange(1, 100) * TICK_S)
    real = builtins.open

    def refusing(path, mode="r", *a, **kw):
        if str(path).startswith(str(tmp_path)) and any(c in mode for c in "wa+"):
            raise how
        return real(path, mode, *a, **kw)
    monkeypatch.setattr(builtins, "open", refusing)
    app = d.app
    wh = d.app.meter.wh_total
    d.run(61)                                  # a checkpoint's minute
    d.ev("B")
    took = ticks_until(d, lambda: not d.coil, OPEN_S)
    assert took is not None, (d.state, d.fault)
    d.set(weld=True)                           # a fault to journal
    d.run(2)
    assert d.app is app and d.fault == "weld" and not offering(d)
    assert d.app.meter.wh_total >= wh


@pytest.mark.parametrize("times", [1, 2, 3], ids=["once", "and_in_safe", "and_in_the_next_tick"])
@pytest.mark.parametrize("how", RAISES, ids=repr)
def test_the_pilot_pwm_refusing_writes_on_a_lowered_limit(tmp_path, monkeypatch, how, times):
    """The PWM raises on the duty of a lowered limit (once; again on the safe outputs' -12 V; and
    once more): the contactor opens at once, the pilot ends at -12 V (F), no PWM is left offering
    the old current, and the loop goes on."""
    d = charging(tmp_path)
    wh = d.app.meter.wh_total
    app = d.app
    real = mm.PWM.duty_u16
    broken = Broken(None, how, times)

    def duty_u16(self, v=None):
        if v is not None and self is app.hw.pilot_pwm and broken.failing():
            raise how
        return real(self, v)
    monkeypatch.setattr(mm.PWM, "duty_u16", duty_u16)
    app.command("limit", 10, mm.ticks_ms())
    took = ticks_until(d, lambda: not d.coil, OPEN_S)
    assert took is not None and took <= OPEN_S, (d.state, d.fault)
    d.run(0.2)
    assert d.app is app and d.fault == "internal" and d.duty == 0 and not offering(d), (d.state, d.duty)
    assert d.app.meter.wh_total >= wh


@pytest.mark.parametrize("how", RAISES + (None,), ids=repr)
def test_the_pilot_adc_failing_while_the_loop_is_held_opens_by_the_stall_guard(tmp_path, how):
    """The Pico's stall guard reads the pilot itself while one long call in C holds the loop: a
    read that raises (or gives None) there is no reading of a car asking for power, so the guard
    opens as for a car that stopped asking (L.STALL_STRIKES of them), within the 100 ms."""
    d = Drive(config={"max_current": 32}, board="rpi_pico", flash_dir=str(tmp_path)).run(1.0).charge().run(0.5)
    pin = d.rig.board.PILOT_ADC_PIN
    t = [None]

    def breaks():
        t[0] = d.now_us
        break_adc(d, pin, how, None)
    d.hold(1.0, [(0.2, breaks)])
    opened = d.coil_change(0, t[0])
    assert opened is not None and (opened - t[0]) / 1e6 <= OPEN_S, (opened, t[0])


FAILURES = RAISES + GARBAGE_U16


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(part=st.sampled_from(["cp", "pp", "temp", "ct", "feedback"]),
       how=st.sampled_from(FAILURES), ticks=st.integers(1, 500), for_good=st.booleans())
def test_any_part_failing_at_any_tick_of_a_session(part, how, ticks, for_good):
    """One property over them all: whichever part fails, however, at whichever tick, the energy
    counted never goes down, no exception leaves the loop, and a part that fails for good (the
    meter aside: the core is told it is blind) leaves the contactor open, nothing offered."""
    d = charging(tempfile.mkdtemp(prefix="hwfault"))
    d.run(ticks * TICK_S)
    wh = d.app.meter.wh_total
    b = d.rig.board
    times = None if for_good else 1
    broken = Broken(None, how, times)
    # on the class: a part broken for good stays broken through the watchdog's reset (the world
    # wires its sources again at a power-on)
    cls, name, pin = ((mm.Pin, "value", b.FEEDBACK_PIN) if part == "feedback" else
                      (mm.ADC, "read_u16", b.CT_ADC_PINS[0] if part == "ct" else pins(d)[part]))
    real = getattr(cls, name)

    def failing(self, *a):
        if self.id == pin and not a and broken.failing():
            if isinstance(how, BaseException):
                raise how
            return how
        return real(self, *a)
    setattr(cls, name, failing)
    try:
        seen = []
        for _ in range(800):                   # 8 s: a too hot sensor's stop gives the car 6 s
            d.run(TICK_S)
            seen.append(d.app.meter.wh_total)
    finally:
        setattr(cls, name, real)
    assert min(seen) >= wh and seen == sorted(seen), (wh, seen[:5], seen[-5:])
    if for_good and part != "ct":
        assert not d.coil and not offering(d), (d.state, d.fault)
