"""The stall guard: while one long call in C holds the control loop (a TLS handshake's key exchange
and certificate checks, which no asyncio task can interrupt: hundreds of ms on a board), the Pico's
hard timer interrupt reads the pilot itself and opens the contactor when the car stops asking for
power, leaves or shows a fault, within IEC 61851-1's 100 ms (Table A.6 seq 8.1).

Bench scenario, on the rpi_pico board file (its phased pilot read, the port's PWM counter): a car
charging at 32 A; the loop is held for a second (`Drive.hold`: no tick runs, the timers do); the
car changes 200 ms into the hold. On the virtual board (no guard) the same opening waits for the
hold's end: that is what the guard is for."""
from evse.core import limits as L
from evse.core import vocab as V
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

CHANGE_S = 0.2
# L.STALL_MS, up to one interrupt period to the first reading, one more to the second (the timer's
# phase is the close's), and the readings themselves (under 1 ms each)
WORST_S = (L.STALL_MS + 2 * L.STALL_GUARD_MS + 2) / 1000


def charging(board="rpi_pico", **cfg):
    c = {"max_current": 32}
    c.update(cfg)
    return Drive(config=c, board=board).run(1.0).charge().run(0.5)


def held(bench, seconds, change, at=CHANGE_S):
    """The loop held for `seconds`, `change` applied `at` s into it; the change's time (us)."""
    t = [None]

    def apply():
        t[0] = bench.now_us
        change()
    bench.hold(seconds, [(at, apply)])
    return t[0]


def warnings(bench):
    return [(e[1], e[2]) for _, e in bench.events if e[0] == V.EV_WARNING]


def test_a_car_that_stops_asking_while_the_loop_is_held_is_cut_within_100_ms():
    """Worst when the car changes as the hold begins: the guard reads from L.STALL_MS on."""
    for at in (0.0, 0.01, 0.02, 0.03, CHANGE_S):
        bench = charging()
        t = held(bench, 1.0, lambda: bench.ev("B"), at)
        opened = bench.coil_change(0, t)
        assert opened is not None and (opened - t) / 1e6 <= WORST_S, (at, opened - t)
    bench.run(0.1)                          # the loop resumes: it sees the guard's opening
    assert bench.state == V.ST_B2 and bench.fault is None and not bench.coil
    assert warnings(bench) == [(V.WARN_STALL_OPENED, True)]
    assert bench.app.status(0)["stall_guard"]["trips"] == 1
    assert not running(bench.app.hw.guard)  # stopped by the loop's opening, not in its interrupt


def test_without_the_guard_the_opening_waits_for_the_loop():
    bench = charging(board="sim")           # the virtual board: no hard timer, no guard
    t = held(bench, 1.0, lambda: bench.ev("B"))
    bench.run(0.1)
    opened = bench.coil_change(0, t)
    assert opened is not None and (opened - t) / 1e6 >= 0.79    # only once the hold is over


def test_a_held_loop_with_the_car_still_asking_keeps_charging():
    """The usual case: a TLS connect while a car charges. Its readings say C: nothing opens."""
    bench = charging()
    bench.world.set_noise(0.5)              # 0.5 V RMS on the pilot
    for _ in range(3):
        bench.hold(1.5).run(0.05)           # (under the 2 s watchdog)
    assert bench.coil and bench.state == V.ST_C2 and bench.fault is None
    assert bench.coil_change(0, 0) is None and warnings(bench) == []


def test_unplugged_or_a_shorted_pilot_while_held_opens_too():
    for change, fault in ((lambda b: b.unplug(), None), (lambda b: b.set(cp_short=True), V.FAULT_STATE_E),
                          (lambda b: b.set(diode_ok=False), V.FAULT_DIODE)):
        bench = charging()
        t = held(bench, 1.0, lambda: change(bench))
        opened = bench.coil_change(0, t)
        assert opened is not None and (opened - t) / 1e6 <= WORST_S, (fault, opened)
        bench.run(0.2)
        assert bench.fault == fault and not bench.coil


