# upy-heap: 288k
"""The fifth safety audit's board behaviour under CPython and the MicroPython unix port (the other
cases are host_tests/test_safety_audit5.py): a 0x03 on the console (MicroPython's Ctrl-C) while a
car charges stops main() into maintenance with the contactor open and the pilot at F, and the
energy counted up to then is on flash when the board comes back (it lost up to 50 Wh or 60 s)."""
import gc

from tools.sim import rig as R
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive
from tools.sim.mock_machine.world import World

from evse import app as A
from evse.core import limits as L
from evse.services import console as C
from evse.shell import maint

BOARD = R.load_board("sim")
CONFIG = '{"max_current": 32, "meter": "ct"}'


class Quiet:
    """The console's serial port with nothing typed (the test's own stdin stays out of it)."""

    def read(self, n):
        return None

    def write(self, data):
        return len(data)


def interrupted_while_charging(seconds):
    """main() with a car drawing 32 A, a 0x03 after `seconds` of charging. -> (flash, seen)"""
    maint.stop()
    mm.reset_world()
    gc.collect()
    real = mm.real_time_module          # asyncio's own ticks: as test_maintenance_upy.py
    mm.clock.us = (real.ticks_ms() + 60000) * 1000 if real is not None else 0
    w = World(BOARD)
    w.update()
    flash = R.new_flash_dir()
    with open(flash + "/settings.json", "w") as f:
        f.write(CONFIG)
    seen = {}

    def loop(app):                       # App.run_alone, on the 10 ms grid, as far as the 0x03
        w.plugged, w.ev_ohms, w.pp_ohms, w.draw_amps = True, 2740, 150, 32.0
        w.recompute()
        nxt = mm.clock.us
        for n in range(1, 50 + seconds * 100 + 1):
            app.cycle()
            w.update()
            nxt += L.TICK_MS * 1000
            mm.clock.advance_us(max(0, nxt - mm.clock.us))
            w.update()
            if n == 50:
                w.ev_ohms = 882          # the car asks for power
                w.recompute()
        seen["wh"] = app.meter.wh_total
        seen["closed"] = w.coil()
        raise KeyboardInterrupt          # the console read a 0x03
    real_loop, real_attach = A.App.run_alone, C.attach
    A.App.run_alone = loop
    C.attach = lambda app: real_attach(app, Quiet())
    try:
        try:
            A.main(BOARD, flash)
            assert False, "main() returned"
        except KeyboardInterrupt:
            pass
        seen["after"] = (w.coil(), mm.pwms[BOARD.PILOT_PWM_PIN].duty_u16())
    finally:
        A.App.run_alone, C.attach = real_loop, real_attach
        maint.stop()
    return flash, seen


def test_a_0x03_while_charging_keeps_the_energy_counted():
    flash, seen = interrupted_while_charging(40)
    assert seen["closed"] and seen["wh"] > 70, seen
    assert seen["after"] == (False, 0), seen        # contactor open, pilot -12 V (F)
    gc.collect()
    d = Drive(flash_dir=flash)                       # the board back (the watchdog's reset)
    m = d.app.meter
    rec = m.sessions()[-1]
    assert abs(m.wh_total - seen["wh"]) < 0.01, (m.wh_total, seen["wh"])
    assert rec["reason"] == "power_loss" and abs(rec["wh"] - seen["wh"]) < 0.01, rec


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
