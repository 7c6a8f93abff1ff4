"""The bench contract on the emulated Pico (`python -m tools.bench S --target rp2`), where the
library's comparison (rp2_bench.py) did not hold it: an outsider's scenarios, judged by the contract
(../shared/reference/bench-contract.md) and against the host target.

- `expect ... within S`: the window is S seconds from the expect, on both targets. On the Pico a
  first check that failed ran the chip on for the console's lag (CONSOLE_LAG_US, 50 ms) and the
  window started only then: `expect state C2 within 0.29` after `ev C` held there (C2 reported
  0.305 s after `ev C`) and the scenario passed, exit 0, where the host failed it, exit 1. Each
  expect now also holds at the moment the firmware's line says, not at the line's arrival.
- `meter {amps, wh}` lines: the host writes one a second while the contactor is closed; the Pico
  wrote none. They now come from the firmware's own count (the console's status, asked inside the
  scenario's waits, where its reply cannot hold a command's effect or lines back).
- The VCD's `duty` came from the PWM slice read at the emulator's 10 ms ticks, up to 11 ms after
  the firmware wrote it (A1's X1 at 0.322 s, its line 0.311 s); it is now the instant of the write,
  and the JSONL's `pwm` and `contactor` lines carry the pins' moments too (they mixed the tick's
  stamp and the coil's edge).
- seq 10.2 (PWM removed, the car still in C): the contactor opened 6.003 s after the X1 at the
  pins (firmware: 6000 ms of ticks), past the standard's 6 s at most.
"""
import re

import pytest

from evse.core import limits as L
from rp2_bench import HERE, WHY, events, run, vcd_edges

pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)

WITHIN = """config max_current=32
wait 0.5
plug
expect state B2 within 0.1
ev C
expect state C2 within 0.29
expect state C2 within 0.1
"""


def test_an_expect_window_on_the_pico_ends_where_the_scenario_says(tmp_path, capsys):
    """C qualifies for 300 ms (evse-facts 4): 0.29 s is too short on both targets."""
    path = tmp_path / "within.scn"
    path.write_text(WITHIN)
    got = {}
    for target in ("host", "rp2"):
        rc, lines, _ = run(str(path), tmp_path, target)
        out = capsys.readouterr().out
        got[target] = rc, [x["line"] for x in events(lines, "expect") if not x["ok"]]
        if target == "rp2":
            assert rc == 1, out
            fail = re.search(r"line 6: FAILED at ([0-9.]+) s", out)
            ev_c = [x["t"] for x in lines if x["kind"] == "input" and x["text"] == "ev C"][0]
            assert fail and abs(float(fail.group(1)) - (ev_c + 0.29)) < 0.0011, out
            b2 = [x["t"] for x in events(lines, "state") if x["state"] == "B2"][0]
            held = [x["t"] for x in events(lines, "expect") if x["line"] == 4][0]
            assert held == b2           # decided by the firmware's line, not when it arrived
    assert got["rp2"] == got["host"] == (1, [6])


AFTER_FAIL = """config max_current=32
wait 0.5
plug
expect state B2 within 0.1
ev C
expect state C2 within 0.29
expect state C2
wait 0.2
expect state C2
"""


def test_the_scenario_goes_on_at_a_failed_expects_window_end_on_the_pico(tmp_path, capsys):
    """`expect ... within S` that fails ends the expect S seconds after it started (contract: time
    advances until it holds or S runs out): the next command acts then, as on the host. The Pico
    ran the chip on for the console's lag (50 ms) before deciding, and the scenario went on only
    then: line 7 (C2 now, 0.29 s after `ev C`) held on the Pico, C2 being reported 0.305 s after
    `ev C`, and failed on the host; `virtual time` ended 50 ms later."""
    path = tmp_path / "after_fail.scn"
    path.write_text(AFTER_FAIL)
    got = {}
    for target in ("host", "rp2"):
        rc, lines, _ = run(str(path), tmp_path, target)
        out = capsys.readouterr().out
        ev_c = [x["t"] for x in lines if x["kind"] == "input" and x["text"] == "ev C"][0]
        nxt = [x["t"] for x in lines if x["kind"] == "input" and x["line"] == 7][0]
        assert abs(nxt - (ev_c + 0.29)) < 0.0011, (target, ev_c, nxt)
        end = float(re.search(r"virtual time ([0-9.]+) s", out).group(1))
        assert abs(end - (ev_c + 0.49)) < 0.0011, (target, out)
        assert [x["t"] for x in lines] == sorted(x["t"] for x in lines), target
        got[target] = rc, [x["line"] for x in events(lines, "expect") if not x["ok"]]
    assert got["rp2"] == got["host"] == (1, [6, 7])


