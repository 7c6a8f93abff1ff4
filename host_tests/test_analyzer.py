"""Pilot-signal analyzer: synthetic captures of every state, formats, checks, JSON, plot."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tools.analyzer import synth
from tools.analyzer.__main__ import main
from tools.analyzer.capture import Capture, Sampled
from tools.analyzer.core import analyze, amps_for_duty, classify, duty_for_amps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 1e6


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *args):
    code, out, err = run_cli(capsys, *(args + ("--json",)))
    assert err == ""
    return code, json.loads(out)


def analyse_schedule(schedule, noise=0.0, freq=1000.0, rate=RATE):
    v, _ = synth.sampled(schedule, rate=rate, freq=freq, noise=noise)
    return analyze(Capture("synthetic", "csv", Sampled(0.0, 1.0 / rate, v), "cp"))


def main_segment(res):
    return max(res["segments"], key=lambda s: s["end_s"] - s["start_s"])


# ------------------------------------------------------------------------------ the numbers
def test_duty_and_current_encoding():
    assert amps_for_duty(10.0)[0] == 6.0
    assert amps_for_duty(53.3)[0] == pytest.approx(31.98)
    assert amps_for_duty(85.0)[0] == pytest.approx(51.0)
    assert amps_for_duty(96.0)[0] == pytest.approx(80.0)
    assert amps_for_duty(5.0)[0] is None and "high-level" in amps_for_duty(5.0)[1]
    assert amps_for_duty(99.0)[0] is None
    assert duty_for_amps(32) == pytest.approx(53.333, abs=1e-3)
    assert duty_for_amps(80) == pytest.approx(96.0)
    with pytest.raises(ValueError):
        duty_for_amps(5)


def test_bands_with_hysteresis():
    assert classify(12.0, None) == "A"
    assert classify(10.5, "A") == "A" and classify(10.5, "B") == "B"
    assert classify(9.0, None) == "B"
    assert classify(7.5, "B") == "B" and classify(7.5, "C") == "C"
    assert classify(6.0, None) == "C"
    assert classify(4.5, "C") == "C" and classify(4.5, "D") == "D"
    assert classify(3.0, None) == "D"
    assert classify(0.0, None) == "E"
    assert classify(-12.0, None) == "F"
    assert classify(-6.0, None) == "fault" and classify(14.0, None) == "fault"


def test_synthetic_circuit_levels():
    assert synth.levels("B")[0] == pytest.approx(9.0, abs=0.1)
    assert synth.levels("C")[0] == pytest.approx(6.0, abs=0.1)
    assert synth.levels("D")[0] == pytest.approx(3.0, abs=0.15)
    pos, neg = synth.levels("C", diode=False)
    assert neg == pytest.approx(-pos)


# --------------------------------------------------------------------------- every state
@pytest.mark.parametrize("state", ["A", "B", "C", "D"])
@pytest.mark.parametrize("duty", [5.0, 10.0, 53.3, 96.0])
def test_pwm_state_and_duty(state, duty):
    res = analyse_schedule([{"dur": 0.05, "state": state, "duty": duty}])
    seg = main_segment(res)
    assert seg["pwm"] and seg["name"] == state + "2"
    assert seg["duty_pct"] == pytest.approx(duty, abs=0.05)
    assert seg["frequency_hz"] == pytest.approx(1000.0, abs=0.5)
    assert seg["pos_v"] == pytest.approx(synth.levels(state)[0], abs=0.05)
    assert seg["neg_v"] == pytest.approx(-12.0, abs=0.05)
    assert seg["fault"] is None
    want = amps_for_duty(duty)[0]
    assert seg["amps"] == (pytest.approx(want, abs=0.1) if want is not None else None)


@pytest.mark.parametrize("state,duty,name,level", [
    ("A", None, "A1", 12.0), ("B", None, "B1", 8.98), ("C", None, "C1", 6.0), ("D", None, "D1", 2.93),
    ("E", 53.3, "E", 0.0), ("E", None, "E", 0.0), ("A", 0, "F", -12.0), ("C", 0, "F", -12.0)])
def test_constant_levels(state, duty, name, level):
    res = analyse_schedule([{"dur": 0.1, "state": state, "duty": duty}], noise=0.05)
    assert [s["name"] for s in res["segments"]] == [name]
    assert res["segments"][0]["level_v"] == pytest.approx(level, abs=0.05)


@pytest.mark.parametrize("state", ["B", "C", "D"])
@pytest.mark.parametrize("duty", [10.0, 53.3, 96.0])
def test_diode_fault_when_negative_plateau_mirrors(state, duty):
    res = analyse_schedule([{"dur": 0.05, "state": state, "duty": duty, "diode": False}])
    seg = main_segment(res)
    assert seg["fault"] == "diode" and seg["state"] == state
    assert seg["pos_v"] + seg["neg_v"] == pytest.approx(0.0, abs=0.05)


def test_noise_does_not_change_the_reading():
    res = analyse_schedule([{"dur": 0.2, "state": "C", "duty": 53.3}], noise=0.5)
    assert len(res["segments"]) == 1
    seg = res["segments"][0]
    assert seg["name"] == "C2"
    assert seg["duty_pct"] == pytest.approx(53.3, abs=0.2)
    assert seg["pos_v"] == pytest.approx(6.0, abs=0.1)


def test_timeline_of_a_session():
    sched = [{"dur": 0.1, "state": "A"}, {"dur": 0.1, "state": "B"}, {"dur": 0.2, "state": "B", "duty": 53.3},
             {"dur": 0.3, "state": "C", "duty": 53.3}, {"dur": 0.2, "state": "C", "duty": 26.7},
             {"dur": 0.1, "state": "B", "duty": 26.7}, {"dur": 0.1, "state": "A"}]
    res = analyse_schedule(sched, noise=0.1)
    names = [s["name"] for s in res["segments"]]
    assert names == ["A1", "B1", "B2", "C2", "C2", "B2", "A1"]
    starts = [s["start_s"] for s in res["segments"]]
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0], abs=0.0025)
    assert res["segments"][4]["amps"] == pytest.approx(16.0, abs=0.1)


# ---------------------------------------------------------------------------- file formats
SESSION = [{"dur": 0.1, "state": "A"}, {"dur": 0.1, "state": "B", "duty": 53.3},
           {"dur": 0.2, "state": "C", "duty": 53.3, "contactor": True},
           {"dur": 0.05, "state": "B", "duty": 53.3, "contactor": True}, {"dur": 0.1, "state": "B", "duty": 53.3}]


def test_bench_vcd_waveform(tmp_path, capsys):
    p = tmp_path / "w.vcd"
    synth.write_vcd(str(p), SESSION, waveform=True)
    code, res = run_json(capsys, p)
    assert code == 0
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]
    assert res["summary"]["frequency_hz"] == pytest.approx(1000.0, abs=0.01)
    assert res["contactor_channel"] == "bench.ac_out"
    chk = {c["name"]: c for c in res["checks"]}
    assert chk["contactor_open_after_c_to_b"]["measured"] == pytest.approx(50.0, abs=0.01)


def test_bench_vcd_plateau(tmp_path, capsys):
    p = tmp_path / "p.vcd"
    synth.write_vcd(str(p), SESSION, waveform=False)
    code, res = run_json(capsys, p)
    assert code == 0 and res["plateau_mode"]
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]
    assert res["segments"][2]["duty_pct"] == pytest.approx(53.3)
    assert res["segments"][2]["neg_v"] == pytest.approx(-12.0)       # from cp_neg


def test_bench_vcd_plateau_diode_fault(tmp_path, capsys):
    p = tmp_path / "p.vcd"
    synth.write_vcd(str(p), [{"dur": 0.1, "state": "B", "duty": 53.3},
                             {"dur": 0.1, "state": "C", "duty": 53.3, "diode": False}], waveform=False)
    code, res = run_json(capsys, p)
    assert code == 1 and res["segments"][1]["fault"] == "diode"


HAND_VCD = """$date today $end
$timescale 1us $end
$scope module bench $end
$var real 64 ! cp $end
$var wire 1 " contactor $end
$var real 64 # duty $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
r12.0 !
0"
r100 #
$end
"""


def test_standard_vcd_tokens(tmp_path, capsys):
    """r9.0 ! values, 1!/0! wires, several changes on one line, identifiers of any character."""
    body = []
    t = 10000
    for k in range(50):
        body.append("#%d r8.98 ! r25 #" % t)
        body.append("#%d\nr-12.0 !" % (t + 250))
        t += 1000
    body.append("#%d 1\" r6.0 !\n#%d r-12 !" % (t, t + 250))
    for k in range(1, 50):
        body.append("#%d r6.0 !\n#%d\nr-12 !" % (t + 1000 * k, t + 1000 * k + 250))
    body.append("#%d 0\" r100 # r12 !" % (t + 50000))
    body.append("#%d" % (t + 60000))
    p = tmp_path / "hand.vcd"
    p.write_text(HAND_VCD + "\n".join(body) + "\n")
    code, res = run_json(capsys, p)
    names = [s["name"] for s in res["segments"]]
    assert names == ["A1", "B2", "C2", "A1"], names
    assert res["segments"][1]["duty_pct"] == pytest.approx(25.0)
    assert res["segments"][1]["amps"] == pytest.approx(15.0)
    assert res["contactor_channel"] == "bench.contactor"


def test_scope_csv_through_a_divider(tmp_path, capsys):
    v, k = synth.sampled(SESSION, rate=RATE, noise=0.05)
    p = tmp_path / "scope.csv"
    synth.write_scope_csv(str(p), v, RATE, scale=10.0, contactor=k)   # a 10:1 probe divider
    code, res = run_json(capsys, p, "--divider", "10")
    assert code == 0, res["checks"]
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]
    assert res["summary"]["neg_v"] == pytest.approx(-12.0, abs=0.05)
    code, res = run_json(capsys, p, "--scale", "10")
    assert res["summary"]["neg_v"] == pytest.approx(-12.0, abs=0.05)
    code, res = run_json(capsys, p)                     # forgot the divider: levels a tenth
    chk = {c["name"]: c for c in res["checks"]}["signal_range"]
    assert code == 1 and not chk["ok"] and chk["measured"] == pytest.approx(1.2, abs=0.15)


def test_csv_without_header_needs_no_names(tmp_path, capsys):
    v, _ = synth.sampled([{"dur": 0.02, "state": "B", "duty": 30.0}], rate=RATE)
    p = tmp_path / "bare.txt"
    np.savetxt(str(p), np.column_stack((np.arange(len(v)) / RATE, v)), delimiter=",", fmt="%.9g")
    code, res = run_json(capsys, p)
    assert res["segments"][0]["name"] == "B2"
    assert res["segments"][0]["amps"] == pytest.approx(18.0, abs=0.05)


# ------------------------------------------------------------------------------- checks
def _capture_with_contactor(tmp_path, sched, name="c.sr"):
    v, k = synth.sampled(sched, rate=RATE / 10)
    p = tmp_path / name
    synth.write_sr(str(p), RATE / 10, analog={"cp": v}, logic={"cp_high": v > 1, "contactor": k})
    return p


@pytest.mark.parametrize("hold,ok", [(0.05, True), (0.25, False)])
def test_contactor_opening_after_c_to_b(tmp_path, capsys, hold, ok):
    sched = [{"dur": 0.2, "state": "B", "duty": 53.3}, {"dur": 0.5, "state": "C", "duty": 53.3, "contactor": True},
             {"dur": hold, "state": "B", "duty": 53.3, "contactor": True}, {"dur": 0.3, "state": "B", "duty": 53.3}]
    code, res = run_json(capsys, _capture_with_contactor(tmp_path, sched))
    chk = {c["name"]: c for c in res["checks"]}["contactor_open_after_c_to_b"]
    assert chk["ok"] is ok and code == (0 if ok else 1)
    assert chk["measured"] == pytest.approx(hold * 1e3, abs=2.0)
    assert chk["limit"] == "<= 100 ms"


def test_contactor_opening_after_unplug(tmp_path, capsys):
    sched = [{"dur": 0.2, "state": "C", "duty": 53.3, "contactor": True},
             {"dur": 0.15, "state": "A", "duty": 53.3, "contactor": True}, {"dur": 0.1, "state": "A"}]
    code, res = run_json(capsys, _capture_with_contactor(tmp_path, sched))
    chk = {c["name"]: c for c in res["checks"]}["contactor_open_after_c_to_b"]
    assert not chk["ok"] and chk["measured"] == pytest.approx(150.0, abs=2.0) and code == 1


@pytest.mark.parametrize("hold,ok", [(2.0, True), (7.0, False)])
def test_contactor_opening_after_pwm_removal(tmp_path, capsys, hold, ok):
    sched = [{"dur": 0.5, "state": "C", "duty": 53.3, "contactor": True},
             {"dur": hold, "state": "C", "contactor": True}, {"dur": 0.5, "state": "C"}]
    code, res = run_json(capsys, _capture_with_contactor(tmp_path, sched))
    chk = {c["name"]: c for c in res["checks"]}["contactor_open_after_pwm_off"]
    assert chk["ok"] is ok and code == (0 if ok else 1)
    assert chk["measured"] == pytest.approx(hold * 1e3, abs=5.0)


def test_frequency_out_of_range_fails(tmp_path, capsys):
    v, _ = synth.sampled([{"dur": 0.1, "state": "B", "duty": 50.0}], rate=RATE, freq=960.0)
    p = tmp_path / "f.sr"
    synth.write_sr(str(p), RATE, analog={"cp": v})
    code, res = run_json(capsys, p)
    chk = {c["name"]: c for c in res["checks"]}["frequency"]
    assert code == 1 and not chk["ok"] and chk["measured"] == pytest.approx(960.0, abs=0.5)


@pytest.mark.parametrize("amps,ok", [(32, True), (20, False)])
def test_expected_current(tmp_path, capsys, amps, ok):
    v, _ = synth.sampled([{"dur": 0.05, "state": "C", "duty": 53.3}], rate=RATE)
    p = tmp_path / "d.sr"
    synth.write_sr(str(p), RATE, analog={"cp": v})
    code, res = run_json(capsys, p, "--expect-current", amps, "--duty-tol", "0.2")
    chk = {c["name"]: c for c in res["checks"]}["duty_expected"]
    assert chk["ok"] is ok and code == (0 if ok else 1)


def test_diode_fault_fails_the_diode_check(tmp_path, capsys):
    v, _ = synth.sampled([{"dur": 0.05, "state": "C", "duty": 53.3, "diode": False}], rate=RATE)
    p = tmp_path / "dio.sr"
    synth.write_sr(str(p), RATE, analog={"cp": v})
    code, res = run_json(capsys, p)
    chk = {c["name"]: c for c in res["checks"]}["diode"]
    assert code == 1 and not chk["ok"]
    code, out, _ = run_cli(capsys, p)
    assert "diode fault" in out and "FAIL diode" in out


# ------------------------------------------------------------------------- output shapes
def test_json_schema(tmp_path, capsys):
    p = tmp_path / "w.vcd"
    synth.write_vcd(str(p), SESSION)
    code, res = run_json(capsys, p, "--expect-current", "32")
    for key in ("file", "format", "pilot_channel", "contactor_channel", "samples", "duration_s", "summary",
                "segments", "timeline", "checks", "ok"):
        assert key in res
    for key in ("frequency_hz", "duty_pct", "amps", "pos_v", "neg_v", "pwm_periods"):
        assert key in res["summary"]
    for s in res["segments"]:
        assert set(("start_s", "end_s", "state", "name", "pwm", "duty_pct", "amps", "frequency_hz",
                    "pos_v", "neg_v", "fault", "note")) <= set(s)
        assert s["state"] in ("A", "B", "C", "D", "E", "F", "fault", "?")
    for e in res["timeline"]:
        assert set(("t_s", "kind", "text")) <= set(e)
    for c in res["checks"]:
        assert set(c) == {"name", "ok", "measured", "unit", "limit", "detail"}
        assert isinstance(c["ok"], bool)
    assert res["ok"] is True and code == 0


def test_text_output(tmp_path, capsys):
    p = tmp_path / "w.vcd"
    synth.write_vcd(str(p), SESSION)
    code, out, err = run_cli(capsys, p)
    assert code == 0 and err == ""
    for word in ("frequency 1000.00 Hz", "53.30 %", "32.0 A", "segments", "timeline", "checks",
                 "PASS frequency", "PASS contactor_open_after_c_to_b", "all "):
        assert word in out


def test_plot_file_written(tmp_path, capsys):
    p = _capture_with_contactor(tmp_path, SESSION)
    png = tmp_path / "out.png"
    code, out, err = run_cli(capsys, p, "--plot", png)
    assert code == 0 and err == ""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000


def test_module_entry_point(tmp_path):
    p = tmp_path / "w.vcd"
    synth.write_vcd(str(p), SESSION)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((os.path.join(ROOT, "firmware"), ROOT)))
    r = subprocess.run([sys.executable, "-m", "tools.analyzer", str(p), "--json"], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
