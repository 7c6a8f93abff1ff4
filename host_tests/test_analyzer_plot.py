"""The analyzer's plot as a technician reads it: PP and the latch button are drawn, a sleeping EV's
wake-up F is drawn apart from a fault F, and a short capture gets a millisecond axis."""
import os
import subprocess
import sys

from tools.analyzer import synth
from tools.analyzer.core import analyze
from tools.analyzer.plot import plot
from tools.analyzer.readers import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_vcd(tmp_path, scenario):
    vcd = str(tmp_path / "trace.vcd")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")])
    r = subprocess.run([sys.executable, "-m", "tools.bench", scenario, "--waveform", "--vcd", vcd], cwd=ROOT,
                       env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return vcd


def test_wakeup_f_is_not_a_fault_f_and_the_latch_button_shows(tmp_path):
    vcd = bench_vcd(tmp_path, "host_tests/scenarios/wakeup_button_fault.scn")
    cap = load(vcd)
    res = analyze(cap)
    f = [s for s in res["segments"] if s["state"] == "F"]
    wake = [s for s in f if s["wakeup"]]
    assert len(wake) == 1 and 3.9 <= wake[0]["end_s"] - wake[0]["start_s"] <= 4.1
    assert "wake-up" in wake[0]["note"]
    assert not f[-1]["wakeup"]                      # the RCD trip's F ends the capture: a fault
    info = plot(res, cap, str(tmp_path / "plot.png"))
    assert {"F", "F wake-up"} <= set(info["keys"])
    assert info["pp"] and info["button_presses"] == 1
    assert info["time_unit"] == "s"
    assert (tmp_path / "plot.png").stat().st_size > 20000


def test_a_short_capture_gets_a_millisecond_axis(tmp_path):
    vcd = str(tmp_path / "short.vcd")
    synth.write_vcd(vcd, [{"dur": 0.01, "state": "A"}, {"dur": 0.02, "state": "B", "duty": 53.3}], waveform=True)
    cap = load(vcd)
    info = plot(analyze(cap), cap, str(tmp_path / "short.png"))
    assert info["time_unit"] == "ms"
