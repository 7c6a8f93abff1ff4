"""On the emulated Raspberry Pi Pico: the stock MicroPython v1.28.0 rp2 image (../shared/rp2/) is
flashed as a user does it, twice through `make flash`, and the charger then runs on the real port
against the bench's own circuit model behind the pins (tools/rp2emu).

Bench scenario: a new Pico gets the firmware (no settings: it must offer nothing); the installer
then flashes again onto the running charger with the circuit's rating (an update); the charger
comes up in A1 (+12 V, no PWM); a car is plugged in (2.74 kOhm behind its diode, PP 150 Ohm) and
the charger offers 32 A: B2, the duty the emulated PWM slice really runs advertising at most 32 A
and less than 0.1 A under it."""
import json
import subprocess
import sys
import time

import pytest

from tools import rp2emu

WHY = rp2emu.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)

MAX_CURRENT_A = 32
FLASH_WALL_S = 600
UPDATE = {}             # what the update (the second flash) saw: boots with their reasons


@pytest.fixture(scope="module")
def pico(tmp_path_factory):
    board = rp2emu.load_board("rpi_pico")
    with rp2emu.Pico(board, realtime=True) as p:     # paced like a real board for mpremote
        yield p


def make_flash(pico, settings=None):
    """`make flash BOARD=rpi_pico PORT=<the emulated board>`, the board running meanwhile."""
    cmd = ["make", "-s", "flash", "BOARD=rpi_pico", "PORT=" + pico.port]
    if settings:
        cmd.append("SETTINGS=" + settings)
    root = rp2emu.ROOT
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert pico.pump(until=lambda: proc.poll() is not None, wall_s=FLASH_WALL_S), "make flash hung"
    out = proc.stdout.read().decode()
    return proc.returncode, out


def wait_state(pico, want, wall_s=300):
    end = time.monotonic() + wall_s
    st = None
    while time.monotonic() < end:
        st = pico.console({"cmd": "status"})
        if st["state"] == want:
            return st
        pico.pump(emu_s=0.1, wall_s=60)
    raise AssertionError("no %s: %s" % (want, st))


def pilot_duty(pico):
    regs = pico.pwm[pico.board.PILOT_PWM_PIN]
    return regs["cc"], regs["top"] + 1


def test_flash_twice(pico, tmp_path):
    # 1. A new board: the stock image at its REPL gets the firmware.
    pico.pump(emu_s=1.0, wall_s=120)
    boots = pico.boots
    rc, out = make_flash(pico)
    assert rc == 0, out
    assert "copied" in out and pico.boots == boots + 1, out      # one reset: the one flash.py asks
    st = wait_state(pico, "fault")
    assert st["fault"] == "settings" and st["duty"] == 0.0, st     # no rating: nothing offered

    # 2. An update onto the running charger (its watchdog armed): the installer's rating.
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"max_current": MAX_CURRENT_A}))
    t0 = pico.t_us
    rc, out = make_flash(pico, str(settings))
    UPDATE["boots"] = [b for b in pico.boot_reasons if b[0] > t0]
    UPDATE["t0"] = t0
    assert rc == 0, "%s\nboots (t us, reason 1 = watchdog timer) since %d us: %s" % (
        out, t0, UPDATE["boots"])
    assert "1 copied" in out, out


def test_update_not_reset_by_the_watchdog(pico):
    timer = [t for t, reason in UPDATE.get("boots", ()) if reason == 1]
    assert not timer, "watchdog reset %.2f s after the update began (boots: %s)" % (
        (timer[0] - UPDATE["t0"]) / 1e6, UPDATE["boots"])


def test_a1_then_b2_at_the_duty_for_32a(pico):
    # 3. The charger on the real port, as fast as the emulator goes: A1 with nothing plugged.
    pico.realtime(False)
    wait_state(pico, "A1")
    pico.pump(emu_s=0.05, wall_s=60)        # the next tick reports the slice's registers
    cc, steps = pilot_duty(pico)
    assert cc >= steps, "A1: the pilot is constant +12 V (CC %d of %d)" % (cc, steps)

    # 4. A car plugged in through the pin physics: B2 at the duty for 32 A.
    w = pico.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    wait_state(pico, "B2")
    pico.pump(emu_s=0.05, wall_s=60)
    cc, steps = pilot_duty(pico)
    duty = 100.0 * cc / steps
    amps = duty * 0.6                       # J1772 / IEC 61851-1 Annex A: 10-85 % -> duty x 0.6 A
    assert MAX_CURRENT_A - 0.1 < amps <= MAX_CURRENT_A, "duty %.4f %% (%d/%d) = %.3f A" % (
        duty, cc, steps, amps)
    assert w.advertised() == pytest.approx(amps)

    # 5. The tick light (GP25) was lit once a tick, for the control tick's part of the busy time.
    since = pico.busy[-50][0]
    ticks = [c for t, c in pico.control_ticks() if t > since]
    assert 45 <= len(ticks) <= 55 and min(ticks) > 0, ticks
    assert sum(ticks) < sum(c for t, c in pico.busy[-49:]), ticks


SWEEP = """
from evse.shell import maint
maint.stop()                    # no maintenance feeds putting the pilot safe meanwhile
import machine, board
from evse.core import limits as L
from evse.shell import hal
wdt = machine.WDT(timeout=8000)
hw = hal.Hardware(board)
cc, top = hw._cc_addr, hw._cc_addr + 4
for a in range(60, 801):
    hw.set_pilot(L.PILOT_PWM, a)
    print("D", a, machine.mem32[cc] & 0xFFFF, machine.mem32[top] & 0xFFFF)
    wdt.feed()
hw.safe()
"""


def test_every_tenth_of_an_amp_6_to_80_on_the_emulated_pwm(pico):
    # 5. On the port itself: the HAL sets each current from 6 to 80 A in 0.1 A steps, and the duty
    # the emulated PWM slice then holds (CC out of TOP + 1) never advertises more than the limit
    # and less than 0.1 A under it (6 A: 10 %, rounded up by under 0.001 A).
    from fractions import Fraction
    from host_tests.test_pilot_duty import amps_read_by_vehicle, limit_for
    pico.realtime(True)
    proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", SWEEP],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert pico.pump(until=lambda: proc.poll() is not None, wall_s=600), "mpremote hung"
    out = proc.stdout.read().decode()
    rows = [[int(v) for v in x.split()[1:]] for x in out.splitlines() if x.startswith("D ")]
    assert len(rows) == 741, out[-2000:]
    bad = []
    for a, cc, top in rows:
        adv = amps_read_by_vehicle(Fraction(100 * cc, top + 1))
        lim = limit_for(a)
        if a == 60:
            ok = Fraction(100 * cc, top + 1) >= 10 and adv - 6 < Fraction(1, 1000)
        else:
            ok = adv <= lim and lim - adv < Fraction(1, 10)
        if not ok:
            bad.append((a / 10, cc, top, float(adv)))
    assert not bad, "%d currents wrong on the emulated PWM, e.g. %s" % (len(bad), bad[:3])
