"""A PP that reads bad every other time, on the host bench with the Pico's board file and the
sim board (test_rp2_audit4.py runs it on the emulated Pico).

Bench scenario: a car charging through a Type 2 cable (220 ohm, 32 A) whose PP reads open on
every second reading (a loose pin, or hum sampled at the tick's 100 Hz: 6 ms of an open PP in
every 20.5 ms, so the 10 ms readings take it on alternate ticks for about 240 ms at a time). Stop
38 took a fault only from two readings in a row, so such a PP was never a fault: the contactor
stayed closed for 3 s of it (and would for ever), where the PP is to be monitored for the whole
session and a PP out of every band is no charging (evse-facts 5; IEC 61851-1). The firmware
before stop 38 opened 27 ms in. Now a fault reading agrees with one two readings before it (two
among the last three): it opens within 100 ms, fault `pp`; a spike every 41 ms (one reading in
four) is still no fault, nor is a single one."""
import json

import pytest

from tools.bench.__main__ import main as bench_main

OPEN_BOUND_S = 0.100            # IEC 61851-1 Table A.6 seq 8.1 (an unusable cable)


def charging(connector, cable):
    return ("config max_current=32 connector=%s\nwait 1\nplug %s\nwait 0.5\nev C\n"
            "expect contactor closed within 1\nwait 1.003\n" % (connector, cable))


def spikes(bad, good, on_s, period_s, n):
    return ("pp %s\nwait %g\npp %s\nwait %g\n" % (bad, on_s, good, period_s - on_s)) * n


def run(tmp_path, text, board):
    scn = tmp_path / "s.scn"
    scn.write_text(text)
    log = tmp_path / "s.jsonl"
    rc = bench_main([str(scn), "--board", board, "--log", str(log)])
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    return rc, lines


def first_opening_after_spikes(lines):
    t0 = [x["t"] for x in lines if x["kind"] == "input" and x["text"].startswith("pp ")][0]
    opened = [x["t"] for x in lines if x["kind"] == "contactor" and not x["closed"]]
    faults = [x["fault"] for x in lines if x["kind"] == "fault" and x["set"]]
    return t0, opened, faults


@pytest.mark.parametrize("board", ["rpi_pico", "sim"])
@pytest.mark.parametrize("connector, cable, bad", [("type2-socket", 220, "open"),
                                                   ("type2-socket", 680, 350),
                                                   ("j1772", 150, 20)])
def test_a_pp_bad_every_other_reading_is_a_fault_within_100_ms(tmp_path, board, connector,
                                                               cable, bad):
    text = charging(connector, cable) + spikes(bad, cable, 0.006, 0.0205, 150) + \
        "expect contactor open\nexpect fault pp\n"
    rc, lines = run(tmp_path, text, board)
    t0, opened, faults = first_opening_after_spikes(lines)
    assert rc == 0 and faults == ["pp"]
    # the first bad reading falls in the first 20.5 ms, or where the windows drift onto the
    # readings (at most half a window's drift, about 0.25 s, on these phases: measured 27-67 ms)
    assert opened and opened[0] - t0 <= 0.25 + OPEN_BOUND_S


@pytest.mark.parametrize("board", ["rpi_pico", "sim"])
def test_a_spike_in_four_readings_is_still_no_fault(tmp_path, board):
    text = charging("type2-socket", 220) + spikes("open", 220, 0.006, 0.041, 60) + \
        "wait 1\nexpect contactor closed\nexpect no fault\nexpect current 32\n"
    rc, lines = run(tmp_path, text, board)
    assert rc == 0
    assert not [x for x in lines if x["kind"] == "fault"]
