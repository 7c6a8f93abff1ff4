"""The virtual board end to end: `make flash BOARD=vboard` onto the MicroPython unix port, boot,
and the console says A1 with the pilot at +12 V (X1, duty 100 %). Also over socket://."""
import os
import signal
import subprocess
import sys
import threading

import pytest

from tools.evsectl.link import Link
from vboard_helpers import (ROOT, VBoard, installed_board, make_flash, make_flash_installed, needs_vboard, status,
                            status_when, wait_a1, wait_for)

pytestmark = needs_vboard
EVSECTL_TIMEOUT_S = 120


def _running(b):
    try:
        yield b.tty, b.tcp, b.flash
    finally:
        b.stop()
        with open(b.log) as f:        # shown with a failure: the boots, resets and watchdog resets
            print("vboard.log:\n" + f.read()[-3000:])


@pytest.fixture
def vboard(tmp_path):
    """A virtual board with an empty flash: (tty path, tcp port, flash dir). Stopped afterwards."""
    yield from _running(VBoard(tmp_path))


@pytest.fixture
def charger(tmp_path, installed_flash):
    """The same with the charger as `make flash` installed it (a copy of that flash), booting."""
    yield from _running(installed_board(tmp_path, installed_flash))


def evsectl(port, *args):
    return subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", port, "--timeout", "30"]
                          + list(args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=EVSECTL_TIMEOUT_S)


def test_flash_boot_and_status_a1_x1(vboard, tmp_path):
    tty, tcp, flash = vboard
    settings = tmp_path / "s.json"
    settings.write_text('{"max_current": 32}')           # the installer's rating: nothing without it
    r = make_flash(tty, "SETTINGS=" + str(settings))
    assert r.returncode == 0, r.stdout
    assert "copied" in r.stdout and "reset" in r.stdout
    for name in ("main.py", "boot.py", "board.mpy", "evse/app.mpy", "evse/services/console.mpy"):
        assert os.path.exists(os.path.join(flash, name)), name
    st = wait_a1(tty)
    assert st["ok"] and st["state"] == "A1"
    assert st["pilot"] == "X1" and st["duty"] == 100.0 and st["contactor"] is False
    assert st["fault"] is None
    assert os.path.exists(os.path.join(flash, "settings.a"))   # the upload, sealed by the board
    # the same board over socket://
    st = status("socket://127.0.0.1:%d" % tcp)
    assert st["state"] == "A1" and st["duty"] == 100.0
    # a second flash copies nothing; the board boots again
    r = make_flash(tty)
    assert r.returncode == 0, r.stdout
    assert " 0 copied, 0 removed" in r.stdout, r.stdout
    wait_a1(tty)


def test_second_flash_copies_only_the_changed_file(vboard, tmp_path):
    tty, tcp, flash = vboard
    assert make_flash_installed(tty).returncode == 0
    # at once: the second flash meets the board booting from the first one's reset
    with open(os.path.join(flash, "evse", "core", "limits.mpy"), "ab") as f:
        f.write(b"\0")                       # the board's copy differs from the build
    os.remove(os.path.join(flash, "main.py"))
    with open(os.path.join(flash, "evse", "stale.py"), "w") as f:
        f.write("x = 1\n")                  # a stale .py would shadow a .mpy
    settings = tmp_path / "s.json"
    settings.write_text('{"max_current": 16}')
    r = make_flash(tty, "SETTINGS=" + str(settings))
    assert r.returncode == 0, r.stdout
    assert " 3 copied, 1 removed" in r.stdout, r.stdout       # limits, main.py, settings.json
    assert not os.path.exists(os.path.join(flash, "evse", "stale.py"))
    st = wait_a1(tty)
    assert st["limit"] == 16.0


def test_console_commands_on_the_virtual_board(charger, tmp_path):
    tty, tcp, flash = charger
    wait_a1(tty)
    out = evsectl(tty, "limit", "10")
    assert out.returncode == 0 and '"limit": 10.0' in out.stdout, out.stdout
    out = evsectl(tty, "status")
    assert "limit      10.0 A set by console" in out.stdout and "state      A1" in out.stdout, out.stdout
    out = evsectl(tty, "set", "max_current=200")
    assert out.returncode == 1 and "out of range" in out.stdout
    # reboot: the board comes back with its settings
    out = evsectl(tty, "set", "max_current=20")
    assert out.returncode == 0, out.stdout
    log = str(tmp_path / "vboard.log")
    resets = lambda: open(log).read().count("reset: rebooting")    # noqa: E731
    before = resets()
    out = evsectl(tty, "reboot")
    assert out.returncode == 0
    wait_for("the reboot", lambda: resets() > before, 60)
    st = status_when(tty, lambda st: st["state"] == "A1", "A1 after the reboot")
    assert st["limit"] == 20.0


def test_watch_shows_event_lines(charger, tmp_path):
    tty, tcp, flash = charger
    wait_a1(tty)
    p = subprocess.Popen([sys.executable, "-m", "tools.evsectl", "--port", tty, "--timeout", "30", "watch"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []

    def read():
        for line in p.stdout:
            out.append(line)
    threading.Thread(target=read, daemon=True).start()

    def seen(*words):
        text = "".join(out)
        return all(w in text for w in words)
    try:
        wait_for("the watcher's status", lambda: seen("state      A1", "-" * 60), 60)
        link = Link("socket://127.0.0.1:%d" % tcp, timeout=30.0)   # the tty is the watcher's
        try:
            link.request("disable")
            link.request("enable")
        finally:
            link.close()
        wait_for("the events on the watcher", lambda: seen("disabled", "pwm"), 60)
    finally:
        p.send_signal(signal.SIGINT)        # watch runs until Ctrl-C
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
