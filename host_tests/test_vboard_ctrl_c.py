"""Ctrl-C on the virtual board, taken as a board takes it (tools/vboard, vboot.Keyboard).

The project's CI failed on a flash that met the board booting from the last flash's reset: mpremote
got no answer for 60 s, then no raw REPL. gdb on the hung board: its main thread waiting for ever on
the VM's qstr mutex. This port raises KeyboardInterrupt from its SIGINT handler wherever the VM is in
C; the flash tool's Ctrl-C had landed while an import held that lock, and the next import waited on
it. A board raises Ctrl-C at the VM's next jump. Also, kbd_intr(-1) on this port restores SIGINT's
default action: the next 0x03 killed the process (a power cut: the energy count back to its last save)
where a board reads the 0x03 as a character."""
import os
import termios
import time

import pytest

from tools.evsectl.link import open_port
from vboard_helpers import VBoard, installed_board, needs_vboard, wait_a1, wait_for

pytestmark = needs_vboard
BANNER = b"vboard: MicroPython unix port"
ANSWER_S = 60                   # generous: a loaded machine


class Terminal:
    """The board's USB serial port, read into one growing transcript."""

    def __init__(self, b):
        self.s = open_port(b.tty, timeout=0.05)
        self.seen = b""

    def read(self):
        self.seen += self.s.read(4096)
        return self.seen

    def write(self, data):
        self.s.write(data)

    def until(self, what, words, timeout=ANSWER_S, every=None, send=b""):
        """Read until every word follows the transcript's current end; `send` again each `every` s."""
        start, last = len(self.seen), 0.0

        def seen():
            nonlocal last
            if every and time.monotonic() - last > every:
                self.write(send)
                last = time.monotonic()
            tail = self.read()[start:]
            return all(w in tail for w in words)
        wait_for(what, seen, timeout)

    def close(self):
        self.s.close()


def _with_terminal(b):
    t = Terminal(b)
    try:
        yield b, t
    finally:
        t.close()
        b.stop()


@pytest.fixture
def board(tmp_path):
    """A board with an empty flash, at its REPL."""
    yield from _with_terminal(VBoard(tmp_path))


@pytest.fixture
def charger(tmp_path, installed_flash):
    """A charger as `make flash` installed it, booting from a copy of that flash."""
    b = installed_board(tmp_path, installed_flash)
    yield from _with_terminal(b)


def test_a_ctrl_c_with_ctrl_c_off_is_a_character_and_the_board_lives_on(board):
    b, t = board
    t.until("the REPL", [b">>> "], every=2, send=b"\r")
    # The line says when Ctrl-C is off (a 0.5 s pause after its echo was a guess: a loaded machine
    # ran kbd_intr(-1) later, the 0x03 was a KeyboardInterrupt, and no "got 3" came)
    t.write(b"import micropython, sys; micropython.kbd_intr(-1); print('OFF', 1 + 1); "
            b"print('got', ord(sys.stdin.read(1)))\r")
    t.until("Ctrl-C off, the line about to read stdin", [b"OFF 2"])
    t.write(b"\x03")
    t.until("the 0x03 read as a character", [b"got 3", b">>> "])
    assert not b.log_lines("rebooting"), b.log_lines("vboard")      # no SIGINT killed the process


def test_ctrl_c_at_any_moment_of_a_boot_gives_the_repl(charger):
    """A Ctrl-C sent at 24 moments of the charger's boot (every 25 ms after the banner): each time the
    board reaches its REPL and runs a line, whether the Ctrl-C fell into an import, App() or the loop."""
    b, t = charger
    wait_a1(b.tty)
    for n in range(24):
        t.until("the REPL (round %d)" % n, [b">>> "], every=3, send=b"\r\x03")
        t.write(b"import machine; machine.reset()\r")
        t.until("the next boot's banner", [BANNER])
        time.sleep(0.025 * n)        # the moment is the point: a wait, not a guess
        t.write(b"\x03")
        t.until("the REPL after a Ctrl-C %d ms into boot %d" % (25 * n, n), [b">>> "], every=3,
                send=b"\r\x03")
        t.write(b"print(6 * 7)\r")
        t.until("a line run at the REPL", [b"42"])
    assert not b.log_lines("watchdog reset"), b.log_lines("vboard")


def board_terminal_lflag(b):
    """The local modes of the VM's own terminal (the pty its stdin is), read beside it."""
    with open("/proc/%d/task/%d/children" % (b.p.pid, b.p.pid)) as f:
        vm = int(f.read().split()[0])
    fd = os.open(os.readlink("/proc/%d/fd/0" % vm), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        return termios.tcgetattr(fd)[3]
    finally:
        os.close(fd)


def test_a_ctrl_c_to_the_running_charger_is_raised_between_bytecodes(charger):
    """Never the terminal's SIGINT (raised inside C, where a lock may be held): the board raises it
    itself, at the firmware's next time call."""
    b, t = charger
    wait_a1(b.tty)
    assert not board_terminal_lflag(b) & termios.ISIG
    t.write(b"\x03")
    t.until("the REPL", [b"KeyboardInterrupt", b">>> "])
    trace = t.seen[t.seen.rindex(b"Traceback"):]
    assert b"in raise_here" in trace and b'evse/app.py", line' in trace, trace


# A program that reads the serial port between its time calls, as the firmware's console does: the
# board takes Ctrl-C at the next time call, so the bytes behind the 0x03 must wait until then.
POLLING_MAIN = b"""import select, sys, time
p = select.poll()
p.register(sys.stdin, select.POLLIN)
inp = getattr(sys.stdin, "buffer", sys.stdin)
open("polling", "w").close()        # said on flash: its output may come before the test reads
while True:
    time.ticks_ms()                  # where the board raises a Ctrl-C
    for _ in range(20000):           # a stretch of work with no time call
        if p.poll(0):
            inp.read(1)
"""


def test_the_bytes_behind_a_ctrl_c_reach_the_repl_not_the_interrupted_program(tmp_path):
    """mpremote's way in (CI, stop 47: "could not enter raw repl" on a running charger): Ctrl-C, then
    Ctrl-A at once. A board raises the Ctrl-C at the program's next jump and its REPL then reads the
    Ctrl-A from the UART's buffer; here the board said "taken" before raising, and the program, still
    polling, ate the Ctrl-A."""
    os.makedirs(str(tmp_path / "flash"))
    with open(str(tmp_path / "flash" / "main.py"), "wb") as f:
        f.write(POLLING_MAIN)
    b = VBoard(tmp_path)
    t = Terminal(b)
    try:
        wait_for("the program polling the serial port",
                 lambda: os.path.exists(str(tmp_path / "flash" / "polling")), ANSWER_S)
        t.write(b"\x03\r\x01")
        t.until("the raw REPL", [b"KeyboardInterrupt", b"raw REPL; CTRL-B to exit\r\n>"], timeout=20)
    finally:
        print("transcript:", t.seen)        # shown with a failure
        t.close()
        b.stop()
