"""The virtual board: the firmware on the MicroPython unix port, reachable like a USB board.

    python -m tools.vboard [--flash DIR] [--link PATH] [--tcp PORT] [--web PORT [--web-password PW]]

runs `micropython -i tools/vboard/vboot.py DIR` on a pseudo-terminal of its own and bridges that
terminal to
  - a second pseudo-terminal for clients, with a symlink at --link (default build/vboard/tty):
    `mpremote connect build/vboard/tty resume ...`, `python -m tools.evsectl --port build/vboard/tty`
  - and/or a TCP port on 127.0.0.1 (--tcp; 0 picks a free one): `--port socket://127.0.0.1:PORT`.
DIR is the board's flash (default build/vboard/flash): mounted as "/" on the virtual board, so
`mpremote fs cp` writes there. machine.reset() ends the process; it is started again (a reboot).
The watchdog is modelled here, outside the VM, like the hardware one: once machine.WDT is created
it runs on after Ctrl-C and across soft resets (Ctrl-D; the process restarts), and when it is not fed
within its timeout the board is reset (the process killed and started again, reset_cause WDT_RESET).
Resets are reported on stderr ("vboard: watchdog reset ..."), also with --quiet.
Ctrl-C (0x03) from a client is taken as a board takes it (vboot.Keyboard), never as the terminal's
SIGINT: this port raises KeyboardInterrupt from its signal handler wherever the VM is in C, and one
that landed while it held its qstr lock deadlocked the next import (a flash meeting a booting board
hung: CI, stop 39). The byte goes to the board only when its Ctrl-C is off; what follows it waits
until the board has answered, or raised the KeyboardInterrupt (never read by the program it stops).
A car is on the cable, unplugged at first: `evse car plug|ask|stop|unplug` (tools/vboard/car.py) steers
it through a Unix socket (--car, default build/vboard/car.sock); the car keeps its state across reboots.
Prints one line `vboard: ready tty=... tcp=... car=...` when the ports exist; stops on SIGTERM/SIGINT.
--web PORT: the board's settings get web_port PORT (and web_password, when given) before it boots,
then the firmware, microdot and the page are flashed (make flash's tools/flash.py) once it is up:
the unix port's own sockets serve http://127.0.0.1:PORT/ (no forwarding needed).
"""
import argparse
import errno
import fcntl
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import termios
import time
import tty

from tools.vboard import car as carmod
from tools.waiting import stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VBOOT = os.path.join(ROOT, "tools", "vboard", "vboot.py")
# Every service together as .mpy files (the web page and a connected OCPP service): about 2,540 names,
# and the unix port's next qstr pool is one block of about 28 KB (64-bit), which 512 KB, fragmented,
# no longer had (a MemoryError at the central system's first CALL: test_doc_audit14.py).
HEAP = "1024k"
RESTART_DELAY_S = 0.2
HOLD_MAX = 4096             # client bytes held while the board boots (mpremote's Ctrl-C, Ctrl-A)
BOOT_BANNER = b"vboard: MicroPython unix port"   # vboot.py prints it once Ctrl-C is safe
BOOT_TIMEOUT_S = 10.0
PWRON_RESET, HARD_RESET, WDT_RESET = 1, 2, 3       # machine.reset_cause() values (mock_machine)
CAR_TIMEOUT_S = 1.0         # a car client sends its one line at once
KBD_ANSWER_S = 2.0          # the board's thread answers a Ctrl-C within its 5 ms period
REPL_KBD_WAIT_S = 1.0       # a REPL line that never sleeps gets its SIGINT anyway after this long


def micropython():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else "micropython"


def _raw(fd):
    tty.setraw(fd)                    # no ISIG: a 0x03 is never the terminal's SIGINT (Keyboard)


