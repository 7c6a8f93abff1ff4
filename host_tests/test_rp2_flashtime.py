"""The flash chip's own time on the emulated Pico (tools/rp2emu, EVSE_RP2_FLASH_TIME=typ): the stock
MicroPython v1.28.0 rp2 image, the firmware installed by `make flash`.

On a Pico the W25Q16JV erases a 4 KB sector in 45 ms typical (400 ms max) and programs a 256-byte
page in 0.4 ms (3 ms max). The rp2 port erases and programs with interrupts disabled
(ports/rp2/rp2_flash.c, begin_critical_flash_section: core 1 locked out, PRIMASK set): while the
chip works the core runs nothing, neither the control loop, nor the stall guard's timer, nor the
residual-current monitor's hard interrupt. Before, the emulator served the boot ROM's
flash_range_erase and flash_range_program in no time, and no test could see that hold.

Bench scenario (a car stops during an erase): a car charging at 32 A (the bench's CT meter); a
setting saved from the console while charging (a flash write that meets an erase of littlefs, as
an energy checkpoint or a log append may); at the instant the chip starts erasing, the car goes
to B. Measured: the coil falls 49.9 ms later (the erase 45.0 ms, then the stall guard's two
readings 5 ms apart), within IEC 61851-1 Table A.6 seq 8.1's 100 ms; the loop held 45 ms more than
its period (46.8 ms before the guard's fix below: its readings back to back).
Bench scenario (a residual-current trip during an erase): the same, the DC monitor trips at the
erase's start: the coil falls 46.2 ms later (without the erase 0.05 ms), from the monitor's hard
interrupt once the erase ends. Before, 52.8 ms: the port calls the guard's periodic timer once for
each 5 ms period the erase held it, back to back, and the guard read the pilot 9 times in a row
(the loop had not measured for 30 ms) before the GPIO interrupt ran; after a 400 ms erase, 63 ms.
With the datasheet's maximum (EVSE_RP2_FLASH_TIME=max) the openings came 404.2 ms (the car) and
404.7 ms (the monitor) after the erase's start: docs/rp2emu.md, "The flash chip's time".

Both use the settings of test_rp2_audit5 (max_current 32, the CT meter): they boot from the flash
that one left, or leave it for it."""
import json

import pytest

from tools import rp2emu
from tools.sim import mock_machine as mm

WHY = rp2emu.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)

COIL = 15                  # rpi_pico.py: CONTACTOR_PINS[0]
OPEN_BOUND_US = 100000     # IEC 61851-1 Table A.6 seq 8.1
ERASE_US = 45000           # W25Q16JV tSE, typical (emu.mjs FLASH_TIME)


def erase_while_charging(change):
    """Charges, saves a setting from the console until littlefs erases a sector with the coil
    closed, calls change(world) at the erase's first instant; returns (erase start us, the coil's
    falls after it, the pico's flash operations, the control ticks' ends after it)."""
    from tools.sim.bench.rp2 import PicoRig
    rig = PicoRig({"max_current": 32, "meter": "ct"})   # test_rp2_audit5's settings: its kept flash
    pico, w = rig.pico, rig.world
    edges, hit = [], []

    def on_flash(ev):
        if not hit and ev["op"] == "e" and pico.outputs.get(COIL):
            hit.append(ev["t"])
            change(w)
            w.update()
            w.recompute()
    try:
        rig.add_pin_hook(lambda pin, level: edges.append((pin, level, pico.t_us)))
        pico.flash_hooks.append(on_flash)
        w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
        w.draw_amps, w.draw_phases, w.follow_max = 32, 1, None
        # (the pilot's model follows a change at recompute(): before, the plug at 0 was taken up
        # by the boot's next PWM write; time 0 is now an idle charger, whose pilot stays put)
        w.recompute()
        rig.run_until(mm.clock.us + 500000)
        w.ev_ohms = 882                                  # the car asks for power
        w.recompute()
        rig.run_until(mm.clock.us + 4000000)
        assert pico.outputs.get(COIL) == 1
        for i in range(20):
            if hit:
                break
            pico.serial(json.dumps({"cmd": "set", "values": {"max_current": 32}, "id": 700 + i}) + "\n")
            rig.run_until(mm.clock.us + 150000, stop=lambda: bool(hit))
        assert hit, "no erase with the coil closed: %r" % pico.flash_ops[-5:]
        rig.run_until(mm.clock.us + 300000)
        t0 = hit[0]
        falls = [t - t0 for pin, level, t in edges if pin == COIL and level == 0 and t >= t0]
        ticks = [end - t0 for end, _ in pico.control_ticks() if end >= t0 - 20000]
        return t0, falls, list(pico.flash_ops), ticks
    finally:
        rig.close()


def car_stops(w):
    w.ev_ohms = 2740


def dc_leak(w):
    w.rcd_kind, w.rcd_ma = "dc", 10.0


def test_a_car_stopping_during_a_flash_erase_on_the_pico_opens_after_the_erase_within_100_ms(monkeypatch):
    monkeypatch.setenv("EVSE_RP2_FLASH_TIME", "typ")
    t0, falls, ops, ticks = erase_while_charging(car_stops)
    erase = [op for op in ops if op[0] == t0]
    assert erase and erase[0][1] - erase[0][0] == ERASE_US and erase[0][2:] == ("e", 4096), erase
    # the loop held: no control tick ends while the chip erases (before: no time passed at all)
    assert not [t for t in ticks if 0 < t < ERASE_US], ticks
    # the coil falls after the erase (nothing runs during it), within the standard's bound
    assert falls and ERASE_US <= falls[0] <= OPEN_BOUND_US, falls[:1]


def test_a_residual_current_trip_during_a_flash_erase_on_the_pico_opens_after_the_erase(monkeypatch):
    monkeypatch.setenv("EVSE_RP2_FLASH_TIME", "typ")
    t0, falls, ops, _ = erase_while_charging(dc_leak)
    # the hard interrupt waits for the erase (interrupts disabled), then opens at once: the
    # monitor's trip, not the loop. (Before: 7.9 ms more, the stall guard's timer reading the
    # pilot once for each 5 ms period the erase had held it, 9 readings in a row; 63 ms after a
    # 400 ms erase.)
    assert falls and ERASE_US <= falls[0] <= ERASE_US + 2000, falls[:1]
