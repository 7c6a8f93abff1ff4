"""Pilot-signal analyzer: files made by the real sigrok-cli, and every kind of bad capture."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tools.analyzer import synth
from tools.analyzer.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGROK = shutil.which("sigrok-cli")
needs_sigrok = pytest.mark.skipif(SIGROK is None, reason="sigrok-cli not installed (make test installs it)")
SESSION = [{"dur": 0.05, "state": "A"}, {"dur": 0.1, "state": "B", "duty": 53.3},
           {"dur": 0.15, "state": "C", "duty": 53.3, "contactor": True},
           {"dur": 0.03, "state": "B", "duty": 53.3, "contactor": True}, {"dur": 0.05, "state": "B", "duty": 53.3}]
RATE = 200000.0


def run_json(capsys, *args):
    code = main([str(a) for a in args] + ["--json"])
    out, err = capsys.readouterr()
    assert err == "", err
    return code, json.loads(out)


def sigrok(*args):
    r = subprocess.run([SIGROK] + [str(a) for a in args], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


@pytest.fixture
def sigrok_sr(tmp_path):
    """A session file written by sigrok-cli itself from a CSV (time, analog cp, logic cp_high, contactor)."""
    v, k = synth.sampled(SESSION, rate=RATE, noise=0.05)
    src = tmp_path / "in.csv"
    t = np.arange(len(v)) / RATE
    with open(src, "w") as f:
        f.write("time,cp,cp_high,contactor\n")
        np.savetxt(f, np.column_stack((t, v, v > 1, k)), delimiter=",", fmt=["%.7f", "%.4f", "%d", "%d"])
    out = tmp_path / "session.sr"
    sigrok("-I", "csv:column_formats=t,a,l,l:samplerate=%d" % RATE, "-i", src, "-o", out)
    return out


@needs_sigrok
def test_sigrok_session(sigrok_sr, capsys):
    names = zipfile.ZipFile(sigrok_sr).namelist()
    assert "metadata" in names and any(n.startswith("analog-1-") for n in names)
    code, res = run_json(capsys, sigrok_sr)
    assert res["format"] == "sr" and res["pilot_channel"] == "cp"
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]
    assert res["summary"]["duty_pct"] == pytest.approx(53.3, abs=0.6)
    assert res["summary"]["frequency_hz"] == pytest.approx(1000.0, abs=1.0)
    chk = {c["name"]: c for c in res["checks"]}
    assert chk["contactor_open_after_c_to_b"]["measured"] == pytest.approx(30.0, abs=2.0)
    assert code == 0


@needs_sigrok
@pytest.mark.parametrize("opts", ["csv", "csv:time=true", "csv:header=false"])
def test_sigrok_csv_export(sigrok_sr, tmp_path, capsys, opts):
    out = tmp_path / "export.csv"
    out.write_bytes(sigrok("-i", sigrok_sr, "-O", opts))
    code, res = run_json(capsys, out, *(["--rate", RATE] if "header=false" in opts else []))
    assert res["pilot_channel"] in ("cp", "V DC", "col3", "col2")
    assert [s["name"] for s in res["segments"]][:4] == ["A1", "B2", "C2", "B2"]
    assert res["segments"][2]["duty_pct"] == pytest.approx(53.3, abs=0.6)


@needs_sigrok
def test_sigrok_session_from_bench_vcd_is_logic_only(tmp_path, capsys):
    """sigrok-cli -I vcd keeps the logic copy cp_high: frequency and duty, no levels."""
    vcd = tmp_path / "b.vcd"
    synth.write_vcd(str(vcd), [{"dur": 0.1, "state": "C", "duty": 26.7}])
    sr = tmp_path / "b.sr"
    sigrok("-I", "vcd", "-i", vcd, "-o", sr)
    code, res = run_json(capsys, sr)
    assert res["logic_pilot"] and res["pilot_channel"] == "cp_high"
    assert res["summary"]["duty_pct"] == pytest.approx(26.7, abs=0.1)
    assert res["summary"]["amps"] == pytest.approx(16.0, abs=0.1)
    assert res["summary"]["frequency_hz"] == pytest.approx(1000.0, abs=0.5)


@needs_sigrok
def test_sigrok_pwm_decoder_agrees(tmp_path, capsys):
    vcd = tmp_path / "b.vcd"
    synth.write_vcd(str(vcd), [{"dur": 0.02, "state": "B", "duty": 40.0}])
    out = sigrok("-I", "vcd", "-i", vcd, "-P", "pwm:data=cp_high", "-A", "pwm=duty-cycle").decode()
    duties = [float(x.split(":")[1].strip().rstrip("%")) for x in out.splitlines() if ":" in x]
    code, res = run_json(capsys, vcd)
    assert res["summary"]["duty_pct"] == pytest.approx(np.median(duties), abs=0.05)


# ------------------------------------------------------------------------------ bad input
def _bad(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("analyzer: error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def good_vcd(tmp_path):
    p = tmp_path / "good.vcd"
    synth.write_vcd(str(p), SESSION)
    return p


def test_empty_file(tmp_path, capsys):
    p = tmp_path / "empty.vcd"
    p.write_bytes(b"")
    assert "empty" in _bad(capsys, p)


def test_missing_file(tmp_path, capsys):
    assert "cannot read" in _bad(capsys, tmp_path / "nope.csv")


def test_truncated_vcd_header(good_vcd, capsys):
    good_vcd.write_bytes(good_vcd.read_bytes()[:150])
    assert "truncated" in _bad(capsys, good_vcd)


def test_truncated_vcd_body(good_vcd, capsys):
    data = good_vcd.read_bytes()
    cut = data.rindex(b"r-12 !") + 4            # cut inside the last real value change
    good_vcd.write_bytes(data[:cut])
    assert "truncated" in _bad(capsys, good_vcd)


def test_truncated_sr(tmp_path, capsys):
    v, _ = synth.sampled(SESSION, rate=RATE)
    p = tmp_path / "t.sr"
    synth.write_sr(str(p), RATE, analog={"cp": v})
    p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])
    assert "sigrok" in _bad(capsys, p)


def test_truncated_csv_keeps_the_rows_before_the_torn_one(tmp_path, capsys):
    v, _ = synth.sampled(SESSION, rate=RATE)
    p = tmp_path / "t.csv"
    synth.write_scope_csv(str(p), v, RATE)
    data = p.read_bytes()
    p.write_bytes(data[:data.rindex(b",") + 1])
    code, res = run_json(capsys, p)
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]
    assert res["notes"] and "torn" in res["notes"][0]


def test_no_pilot_in_vcd(tmp_path, capsys):
    p = tmp_path / "nopilot.vcd"
    p.write_text("$timescale 1 us $end\n$scope module bench $end\n$var wire 1 ! contactor $end\n"
                 "$upscope $end\n$enddefinitions $end\n#0\n0!\n#100\n1!\n#200\n")
    assert "no pilot" in _bad(capsys, p)


def test_no_pilot_in_csv(tmp_path, capsys):
    p = tmp_path / "nopilot.csv"
    p.write_text("time,contactor\n" + "".join("%g,%d\n" % (i * 1e-6, i > 5) for i in range(20)))
    assert "no pilot" in _bad(capsys, p)


def test_wrong_column(good_vcd, tmp_path, capsys):
    msg = _bad(capsys, good_vcd, "--channel", "nosuch")
    assert "nosuch" in msg and "cp" in msg
    v, _ = synth.sampled(SESSION, rate=RATE)
    p = tmp_path / "s.csv"
    synth.write_scope_csv(str(p), v, RATE)
    assert "nosuch" in _bad(capsys, p, "--channel", "nosuch")
    assert "nosuch" in _bad(capsys, p, "--contactor-channel", "nosuch")


def test_unknown_format(tmp_path, capsys):
    p = tmp_path / "capture.bin"
    p.write_bytes(bytes(range(256)) * 16)
    assert "unknown format" in _bad(capsys, p)
    q = tmp_path / "notes.md"
    q.write_text("hello\nthis is not a capture\n")
    assert "unknown format" in _bad(capsys, q)


def test_forced_wrong_format(good_vcd, capsys):
    assert "error" in _bad(capsys, good_vcd, "--format", "sr")


def test_text_that_is_not_a_capture(tmp_path, capsys):
    p = tmp_path / "words.csv"
    p.write_text("name,value\nfoo,bar\n")
    assert "no numeric data" in _bad(capsys, p)


def test_bad_option_values(good_vcd, capsys):
    assert "6-80 A" in _bad(capsys, good_vcd, "--expect-current", "100")
    assert "positive" in _bad(capsys, good_vcd, "--divider", "0")


def test_subprocess_never_a_traceback(tmp_path):
    p = tmp_path / "junk.sr"
    p.write_bytes(b"PK\x03\x04garbage")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((os.path.join(ROOT, "firmware"), ROOT)))
    r = subprocess.run([sys.executable, "-m", "tools.analyzer", str(p)], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("analyzer: error:")


def test_rigol_style_csv(tmp_path, capsys):
    """Rigol: sample number column, Start/Increment in the second header line, trailing commas."""
    rate = 500000.0
    v, _ = synth.sampled([{"dur": 0.02, "state": "C", "duty": 40.0}], rate=rate)
    p = tmp_path / "rigol.csv"
    with open(p, "w") as f:
        f.write("X,CH1,Start,Increment,\nSequence,Volt,-1.000000e-02,%e\n" % (1 / rate))
        f.writelines("%d,%.3f,\n" % (i, x) for i, x in enumerate(v / 10))
    code, res = run_json(capsys, p, "--divider", "10")
    assert res["sample_rate_hz"] == pytest.approx(rate)
    assert res["start_s"] == pytest.approx(-0.01)
    assert [s["name"] for s in res["segments"]] == ["C2"]
    assert res["segments"][0]["duty_pct"] == pytest.approx(40.0, abs=0.3)
