"""The core's parts timed on the emulated Pico (the stock MicroPython rp2 image, the core as the
`.mpy` files `make flash` puts there): what one full step, the quiet step and each part of them
cost, in us per call, in A1, B2 and C2. The control tick's own figures are rp2_bench's
(`rp2_control_cpu_*`); these say where a full step's time goes (docs/rp2emu.md)."""
import subprocess
import sys

from tools import rp2emu

CORE = tuple("evse/core/%s.mpy" % n for n in ("charger", "limits", "pilot", "protections", "proximity", "ticks",
                                                "vocab"))

# The core alone in a script for the Pico (settings %(cfg)r): its Charger `ch`, the Measurements `m`
# it steps on (a 32 A cable, 30 C), the tick count `now`, and fill(level), the pilot's plateaus as
# an ideal pilot gives them with the car's positive level (also host_tests/test_rp2_audit5.py's).
CORE_ALONE = r'''
from evse.core import charger as CH, limits as L
ch = CH.Charger(%(cfg)r)
m = CH.Measurements()
m.pilot_ok, m.pp_ohms, m.temp_c = True, 150, 30
now = [1000]

def fill(level):
    mode = ch.out.pilot_mode
    if mode == L.PILOT_F:
        m.pilot_pos = m.pilot_neg = -12000
    elif mode == L.PILOT_X1:
        m.pilot_pos = m.pilot_neg = level
    else:
        m.pilot_pos, m.pilot_neg = level, -12000
'''

SCRIPT = r'''
import time
''' + CORE_ALONE + r'''
def t(state, name, f, n=40):
    t0 = time.ticks_us()
    for _ in range(n):
        f()
    dt = time.ticks_diff(time.ticks_us(), t0)
    t0 = time.ticks_us()
    for _ in range(n):
        pass
    print("PART", state, name, (dt - time.ticks_diff(time.ticks_us(), t0)) // n)

for level in (12000, 9000, 6000):
    for _ in range(200):
        now[0] += 10
        fill(level)
        ch.step(m, now[0])
        if ch.resample:
            ch.step(m, now[0] + 1)
    s = ch.state
    fill(level)
    n = now[0]
    ps = ch.det.state
    t(s, "quiet_step", lambda: ch.step(m, n))
    t(s, "full_step", lambda: ch._full_step(m, n))
    t(s, "measure", lambda: ch._measure(m, n))
    t(s, "collect_faults", lambda: ch._collect_faults(m, ps, n))
    t(s, "next_state", lambda: ch._next_state(m, ps, n))
    t(s, "apply_limit", lambda: ch._apply_limit(n))
    t(s, "same_inputs", lambda: ch._same_inputs(m))
    t(s, "keep_inputs", lambda: ch._keep_inputs(m))
    t(s, "fill", lambda: ch._fill(ch._q_b))
    t(s, "horizon", lambda: ch._horizon(n))
'''


def _settings():
    """The settings' defaults (the settings module is not installed on the device here), with a
    32 A limit and no RCD self-test (no monitor answers its winding)."""
    from evse.services import settings
    cfg = settings.defaults()
    cfg.update(max_current=32, rcd_selftest=False)
    return cfg


def parts():
    """{(state, part): us per call} from one emulated Pico."""
    from tools.rp2emu import hold
    with rp2emu.Pico(rp2emu.load_board("rpi_pico")) as pico:
        pico.pump(emu_s=1.0, wall_s=120)
        hold.install(pico, CORE)
        script = SCRIPT % {"cfg": _settings()}
        proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", script],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not pico.pump(until=lambda: proc.poll() is not None, wall_s=600) or proc.returncode:
            raise RuntimeError("mpremote: %s" % proc.stdout.read().decode())
        out = proc.stdout.read().decode()
    got = {}
    for x in out.splitlines():
        if x.startswith("PART "):
            _, state, part, us = x.split()
            got[(state, part)] = int(us)
    return got


def main():
    why = rp2emu.missing()
    if why:
        print("rp2_core_parts: skipped (%s)" % why)
        return
    got = parts()
    states = sorted(set(s for s, _ in got))
    for part in dict.fromkeys(p for _, p in got):
        print("rp2_core_part_us %-15s %s" % (part, "  ".join("%s %4d" % (s, got[(s, part)]) for s in states)))
