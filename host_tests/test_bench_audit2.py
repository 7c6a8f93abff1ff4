"""The virtual bench as an outsider uses it, from ../shared/reference/bench-contract.md alone (a second
audit): scenario files as other editors save them, and the JSON-lines log a trace reader follows."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")])
    return e


def bench(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tools.bench"] + list(args), cwd=ROOT, env=env(),
                          input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


SESSION = "config max_current=32\nwait 1\nplug\nexpect state B2 within 0.1\nexpect duty 53.3 \u00b10.1\n"


def test_a_scenario_saved_with_a_utf8_bom_runs(tmp_path):
    """Windows editors (Notepad, PowerShell's Out-File utf8) start a UTF-8 file with a byte-order mark:
    the first command read as '\\ufeffconfig' and the run ended with exit 2 (unknown command)."""
    scn = tmp_path / "bom.scn"
    scn.write_bytes(b"\xef\xbb\xbf" + SESSION.replace("\n", "\r\n").encode("utf-8"))
    r = bench(str(scn))
    assert r.returncode == 0, r.stdout + r.stderr
    r = bench("-", stdin=b"\xef\xbb\xbf" + SESSION.encode("utf-8"))
    assert r.returncode == 0, r.stdout + r.stderr


def _log(tmp_path, text):
    scn = tmp_path / "s.scn"
    scn.write_text(text)
    log = tmp_path / "s.jsonl"
    r = bench(str(scn), "--log", str(log))
    return r, [json.loads(line) for line in log.read_text().splitlines()]


def test_a_power_cut_shows_in_the_log_as_the_contactor_and_pilot_dropping(tmp_path):
    """The supply cut mid-session drops the coil and the pilot's PWM (the VCD's contactor and duty go
    to 0 there), but the log had no line for it: `contactor closed: true` at 2.0 s, then the next
    `contactor closed: true` at 15.7 s, and the 53.32 % duty all along, so a reader of the log saw
    the contactor closed and 32 A offered through the 0.2 s without power."""
    r, rows = _log(tmp_path, "config max_current=32\nwait 1\nplug\nwait 0.5\nev C\n"
                             "expect contactor closed within 1\nwait 2\npower off\nwait 0.2\n"
                             "power on\nexpect contactor closed within 6\n")
    assert r.returncode == 0, r.stdout + r.stderr
    cut = next(x["t"] for x in rows if x["kind"] == "input" and x["text"] == "power off")
    back = next(x["t"] for x in rows if x["kind"] == "input" and x["text"] == "power on")
    contactor = [(x["t"], x["closed"]) for x in rows if x["kind"] == "contactor"]
    assert [c for _, c in contactor] == [True, False, True], contactor
    assert contactor[1][0] == cut
    pwm = [(x["t"], x["duty"], x["amps"]) for x in rows if x["kind"] == "pwm"]
    during = [p for p in pwm if p[0] <= back]
    assert during[-1] == (cut, 0.0, 0.0), pwm
    ts = [x["t"] for x in rows]
    assert ts == sorted(ts)


def test_a_power_cut_with_nothing_closed_adds_no_contactor_line(tmp_path):
    r, rows = _log(tmp_path, "wait 1\npower off\nwait 0.2\npower on\nwait 1\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [x for x in rows if x["kind"] == "contactor"] == []


def test_a_number_too_big_for_a_float_is_a_bad_argument():
    """Decimals only, the contract says, and the parser refuses inf and nan; but 400 nines are a
    decimal that reads as inf: `noise 99...9` crashed with OverflowError and `ev 99...9` with
    'cannot convert float NaN to integer', both mid-run with exit 1, the status of a failed
    expect. Exit 2 with the line number, nothing run."""
    big = "9" * 400
    for cmd in ("noise " + big, "ev " + big, "temp -" + big, "wait " + big):
        r = bench("-", stdin=("wait 1\nplug\n%s\nwait 1\n" % cmd).encode())
        assert r.returncode == 2, (cmd[:8], r.returncode, r.stderr[-300:])
        assert r.stderr.decode().startswith("-:3: "), r.stderr[-300:]
        assert r.stdout == b"", r.stdout


def test_keywords_in_any_case_like_the_verbs(tmp_path):
    """The verbs and the EV letters are read in any case (`WAIT 2`, `ev c`), but the words after
    them were not: `EXPECT STATE B2` stopped with exit 2 'expect what?', and so did `weld ON`,
    `expect contactor CLOSED`, `rcd 30 DC`, `expect state c2`. A scenario written in capitals runs."""
    text = ("CONFIG max_current=32\nWAIT 1\nPLUG\nEXPECT STATE B2 WITHIN 0.1\nEXPECT DUTY 53.3 +- 0.1\n"
            "EV C\nDRAW FOLLOW\nEXPECT STATE c2 WITHIN 0.5\nEXPECT CONTACTOR CLOSED WITHIN 1\n"
            "EXPECT NO FAULT\nDIODE OK\nCP OK\nBUTTON RELEASE\nWELD OFF\nRCD 0 DC\nPOWER ON\n"
            "EV B\nEXPECT CONTACTOR OPEN WITHIN 0.1\nPP OPEN\nCP SHORT\nEXPECT FAULT STATE_E WITHIN 1\n")
    r, rows = _log(tmp_path, text)
    assert r.returncode == 0, r.stdout + r.stderr
    inputs = [x for x in rows if x["kind"] == "input"]
    assert inputs[3] == {"t": inputs[3]["t"], "kind": "input", "line": 4, "text": "EXPECT STATE B2 WITHIN 0.1"}


def test_a_logic_only_pilot_reports_no_plateau_volts(tmp_path):
    """docs/analyzer.md: from a logic pilot (sigrok-cli -I vcd of a bench VCD keeps only cp_high)
    the analyzer reports frequency, duty and current 'but no plateau levels'. It printed the logic
    levels as volts: 'plateaus +1.00 V / +0.00 V', a first segment at '+0.69 V' (the share of time
    the bit was 1), and JSON pos_v 1.0 / neg_v 0.0. Those are null now; the duty and 1 kHz are as
    sigrok's pwm decoder reads them."""
    import shutil
    import pytest
    if not shutil.which("sigrok-cli"):
        pytest.skip("sigrok-cli not installed")
    vcd, sr = str(tmp_path / "s.vcd"), str(tmp_path / "s.sr")
    r = bench("-", "--waveform", "--vcd", vcd, stdin=(SESSION + "wait 0.5\n").encode())
    assert r.returncode == 0, r.stdout + r.stderr
    subprocess.run(["sigrok-cli", "-I", "vcd", "-i", vcd, "-o", sr], check=True, timeout=120)
    r = subprocess.run([sys.executable, "-m", "tools.analyzer", sr, "--json"], cwd=ROOT, env=env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["logic_pilot"]
    assert abs(rep["summary"]["duty_pct"] - 53.3) < 0.05 and abs(rep["summary"]["frequency_hz"] - 1000) < 0.5
    assert rep["summary"]["pos_v"] is None and rep["summary"]["neg_v"] is None, rep["summary"]
    for s in rep["segments"]:
        assert s["pos_v"] is None and s["neg_v"] is None and s["level_v"] is None, s
    r = subprocess.run([sys.executable, "-m", "tools.analyzer", sr], cwd=ROOT, env=env(),
                       stdout=subprocess.PIPE, text=True, timeout=120)
    assert " V" not in r.stdout.replace(" V)", ""), r.stdout


def test_a_fault_the_power_cut_wiped_is_cleared_in_the_log(tmp_path):
    """An RCD trip (a retry fault, kept in RAM only), then a power cut: the charger boots clean and
    charges again (`expect no fault` holds), but the log said `fault rcd set: true` at 7.45 s and
    never cleared it. A kept fault (weld, in the flash journal) is set again by the firmware at boot."""
    r, rows = _log(tmp_path, "wait 1\nplug\nwait 0.5\nev C\ndraw 16\nexpect contactor closed within 1\n"
                             "wait 5\nrcd 30\nexpect fault rcd within 2\nrcd 0\npower off\nwait 1\n"
                             "power on\nwait 2\nexpect no fault\nexpect state C2 within 5\n")
    assert r.returncode == 0, r.stdout + r.stderr
    cut = next(x["t"] for x in rows if x["kind"] == "input" and x["text"] == "power off")
    faults = [(x["t"], x["fault"], x["set"]) for x in rows if x["kind"] == "fault"]
    assert [f[1:] for f in faults] == [("rcd", True), ("rcd", False)], faults
    assert faults[1][0] == cut
    r, rows = _log(tmp_path, open(os.path.join(ROOT, "host_tests", "scenarios", "weld.scn")).read())
    assert r.returncode == 0, r.stdout + r.stderr
    faults = [(x["fault"], x["set"]) for x in rows if x["kind"] == "fault"]
    assert faults == [("weld", True), ("weld", False), ("weld", True)], faults
