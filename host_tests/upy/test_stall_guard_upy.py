# The stall guard on both interpreters (host_tests/test_stall_guard.py has the scenarios): a car
# charging on the rpi_pico board file, the loop held by one long call in C; the guard's timer
# interrupt reads the pilot and opens. On MicroPython it does so under heap_lock: an interrupt
# handler may allocate nothing (a hard IRQ on the port raises MemoryError if it does).
import gc

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive

from evse.core import vocab as V

import upytest


def _lock():
    try:
        import micropython
        return micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        return None, None


def _charging():
    mm.reset_world()
    gc.collect()
    return Drive(config={"max_current": 32}, board="rpi_pico").run(1.0).charge().run(0.5)


def _locked(fn):
    """fn() with the heap locked (the harness's own pin hooks set aside: they record)."""
    hooks = mm.output_hooks[:]
    del mm.output_hooks[:]
    lock, unlock = _lock()
    if lock is not None:
        lock()
    try:
        fn()
    finally:
        if unlock is not None:
            unlock()
        mm.output_hooks.extend(hooks)


def _held_locked(bench, us):
    """The loop held for `us`, the heap locked."""
    _locked(lambda: mm.clock.advance_us(us))


def test_the_guard_reads_and_opens_allocating_nothing():
    bench = _charging()
    hw = bench.app.hw
    coil = bench.rig.board.CONTACTOR_PINS[0]
    _held_locked(bench, 200000)                # the car still in C: readings, no opening
    reads = hw.guard.reads
    assert reads >= 30 and mm.output(coil) == 1 and hw.guard_trips == 0, reads
    bench.ev("B")                              # the car stops asking, the loop still held
    _held_locked(bench, 50000)
    assert mm.output(coil) == 0 and hw.guard_trips == 1
    bench.run(0.1)                             # the loop resumes and sees the guard's opening
    assert bench.state == V.ST_B2 and bench.fault is None
    assert bench.app.status(0)["stall_guard"] == {"reads": hw.guard.reads, "trips": 1}


def test_a_residual_current_trip_opens_from_its_interrupt_allocating_nothing():
    """The Pico's residual-current inputs have hard interrupts (they open inside a long call in
    C): their handler allocates nothing either."""
    bench = _charging()
    bench.run(2.0)                             # past the early-trip window (rcd_early)
    hw = bench.app.hw
    board = bench.rig.board
    coil = board.CONTACTOR_PINS[0]
    _locked(lambda: mm.drive(board.RCD_DC_PIN, board.RCD_TRIP_ACTIVE))     # the monitor trips
    assert mm.output(coil) == 0 and hw.rcd_dc_tripped
    bench.set(rcd_ma=6.0, rcd_kind="dc")       # the world agrees: the monitor holds its trip
    bench.run(0.1)
    assert bench.fault == V.FAULT_RCD_DC and not bench.coil, bench.fault


def test_a_loop_that_keeps_ticking_leaves_the_guard_idle():
    bench = _charging()
    bench.run(3.0)
    assert bench.app.hw.guard.reads == 0 and bench.coil


if __name__ == "__main__":
    upytest.run(globals())
