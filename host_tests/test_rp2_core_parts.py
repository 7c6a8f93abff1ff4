"""`python -m tools.benchmarks rp2_core` times the core's parts on the emulated Pico (docs/rp2emu.md,
"Where a full step's time goes"): every part in every steady state, from the stock image with the
core installed as `.mpy` files."""
import pytest

from tools import rp2emu
from tools.benchmarks import bench_rp2_core as B

WHY = rp2emu.missing()


@pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)
def test_the_core_is_timed_part_by_part_on_the_emulated_pico():
    got = B.parts()
    parts = ("quiet_step", "full_step", "measure", "collect_faults", "next_state", "apply_limit",
             "same_inputs", "keep_inputs", "fill", "horizon")
    assert sorted(got) == sorted((s, p) for s in ("A1", "B2", "C2") for p in parts), sorted(got)
    for s in ("A1", "B2", "C2"):
        assert 0 < got[(s, "quiet_step")] < got[(s, "full_step")], got
        # the emulator counts cycles: 182-200 us with the pilot's window, 252-284 us when the quiet
        # step classified the plateaus again (docs/rp2emu.md, "Below 1 ms in A and fault")
        assert got[(s, "quiet_step")] < 240, got
        assert got[(s, "measure")] + got[(s, "next_state")] < got[(s, "full_step")], got
