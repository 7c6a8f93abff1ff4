"""The Raspberry Pi Pico brought up as a board: what the rp2 port really does, checked on the host's
mock of it and on the stock MicroPython v1.28.0 image in the emulated RP2040 (tools/rp2emu).

Bench scenario (reset causes): the fault journal counts a `watchdog_reset` when the watchdog reset a
board whose control loop stopped feeding it. On the rp2 port `machine.reset()` is itself a
watchdog reset (the pico-sdk's `watchdog_reboot` forces the watchdog: REASON.FORCE) and
`machine.reset_cause()` says WDT_RESET for it as for a timeout (REASON.TIMER). So every reboot
asked for - the end of `make flash`, the console's `reboot`, an OCPP Reset - was journalled as a
watchdog reset: measured on the emulated Pico, the journal read `watchdog_reset` 1 after the flash's
own reset and 2 after one console `reboot`, with the chip's REASON register 2 (FORCE) both times. A
hung interpreter (the maintenance feeds stopped, the VM held in one call in C) is reset after 2 s
with REASON 1 (TIMER), and that one must still count."""
import pytest

from evse.services import journal
from tools import rp2emu
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

WHY = rp2emu.missing()
TIMER, FORCE = 1, 2              # RP2040 WATCHDOG REASON bits


def _watchdog_resets(flash_dir):
    return journal.read(flash_dir + "/faults.json")["counters"].get("watchdog_reset", 0)


def test_a_reboot_asked_for_on_the_pico_is_no_watchdog_reset_but_a_timeout_is(tmp_path):
    b = Drive(config={"max_current": 32}, board="rpi_pico", flash_dir=str(tmp_path))
    b.run(0.5)
    rig = b.rig
    rig.power_off()                                  # machine.reset() as the rp2 port does it
    mm.set_reset_cause(mm.WDT_RESET, wd_reason=FORCE)
    rig.power_on()
    b.run(0.5)
    assert _watchdog_resets(str(tmp_path)) == 0
    rig.power_off()                                  # the watchdog, not fed
    mm.set_reset_cause(mm.WDT_RESET, wd_reason=TIMER)
    rig.power_on()
    b.run(0.5)
    assert _watchdog_resets(str(tmp_path)) == 1


def test_a_reboot_asked_for_on_another_port_is_read_as_it_says(tmp_path):
    b = Drive(config={"max_current": 32}, flash_dir=str(tmp_path))    # the sim board: no REASON
    b.rig.power_off()
    mm.set_reset_cause(mm.WDT_RESET)
    b.rig.power_on()
    b.run(0.5)
    assert _watchdog_resets(str(tmp_path)) == 1


def _reboot_and_wait(pico, want_boots, wall_s=300):
    assert pico.pump(until=lambda: pico.boots >= want_boots, wall_s=wall_s, emu_s=5.0)
    assert pico.boots >= want_boots, pico.boot_reasons
    pico.pump(emu_s=1.5, wall_s=wall_s)              # MicroPython's start and the imports


@pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)
def test_on_the_emulated_pico_only_a_starved_watchdog_is_journalled():
    from tools.sim.bench.rp2 import PicoRig
    rig = PicoRig({})                 # `make flash` (or its kept flash): booted by machine.reset()
    pico = rig.pico
    try:
        assert pico.boot_reasons[-1][1] == FORCE, pico.boot_reasons
        log = pico.console({"cmd": "log"})
        assert log["counters"].get("watchdog_reset", 0) == 0, log

        boots = pico.boots
        assert pico.console({"cmd": "reboot"})["rebooting"]
        _reboot_and_wait(pico, boots + 1)
        assert pico.boot_reasons[-1][1] == FORCE, pico.boot_reasons
        log = pico.console({"cmd": "log"})
        assert log["counters"].get("watchdog_reset", 0) == 0, log

        # Ctrl-C (maintenance: the watchdog fed from a soft timer), the feeds stopped by hand and
        # the VM held in one call in C: the watchdog resets the board within its 2 s.
        boots = pico.boots
        pico.serial("\x03")
        pico.pump(emu_s=0.3, wall_s=120)
        pico.serial("from evse.shell import maint\r")
        pico.pump(emu_s=0.2, wall_s=120)
        t0 = pico.t_us
        pico.serial("maint.stop(); sum(range(10 ** 9))\r")
        _reboot_and_wait(pico, boots + 1)
        t_reset, reason = pico.boot_reasons[-1]
        assert reason == TIMER and t_reset - t0 <= 2100000, pico.boot_reasons
        log = pico.console({"cmd": "log"})
        assert log["counters"].get("watchdog_reset", 0) == 1, log
    finally:
        rig.close()


