"""`make flash` meets a board wherever it is: still booting from the last flash's reset (input
dropped), running the firmware (one Ctrl-C, then the firmware makes its outputs safe undisturbed),
or left in the raw REPL by an interrupted mpremote. tools.flash.wait_for_repl against a scripted
board on a pseudo-terminal."""
import os
import pty
import threading
import time
import tty

from tools import flash as F


class FakeBoard:
    """The board side of a pty: `boot_s` of dropped input, then `mode` ('firmware' or 'raw')."""

    def __init__(self, mode, boot_s=0.0, safe_s=0.3):
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.mode, self.safe_s = mode, safe_s
        self.ready_at = time.monotonic() + boot_s
        self.ctrl_c_in_firmware = 0
        self.stopped = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _say(self, text):
        os.write(self.master, text)

    def _run(self):
        while not self.stopped:
            try:
                data = os.read(self.master, 64)
            except OSError:
                return
            if time.monotonic() < self.ready_at:
                continue                                 # booting: what arrives is lost
            for c in data:
                self._key(c)
                self._key_repl(c)

    def _key(self, c):
        if self.mode in ("firmware", "stopping") and c == 3:
            self.ctrl_c_in_firmware += 1                 # a second one would cut into the clean-up
        if self.mode == "firmware" and c == 3:
            self.mode = "stopping"
            self._say(b"Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n")
            threading.Timer(self.safe_s, self._stopped).start()   # outputs safe, journal written

    def _stopped(self):
        self.mode = "repl"
        self._say(b"MicroPython v1.28.0\r\n>>> ")

    def _key_repl(self, c):
        if self.mode == "raw" and c == 2:
            self.mode = "repl"
            self._say(b"\r\nMicroPython v1.28.0\r\n>>> ")
        elif self.mode == "repl" and c == 3:
            self._say(b"\r\n>>> ")

    def close(self):
        self.stopped = True
        os.close(self.master)
        os.close(self._slave)


def test_a_board_still_booting_is_asked_until_it_answers():
    b = FakeBoard("firmware", boot_s=1.5)
    try:
        assert F.wait_for_repl(b.port, timeout=20) is True
        assert b.mode == "repl"
    finally:
        b.close()


def test_a_running_firmware_gets_one_ctrl_c_while_it_makes_its_outputs_safe():
    b = FakeBoard("firmware", safe_s=1.5)           # three probe rounds long
    try:
        assert F.wait_for_repl(b.port, timeout=20) is True
        assert b.ctrl_c_in_firmware == 1
    finally:
        b.close()


def test_a_board_left_in_the_raw_repl_comes_back_to_its_prompt():
    b = FakeBoard("raw")
    try:
        assert F.wait_for_repl(b.port, timeout=20) is True
    finally:
        b.close()


def test_a_silent_port_is_left_to_mpremote_to_report():
    b = FakeBoard("dead", boot_s=1e9)
    try:
        assert F.wait_for_repl(b.port, timeout=1.5) is False
    finally:
        b.close()
