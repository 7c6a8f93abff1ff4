"""The virtual board for tests: started, flashed and asked like a board on the bench. Every wait is
on a condition (a line, a state, a file) with a generous overall deadline, never a guessed sleep:
the tests must pass on a loaded machine (issue 9: 8 busy processes beside `make test`)."""
import json
import os
import select
import shutil
import subprocess
import sys
import time

import pytest

from tools.evsectl.link import Link, LinkError
from tools.toolchain.whole import write_whole
from tools.waiting import stop_process, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY_TIMEOUT_S = 60          # the supervisor's first line
BOOT_TIMEOUT_S = 90           # flash, reset, boot until the console says A1
FLASH_TIMEOUT_S = 300
POLL_S = 0.1

needs_vboard = pytest.mark.skipif(
    not shutil.which("micropython", path=os.path.dirname(sys.executable)) or not shutil.which("make"),
    reason="needs the MicroPython unix port in the venv and make")


class VBoard:
    """python -m tools.vboard on a flash directory of its own; its stderr (resets) kept in a file."""

    def __init__(self, tmp_path):
        self.tty = str(tmp_path / "tty")
        self.flash = str(tmp_path / "flash")
        self.log = str(tmp_path / "vboard.log")
        with open(self.log, "w") as err:
            self.p = subprocess.Popen([sys.executable, "-m", "tools.vboard", "--flash", self.flash,
                                       "--link", self.tty, "--tcp", "0"], cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            line = self._ready_line()
        except BaseException:
            self.stop()
            raise
        self.tcp = int(line.split("tcp=")[1].split()[0])

    def _ready_line(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if select.select([self.p.stdout], [], [], POLL_S)[0]:
                line = self.p.stdout.readline()
                if line.startswith("vboard: ready"):
                    return line
                if not line:
                    break
        raise AssertionError("the virtual board did not start")

    def stop(self):
        stop_process(self.p, 30)

    def log_lines(self, word):
        with open(self.log) as f:
            return [x for x in f if word in x]

    def watchdog_resets(self):
        return len(self.log_lines("watchdog reset"))

    def journal(self):
        """The board's fault journal (faults.json on its flash), read as the firmware reads it."""
        from evse.services import journal
        return journal.read(os.path.join(self.flash, "faults.json"))


INSTALLED = os.path.join(ROOT, "build", "vboard-installed.json")


def make_flash(port, *extra):
    return subprocess.run(["make", "-s", "flash", "BOARD=vboard", "PORT=" + port] + list(extra), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=FLASH_TIMEOUT_S)


def make_flash_installed(port, *extra):
    """make flash as an installer does, with the circuit's rating (32 A): without a max_current the
    charger offers nothing (fault `settings`)."""
    os.makedirs(os.path.dirname(INSTALLED), exist_ok=True)
    write_whole(INSTALLED, '{"max_current": 32}')    # whole when a flash in another worker reads it
    return make_flash(port, "SETTINGS=" + INSTALLED, *extra)


def make_installed_flash(d):
    """A virtual board's flash as `make flash` with the installer's rating leaves it on an empty
    board that then booted to A1 (the firmware's files and settings.a, which the boot seals; an
    idle charger writes nothing more: test_flash_audit9.py), in directory d: the path of the flash.
    conftest.py's fixture installed_flash makes one per test process: a board that only needs to be
    a flashed charger boots from a copy (installed_board) instead of being flashed again, which
    took 20 s of a loaded CI's time each."""
    b = VBoard(d)
    try:
        r = make_flash_installed(b.tty)
        assert r.returncode == 0, r.stdout
        wait_a1(b.tty)
    finally:
        b.stop()
    return b.flash


def installed_board(tmp_path, flash):
    """A virtual board started on a copy of `flash` (installed_flash): a flashed charger at its
    power-on, its own log from its first line."""
    shutil.copytree(flash, str(tmp_path / "flash"))
    return VBoard(tmp_path)


def status(port, timeout=BOOT_TIMEOUT_S):
    """The console's status once the firmware answers."""
    link = Link(port, timeout=5.0)
    try:
        return link.wait_ready(timeout)
    finally:
        link.close()


def status_when(port, pred, what, timeout=BOOT_TIMEOUT_S):
    """Status until pred(status) holds (a board just reset answers "boot" first)."""
    def ok():
        try:
            st = status(port, timeout=10)
        except LinkError:
            return None
        return st if pred(st) else None
    return wait_for(what, ok, timeout)


def wait_a1(port, timeout=BOOT_TIMEOUT_S):
    return status_when(port, lambda st: st.get("state") == "A1", "state A1", timeout)


def mpremote(port, *args, timeout=FLASH_TIMEOUT_S):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume"] + list(args),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def page_in_browser(script, cases, tmp, screenshot, timeout=180):
    """Run tools/webtest/<script> on the page with `cases` (the charger's answers, as JSON) in
    chromium, skipped saying why without one; what it saw: its last line's JSON."""
    why = no_browser()
    if why:
        pytest.skip("browser test skipped: " + why)
    from tools import webfiles
    path = os.path.join(str(tmp), "cases.json")
    with open(path, "w") as f:
        json.dump(cases() if callable(cases) else cases, f)
    os.makedirs(os.path.dirname(screenshot), exist_ok=True)
    p = subprocess.run(["node", script, webfiles.PAGE_SRC, path, screenshot], cwd=os.path.join(ROOT, "tools", "webtest"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout
    return json.loads(p.stdout.strip().splitlines()[-1])


def no_browser():
    """Why the browser tests cannot run here (None: they can): node, playwright-core, chromium."""
    webtest = os.path.join(ROOT, "tools", "webtest")
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists(os.path.join(webtest, "node_modules", "playwright-core")):
        return "playwright-core is not installed (make browser)"
    if not (os.environ.get("CHROMIUM") or shutil.which("chromium")):
        return "chromium is not installed (make debs: apt-get install chromium)"
    return None
