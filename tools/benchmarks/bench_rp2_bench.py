"""The bench on the emulated Pico (`--target rp2`): wall time per emulated second, and the CPU the
firmware takes per 10 ms control tick there, per state, from the emulated cycle count.

Prints `rp2_flash_wall_s` (the Pico started and `make flash` with the scenario's settings onto the
stock image: the bench's kept flash is not used here, and the figures are those of that boot),
`rp2_wall_per_emulated_s` for a short session (A1, B2, C2 charging, a diode fault), the figure that
sizes how much of the scenario library `make test` can run on the Pico (`make test-rp2` runs all of
it), and `rp2_tick_cpu_<state>`: the core's busy time in each 10 ms period (everything that is not
WFE sleep: the control tick, the console and log polls, USB), mean and max, grouped by the state the
firmware reported at the end of that period, and `rp2_control_cpu_<state>`: each control tick's own
time (measure, step, apply, feed, and the pilot capture's start 2 ms before it), the cycles while
the firmware's tick light (the board's LED, `TICK_LED`) was on, by the state reported at its end;
the rest of the busy time is the services' (the core's events to the console, log, journal and
meter, the polls) and USB. The meter is off: a CT meter samples until just before
the next tick by design (it takes what the tick leaves). `rp2_c_to_b_open_over_a_tick`: C->B twelve
times, the instant moved 0.93 ms each time, with the CT meter and without: the opening's range."""
import sys
import time

from bench_vehicle.scenario import parse

SESSION = """config max_current=32 meter=none
wait 1
plug
wait 1
ev C
expect contactor closed within 1
wait 1
ev B
expect contactor open within 0.05
ev C
expect contactor closed within 1
wait 0.5
unplug
expect contactor open within 0.05
wait 0.5
plug
ev C
expect contactor closed within 1.5
wait 0.5
diode short
expect contactor open within 0.05
wait 1
"""
# the contactor's moves timed from the command that caused them (the firmware's event lines, 1 ms)
LATENCIES = (("ev C", True, "B->C closed"), ("ev B", False, "C->B open"),
             ("unplug", False, "unplug open"), ("diode short", False, "diode fault open"))
# Time 0 is a booted charger (tools/sim/rig.py boot_to_idle): the imports, the first reports and
# the power-on check are before it, and every period from 0 on is the control loop's.
SETTLE_US = 0
GROUPS = (("A", ("A1", "A2")), ("B", ("B1", "B2")), ("C", ("C1", "C2")), ("fault", ("fault",)))


