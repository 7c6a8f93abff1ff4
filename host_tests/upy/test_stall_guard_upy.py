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


def _held_locked(bench, us):
    """The loop held for `us`, the heap locked (the harness's own pin hooks set aside: they record)."""
    hooks = mm.output_hooks[:]
    del mm.output_hooks[:]
    lock, unlock = _lock()
    if lock is not None:
        lock()
    try:
        mm.clock.advance_us(us)
    finally:
        if unlock is not None:
            unlock()
        mm.output_hooks.extend(hooks)


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


def test_a_loop_that_keeps_ticking_leaves_the_guard_idle():
    bench = _charging()
    bench.run(3.0)
    assert bench.app.hw.guard.reads == 0 and bench.coil


if __name__ == "__main__":
    upytest.run(globals())