def _duty_changes(vcd):
    ident = re.search(r"\$var real 1 (\S+) duty \$end", vcd).group(1)
    t, out = 0, []
    for line in vcd.split("$enddefinitions $end", 1)[1].splitlines():
        if line.startswith("#"):
            t = int(line[1:])
        elif line.startswith("r") and line.split()[1] == ident:
            out.append((t / 1e6, float(line.split()[0][1:])))
    return out


def test_a_normal_session_on_the_pico_has_the_hosts_meter_lines_and_duty_edges(tmp_path):
    """normal_session: 10 s at 32 A with a following car. The Pico's meter lines come once a
    second of the closed contactor (the first at its closing), count up, and end within 3 % of the
    host's session energy; its VCD's duty moves when the firmware's pwm line says (the PWM is set
    in the tick that stamps the line, within a tick), never a tick late."""
    path = "%s/scenarios/normal_session.scn" % HERE
    rc, pico, pico_vcd = run(path, tmp_path, "rp2")
    assert rc == 0
    rc, host, _ = run(path, tmp_path, "host")
    assert rc == 0
    vcd = _duty_changes(pico_vcd)
    for x in events(pico, "pwm")[1:]:
        near = [t for t, d in vcd if abs(d - x["duty"]) < 0.006 and x["t"] - 0.0005 <= t <= x["t"] + 0.009]
        assert near, (x, vcd)
    closed = [x["t"] for x in events(pico, "contactor") if x["closed"]]
    opened = [x["t"] for x in events(pico, "contactor") if not x["closed"]]
    meter = events(pico, "meter")
    assert len(meter) >= 10, meter
    assert closed[0] - 0.001 <= meter[0]["t"] <= closed[0] + 0.05
    assert meter[-1]["t"] <= opened[-1] + 0.05
    gaps = [b["t"] - a["t"] for a, b in zip(meter, meter[1:])]
    assert all(0.85 <= g <= 1.15 for g in gaps), gaps
    wh = [x["wh"] for x in meter]
    assert wh == sorted(wh) and wh[0] == 0.0
    assert all(abs(x["amps"] - 32) < 1 for x in meter if x["wh"] > 1), meter
    # The CT meter counts in windows of ct_interval_ms, each on the firmware's own phase: a reading
    # lags what flowed by up to a window more on one target than on the other. With time 0 a booted
    # charger (the firmware 0.37 s older at each command) the Pico's last line read 15.776 Wh where
    # the host's read 16.795 Wh; the old time 0 with the scenario 0.36 s later read the same
    # 15.776 Wh: the window's phase, not the bench. Compared at the Pico's line's time, within 3 %
    # and one window's energy.
    hm = events(host, "meter")
    (t0, w0), (t1, w1) = [(x["t"], x["wh"]) for x in hm[-2:]]
    host_wh = w0 + (w1 - w0) * (meter[-1]["t"] - t0) / (t1 - t0)
    window_wh = (w1 - w0) / (t1 - t0) * L.METER_DEFAULTS["ct_interval_ms"] / 1000
    assert abs(wh[-1] - host_wh) <= 0.03 * host_wh + window_wh, (wh[-1], host_wh, window_wh)


PAUSE = """config max_current=32
wait 0.5
plug
wait 0.5
ev C
draw 16
expect contactor closed within 1
wait 1
limit 5
expect state C1 within 0.05
expect contactor open within 6.1
"""


def test_the_pwm_removed_from_a_car_in_c_opens_within_6_s_at_the_pins(tmp_path):
    """IEC 61851-1 Table A.6 seq 10.2 (evse-facts 4): PWM removed (X1) while the car stays in C,
    the EVSE opens after 6 s at most. The firmware opened at 6000 ms of its ticks, the coil a few ms
    later into its tick than the PWM's X1: 6.001 s between the pins on the emulated Pico (6.005 s
    from the pwm line to the contactor line; the host 5.999 s). Now a tick less: under 6 s on both,
    and the car still gets nearly all of them."""
    path = tmp_path / "pause.scn"
    path.write_text(PAUSE)
    for target in ("rp2", "host"):
        rc, lines, vcd = run(str(path), tmp_path, target)
        assert rc == 0, target
        x1 = [t for t, d in _duty_changes(vcd) if d == 100.0][-1]
        opened = [t for t, v in vcd_edges(vcd) if not v][-1] / 1e6
        assert 5.95 <= opened - x1 <= 6.0, (target, x1, opened)
        pwm = [x["t"] for x in events(lines, "pwm") if x["duty"] == 100.0][-1]
        line = [x["t"] for x in events(lines, "contactor") if not x["closed"]][-1]
        assert 5.95 <= line - pwm <= 6.0, (target, pwm, line)
