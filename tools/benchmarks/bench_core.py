"""Charging core figures: detection-to-contactor latencies in virtual time, the CPU cost of one
control tick (CPython and the MicroPython unix port), MicroPython heap after boot and after an
hour of charging, and .mpy bytes per board architecture."""
import os
import subprocess
import sys
import time

from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from tools.sim.latency import CT_3_PHASE, LIMITS_A, sweep
from tools.toolchain.upy_tests import micropython, precompile, upy_env, ROOT

TRIALS = 20


def _stats(values_us):
    v = sorted(values_us)
    return "min %.1f  mean %.1f  max %.1f ms" % (v[0] / 1000, sum(v) / len(v) / 1000, v[-1] / 1000)


def _charging(seed):
    d = Drive(config={"max_current": 32}, seed=seed)
    d.run(0.5).charge()
    d.run(0.5 + (seed * 0.00137) % 0.01)     # spread the event over the tick phase
    return d


def _rcd_latency():
    """From the monitor's trip output to the coil opening (the interrupt path)."""
    out = []
    for seed in range(1, TRIALS + 1):
        d = _charging(seed)
        d.run(2.5)                      # past the 2 s early-trip window
        board = d.rig.board
        seen = {}
        real = mm.drive

        def drive(pin, level, seen=seen):
            if pin == board.RCD_TRIP_PIN and level == board.RCD_TRIP_ACTIVE and "t" not in seen:
                seen["t"] = mm.clock.us
            real(pin, level)
        mm.drive = drive
        try:
            d.set(rcd_ma=200.0)
            d.run(0.2)
        finally:
            mm.drive = real
        out.append(d.coil_change(0, seen["t"]) - seen["t"])
    return out


def _close_latency():
    out = []
    for seed in range(1, TRIALS + 1):
        d = Drive(seed=seed)
        d.run(0.5)
        d.plug()
        d.run(1.0 + seed * 0.00137)
        t = d.ev("C")
        d.run(1.5)
        out.append(d.coil_change(1, t) - t)
    return out


def _open_sweep(name, config=None, limits=LIMITS_A):
    """Every cause x duty 10-96 % x 20 instants of the tick (mid-burst included)."""
    rows = []
    for cause, found in sweep(limits=limits, config=config).items():
        v = [r[2] for r in found]
        worst = max(found, key=lambda r: r[2])
        rows.append(v)
        print("latency_open_%s%s: %s (virtual time, %d runs; worst at %d A, %.1f ms into the tick)"
              % (cause, name, _stats(v), len(v), worst[0], worst[1] / 1000))
    every = [x for v in rows for x in v]
    print("latency_open_all%s: %s (C->B, unplug, E, F, diode; duty 10-96 %%)" % (name, _stats(every)))


def _button_latency():
    """From the latch-button press to the PWM's end and to the coil opening, the press at 20
    instants of the tick -> (PWM off, open) lists."""
    pwm_off, opened = [], []
    for i in range(TRIALS):
        d = Drive(config={"max_current": 32})
        d.run(0.5).charge(amps=32)
        d.rig.run_until(d.rig.next_tick_us + i * 500)
        t = d.set(button=True)
        d.run(0.6)
        pwm_off.append(d.first("pwm", t) - t)
        opened.append(d.coil_change(0, t) - t)
    return pwm_off, opened


def _stall_latency():
    """The loop held by one long call in C (rpi_pico board file: the stall guard), the car's
    change 0-40 ms into the hold (the guard reads from L.STALL_MS on): to the coil opening."""
    causes = (lambda d: d.ev("B"), lambda d: d.unplug(), lambda d: d.set(cp_short=True),
              lambda d: d.set(diode_ok=False))
    out = []
    for cause in causes:
        for i in range(TRIALS):
            d = Drive(config={"max_current": 32}, board="rpi_pico")
            d.run(1.0).charge().run(0.5)
            t = []
            d.hold(1.0, [(i * 0.002, lambda: t.append(d.now_us) or cause(d))])
            out.append(d.coil_change(0, t[0]) - t[0])
    return out


def latencies():
    _open_sweep("")
    _open_sweep("_ct3", CT_3_PHASE, limits=(6, 9, 32, 51, 64, 80))
    print("latency_rcd_trip: %s (virtual time, %d trials)" % (_stats(_rcd_latency()), TRIALS))
    pwm_off, opened = _button_latency()
    print("latency_button_pwm_off: %s (virtual time, %d trials)" % (_stats(pwm_off), TRIALS))
    print("latency_button_open: %s (virtual time, %d trials)" % (_stats(opened), TRIALS))
    print("latency_b_to_c_closed: %s (virtual time, %d trials)" % (_stats(_close_latency()), TRIALS))
    print("latency_open_loop_held: %s (virtual time; rpi_pico's stall guard; B, A, E, diode, 0-38 ms "
          "into a 1 s hold)" % _stats(_stall_latency()))