def test_after_the_guard_opened_a_car_back_in_c_is_qualified_and_self_tested_again():
    """B and back to C inside the hold: the loop never saw B, yet it does not close at once: the
    B->C qualification (300 ms), the diode and the residual-current self-test come first."""
    bench = charging()
    t = [None]

    def back():
        t[0] = bench.now_us
        bench.ev("C")
    bench.hold(1.0, [(CHANGE_S, lambda: bench.ev("B")), (CHANGE_S + 0.1, back)])
    resumed = bench.now_us
    opened = bench.coil_change(0, 0)
    assert opened is not None and opened < t[0]
    bench.run(2.0)
    closed = bench.coil_change(1, resumed)
    assert closed is not None and (closed - resumed) / 1e6 >= L.BC_QUALIFY_MS_DEFAULT / 1000
    assert bench.state == V.ST_C2 and bench.fault is None
    assert warnings(bench) == [(V.WARN_STALL_OPENED, True), (V.WARN_STALL_OPENED, False)]
    assert running(bench.app.hw.guard)


def running(guard):
    """The guard's timer interrupt is running (armed, and the mock's timer scheduled)."""
    return guard.armed and guard.timer in mm.clock.timers


def test_the_guard_reads_nothing_while_the_loop_runs_or_the_contactor_is_open():
    bench = charging()
    guard = bench.app.hw.guard
    assert running(guard)                   # armed by the close
    bench.run(2.0)                          # the loop ticks: no reading of the guard's
    bench.ev("B")
    bench.run(0.5)                          # open, B2
    assert not running(guard)               # its interrupt stopped: it costs the loop nothing
    bench.hold(1.0)                         # held with the contactor open: nothing to guard
    assert bench.app.status(0)["stall_guard"] == {"reads": 0, "trips": 0}
    bench.ev("C")
    bench.run(1.0)
    assert bench.coil and running(guard)    # closed again: armed again
    bench.unplug()
    bench.run(0.1)
    assert not bench.coil and not running(guard)
    assert charging(board="sim").app.status(0)["stall_guard"] is None


def test_a_residual_current_trip_while_the_loop_is_held_opens_at_once_where_the_port_allows():
    """The residual-current inputs' interrupts are hard on the Pico (rp2's Pin.irq takes
    hard=True): the coil falls inside the call, at the monitor's trip. The ESP32's Pin.irq
    schedules every handler (and the virtual board models that port's way): the coil falls when
    the call ends. Either way the loop then latches the fault."""
    for board, at_once in (("rpi_pico", True), ("esp32_devkitc", False), ("sim", False)):
        for kind, ma, trip_s, fault in (("dc", 6.0, 0.0, V.FAULT_RCD_DC), ("ac", 300.0, 0.017, V.FAULT_RCD)):
            bench = charging(board).run(1.5)        # past the 2 s after the close (rcd_early)
            t = held(bench, 1.0, lambda: bench.set(rcd_ma=ma, rcd_kind=kind))
            opened = bench.coil_change(0, t)
            assert opened is not None, (board, kind)
            if at_once:
                assert (opened - t) / 1e6 <= trip_s + 0.001, (board, kind, opened - t)
            else:
                assert (opened - t) / 1e6 >= 1.0 - CHANGE_S, (board, kind, opened - t)
            bench.run(0.1)
            assert bench.fault == fault and not bench.coil, (board, kind, bench.fault)


def test_a_call_longer_than_the_watchdog_resets_the_board():
    """The watchdog (L.WDT_TIMEOUT_MS) is fed by the loop only: one call in C that holds it longer
    resets the board, which boots with the contactor open."""
    bench = charging()
    t = bench.now_us
    bench.hold(3.0)
    opened = bench.coil_change(0, t)
    assert mm.reset_cause() == mm.WDT_RESET
    assert opened is not None and abs((opened - t) / 1e3 - L.WDT_TIMEOUT_MS) <= 2 * L.TICK_MS
    bench.run(2.0)
    assert not bench.coil


def test_a_trip_soon_after_the_close_is_judged_at_its_own_moment_not_when_the_loop_sees_it():
    """A residual-current trip within 2 s of the close is a hard fault (rcd_early, latched). The
    loop held by a long call sees it later; the Pico's hard interrupt stamps the trip, so it is
    still judged early. Where the handler is soft (the virtual board, the ESP32) it runs only when
    the call returns: that is when the trip is known to have come."""
    for board, fault in (("rpi_pico", V.FAULT_RCD_EARLY), ("sim", V.FAULT_RCD_DC)):
        bench = Drive(config={"max_current": 32}, board=board).run(1.0).charge()
        closed = bench.coil_change(1, 0)
        t = held(bench, 1.9, lambda: bench.set(rcd_ma=6.0, rcd_kind="dc"), at=0.3)
        bench.run(0.1)
        assert (t - closed) / 1e6 < L.RCD_EARLY_MS / 1000 < (bench.now_us - closed) / 1e6
        assert bench.fault == fault and not bench.coil, (board, bench.fault)
