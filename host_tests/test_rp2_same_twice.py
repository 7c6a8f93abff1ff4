"""The same scenario twice on the emulated Pico gives the same trace: the emulator counts cycles and
stops at every event until the bench answers (test_rp2emu_lockstep.py), so nothing of the host's
load reaches the chip.

Bench scenario: the C->B sweep of `make bench` (`rp2_c_to_b_open_over_a_tick`, the meter off: a car
asks for power, is charged, and goes back to B at 12 instants moved 0.93 ms apart over a tick), run
twice; the first run flashes the board (`make flash`, as a user does) and keeps its flash, the
second boots from that flash, as the library's scenarios do. Both VCDs (GP16's PWM at every tick, the
coil's edges, to the microsecond) must be identical. The flash is kept in a place of this test's own:
with the shared one (build/rp2-installed) the first run flashed only on a clone where no test had,
and there the runs differed by 1-11 us (one edge 444 us) from the car's first C on: the emulator's
reset left the new chip's time on a fraction of a microsecond, and the host maps the chip's time
from the boot's instant in whole microseconds. (Two flashes are not the same bytes: littlefs places
blocks by what it wrote, file times included, and a flash's time runs at the wall's pace; a journal
write then takes another few microseconds. So the bench keeps one flash per build and settings.)
Before the lockstep, runs of an earlier firmware from a kept flash opened some instants 19-24 ms
after the car's B where another run opened them after 10 ms. With today's firmware
no command of this sweep falls on a tick, and the old emulator passed this test too (4 runs, 2 with
the host loaded): test_rp2emu_lockstep.py is the one that catches that defect; this one guards the
whole chain (kept flashes, pacing, the world's noise) against anything of the host reaching the chip."""
import pytest

from tools import rp2emu
from tools.bench.__main__ import main as bench_main
from tools.benchmarks.bench_rp2_bench import sweep_scenario
from tools.sim.bench import rp2 as rp2_bench

WHY = rp2emu.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)


def _run(scn, tmp_path, k):
    vcd = tmp_path / ("run%d.vcd" % k)
    assert bench_main([str(scn), "--target", "rp2", "--vcd", str(vcd)]) == 0
    text = vcd.read_text()
    return text[text.index("$version"):].splitlines()      # (its $date is the wall clock's)


def test_the_c_to_b_sweep_twice_on_the_pico_gives_the_same_vcd(tmp_path, monkeypatch):
    monkeypatch.delenv("EVSE_RP2_FLASH_EVERY", raising=False)
    monkeypatch.setattr(rp2_bench, "INSTALLED_DIR", str(tmp_path / "installed"))   # run 1 flashes
    scn = tmp_path / "sweep.scn"
    scn.write_text(sweep_scenario("none"))
    first, second = _run(scn, tmp_path, 1), _run(scn, tmp_path, 2)
    assert len(first) > 100, first[:20]
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(first, second)) if a != b]
    assert not diff and len(first) == len(second), diff[:5]
