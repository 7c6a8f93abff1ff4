"""Glitches on the pilot, read the Pico's way (its phased read: 4 samples a plateau, the extremes
dropped), on the host bench with the rpi_pico board file.

Found on the emulated Pico: with half the samples glitched, some readings' two middle samples were
garbage near 0 V, read as E: the charger opened after 131 ms with fault state_e instead of pilot
within 100 ms. Two middle samples further apart than a level's noise are now no reading at all."""
import json

import pytest

from tools.bench.__main__ import main as bench_main

CHARGING = """config max_current=32
wait 1
plug
wait 0.5
ev C
expect contactor closed within 1
"""


def run(tmp_path, text, seed=1):
    scn = tmp_path / "s.scn"
    scn.write_text(CHARGING + text)
    log = tmp_path / "s.jsonl"
    rc = bench_main([str(scn), "--board", "rpi_pico", "--log", str(log), "--seed", str(seed)])
    faults = [x["fault"] for x in map(json.loads, log.read_text().splitlines())
              if x["kind"] == "fault" and x["set"]]
    return rc, faults


@pytest.mark.parametrize("seed", range(1, 21))
def test_half_the_samples_glitched_is_a_pilot_fault_within_100_ms(tmp_path, seed):
    """Found in a sweep of the noise's seed: with the extremes dropped, the middle of 4 read such a
    pilot clean in most bursts, and the charger opened after 10-120 ms (seed 7: 120 ms; seed 13 on
    fault state_e). Two dropped extremes far from their middle pair in one reading, or two fault
    readings among four, now confirm it: 10-51 ms over these seeds."""
    rc, faults = run(tmp_path, "noise 0 glitch 0.5\nexpect contactor open within 0.1\n"
                               "expect fault pilot within 0.1\n", seed)
    assert rc == 0 and faults == ["pilot"]


def test_a_rare_glitch_is_dropped_not_a_fault(tmp_path):
    """One sample in 2000 glitched, with 0.3 V RMS of noise, for a minute of charging."""
    rc, faults = run(tmp_path, "noise 0.3 glitch 0.0005\nwait 60\nexpect contactor closed\n"
                               "expect no fault\n")
    assert rc == 0 and faults == []


def test_a_shorted_pilot_with_noise_is_still_state_e(tmp_path):
    rc, faults = run(tmp_path, "noise 0.5\nwait 2\nexpect no fault\ncp short\n"
                               "expect contactor open within 0.02\nexpect fault state_e within 0.02\n")
    assert rc == 0 and faults == ["state_e"]


def test_noise_is_still_a_level_not_glitches(tmp_path):
    """0.5 V RMS on the pilot for half a minute of charging: the middle samples stay together."""
    rc, faults = run(tmp_path, "noise 0.5\nwait 30\nexpect contactor closed\nexpect no fault\n")
    assert rc == 0 and faults == []
