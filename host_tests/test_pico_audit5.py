"""The fifth audit of the Pico face, on the host's model of the board (test_rp2_audit5.py runs the
same scenarios on the stock MicroPython rp2 image in the emulated RP2040).

Bench scenario (a held Ctrl-C): a car charging at 32 A on the Pico; on the USB serial port Ctrl-C
is held down (a terminal's key repeat) or a burst of 0x03 bytes comes. The first one stops the
control loop (KeyboardInterrupt): main() puts the outputs safe, starts the maintenance feeds and
puts the energy count on flash. On the rp2 port every further 0x03 is a KeyboardInterrupt again,
raised wherever the wind-down stands: measured on the emulated Pico (100 bytes 0x03, 0.2 ms apart),
the contactor stayed closed and the pilot at 32 A for 1.99 s, until the watchdog reset the board,
and the count went back to the last checkpoint (23.3 Wh counted, 0 Wh after the restart). Here a
further 0x03 lands on each output change of the wind-down while the port would raise it
(micropython.kbd_intr: the interrupt character still set)."""
import json

import micropython

from tools.sim import mock_machine as mm
from tools.sim import rig as R
from tools.sim.drive import Drive
from tools.sim.mock_machine.world import World
from evse import app as A
from evse.core import limits as L
from evse.services import console as C
from evse.shell import maint

CTRL_C = 3


class Quiet:
    """The USB serial port: nothing comes, what goes is dropped."""

    def read(self, n):
        return None

    def write(self, data):
        return len(data)


def held_ctrl_c_while_charging(tmp_path, monkeypatch, seconds=10):
    """main() on the Pico's board file, a car drawing 32 A; after `seconds` of charging Ctrl-C is
    held. -> (flash dir, what was seen: the count at the first 0x03, the outputs after main())."""
    board = R.load_board("rpi_pico")
    intr = [CTRL_C]
    monkeypatch.setattr(micropython, "kbd_intr", lambda c: intr.__setitem__(0, c))
    mm.install()
    maint.stop()
    mm.reset_world()
    w = World(board)
    w.update()
    with open(str(tmp_path) + "/settings.json", "w") as f:
        f.write(json.dumps({"max_current": 32, "meter": "ct"}))
    seen = {"held": False}

    def key_repeat(pin, level):           # the next 0x03 of the burst, where the port raises it
        if seen["held"] and intr[0] == CTRL_C:
            raise KeyboardInterrupt

    def loop(app):                         # App.run_alone on the 10 ms grid, as far as the 0x03
        w.plugged, w.ev_ohms, w.pp_ohms, w.draw_amps = True, 2740, 150, 32.0
        w.recompute()
        nxt = mm.clock.us
        for n in range(50 + seconds * 100):
            if n == 50:
                w.ev_ohms = 882            # the car asks for power
                w.recompute()
            app.cycle()
            w.update()
            nxt += L.TICK_MS * 1000
            mm.clock.advance_us(max(0, nxt - mm.clock.us))
            w.update()
        seen["wh"], seen["closed"], seen["held"] = app.meter.wh_total, w.coil(), True
        raise KeyboardInterrupt            # the first 0x03
    monkeypatch.setattr(A.App, "run_alone", loop)
    real_attach = C.attach
    monkeypatch.setattr(C, "attach", lambda app: real_attach(app, Quiet()))
    mm.output_hooks.append(key_repeat)
    try:
        A.main(board, str(tmp_path))
        assert False, "main() returned"
    except KeyboardInterrupt:
        pass
    finally:
        seen["held"] = False
        seen["after"] = (w.coil(), mm.pwms[board.PILOT_PWM_PIN].duty_u16())
        seen["feeding"] = maint.timer() is not None
        maint.stop()
    return str(tmp_path), seen


def test_a_held_ctrl_c_still_leaves_the_outputs_safe_and_the_count_on_flash(tmp_path, monkeypatch):
    flash, seen = held_ctrl_c_while_charging(tmp_path, monkeypatch)
    assert seen["closed"] and seen["wh"] > 10, seen          # 10 s at 32 A: 13.6 Wh measured
    d = Drive(flash_dir=flash, board="rpi_pico", config={"max_current": 32, "meter": "ct"})
    on_flash = d.app.meter.wh_total
    # contactor open, pilot -12 V (F), the maintenance feeds running (no watchdog reset 2 s later),
    # the count on flash (before: the feeds never started, the count was the last checkpoint's)
    assert (seen["after"], seen["feeding"], round(on_flash, 2)) == ((False, 0), True, round(seen["wh"], 2))
