"""The bench on the emulated Pico (`--target rp2`): wall time per emulated second.

Prints `rp2_flash_wall_s` (the Pico started and `make flash` with the scenario's settings) and
`rp2_wall_per_emulated_s` for a short session (A1, B2, C2 charging), the figure that sizes how much
of the scenario library `make test` can run on the Pico (`make test-rp2` runs all of it)."""
import sys
import time

from bench_vehicle.scenario import parse

SESSION = """config max_current=32 meter=none
wait 1
plug
wait 2
ev C
expect contactor closed within 1
wait 5
"""


def main():
    from tools import rp2emu
    why = rp2emu.missing()
    if why:
        print("rp2_bench: skipped: %s" % why)
        return
    from tools.sim.bench.rp2 import PicoBench
    from tools.sim import mock_machine as mm
    t0 = time.perf_counter()
    b = PicoBench(parse(SESSION), out=sys.stderr, name="rp2_bench")
    t1 = time.perf_counter()
    rc = b.run()
    t2 = time.perf_counter()
    print("rp2_flash_wall_s: %.1f s" % (t1 - t0))
    print("rp2_wall_per_emulated_s: %.1f s (%.1f emulated s in %.1f wall s%s)" % (
        (t2 - t1) / (mm.clock.us / 1e6), mm.clock.us / 1e6, t2 - t1, ", an expect failed" if rc else ""))
