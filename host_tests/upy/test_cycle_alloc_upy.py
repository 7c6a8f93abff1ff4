# upy-heap: 256k
"""The whole control cycle allocates nothing: App.cycle() (pilot burst, PP, temperature, feedback,
core step, outputs, event dispatch, watchdog feed, the meter, the console and log polls) runs
under micropython.heap_lock() for seconds of steady state with a car in A, B2 and C2, on each
board's PWM model, with and without a CT meter. Any allocation raises MemoryError there.

What may allocate is what happens on a change: a state change's events (tuples, the console's JSON
line), a new duty (set_pilot; long ints on a 32-bit port). The tests lock only steady state.
Under CPython (pytest) the same cycles run without the lock."""
import gc
from array import array
import math

from tools import mock_machine as mm
from tools.drive import Drive

TICK_US = 10000
CYCLES = 300                  # 3 s of control ticks per case


def _lock():
    try:
        import micropython
        return micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        return None, None


def bench(board="sim", **config):
    """The firmware as main() wires it: console and log attached (over a UART: the USB stdin of the
    unix port would be a file here), the watchdog running."""
    mm.reset_world()
    gc.collect()
    cfg = {"max_current": 32}
    cfg.update(config)
    d = Drive(config=cfg, board=board)
    from evse import console
    console.attach(d.app, console.UartStream(mm.UART(9, 115200)))
    return d


class _TableSource:
    """A CT input from a precomputed mains period: the world's model computes floats per sample,
    which would be the harness allocating, not the firmware."""

    def __init__(self, amps, phase):
        fullscale = 3.3
        n = 400                                  # 50 us steps over 20 ms
        self.codes = array("H", [0] * n)
        for i in range(n):
            v = fullscale / 2 + amps * 1.4142135 * 0.011 * math.sin(6.283185307179586 * i / n - phase * 2.0943951)
            self.codes[i] = max(0, min(65535, int(v / fullscale * 65535)))

    def __call__(self, t_us):
        return self.codes[(t_us // 50) % 400]


def steady_cycles(d, n=CYCLES):
    """n control cycles on virtual time, the heap locked (MicroPython); the bytes allocated."""
    app, clock = d.app, mm.clock
    lock, unlock = _lock()
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    if lock is not None:
        lock()
    try:
        for _ in range(n):
            t0 = clock.us
            app.cycle()
            rest = t0 + TICK_US - clock.us
            if rest > 0:
                clock.advance_us(rest)
    finally:
        if unlock is not None:
            unlock()
    return (gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0) - before


def check_states(d, state, contactor):
    assert d.state == state, (d.state, d.fault)
    assert d.app.charger.out.contactor == contactor
    assert not d.app.errors, d.app.errors


def test_car_absent_plugged_and_charging_allocate_nothing():
    for board in ("sim", "rpi_pico", "esp32_devkitc"):
        d = bench(board)
        d.run(1.0)
        check_states(d, "A1", False)
        assert steady_cycles(d) == 0
        check_states(d, "A1", False)
        d.plug()
        d.run(1.0)
        check_states(d, "B2", False)
        assert steady_cycles(d) == 0
        check_states(d, "B2", False)
        d.ev("C")
        d.world.draw_amps = 31.0
        d.run(1.5)
        check_states(d, "C2", True)
        assert steady_cycles(d) == 0
        check_states(d, "C2", True)


def test_charging_with_a_ct_meter():
    """With a CT meter the control tick (its pilot burst takes CT rounds between chunks) and the
    console/log polls allocate nothing. The meter's own poll allocates only when a CT window
    completes (its float arithmetic, once per 0.5 s window: metering's work after the tick), never
    in between."""
    d = bench("sim", meter="ct")
    d.run(0.5).charge(amps=31.0)
    board = d.rig.board
    for pin in board.CT_ADC_PINS:
        mm.adc_sources[pin] = _TableSource(31.0 if pin == board.CT_ADC_PINS[0] else 0.0, 0)
    d.run(2.0)                       # the meter settles on the table's current
    check_states(d, "C2", True)
    app, clock = d.app, mm.clock
    lock, unlock = _lock()
    measured = hasattr(gc, "mem_alloc")
    windows = []                     # bytes of each meter poll that allocated
    for _ in range(CYCLES):
        t0 = clock.us
        if lock is not None:
            lock()
        try:
            app.tick()
        finally:
            if unlock is not None:
                unlock()
        before = gc.mem_alloc() if measured else 0
        app.poll_meter()
        if measured and gc.mem_alloc() != before:
            windows.append(gc.mem_alloc() - before)
        if lock is not None:
            lock()
        try:
            app.poll_services(mm.ticks_ms())
        finally:
            if unlock is not None:
                unlock()
        rest = t0 + TICK_US - clock.us
        if rest > 0:
            clock.advance_us(rest)
    check_states(d, "C2", True)
    assert d.app.meter.ok and d.app.meter.error is None, d.app.meter.error
    assert 30.0 < d.app.meter.current_a < 32.0
    if measured:                     # a GC run inside a poll shows as a negative count: not ours
        grew = [w for w in windows if w > 0]
        print("CT meter: %d of %d polls allocated (one per 0.5 s window), at most %d bytes" % (
            len(grew), CYCLES, max(grew) if grew else 0))
        assert len(grew) <= CYCLES // 50 + 1


def test_economiser_hold_allocates_nothing():
    d = bench("sim", economiser=True)
    d.run(0.5).charge(amps=16.0)
    d.run(1.0)
    check_states(d, "C2", True)
    assert steady_cycles(d) == 0


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
