"""The maintenance state (issue 9 item 8), on CPython and the MicroPython unix port: Ctrl-C stops the
charger into the REPL with the outputs safe and the watchdog fed by a soft timer for a bounded
window; a hand at the REPL that closes the contactor is undone at the next feed; when the window
ends the watchdog resets the board. Virtual time: the mock's WDT expires like the hardware one."""

from tools.sim import rig as R
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.mock_machine.world import World

from evse import app as A
from evse.services import console as C
from evse.core import limits as L
from evse.shell import maint

BOARD = R.load_board("sim")
COIL = BOARD.CONTACTOR_PINS[0]
PILOT = BOARD.PILOT_PWM_PIN


def setup():
    maint.stop()
    mm.reset_world()
    # MicroPython's asyncio task queue stamps tasks with the port's own ticks: virtual time starts
    # ahead of them, so asyncio.run() never waits for a virtual clock that only the test moves
    real = mm.real_time_module
    mm.clock.us = (real.ticks_ms() + 60000) * 1000 if real is not None else 0
    w = World(BOARD)
    w.update()
    return w


def boot_py():
    """What boot.py does after every reset: coils low, pilot low, then maintenance until main()."""
    coils = tuple(mm.Pin(p, mm.Pin.OUT, value=0) for p in BOARD.CONTACTOR_PINS)

    def coils_open():
        for c in coils:
            c.value(0)
    maint.start(coils_open)


def ctrl_c_after(ticks):
    """main()'s control loop as far as a Ctrl-C after `ticks` control ticks."""
    def loop(app):
        assert maint.timer() is None, "the control loop owns the watchdog, no maintenance feeds"
        for _ in range(ticks):
            app.cycle()
            mm.clock.advance_us(L.TICK_MS * 1000)
        raise KeyboardInterrupt
    return loop


class NoStream:
    """The console's serial port, with nothing typed (the test's own stdin stays out of it)."""

    def read(self, n):
        return None

    def write(self, data):
        return len(data)


def run_main(loop, expect=KeyboardInterrupt):
    real_run, real_attach = A._loop, C.attach
    A._loop = loop
    C.attach = lambda app: real_attach(app, NoStream())
    try:
        A.main(BOARD, R.new_flash_dir())
        assert False, "main() returned"
    except expect:
        pass
    finally:
        A._loop, C.attach = real_run, real_attach


def hand_closes_contactor():
    mm.Pin(COIL, mm.Pin.OUT).value(1)
    assert mm.output(COIL) == 1


def test_ctrl_c_in_the_charger_enters_maintenance_outputs_safe_watchdog_fed():
    setup()
    boot_py()
    run_main(ctrl_c_after(50))
    assert maint.timer() is not None
    assert mm.output(COIL) == 0 and mm.pwms[PILOT].duty_u16() == 0     # open, pilot -12 V (F)
    hand_closes_contactor()
    mm.clock.advance_us(600000)                   # one feed later: open again
    assert mm.output(COIL) == 0 and mm.pwms[PILOT].duty_u16() == 0
    for _ in range(L.MAINT_WINDOW_MS // 60000 - 1):   # minutes at the REPL, far past the WDT timeout
        mm.clock.advance_us(60000000)
        assert not mm.wdt.expired()
    mm.clock.advance_us(60000000 + L.WDT_TIMEOUT_MS * 1000 + 1000)   # the window is over
    assert mm.wdt.expired(), "the watchdog resets the board after the window"


def test_ctrl_c_while_booting_keeps_boot_maintenance():
    setup()
    boot_py()
    timer = maint.timer()
    real = A.App

    def app_interrupted(board, flash_dir):
        raise KeyboardInterrupt          # Ctrl-C while the App is being built
    A.App = app_interrupted
    try:
        run_main(ctrl_c_after(0))
    finally:
        A.App = real
    assert maint.timer() is timer
    hand_closes_contactor()
    mm.clock.advance_us(10000000)
    assert mm.output(COIL) == 0 and not mm.wdt.expired()


def test_without_maintenance_the_stopped_charger_is_reset():
    """A crash (not Ctrl-C) leaves no feeds: the watchdog restarts the charger."""
    setup()
    boot_py()

    def crash(app):
        app.cycle()
        raise RuntimeError("bug")
    run_main(crash, RuntimeError)
    assert maint.timer() is None
    mm.clock.advance_us(L.WDT_TIMEOUT_MS * 1000 + 1000)
    assert mm.wdt.expired()


def test_window_is_bounded_and_longer_than_a_flash():
    assert 5 * 60000 <= L.MAINT_WINDOW_MS <= 15 * 60000


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
