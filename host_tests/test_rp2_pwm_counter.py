"""The PWM slice's counter that the Pico's pilot reader relies on (evse/shell/pilot_phase.py), on
the real rp2 port and on the host's mock of it.

Bench scenario: a car in B (2.74 kOhm behind its diode) on the pilot. One MicroPython script drives
GP16 at 1 kHz, 53 % (the duty for 32 A) and then, 300 times, reads the slice's counter (CHn_CTR
through machine.mem32), converts ADC0, and reads the counter again. It runs unchanged on the stock
MicroPython v1.28.0 image in the emulated RP2040 and on the host's mock machine. On both, the
counter runs from 0 to TOP in one 1 ms period, and every conversion bracketed by two readings inside
[0, CC) reads the positive plateau, inside [CC, TOP] the negative one: the output is high while the
counter is below CC, as the RP2040 datasheet (4.5.2) says and the mock must model."""
import subprocess
import sys

import pytest

from tools.sim import mock_machine as mm
from tools import rp2emu
from tools.sim.mock_machine.world import World

SETTLE_US = 13
SCRIPT = """
import machine, time
from machine import Pin, PWM, ADC
pwm = PWM(Pin(16), freq=1000, duty_u16=34952)
time.sleep_ms(3)
mem = machine.mem32
base = 0x40050000
adc = ADC(Pin(26))
rows = []
for i in range(300):
    a = mem[base + 8]
    v = adc.read_u16()
    b = mem[base + 8]
    rows.append((a, b, v))
t0 = time.ticks_us()
n = 0
last = mem[base + 8]
while time.ticks_diff(time.ticks_us(), t0) < 10000:
    c = mem[base + 8]
    if c < last:
        n += 1
    last = c
print("TOP", mem[base + 0x10] & 0xffff, "CC", mem[base + 0x0c] & 0xffff, "WRAPS", n)
for a, b, v in rows:
    print("ROW", a, b, v)
"""


def world(board, w=None):
    w = w or World(board)
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    return w


def parse(out):
    head = [x.split() for x in out.splitlines() if x.startswith("TOP")][0]
    rows = [tuple(int(v) for v in x.split()[1:]) for x in out.splitlines() if x.startswith("ROW")]
    return int(head[1]), int(head[3]), int(head[5]), rows


def on_mock():
    board = rp2emu.load_board("rpi_pico")
    mm.reset_world()
    mm.install()
    w = world(board)
    lines = []
    exec(compile(SCRIPT, "script", "exec"), {"print": lambda *a: lines.append(" ".join(map(str, a)))})
    return parse("\n".join(lines)), w


def on_pico():
    board = rp2emu.load_board("rpi_pico")
    with rp2emu.Pico(board, realtime=True) as pico:
        w = world(board, pico.world)
        pico.push()
        pico.pump(emu_s=1.0, wall_s=120)              # the stock image at its REPL
        proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", SCRIPT],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert pico.pump(until=lambda: proc.poll() is not None, wall_s=300), "mpremote hung"
        out = proc.stdout.read().decode()
        assert proc.returncode == 0, out
        return parse(out), w


def check(got, w):
    top, cc, wraps, rows = got
    assert top == 64515 and 9 <= wraps <= 11, (top, wraps)   # v1.28 at 125 MHz: 1 kHz, TOP 64515
    zero = w.volts_to_u16(0.0)
    settle = (top + 1) * SETTLE_US // 1000         # past each edge's ramp
    high = [v for a, b, v in rows if settle <= a <= b < cc]
    low = [v for a, b, v in rows if cc + settle <= a <= b]
    assert len(high) > 50 and len(low) > 50, (len(high), len(low))
    assert min(high) > zero and abs(min(high) - w.hi_u16) < 300, (min(high), w.hi_u16)
    assert max(low) < zero and abs(max(low) - w.lo_u16) < 300, (max(low), w.lo_u16)


def test_counter_and_plateaus_on_the_mock():
    check(*on_mock())


@pytest.mark.skipif(rp2emu.missing() is not None, reason="emulated Pico: %s" % rp2emu.missing())
def test_counter_and_plateaus_on_the_emulated_pico():
    check(*on_pico())
