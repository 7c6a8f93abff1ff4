"""The bench on the emulated Pico (`--target rp2`): wall time per emulated second, and the CPU the
firmware takes per 10 ms control tick there, per state, from the emulated cycle count.

Prints `rp2_flash_wall_s` (the Pico started and `make flash` with the scenario's settings),
`rp2_wall_per_emulated_s` for a short session (A1, B2, C2 charging, a diode fault), the figure that
sizes how much of the scenario library `make test` can run on the Pico (`make test-rp2` runs all of
it), and `rp2_tick_cpu_<state>`: the core's busy time in each 10 ms period (everything that is not
WFE sleep: the control tick, the console and log polls, USB), mean and max, grouped by the state the
firmware reported at the end of that period. The meter is off: a CT meter samples until just before
the next tick by design (it takes what the tick leaves)."""
import sys
import time

from tools.scenario import parse

SESSION = """config max_current=32 meter=none
wait 1
plug
wait 1
ev C
expect contactor closed within 1
wait 2
diode short
wait 1
"""
SETTLE_US = 300000          # after the firmware's start: imports and first reports are not ticks
GROUPS = (("A", ("A1", "A2")), ("B", ("B1", "B2")), ("C", ("C1", "C2")), ("fault", ("fault",)))


def tick_cpu(pico, reported):
    """{group: (mean ms, max ms, ticks)} of the emulated core's busy time per 10 ms tick."""
    from tools import rp2emu
    rows = {}
    for t, cycles in pico.busy:
        t_scn = t - pico.epoch_us
        if t_scn < SETTLE_US:
            continue
        state = reported(t_scn).get("state")
        for name, states in GROUPS:
            if state in states:
                rows.setdefault(name, []).append(cycles * 1e3 / rp2emu.CPU_HZ)
    return dict((k, (sum(v) / len(v), max(v), len(v))) for k, v in rows.items())


def main():
    from tools import rp2emu
    why = rp2emu.missing()
    if why:
        print("rp2_bench: skipped: %s" % why)
        return
    from tools.bench.rp2 import PicoBench
    from tools import mock_machine as mm
    t0 = time.perf_counter()
    b = PicoBench(parse(SESSION), out=sys.stderr, name="rp2_bench")
    t1 = time.perf_counter()
    pico, rig = b.rig.pico, b.rig
    rc = b.run()
    t2 = time.perf_counter()
    print("rp2_flash_wall_s: %.1f s" % (t1 - t0))
    print("rp2_wall_per_emulated_s: %.1f s (%.1f emulated s in %.1f wall s%s)" % (
        (t2 - t1) / (mm.clock.us / 1e6), mm.clock.us / 1e6, t2 - t1, ", an expect failed" if rc else ""))
    got = tick_cpu(pico, rig.reported)
    for name, _ in GROUPS:
        if name in got:
            mean, mx, n = got[name]
            print("rp2_tick_cpu_%s: %.2f ms mean, %.2f ms max per 10 ms tick (%d ticks)" % (name, mean, mx, n))
        else:
            print("rp2_tick_cpu_%s: not reached" % name)


if __name__ == "__main__":
    main()
