"""Analyzer throughput on a long capture, next to sigrok-cli's pwm decoder on the same file.

A 60 s, 1 MHz capture (60 M samples: analog cp with 0.1 V noise, logic cp_high, contactor) of a
session whose states and duty change is written as a sigrok session (.sr); the analyzer reads and
analyses it, and `sigrok-cli -i FILE -P pwm:data=cp_high` decodes the same file."""

import os
import shutil
import subprocess
import tempfile
import time

from tools.analyzer import checks, synth
from tools.analyzer.core import analyze
from tools.analyzer.readers import load

RATE = 1e6
REPEAT = 6           # 6 x 10 s of session = 60 M samples


def schedule():
    one = [{"dur": 1.0, "state": "A"}, {"dur": 1.0, "state": "B", "duty": 53.3},
           {"dur": 5.0, "state": "C", "duty": 53.3, "contactor": True},
           {"dur": 2.0, "state": "C", "duty": 26.7, "contactor": True},
           {"dur": 0.05, "state": "B", "duty": 26.7, "contactor": True}, {"dur": 0.95, "state": "B", "duty": 26.7}]
    return one * REPEAT


def main():
    tmp = tempfile.mkdtemp(prefix="bench_analyzer_")
    try:
        path = os.path.join(tmp, "long.sr")
        v, k = synth.sampled(schedule(), rate=RATE, noise=0.1)
        n = len(v)
        synth.write_sr(path, RATE, analog={"cp": v}, logic={"cp_high": v > 1.0, "contactor": k})
        del v, k
        print("analyzer_capture_samples: %d samples" % n)
        print("analyzer_capture_file: %.0f MB" % (os.path.getsize(path) / 1e6))

        t0 = time.perf_counter()
        cap = load(path)
        t1 = time.perf_counter()
        res = analyze(cap)
        res["checks"] = checks.run(res, cap)
        t2 = time.perf_counter()
        print("analyzer_core: %.1f Msamples/s" % (n / (t2 - t1) / 1e6))
        print("analyzer_core_time: %.2f s" % (t2 - t1))
        print("analyzer_with_read: %.1f Msamples/s" % (n / (t2 - t0) / 1e6))
        print("analyzer_segments: %d segments" % len(res["segments"]))
        del cap

        sigrok = shutil.which("sigrok-cli")
        if sigrok is None:
            print("sigrok_pwm: skipped (sigrok-cli not installed)")
            return
        t0 = time.perf_counter()
        r = subprocess.run([sigrok, "-i", path, "-P", "pwm:data=cp_high", "-A", "pwm=duty-cycle"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
        t1 = time.perf_counter()
        lines = r.stdout.count(b"\n")
        print("sigrok_pwm: %.1f Msamples/s" % (n / (t1 - t0) / 1e6))
        print("sigrok_pwm_time: %.2f s" % (t1 - t0))
        print("sigrok_pwm_periods: %d periods" % lines)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
