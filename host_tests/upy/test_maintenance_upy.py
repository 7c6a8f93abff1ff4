# upy-heap: 288k
"""The maintenance state (issue 9 item 8), on CPython and the MicroPython unix port: Ctrl-C stops the
charger into the REPL with the outputs safe and the watchdog fed by a soft timer for a bounded
window; a hand at the REPL that closes the contactor is undone at the next feed; when the window
ends the watchdog resets the board. Virtual time: the mock's WDT expires like the hardware one."""

from array import array

from tools.sim import rig as R
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.mock_machine.world import World

from evse import app as A
from evse.services import console as C
from evse.core import limits as L
from evse.shell import hal, maint

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


def run_main(loop, expect=KeyboardInterrupt, settings=None):
    real_run, real_attach = A._loop, C.attach
    A._loop = loop
    C.attach = lambda app: real_attach(app, NoStream())
    flash = R.new_flash_dir()
    if settings:
        with open(flash + "/" + A.SETTINGS_FILE, "w") as f:
            f.write(settings)
    try:
        A.main(BOARD, flash)
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


def test_console_only_the_loop_ticks_on_the_10ms_grid_with_a_plain_sleep():
    """Nothing beside the control loop (no OCPP, MQTT, web page or Wi-Fi): a plain sleep between
    ticks, not an asyncio loop (on the emulated Pico an idle asyncio loop takes 0.28 ms of every
    10 ms, a time.sleep_ms loop 0.03 ms), on the fixed 10 ms grid; a late tick is followed at once
    and the grid restarts from it; the watchdog is fed every tick; Ctrl-C still ends it. (With a
    web page, OCPP or MQTT the loop is asyncio's: test_web_vboard, the OCPP and MQTT benches.)"""
    setup()
    boot_py()
    ticks, late = 300, 100          # 3 s: past the watchdog's 2 s; tick 100's sleep held 25 ms
    woke = []                       # ticks_ms after each sleep: the next tick's start

    def sleep_ms(ms):
        assert 0 <= ms <= L.TICK_MS, ms
        if len(woke) == late:
            mm.clock.advance_us(25000)      # held (a flash write, a long call in C)
        mm.clock.advance_us(ms * 1000)
        woke.append(hal.ticks_ms())
        if len(woke) == ticks:
            raise KeyboardInterrupt
    real_sleep = hal.sleep_ms
    hal.sleep_ms = sleep_ms
    try:
        run_main(A._loop)
    finally:
        hal.sleep_ms = real_sleep
    steps = [hal.ticks_diff(b, a) for a, b in zip(woke, woke[1:])]
    assert len(woke) == ticks and all(s == L.TICK_MS for s in steps[:late - 1]), steps[:late - 1]
    assert steps[late - 1] >= 25            # the hold ...
    assert steps[late] < L.TICK_MS          # ... the next tick at once, no wait ...
    assert all(s == L.TICK_MS for s in steps[late + 1:]), steps[late + 1:]   # ... then a new grid
    assert not mm.wdt.expired() and maint.timer() is not None


def test_where_the_pilot_is_captured_the_loop_starts_it_2_ms_before_each_tick():
    """On a port with the pilot's DMA capture (rp2: evse/shell/pilot_dma.py) the plain loop starts a
    capture 2 ms before each tick while the PWM is on, and the ticks stay on the 10 ms grid. A car
    in B (the PWM on); a stand-in capture records when it is started."""
    w = setup()
    w.plugged, w.pp_ohms, w.ev_ohms = True, 150, 2740
    w.update()
    boot_py()
    kicks, woke = [], []

    class Capture:                  # stands in for pilot_dma.PilotCapture: never armed, so the
        armed = False               # tick reads the PWM's pilot itself
        side = array("i", (150, 25, 0, 0, 0, 0, 0))     # PP 150 Ohm, 25 C, feedback off

        def kick(self, cc, steps):
            kicks.append(hal.ticks_ms())

        def level(self, n):         # no PWM: n reads of the level (sum, above 0 V, highest, lowest)
            v = w.pilot_u16(hal.ticks_us())
            self.side[3:7] = array("i", (n * v, n if v > w.volts_to_u16(0) else 0, v, v))
            return True

    def sleep_ms(ms):
        mm.clock.advance_us(ms * 1000)
        woke.append(hal.ticks_ms())
        if len(kicks) == 100 or len(woke) > 1000:
            raise KeyboardInterrupt

    def loop(app):
        app.hw.capture = Capture()
        app.hw.set_pilot(L.PILOT_F, 0)      # the next tick's duty sets capture_wanted again
        app.run_alone()
    real_sleep = hal.sleep_ms
    hal.sleep_ms = sleep_ms
    try:
        run_main(loop, settings='{"max_current": 32}')
    finally:
        hal.sleep_ms = real_sleep
    ticks = [t for t in woke if t not in kicks]         # a wake that is not a kick starts a tick
    assert len(kicks) == 100
    for k in kicks[1:]:
        nxt = min(t for t in ticks if t > k)
        assert nxt - k == 2, (k, nxt)
    steps = [b - a for a, b in zip(ticks, ticks[1:]) if a > kicks[0]]
    assert steps and all(s == L.TICK_MS for s in steps), steps


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