class Board:
    def __init__(self, flash, link=None, tcp=None, quiet=False, car=None):
        self.flash = os.path.abspath(flash)
        os.makedirs(self.flash, exist_ok=True)
        self.link = link
        self.quiet = quiet
        self.proc = None
        self.boots = 0
        self.booting_since = None        # client input is held until the board can take Ctrl-C
        self._seen = b""
        self.stopping = False
        self.cause = PWRON_RESET         # the next boot's machine.reset_cause()
        self.wdt_s = None                # the watchdog's timeout while it runs
        self.wdt_fed = 0.0
        self.wdt_resets = 0
        self._reset_msg = None           # b"R" (machine.reset) or b"S" (soft reset) before an exit
        self.ctl_r, self.ctl_w = os.pipe()     # the board's control pipe (vboot.Supervisor)
        os.set_blocking(self.ctl_r, False)
        self.car = dict(carmod.UNPLUGGED)        # the car's state, sent to every boot (vboot.Car)
        self.car_r, self.car_w = os.pipe()
        os.set_blocking(self.car_w, False)
        self.car_path = car
        self.kbd_r, self.kbd_w = os.pipe()     # Ctrl-C to the board (vboot.Keyboard): b"K" each
        os.set_blocking(self.kbd_r, False)
        os.set_blocking(self.kbd_w, False)
        self.outq = bytearray()          # client bytes not yet written: the board boots, or a
                                         # Ctrl-C ahead of them waits for the board's answer
        self.kbd_asked = None            # when the board was asked about that Ctrl-C
        self.kbd_pending = False         # the board took it and raises it at its next time call
        self.kbd_signal_since = None     # a REPL line to interrupt with SIGINT (Keyboard: "s")
        self.car_server = None
        if car:
            try:
                os.remove(car)
            except OSError:
                pass
            os.makedirs(os.path.dirname(os.path.abspath(car)), exist_ok=True)
            self.car_server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.car_server.bind(car)
                self.car_server.listen(4)
            except OSError as e:            # e.g. a path over the 107 bytes a Unix socket takes
                self.say("car: no control socket at %s: %s" % (car, e), always=True)
                self.car_server.close()
                self.car_server = self.car_path = None
        # the board's own terminal
        self.m_board, self.s_board = pty.openpty()
        _raw(self.s_board)
        # the clients' terminal
        self.m_client = self.s_client = None
        if link:
            self.m_client, self.s_client = pty.openpty()
            _raw(self.s_client)
            os.set_blocking(self.m_client, False)
            name = os.ttyname(self.s_client)
            try:
                os.remove(link)
            except OSError:
                pass
            os.makedirs(os.path.dirname(os.path.abspath(link)), exist_ok=True)
            os.symlink(name, link)
        self.server = None
        self.conn = None
        self.tcp_port = None
        if tcp is not None:
            self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.server.bind(("127.0.0.1", tcp))
            self.server.listen(1)
            self.tcp_port = self.server.getsockname()[1]

    def start(self):
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen" + os.pathsep + ROOT
        env["VBOARD_CTL_FD"] = str(self.ctl_w)
        env["VBOARD_CAR_FD"] = str(self.car_r)
        env["VBOARD_KBD_FD"] = str(self.kbd_r)
        s = self.s_board
        termios.tcflush(s, termios.TCIFLUSH)   # a reset empties the board's input, as on hardware
        self._kbd_reset()
        _raw(s)             # a process killed inside the REPL leaves its own terminal mode behind
        self.booting_since = time.monotonic()
        self._seen = b""

        def child():
            os.setsid()
            try:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            except OSError:
                pass
        self.proc = subprocess.Popen([micropython(), "-X", "heapsize=" + HEAP, "-i", VBOOT, self.flash,
                                      str(self.cause)],
                                     stdin=s, stdout=s, stderr=s, cwd=ROOT, env=env,
                                     preexec_fn=child, close_fds=True,
                                     pass_fds=(self.ctl_w, self.car_r, self.kbd_r))
        self._send_car()
        self.boots += 1
        self.say("boot %d (pid %d)" % (self.boots, self.proc.pid))

    def say(self, msg, always=False):
        if always or not self.quiet:
            sys.stderr.write("vboard: %s\n" % msg)
            sys.stderr.flush()

    # --- the car ---
    def _send_car(self):
        try:
            os.write(self.car_w, carmod.state_line(self.car).encode())
        except BlockingIOError:          # the board has not read for a long time: it gets the next one
            pass

    def _car_client(self):
        conn, _ = self.car_server.accept()
        conn.settimeout(CAR_TIMEOUT_S)
        try:
            line = conn.makefile("rb").readline().decode()
            try:
                self.car = carmod.command(self.car, line.split())
                reply = {"ok": True, "car": self.car}
                self._send_car()
                self.say("car: %s" % carmod.describe(self.car))
            except ValueError as e:
                reply = {"ok": False, "error": str(e)}
            conn.sendall((json.dumps(reply) + "\n").encode())
        except (OSError, UnicodeDecodeError):
            pass
        finally:
            conn.close()

    # --- the watchdog and the resets ---
    def _read_ctl(self):
        try:
            data = os.read(self.ctl_r, 65536)
        except BlockingIOError:
            return
        now = time.monotonic()
        for line in data.replace(b"f", b"").split(b"\n"):
            if line.startswith(b"W"):             # machine.WDT(timeout=...)
                self.wdt_s = int(line[1:]) / 1000
            elif line in (b"R", b"S"):
                self._reset_msg = line
            elif line[:1] == b"k" and self.kbd_asked is not None:
                self._kbd_answer(line[1:2])
        if b"f" in data or b"W" in data:
            self.wdt_fed = now

    def _check_watchdog(self):
        self._read_ctl()
        if self.wdt_s is None or time.monotonic() - self.wdt_fed <= self.wdt_s:
            return False
        self.wdt_resets += 1
        self.say("watchdog reset %d: not fed for %.1f s (boot %d)"
                 % (self.wdt_resets, time.monotonic() - self.wdt_fed, self.boots), always=True)
        self.proc.kill()
        self.proc.wait()
        self._read_ctl()
        self._reset_msg = None
        self.wdt_s = None               # a reset stops the watchdog until the firmware starts it again
        self.cause = WDT_RESET
        return True

    def _after_exit(self):
        """Why the process ended decides the next boot: a soft reset (Ctrl-D at the REPL, or
        machine.soft_reset()) keeps the watchdog running; anything else is a reset that stops it."""
        self._read_ctl()
        msg, self._reset_msg = self._reset_msg, None
        if msg == b"S" or (msg is None and self.proc.returncode == 0):
            return "soft reset"
        self.wdt_s = None
        self.cause = HARD_RESET if msg == b"R" else PWRON_RESET
        return "reset" if msg == b"R" else "exit %s" % self.proc.returncode

    def _to_board(self, data):
        if self.booting_since is not None:       # held until the board can take Ctrl-C
            data = data[:HOLD_MAX - len(self.outq)]
        self.outq.extend(data)
        self._pump()

    def _booted(self):
        self.booting_since = None
        self._pump()

    # --- Ctrl-C, as a board takes it ---
    def _pump(self):
        """Client bytes to the board up to a Ctrl-C; the board is asked about that one (vboot's
        Keyboard answers on the control pipe) and the rest waits, in order, for its answer."""
        while self.outq and self.kbd_asked is None and self.booting_since is None:
            i = self.outq.find(b"\x03")
            if i < 0:
                os.write(self.m_board, bytes(self.outq))
                self.outq = bytearray()
                return
            if i:
                os.write(self.m_board, bytes(self.outq[:i]))
            del self.outq[:i + 1]
            try:
                os.write(self.kbd_w, b"K")
                self.kbd_asked = time.monotonic()
            except BlockingIOError:     # a board that reads nothing: the byte as a character
                os.write(self.m_board, b"\x03")

    def _kbd_answer(self, how):
        """b"-": Ctrl-C is off there (the REPL waits for a line, or kbd_intr(-1)): a character.
        b"w": the board raises KeyboardInterrupt itself, at its next time call: what follows waits
        (no deadline: a board's UART buffer holds it as long) for b"!", raised (or forgotten).
        b"s": a REPL line runs: SIGINT (_kbd_signal)."""
        if how == b"w":
            self.kbd_pending = True
            return
        self.kbd_asked = None
        self.kbd_pending = False
        if how == b"s":
            self.kbd_signal_since = time.monotonic()
            self._kbd_signal()
        elif how != b"!":
            os.write(self.m_board, b"\x03")
        self._pump()

    def _kbd_signal(self):
        """The port's own Ctrl-C for a line the REPL runs, sent when that line waits in a sleep or a
        poll (its handler then raises with no lock of the VM held), or after REPL_KBD_WAIT_S."""
        waited = time.monotonic() - self.kbd_signal_since
        if self._main_sleeps() or waited > REPL_KBD_WAIT_S:
            self.kbd_signal_since = None
            try:
                os.kill(self.proc.pid, signal.SIGINT)
            except OSError:
                pass

    def _main_sleeps(self):
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/wchan" % self.proc.pid) as f:
                wchan = f.read()
        except OSError:
            return False
        return state == "S" and "futex" not in wchan      # a lock's wait is no safe place

    def _kbd_reset(self):
        """A reset: the Ctrl-C in question is lost with the input; what waited behind it goes to the
        next boot, as what is sent while the board boots does."""
        self.kbd_asked = self.kbd_signal_since = None
        self.kbd_pending = False
        try:
            while os.read(self.kbd_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _kbd_overdue(self):
        if (self.kbd_asked is not None and not self.kbd_pending
                and time.monotonic() - self.kbd_asked > KBD_ANSWER_S):
            self._kbd_answer(b"-")       # no answer (a board stuck in C): as a character
        if self.kbd_signal_since is not None:
            self._kbd_signal()

    def _from_board(self, data):
        if self.booting_since is not None:
            self._seen = (self._seen + data)[-256:]
            if BOOT_BANNER in self._seen:
                self._booted()
        self._to_clients(data)

    def _to_clients(self, data):
        if self.m_client is not None:
            try:
                os.write(self.m_client, data)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EIO):
                    raise
        if self.conn is not None:
            try:
                self.conn.sendall(data)
            except OSError:
                self._drop_conn()

    def _drop_conn(self):
        try:
            self.conn.close()
        except OSError:
            pass
        self.conn = None

    def serve(self):
        self.start()
        print("vboard: ready tty=%s tcp=%s car=%s flash=%s" % (
            self.link or "-", self.tcp_port or "-", self.car_path or "-", self.flash), flush=True)
        while not self.stopping:
            exited = self.proc.poll() is not None
            if exited:
                self.say("%s: rebooting" % self._after_exit())
            elif self._check_watchdog():
                exited = True
            if exited:
                time.sleep(RESTART_DELAY_S)
                self.start()
            if self.booting_since is not None and time.monotonic() - self.booting_since > BOOT_TIMEOUT_S:
                self._booted()
            self._kbd_overdue()
            rd = [self.m_board, self.ctl_r]
            if self.m_client is not None:
                rd.append(self.m_client)
            if self.server is not None:
                rd.append(self.conn if self.conn is not None else self.server)
            if self.car_server is not None:
                rd.append(self.car_server)
            try:
                ready, _, _ = select.select(rd, [], [], 0.001 if self.kbd_signal_since else 0.1)
            except InterruptedError:
                continue
            for fd in ready:
                if fd == self.ctl_r:
                    continue                # read by _check_watchdog at the loop's top
                if fd is self.car_server:
                    self._car_client()
                    continue
                if fd is self.server:
                    self.conn, _ = self.server.accept()
                    self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    continue
                if fd is self.conn:
                    try:
                        data = self.conn.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._drop_conn()
                        continue
                    self._to_board(data)
                    continue
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if fd == self.m_board:
                    self._from_board(data)
                else:
                    self._to_board(data)

    def stop(self):
        self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, 2)
        for path in (self.link, self.car_path):
            if path:
                try:
                    os.remove(path)
                except OSError:
                    pass


