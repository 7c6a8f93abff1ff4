"""The virtual bench (tools/bench, bench contract): the scenario library, exit codes, traces.

Every host_tests/scenarios/*.scn must pass (exit 0); expect_fail/*.scn must exit 1, invalid/*.scn
exit 2.
"""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCN = os.path.join(ROOT, "host_tests", "scenarios")


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")])
    return e


def bench(*args, timeout=600):
    r = subprocess.run([sys.executable, "-m", "tools.bench"] + list(args), cwd=ROOT, env=env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    return r


def files(sub=""):
    return sorted(glob.glob(os.path.join(SCN, sub, "*.scn")))


def _id(p):
    return os.path.relpath(p, SCN)


@pytest.mark.parametrize("path", files(), ids=_id)
def test_scenario_passes(path):
    r = bench(path)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path", files("expect_fail"), ids=_id)
def test_failing_expect_exits_1(path):
    r = bench(path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "line " in r.stdout and "FAILED" in r.stdout


@pytest.mark.parametrize("path", files("invalid"), ids=_id)
def test_invalid_scenario_exits_2(path, tmp_path):
    log = tmp_path / "x.jsonl"
    r = bench(path, "--log", str(log))
    assert r.returncode == 2, r.stdout + r.stderr
    assert ":%s" % "" in r.stderr and "line" not in r.stdout
    # "FILE:LINE: reason", nothing run
    first = r.stderr.strip().splitlines()[0]
    assert first.startswith(path + ":") and first.split(":")[1].isdigit(), first
    assert not log.exists() or log.read_text() == ""


def test_missing_file_exits_2():
    assert bench(os.path.join(SCN, "no_such.scn")).returncode == 2


def _log(tmp_path, scn_text, *extra):
    scn = tmp_path / "s.scn"
    scn.write_text(scn_text)
    log = tmp_path / "s.jsonl"
    r = bench(str(scn), "--log", str(log), *extra)
    rows = [json.loads(l) for l in log.read_text().splitlines()]
    return r, rows


def test_jsonl_log(tmp_path):
    r, rows = _log(tmp_path, open(os.path.join(SCN, "normal_session.scn")).read())
    assert r.returncode == 0, r.stdout + r.stderr
    ts = [x["t"] for x in rows]
    assert ts == sorted(ts), "time order"
    assert all(isinstance(x["t"], float) and isinstance(x["kind"], str) for x in rows)
    kinds = {x["kind"] for x in rows}
    assert {"state", "pwm", "contactor", "input", "expect"} <= kinds
    for x in rows:
        keys = set(x) - {"t", "kind"}
        want = {"state": {"state"}, "pwm": {"duty", "amps"}, "contactor": {"closed"},
                "fault": {"fault", "set"}, "meter": {"amps", "wh"}, "input": {"line", "text"},
                "expect": {"line", "ok", "text"}}[x["kind"]]
        assert keys == want, x
    # line numbers count comments and blanks; the wait logs when it starts
    inputs = [x for x in rows if x["kind"] == "input"]
    assert inputs[0] == {"t": 0.0, "kind": "input", "line": 3, "text": "config max_current=32"}
    assert inputs[1]["text"] == "wait 1" and inputs[1]["t"] == 0.0
    pwm = [x for x in rows if x["kind"] == "pwm" and x["amps"] == 32.0]
    assert pwm and abs(pwm[0]["duty"] - 53.3) < 0.1
    assert all(x["ok"] for x in rows if x["kind"] == "expect")
    closed = [x for x in rows if x["kind"] == "contactor"]
    assert [c["closed"] for c in closed] == [True, False]


def test_failure_is_logged(tmp_path):
    r, rows = _log(tmp_path, "wait 1\nexpect state C2\n")
    assert r.returncode == 1
    assert "line 2" in r.stdout
    assert [x for x in rows if x["kind"] == "expect"] == [
        {"t": rows[-1]["t"], "kind": "expect", "line": 2, "ok": False, "text": "expect state C2"}]


def test_noise_makes_no_false_state_change(tmp_path):
    r, rows = _log(tmp_path, open(os.path.join(SCN, "noise.scn")).read())
    assert r.returncode == 0, r.stdout
    closed = next(x["t"] for x in rows if x["kind"] == "contactor" and x["closed"])
    stop = next(x["t"] for x in rows if x["kind"] == "input" and x["text"] == "ev B")
    during = [x for x in rows if closed < x["t"] < stop and x["kind"] in ("state", "fault", "contactor", "pwm")]
    assert during == [], during


def test_bouncing_car_does_not_chatter(tmp_path):
    r, rows = _log(tmp_path, open(os.path.join(SCN, "bouncing_car.scn")).read())
    assert r.returncode == 0, r.stdout
    ev = [x for x in rows if x["kind"] == "contactor"]
    assert [x["closed"] for x in ev] == [True], ev     # only the final, steady request closes


def test_meter_lines_when_metered(tmp_path):
    """meter {amps, wh} once per second while the contactor is closed (when the app has a meter)."""
    r, rows = _log(tmp_path, "wait 1\nplug\nwait 0.5\nev C\ndraw 16\nwait 5\n")
    from tools.sim.rig import Rig  # noqa: F401  (the app decides whether a meter is wired)
    meters = [x for x in rows if x["kind"] == "meter"]
    if not meters:
        pytest.skip("no metering service wired in the app yet (app.meter is None)")
    assert 3 <= len(meters) <= 6
    # a number, as the contract's `pwm {amps}` (an outsider writes `abs(x["amps"] - 16) < 1`)
    assert all(isinstance(x["amps"], float) for x in meters)
    assert abs(meters[-1]["amps"] - 16) < 0.5 and meters[-1]["wh"] > 0
