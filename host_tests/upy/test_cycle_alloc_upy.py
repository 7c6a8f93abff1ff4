# upy-heap: 320k
# (not a board budget: the boards with Wi-Fi and no network serve the set-up page, microdot about
# 52 KB, and what earlier tests leave fragments the heap; at 256k the CT test found no 3.2 KB block)
"""The whole control cycle allocates nothing: App.cycle() (pilot burst, PP, temperature, feedback,
core step, outputs, event dispatch, watchdog feed, the meter, the console and log polls) runs
under micropython.heap_lock() for seconds of steady state with a car in A, B2 and C2, on each
board's PWM model, with and without a CT meter (its windows computed in small ints). Any
allocation raises MemoryError there.

What may allocate is what happens on a change: a state change's events (tuples, the console's JSON
line), a new duty (set_pilot; long ints on a 32-bit port). The tests lock only steady state.
Under CPython (pytest) the same cycles run without the lock."""
import gc
from array import array
import math

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive

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
    from evse.services import console
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


def test_a_car_in_the_b_c_gap_on_a_noisy_pilot_allocates_nothing():
    """A car at 7.48 V (1500 ohm: the B/C gap) with 0.5 V of noise: now and then a burst reads in C
    and starts a C qualification that the gap's bursts weigh against (pilot.Detector._weigh):
    the weighing allocates nothing, and the car stays in B2 with the contactor open."""
    for board in ("sim", "rpi_pico"):
        d = bench(board)
        d.world.set_noise(0.5)
        d.run(0.5)
        d.plug()
        d.run(0.5)
        d.ev(1500)
        d.run(1.0)
        check_states(d, "B2", False)
        assert steady_cycles(d) == 0
        check_states(d, "B2", False)


def test_charging_with_a_ct_meter():
    """With a CT meter the whole cycle allocates nothing either, over six 0.5 s windows: the
    control tick (its pilot burst takes CT rounds between chunks), the meter's poll that closes a
    window and computes it (integer RMS, power, energy: small ints), the console and log polls.
    (A flash checkpoint, at most once a minute or per 50 Wh, writes JSON to a file: not in here.)"""
    d = bench("sim", meter="ct")
    d.run(0.5).charge(amps=31.0)
    board = d.rig.board
    for pin in board.CT_ADC_PINS:
        mm.adc_sources[pin] = _TableSource(31.0 if pin == board.CT_ADC_PINS[0] else 0.0, 0)
    d.run(2.0)                       # the meter settles on the table's current
    check_states(d, "C2", True)
    meter = d.app.meter
    src, energy = meter.source, meter.energy
    windows0, wh0, writes0 = src._last_ms, energy.wh_total, energy.writes
    assert steady_cycles(d) == 0
    check_states(d, "C2", True)
    assert meter.ok and meter.error is None, meter.error
    assert 30.0 < meter.current_a < 32.0 and 30000 < d.app.m.current_ma < 32000
    assert src._last_ms - windows0 >= 2500      # windows were computed inside the locked cycles
    assert energy.wh_total - wh0 > 5.0          # 7.1 kW for 3 s: 5.9 Wh counted
    assert energy.writes == writes0


def test_economiser_hold_allocates_nothing():
    d = bench("sim", economiser=True)
    d.run(0.5).charge(amps=16.0)
    d.run(1.0)
    check_states(d, "C2", True)
    assert steady_cycles(d) == 0


def test_a_socket_with_a_plug_lock_allocates_nothing():
    """A Type 2 socket with a lock (LOCK_PINS): the lock's step in the core, its driver in the
    shell, steady in A, B2 (locked) and C2, a cable kept after the car side left (OCPP's
    UnlockConnectorOnEVSideDisconnect false), and while a jammed lock is driven again and again."""
    from tools.sim.rig import board_with_lock
    d = bench(board_with_lock(), connector="type2-socket")
    d.run(1.0)
    check_states(d, "A1", False)
    assert steady_cycles(d) == 0
    d.plug(220)
    d.run(1.0)
    check_states(d, "B2", False)
    assert steady_cycles(d) == 0
    d.ev("C")
    d.run(1.5)
    check_states(d, "C2", True)
    assert steady_cycles(d) == 0
    ch = d.app.charger
    ch.lock.keep(ch, True)                 # (ocpp/corelink.py, at the transaction's start)
    d.ev("A")                              # the cable out of the car: kept in the socket
    d.run(1.0)
    check_states(d, "A1", False)
    assert ch.lock.held(ch)
    assert steady_cycles(d) == 0
    d.app.command("unlock", None, 0)       # its owner: the socket lets go
    d.run(1.0)
    assert not ch.lock.held(ch)
    d.unplug()
    d.run(2.0)
    check_states(d, "A1", False)
    d.world.lock_jam = True
    d.plug(220)
    d.run(0.1)
    check_states(d, "B1", False)
    assert steady_cycles(d, 250) == 0      # the lock driven three times, not yet its fault
    check_states(d, "B1", False)
    assert d.app.charger.fault is None


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