def set_web(flash_dir, port, password=None):
    """web_port (and web_password) sealed into the board's settings as the console's `set` would,
    keeping every other value (an unset max_current stays unset: only the installer knows it)."""
    from evse.services import settings
    path = os.path.join(flash_dir, "settings.json")        # its copies: settings.a, settings.b
    cfg, _, _ = settings.load(path)
    cfg["web_port"] = port
    if password is not None:
        cfg["web_password"] = password
    cfg, errors = settings.validate(cfg)
    bad = [e for e in errors if e.startswith("web_")]
    if bad:
        raise SystemExit("vboard: " + "; ".join(bad))
    settings.save(path, cfg)


def flash_when_ready(link, log):
    """make flash onto this board from a thread, while serve() bridges its tty."""
    import threading

    def run():
        from tools import flash
        try:
            flash.flash("vboard", link, log=log)
        except Exception as e:          # FlashError, mpremote failing: said, the board runs on
            log("vboard: flash failed: %s" % e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.vboard", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flash", default=os.path.join(ROOT, "build", "vboard", "flash"))
    ap.add_argument("--link", default=os.path.join(ROOT, "build", "vboard", "tty"))
    ap.add_argument("--tcp", type=int, default=None, help="also listen on 127.0.0.1:TCP (0: any free port)")
    ap.add_argument("--car", default=None,
                    help="the car's control socket (evse car; default car.sock beside --link)")
    ap.add_argument("--no-tty", action="store_true", help="TCP only")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--web", type=int, default=None, help="serve the web page and API on 127.0.0.1:WEB")
    ap.add_argument("--web-password", default=None, help="the web_password setting (16-40 characters)")
    a = ap.parse_args(argv)
    car = a.car or (os.path.join(os.path.dirname(os.path.abspath(a.link)), "car.sock") if not a.no_tty
                    else carmod.SOCKET)
    if a.web is not None:
        if a.no_tty:
            ap.error("--web flashes the firmware through the tty: drop --no-tty")
        os.makedirs(a.flash, exist_ok=True)
        set_web(a.flash, a.web, a.web_password)
    b = Board(a.flash, None if a.no_tty else a.link, a.tcp, a.quiet, car)
    if a.web is not None:
        flash_when_ready(a.link, lambda m: print(m, flush=True))

    def on_signal(sig, frame):
        b.stopping = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        b.serve()
    finally:
        b.stop()
    return 0


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