def cpython_tick():
    d = Drive(config={"max_current": 32})
    d.run(0.5).charge(amps=32)
    app = d.app
    n = 3000
    t0 = time.perf_counter()
    for _ in range(n):
        app.tick()
    tick = (time.perf_counter() - t0) / n
    ch, m = app.charger, app.m
    t0 = time.perf_counter()
    for _ in range(n):
        ch.step(m, mm.clock.ticks_ms())
    step = (time.perf_counter() - t0) / n
    print("cpython_control_tick_us: %.1f us (incl. the mock ADC burst of %d reads)" % (tick * 1e6, d.rig.board.PILOT_BURST))
    print("cpython_core_step_us: %.1f us" % (step * 1e6))


UPY_SCRIPT = r'''
import time
real_us = time.ticks_us
real_diff = time.ticks_diff
import gc
import sys
gc.collect()
base = gc.mem_alloc()
# The base line holds the harness and nothing of the firmware: the harness names events through the
# vocabulary, so that module is weighed on its own first and counted as the firmware's; the mock
# machine, network and time that the rig installs are the harness's, installed before the base.
from evse.core import vocab
gc.collect()
early = gc.mem_alloc() - base
from tools.sim import mock_machine as mm
mm.install()
from tools.sim.drive import Drive
from tools.sim.latency import CT_3_PHASE, LIMITS_A, sweep
firmware = sorted(k for k in sys.modules if k.startswith(("evse", "boards")))
if firmware != ["evse", "evse.core", "evse.core.vocab"]:
    print("upy_heap_base_warning: the harness imported firmware modules %s: not counted" % firmware)
from tools.sim.heap import room_for_names
import micropython
room_for_names()
micropython.qstr_info()
gc.collect()
base = gc.mem_alloc() - early
d = Drive(config={"max_current": 32})
d.run(0.5)
gc.collect()
micropython.qstr_info()
print("upy_heap_after_boot_bytes: %d (firmware objects; %d with the bench harness)" % (gc.mem_alloc() - base, gc.mem_alloc()))
d.charge(amps=32)
app = d.app
N = 500
t0 = real_us()
for _ in range(N):
    app.tick()
print("upy_control_tick_us: %.1f us (incl. the mock ADC burst)" % (real_diff(real_us(), t0) / N))
ch = app.charger
m = app.m
t0 = real_us()
for _ in range(N):
    ch.step(m, mm.clock.ticks_ms())
print("upy_core_step_us: %.1f us" % (real_diff(real_us(), t0) / N))
before = 0      # bound first: a new global can grow the script's globals dict inside the count
gc.collect()
before = gc.mem_alloc()
for _ in range(200):
    ch.step(m, mm.clock.ticks_ms())
print("upy_core_step_alloc_bytes: %d per 200 steps" % (gc.mem_alloc() - before))
d.world.follow_max = 32.0
t0 = real_us()
d.run(3600)
gc.collect()
print("upy_heap_after_hour_bytes: %d (firmware objects, after 1 h of charging; %d with the harness)" % (gc.mem_alloc() - base, gc.mem_alloc()))
print("upy_sim_hour_seconds: %.1f s" % (real_diff(real_us(), t0) / 1e6))
print("state after the hour:", ch.state, "fault", ch.fault)
'''


def upy():
    for line in precompile():
        print(line)
    r = subprocess.run([micropython(), "-X", "heapsize=256k", "-c", UPY_SCRIPT], env=upy_env("."),
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    names = []
    for line in r.stdout.splitlines(True):
        if line.startswith("qstr pool:"):        # the port's interned names, before and after boot
            names.append(int(line.split("n_qstr=")[1].split(",")[0]))
            if len(names) == 2:
                print("upy_names_at_boot: %d (interned by the firmware at boot; the port's table of them, about"
                      " 13 B a name, is not in the heap figures: tools/sim/heap.py)" % (names[1] - names[0]))
        else:
            sys.stdout.write(line)


def mpy_sizes():
    import tools.toolchain.mpy_build as mb
    for arch, board in (("xtensawin", "esp32_devkitc"), ("armv6m", "rpi_pico")):
        out = os.path.join(ROOT, "build", "bench-mpy", arch)
        total = 0
        for src, rel in mb.sources():
            if os.path.basename(rel) in mb.KEEP_SOURCE:
                total += os.path.getsize(src)
                continue
            if rel.startswith("boards/") and rel != "boards/%s.py" % board:
                continue
            dst = os.path.join(out, rel[:-3] + ".mpy")
            if mb.compile_one(src, dst, arch, rel)[0] == 0:
                total += os.path.getsize(dst)
        print("mpy_bytes_%s: %d bytes (firmware/ and boards/%s.py for %s)" % (arch, total, board, board))


def main():
    latencies()
    cpython_tick()
    upy()
    mpy_sizes()


if __name__ == "__main__":
    main()
