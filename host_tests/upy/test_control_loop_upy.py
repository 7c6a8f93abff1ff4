"""The control loop of a charger with nothing beside it (no OCPP, MQTT, web page or Wi-Fi: the
console and the log only), on CPython and the MicroPython unix port: a plain sleep between ticks
instead of an asyncio loop (on the emulated Pico an asyncio loop doing nothing but sleep_ms(10)
takes 0.28 ms of every 10 ms, a time.sleep_ms loop 0.03 ms), the ticks on the fixed 10 ms grid,
a late tick followed at once and the grid restarted from it, the watchdog fed every tick.
(With a web page, OCPP or MQTT the loop is asyncio's: test_web_vboard, the OCPP and MQTT benches.)"""

from tools.sim import rig as R
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.mock_machine.world import World

from evse import app as A
from evse.core import limits as L
from evse.services import console as C
from evse.shell import hal, maint

BOARD = R.load_board("sim")
TICKS = 300                  # 3 s: past the watchdog's 2 s, so every tick must feed it
LATE = 100                   # this tick's sleep is held 25 ms longer


class NoStream:
    """The console's serial port, with nothing typed."""

    def read(self, n):
        return None

    def write(self, data):
        return len(data)


def test_console_only_ticks_on_the_10ms_grid_with_a_plain_sleep():
    maint.stop()
    mm.reset_world()
    World(BOARD).update()
    woke = []                           # ticks_ms after each sleep: the next tick's start

    def sleep_ms(ms):
        assert 0 <= ms <= L.TICK_MS, ms
        if len(woke) == LATE:
            mm.clock.advance_us(25000)  # held 25 ms (a flash write, a long call in C)
        mm.clock.advance_us(ms * 1000)
        woke.append(hal.ticks_ms())
        if len(woke) == TICKS:
            raise KeyboardInterrupt     # Ctrl-C: the loop ends into maintenance
    real_sleep, real_attach = hal.sleep_ms, C.attach
    hal.sleep_ms = sleep_ms
    C.attach = lambda app: real_attach(app, NoStream())
    try:
        A.main(BOARD, R.new_flash_dir())
        assert False, "main() returned"
    except KeyboardInterrupt:
        pass
    finally:
        hal.sleep_ms, C.attach = real_sleep, real_attach
        maint.stop()
    assert len(woke) == TICKS
    steps = [hal.ticks_diff(b, a) for a, b in zip(woke, woke[1:])]
    assert all(s == L.TICK_MS for s in steps[:LATE - 1]), steps[:LATE - 1]
    assert steps[LATE - 1] >= 25        # the hold ...
    assert steps[LATE] < L.TICK_MS      # ... the next tick at once, no wait ...
    assert all(s == L.TICK_MS for s in steps[LATE + 1:]), steps[LATE + 1:]   # ... then a new grid
    assert not mm.wdt.expired()


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