# Bench scenario (the economiser on the real port): the coil is closed at full current, and after
# L.ECON_PULL_MS the hardware layer hands GP15 to a 20 kHz PWM at the hold duty once it reads its
# own output back closed (`hal.set_contactor`: Pin.value() of the coil). A real RP2040's pad reads
# back the level it drives; rp2040js 1.4.1 read an output as the external level alone, 0, so on the
# emulated Pico the closed coil read open, the coil was "closed" again every tick and the economiser
# never took over (measured: Pin(15, OUT, value=1).value() 0; slice 7 untouched after 250 ms).
ECON_SCRIPT = """
import machine, time, board
from evse.core import limits as L
from evse.shell import hal
print("READBACK", machine.Pin(15, machine.Pin.OUT, value=1).value(), machine.Pin(15, machine.Pin.OUT, value=0).value())
hw = hal.Hardware(board)
hw.set_pilot(L.PILOT_PWM, 320)
hw.set_contactor(True, 1, True, time.ticks_ms())
for i in range(30):
    time.sleep_ms(10)
    hw.set_contactor(True, 1, True, time.ticks_ms())       # as the loop does while it pulls in
m = machine.mem32
print("ECON", int(hw._econ is not None), m[0x40050000 + 0x14 * 7 + 0x10] & 0xffff, m[0x40050000 + 0x14 * 7 + 4],
      m[0x40050000 + 0x14 * 7 + 0x0c] >> 16, m[0x40050010] & 0xffff, m[0x40050004])
hw.safe()
print("SAFE", machine.Pin(15).value(), m[0x40050000 + 0x14 * 7] & 1)
"""


@pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)
def test_the_economiser_takes_over_the_coil_on_the_emulated_pico():
    import subprocess
    import sys
    from tools.rp2emu import Pico, hold, load_board
    board = load_board("rpi_pico")
    with Pico(board) as pico:
        w = pico.world                                    # a car in C: the stall guard (its loop
        w.plugged, w.pp_ohms, w.ev_ohms = True, 150, 882  # never measures here) sees it asking
        w.recompute()
        pico.push()
        pico.pump(emu_s=1.0, wall_s=120)                  # the stock image at its REPL
        hold.install(pico)
        proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", ECON_SCRIPT],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert pico.pump(until=lambda: proc.poll() is not None, wall_s=600), "mpremote hung"
        out = proc.stdout.read().decode()
    rows = dict((x.split()[0], [int(v) for v in x.split()[1:]]) for x in out.splitlines()
                if x.split() and x.split()[0] in ("READBACK", "ECON", "SAFE"))
    assert rows.get("READBACK") == [1, 0], out
    engaged, top, div, cc, pilot_top, pilot_div = rows["ECON"]
    assert engaged, out
    hz = 125e6 * 16 / div / (top + 1)
    assert hz == pytest.approx(20000, rel=0.001) and cc / (top + 1) == pytest.approx(0.4, abs=0.001), out
    assert (pilot_top, pilot_div) == (64515, 31), out     # the pilot's slice untouched: 1 kHz
    assert rows["SAFE"] == [0, 0], out                     # safe(): the coil low, its slice stopped


# Bench scenario (a technician's Pico board file): the coil on GP17, beside the pilot's GP16. Both
# are PWM slice 0 (RP2040 datasheet 4.5.2: GPn is slice (n >> 1) & 7), which has one counter. With
# `economiser` on, hal.set_contactor makes GP17 a 20 kHz PWM after the pull-in, and the rp2 port
# sets slice 0's TOP and DIV for it: measured on the emulated Pico, slice 0 went from TOP 64515,
# DIV 31/16 (1000.00 Hz) to TOP 6249, DIV 1 and the pilot on GP16 from 1000 us periods to 50 us
# (20 kHz; IEC 61851-1 allows 980-1020 Hz). The board check took that board file.
@pytest.mark.parametrize("coils, refused", [
    ("(17, 14)", True),            # slice 0 B beside the pilot's slice 0 A
    ("(0, 14)", True),             # slice 0 A: the pilot's very channel
    ("(15, 17)", False),           # the second coil is never a PWM: only a GPIO
    ("(15, 14)", False),           # the reference Pico: slice 7
])
def test_a_pico_coil_on_the_pilots_pwm_slice_is_refused(tmp_path, coils, refused):
    from host_tests.test_boards import _variant
    from tools import boardcheck
    edits = {"CONTACTOR_PINS": coils}
    if coils.startswith("(0,"):
        edits.update(MODBUS_UART=None, MODBUS_TX_PIN=None, MODBUS_RX_PIN=None, MODBUS_DE_PIN=None)
    problems = boardcheck.check(_variant(tmp_path, "rpi_pico", edits))
    clash = [p for p in problems if "PWM slice" in p]
    assert bool(clash) == refused, problems
    if refused:
        assert clash[0].startswith("CONTACTOR_PINS: GP%s is on PWM slice 0 with the pilot's GP16"
                                   % coils[1:].split(",")[0]), clash
