"""The virtual board end to end: `make flash BOARD=vboard` onto the MicroPython unix port, boot,
and the console says A1 with the pilot at +12 V (X1, duty 100 %). Also over socket://."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from tools.evsectl.link import Link

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY_TIMEOUT_S = 10
BOOT_TIMEOUT_S = 20
FLASH_TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(
    not shutil.which("micropython", path=os.path.dirname(sys.executable)) or not shutil.which("make"),
    reason="needs the MicroPython unix port in the venv and make")


@pytest.fixture
def vboard(tmp_path):
    """A virtual board with an empty flash: (tty path, tcp port, flash dir). Stopped afterwards."""
    tty = str(tmp_path / "tty")
    flash = str(tmp_path / "flash")
    p = subprocess.Popen([sys.executable, "-m", "tools.vboard", "--flash", flash, "--link", tty,
                          "--tcp", "0", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        line = ""
        while time.monotonic() < deadline and not line.startswith("vboard: ready"):
            line = p.stdout.readline()
        assert line.startswith("vboard: ready"), "the virtual board did not start"
        tcp = int(line.split("tcp=")[1].split()[0])
        yield tty, tcp, flash
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def make_flash(port, *extra):
    return subprocess.run(["make", "-s", "flash", "BOARD=vboard", "PORT=" + port] + list(extra), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=FLASH_TIMEOUT_S)


def make_flash_installed(port, tmp_path):
    """make flash with the installer's settings (a 32 A circuit): a board without them offers nothing."""
    settings = tmp_path / "installed.json"
    settings.write_text('{"max_current": 32}')
    return make_flash(port, "SETTINGS=" + str(settings))


def status(port):
    link = Link(port, timeout=2.0)
    try:
        return link.wait_ready(BOOT_TIMEOUT_S)
    finally:
        link.close()


def test_flash_boot_and_status_a1_x1(vboard, tmp_path):
    tty, tcp, flash = vboard
    settings = tmp_path / "s.json"
    settings.write_text('{"max_current": 32}')           # the installer's rating: nothing without it
    r = make_flash(tty, "SETTINGS=" + str(settings))
    assert r.returncode == 0, r.stdout
    assert "copied" in r.stdout and "reset" in r.stdout
    for name in ("main.py", "boot.py", "board.mpy", "evse/app.mpy", "evse/console.mpy"):
        assert os.path.exists(os.path.join(flash, name)), name
    st = status(tty)
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
    assert status(tty)["state"] == "A1"


def test_second_flash_copies_only_the_changed_file(vboard, tmp_path):
    tty, tcp, flash = vboard
    assert make_flash(tty).returncode == 0
    with open(os.path.join(flash, "evse", "limits.mpy"), "ab") as f:
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
    st = status(tty)
    assert st["state"] == "A1" and st["limit"] == 16.0


def test_console_commands_on_the_virtual_board(vboard, tmp_path):
    tty, tcp, flash = vboard
    assert make_flash_installed(tty, tmp_path).returncode == 0
    status(tty)
    out = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", tty, "limit", "10"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 0 and '"limit": 10.0' in out.stdout, out.stdout
    out = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", tty, "status"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert "limit 10.0 A" in out.stdout and "state      A1" in out.stdout, out.stdout
    out = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", tty, "set", "max_current=200"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 1 and "out of range" in out.stdout
    # reboot: the board comes back with its settings
    out = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", tty, "set", "max_current=20"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 0, out.stdout
    out = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", tty, "reboot"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 0
    time.sleep(0.5)
    st = status(tty)
    assert st["state"] in ("boot", "A1") and st["limit"] == 20.0


def test_watch_shows_event_lines(vboard, tmp_path):
    tty, tcp, flash = vboard
    assert make_flash_installed(tty, tmp_path).returncode == 0
    status(tty)
    p = subprocess.Popen([sys.executable, "-m", "tools.evsectl", "--port", tty, "--seconds", "4", "watch"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    link = Link("socket://127.0.0.1:%d" % tcp, timeout=3.0)   # the tty is the watcher's
    try:
        link.request("disable")
        time.sleep(0.3)
        link.request("enable")
    finally:
        link.close()
    out, _ = p.communicate(timeout=20)
    assert "state      A1" in out
    assert "disabled" in out and "pwm" in out, out
