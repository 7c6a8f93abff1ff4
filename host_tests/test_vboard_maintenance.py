"""Issue 9 item 8 on the virtual board (the MicroPython unix port, reached through mpremote): the
watchdog no longer defeats the tools. Ctrl-C gives the REPL in a maintenance state (contactor open,
pilot at -12 V, watchdog fed by a soft timer), so a full `make flash` onto a running charger ends
without a watchdog reset; a board stuck in C, or left at the REPL past the maintenance window, is
still reset by the watchdog and comes back as a charger. The virtual board's watchdog is outside the
VM, like the hardware one (tools/vboard): it runs on after Ctrl-C and resets the board when unfed."""
import os
import re
import subprocess
import sys

import pytest

from tools import flash as F
from vboard_helpers import ROOT, installed_board, make_flash, mpremote, needs_vboard, wait_a1, wait_for

pytestmark = needs_vboard
WDT_TIMEOUT_S = 2.0            # firmware/evse/core/limits.py WDT_TIMEOUT_MS
SHORT_WINDOW_MS = 10000        # a board built with a 10 s maintenance window (test 3)

# Run through mpremote (its Ctrl-C stops the charger first): a hand at the REPL closes the
# contactor, then the REPL stays busy longer than the watchdog timeout, then the outputs are read.
PROBE = """
import board, machine, time
machine.Pin(board.CONTACTOR_PINS[0], machine.Pin.OUT).value(1)
time.sleep_ms(%d)
print("MAINT", [machine.output(p) for p in board.CONTACTOR_PINS], machine.pwms[board.PILOT_PWM_PIN].duty_u16())
""" % int(WDT_TIMEOUT_S * 1500)


@pytest.fixture
def vb(tmp_path, installed_flash):
    """A charger as `make flash` installed it, booted from a copy of that flash."""
    b = installed_board(tmp_path, installed_flash)
    try:
        wait_a1(b.tty)
        yield b
    finally:
        b.stop()


def probe_maintenance(vb):
    r = mpremote(vb.tty, "exec", PROBE, timeout=120)
    assert r.returncode == 0, r.stdout
    line = [x for x in r.stdout.splitlines() if x.startswith("MAINT")]
    assert line == ["MAINT [0, 0] 0"], r.stdout       # contactor open again, pilot -12 V (F)


def test_full_flash_onto_a_running_charger_has_no_watchdog_reset(vb):
    files = [dst for _, dst in F.build("vboard")]
    for name in files:                               # every file on the board differs: a full copy
        with open(os.path.join(vb.flash, name), "ab") as f:
            f.write(b"\n")
    r = make_flash(vb.tty)                          # an update: the settings stay
    assert r.returncode == 0, r.stdout
    assert " %d copied, 0 removed; reset" % len(files) in r.stdout, r.stdout
    assert vb.watchdog_resets() == 0, vb.log_lines("vboard")
    wait_a1(vb.tty)                                  # the tool's reset: back to the charger
    # In maintenance: the outputs stay safe, and the board lives past the watchdog timeout.
    probe_maintenance(vb)
    assert vb.watchdog_resets() == 0, vb.log_lines("vboard")
    # Ctrl-D at the friendly REPL (a soft reset): boot.py and main.py again, the charger is back.
    with open(vb.tty, "wb", buffering=0) as t:
        t.write(b"\r\x04")
    wait_for("the soft reset", lambda: vb.log_lines("soft reset"), 60)
    wait_a1(vb.tty)
    assert vb.watchdog_resets() == 0
    assert "watchdog_reset" not in vb.journal().get("counters", {})


def test_a_board_stuck_in_c_at_the_repl_is_reset_by_the_watchdog(vb):
    hang = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", vb.tty, "resume", "exec",
                             "sum(range(10 ** 12))"], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("a watchdog reset", vb.watchdog_resets, 60)
    finally:
        hang.kill()
        hang.wait()
    st = wait_a1(vb.tty)
    assert st["contactor"] is False
    assert vb.journal()["counters"]["watchdog_reset"] == 1


def test_the_maintenance_window_ends_in_a_watchdog_reset_back_to_the_charger(vb):
    src = os.path.join(ROOT, "firmware", "evse", "core", "limits.py")
    with open(src) as f:
        text = f.read()
    short = "MAINT_WINDOW_MS = const(%d)" % SHORT_WINDOW_MS
    text, n = re.subn(r"MAINT_WINDOW_MS = const\(\d+\)", short, text)
    with open(os.path.join(vb.flash, "evse", "core", "limits.py"), "w") as f:     # shadows limits.mpy
        f.write(text if n else text + short + "\n")
    r = mpremote(vb.tty, "reset")
    assert r.returncode == 0, r.stdout
    wait_a1(vb.tty)
    probe_maintenance(vb)                     # inside the window: alive past the watchdog timeout
    assert vb.watchdog_resets() == 0
    wait_for("the watchdog reset at the end of the window", vb.watchdog_resets, 120)
    wait_a1(vb.tty)
    assert vb.journal()["counters"]["watchdog_reset"] == 1