def tick_cpu(pico, reported, series=None):
    """{group: (mean ms, median ms, max ms, ticks)} of the emulated core's busy time per 10 ms
    period, or of another series of (t, cycles): the control ticks' (Pico.control_ticks)."""
    from tools import rp2emu
    rows = {}
    for t, cycles in pico.busy if series is None else series:
        t_scn = t - pico.epoch_us
        if t_scn < SETTLE_US:
            continue
        state = reported(t_scn).get("state")
        for name, states in GROUPS:
            if state in states:
                rows.setdefault(name, []).append(cycles * 1e3 / rp2emu.CPU_HZ)
    return dict((k, (sum(v) / len(v), sorted(v)[len(v) // 2], max(v), len(v))) for k, v in rows.items())


class Moments:
    """The bench's command times and the coil pin's edges (scenario us), without the JSONL log."""

    def __init__(self, rig, pin):
        from tools.sim import mock_machine as mm
        self.mm, self.pin = mm, pin
        self.inputs, self.edges = [], []
        rig.add_pin_hook(self.on_pin)

    def on_pin(self, pin, level):
        if pin == self.pin:
            self.edges.append((self.mm.clock.us, bool(level)))

    def input(self, c):
        self.inputs.append((self.mm.clock.us, c.text.strip()))

    def expect(self, c, ok):
        pass

    def coil(self, closed):
        """The bench's word that an `expect contactor` saw the coil move: the edges here are the pin's."""

    def latencies(self):
        """{name: [ms]}: each command to the coil's next move its way."""
        got = {}
        for t, text in self.inputs:
            for cmd, closed, name in LATENCIES:
                if text == cmd:
                    after = [e for e, v in self.edges if e >= t and v == closed]
                    if after:
                        got.setdefault(name, []).append((after[0] - t) / 1e3)
        return got


def main():
    from tools import rp2emu
    why = rp2emu.missing()
    if why:
        print("rp2_bench: skipped: %s" % why)
        return
    from tools.sim.bench.rp2 import PicoBench
    from tools.sim import mock_machine as mm
    t0 = time.perf_counter()
    b = PicoBench(parse(SESSION), out=sys.stderr, name="rp2_bench", keep=False)   # a real flash
    moments = b.log = Moments(b.rig, b.rig.board.CONTACTOR_PINS[0])
    t1 = time.perf_counter()
    pico, rig = b.rig.pico, b.rig
    rc = b.run()
    t2 = time.perf_counter()
    print("rp2_flash_wall_s: %.1f s" % (t1 - t0))
    print("rp2_wall_per_emulated_s: %.1f s (%.1f emulated s in %.1f wall s%s)" % (
        (t2 - t1) / (mm.clock.us / 1e6), mm.clock.us / 1e6, t2 - t1, ", an expect failed" if rc else ""))
    for label, series, unit in (("rp2_tick_cpu", None, "per 10 ms period"),
                                ("rp2_control_cpu", pico.control_ticks(), "per control tick")):
        got = tick_cpu(pico, rig.reported, series)
        for name, _ in GROUPS:
            if name in got:
                mean, med, mx, n = got[name]
                print("%s_%s: %.2f ms mean, %.2f median, %.2f max %s (%d)" % (label, name, mean, med, mx, unit, n))
            else:
                print("%s_%s: not reached" % (label, name))
    got = moments.latencies()
    for _, _, name in LATENCIES:
        print("rp2_latency %s: %s ms" % (name, " / ".join("%.1f" % v for v in got.get(name, [])) or "not seen"))
    alloc_per_cycle()
    for meter in ("ct", "none"):
        opening_sweep(meter)
    from tools.rp2emu import hold
    print("rp2_stall_guard: %s" % hold.describe(hold.run()))


def sweep_scenario(meter, n=12, step_s=0.00093):
    """C->B n times, the instant moved step_s each time: the opening over the instants of a tick."""
    lines = ["config max_current=32 meter=%s" % meter, "wait 1", "plug", "wait 0.5"]
    for k in range(n):
        lines += ["ev C", "draw 30", "expect contactor closed within 1", "wait %.5f" % (0.5 + k * step_s),
                  "ev B", "expect contactor open within 0.05", "wait 0.3"]
    return "\n".join(lines) + "\n"


def opening_sweep(meter):
    from tools.sim.bench.rp2 import PicoBench
    b = PicoBench(parse(sweep_scenario(meter)), out=sys.stderr, name="rp2_sweep")
    moments = b.log = Moments(b.rig, b.rig.board.CONTACTOR_PINS[0])
    b.run()
    got = moments.latencies().get("C->B open", [])
    print("rp2_c_to_b_open_over_a_tick meter=%s: %s ms (%d instants)" % (
        meter, "%.1f-%.1f" % (min(got), max(got)) if got else "not seen", len(got)))



# Bytes allocated per control cycle on the Pico: the App as main() builds it (the console is not
# attached: the USB serial is mpremote's here), run by a script through mpremote, 100-cycle blocks,
# the heap collected before each; the car plugged in, then asking, from the host side.
ALLOC_SCRIPT = """
from evse.shell import maint
maint.stop()
import machine, time, gc
wdt = machine.WDT(timeout=8000)
import board
from evse.app import App
app = App(board, "/")
ch = app.charger
rows = []
for k in range(12):
    s0, c0 = ch.state, ch.out.contactor
    moved = 0
    gc.collect()
    a0 = gc.mem_alloc()
    for i in range(100):
        t0 = time.ticks_ms()
        app.cycle()
        wdt.feed()
        if ch.state != s0 or ch.out.contactor != c0:
            moved = 1
        w = 10 - time.ticks_diff(time.ticks_ms(), t0)
        if w > 0:
            time.sleep_ms(w)
    rows.append((s0, ch.state, moved, gc.mem_alloc() - a0))
for r in rows:
    print("ALLOC", *r)
"""
ALLOC_PLAN = ((4.5, 2740), (8.5, 882))      # emulated s after the script starts: B, then C


def alloc_per_cycle():
    import subprocess
    from tools.sim.bench.rp2 import PicoRig
    rig = PicoRig({"max_current": 32, "meter": "none"})
    try:
        pico, w = rig.pico, rig.pico.world
        pico.realtime(True)
        proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", ALLOC_SCRIPT],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        t0, plan = pico.t_us, list(ALLOC_PLAN)

        def step():
            if plan and pico.t_us - t0 > plan[0][0] * 1e6:
                w.plugged, w.pp_ohms, w.ev_ohms = True, 150, plan.pop(0)[1]
                w.recompute()
            return proc.poll() is not None
        pico.pump(until=step, wall_s=1800)
        out = proc.stdout.read().decode()
    finally:
        rig.close()
    # A block is steady when neither the state nor the contactor moved in any of its cycles: a
    # change's events are tuples made on the change (16 bytes for the state's or the contactor's:
    # C2 is entered on the B->C qualification, and the contactor closes 110 ms later, in C2).
    most, moves = {}, {}     # state -> the most bytes any steady 100-cycle block in it allocated
    for line in out.splitlines():
        p = line.split()
        if p[:1] == ["ALLOC"] and p[1] == p[2] and p[3] == "0":
            most[p[1]] = max(most.get(p[1], 0), int(p[4]))
        elif p[:1] == ["ALLOC"]:
            moves["%s->%s" % (p[1], p[2]) if p[1] != p[2] else p[1] + " (the contactor)"] = int(p[4])
    for state in sorted(most):
        print("rp2_alloc_per_cycle %s: %.1f bytes (the most in a steady 100-cycle block)" % (
            state, most[state] / 100))
    if moves:
        print("rp2_alloc_on_changes: %s" % ", ".join("%s %d B" % kv for kv in sorted(moves.items())))
    if not most:
        print("rp2_alloc_per_cycle: no steady block:\n" + out[-1000:])


if __name__ == "__main__":
    main()
