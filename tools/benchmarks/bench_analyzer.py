"""Analyzer throughput on a long capture, next to sigrok-cli's pwm decoder on the same file.

A 60 s, 1 MHz capture (60 M samples: analog cp with 0.1 V noise, logic cp_high, contactor) of a
session whose states and duty change is written as a sigrok session (.sr); the analyzer reads and
analyses it, and `sigrok-cli -i FILE -P pwm:data=cp_high` decodes the same file.

End to end (`analyzer_end_to_end_*`): the wall time of `python -m tools.analyzer FILE` as a user runs
it (interpreter start, imports, read, analysis, report), median of RUNS runs (the fastest and slowest
beside it), for the .sr, for a bench VCD with --waveform of the same session repeated to 600 s, and for
a scope CSV (time, volts) of its first 10 s (10 M rows). The VCD figure is in samples of the 1 MS/s
capture it stands for, and in pilot changes. As for an installed tool, Python's bytecode cache is on
(in a temporary PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE is set: otherwise every run
compiles the analyzer's modules again, some 30 ms) and one untimed run first fills it and the page
cache; sigrok-cli runs once, after the same file was read by the analyzer."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from tools.analyzer import checks, synth
from tools.analyzer.core import analyze
from tools.analyzer.readers import load

RATE = 1e6
REPEAT = 6           # 6 x 10 s of session = 60 M samples
RUNS = 3
CSV_REPEAT = 1       # the CSV holds the first 10 s (10 M rows, about 170 MB)
VCD_REPEAT = 10      # the VCD holds the 60 s session 10 times (600 s, about 1.1 M pilot changes)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def schedule():
    one = [{"dur": 1.0, "state": "A"}, {"dur": 1.0, "state": "B", "duty": 53.3},
           {"dur": 5.0, "state": "C", "duty": 53.3, "contactor": True},
           {"dur": 2.0, "state": "C", "duty": 26.7, "contactor": True},
           {"dur": 0.05, "state": "B", "duty": 26.7, "contactor": True}, {"dur": 0.95, "state": "B", "duty": 26.7}]
    return one * REPEAT


def end_to_end(path, pycache):
    """Median, fastest and slowest wall time of `python -m tools.analyzer PATH` (exit 0 or 1: checks
    ran), after one untimed run."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    times = []
    for _ in range(RUNS + 1):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "tools.analyzer", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=300)
        times.append(time.perf_counter() - t0)
        if r.returncode not in (0, 1):
            raise RuntimeError("analyzer failed on %s: %s" % (path, r.stderr.decode()[:200]))
    times = times[1:]
    return statistics.median(times), min(times), max(times)


def _fixed(x, decimals, int_digits):
    """ASCII rows of x with `decimals` decimals, as an (n, width) uint8 array, 0 = no character."""
    q = np.round(np.abs(x) * 10 ** decimals).astype(np.int64)
    nd = int_digits + decimals
    digits = np.empty((len(x), nd), dtype=np.uint8)
    r = q
    for j in range(nd - 1, -1, -1):
        r, d = np.divmod(r, 10)
        digits[:, j] = d + 48
    ip = q // 10 ** decimals
    ndig = np.ones(len(x), dtype=np.int64)
    for k in range(1, int_digits):
        ndig += ip >= 10 ** k
    digits[:, :int_digits][np.arange(int_digits)[None, :] < (int_digits - ndig)[:, None]] = 0
    sign = np.where((x < 0) & (q != 0), ord("-"), 0).astype(np.uint8)
    return np.column_stack((sign, digits[:, :int_digits], np.full(len(x), ord("."), np.uint8),
                            digits[:, int_digits:]))


def write_csv_fast(path, v, rate):
    """The layout of synth.write_scope_csv (junk header, then time,volts rows) with fixed decimals
    ("%.6f,%.4f") and a logic copy of the pilot (cp_high, for sigrok's pwm decoder), formatted by
    numpy: np.savetxt needs minutes for 10 M rows."""
    n = len(v)
    with open(path, "wb") as f:
        f.write(b"Model,SYNTH-SCOPE 1000\nRecord Length,%d\nSample Interval,%g\n\ntime,cp,cp_high\n"
                % (n, 1.0 / rate))
        step = 1 << 20
        for a in range(0, n, step):
            b = min(n, a + step)
            m = np.column_stack((_fixed(np.arange(a, b) / rate, 6, 3), np.full(b - a, ord(","), np.uint8),
                                 _fixed(v[a:b], 4, 2), np.full(b - a, ord(","), np.uint8),
                                 np.where(v[a:b] > 1.0, ord("1"), ord("0")).astype(np.uint8),
                                 np.full(b - a, 10, np.uint8)))
            f.write(m[m != 0].tobytes())


def sigrok_pwm(sigrok, path, fmt):
    """Wall time of sigrok-cli's pwm decoder on the logic copy of the pilot in PATH, and its periods."""
    args = {"sr": [], "vcd": ["-I", "vcd"], "csv": ["-I", "csv:column_formats=t,a,l:start_line=5:header=true"]}[fmt]
    t0 = time.perf_counter()
    r = subprocess.run([sigrok] + args + ["-i", path, "-P", "pwm:data=cp_high", "-A", "pwm=duty-cycle"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - t0, r.stdout.count(b"\n")


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
        del cap, res
        pycache = os.path.join(tmp, "pycache")
        t, lo, hi = end_to_end(path, pycache)
        print("analyzer_end_to_end_sr: %.1f Msamples/s (%.2f s, median of %d runs, %.2f-%.2f s)"
              % (n / t / 1e6, t, RUNS, lo, hi))
        times = {"sr": (t, n)}

        vcd = os.path.join(tmp, "long.vcd")
        synth.write_vcd(vcd, schedule() * VCD_REPEAT, waveform=True)
        changes = sum(1 for ln in open(vcd, "rb") if ln.startswith(b"r"))
        t, lo, hi = end_to_end(vcd, pycache)
        print("analyzer_vcd_file: %.1f MB, %d real value changes, %.0f s"
              % (os.path.getsize(vcd) / 1e6, changes, n * VCD_REPEAT / RATE))
        print("analyzer_end_to_end_vcd: %.1f Msamples/s at 1 MS/s, %.2f M changes/s (%.2f s, %.2f-%.2f s)"
              % (n * VCD_REPEAT / t / 1e6, changes / t / 1e6, t, lo, hi))
        times["vcd"] = (t, n * VCD_REPEAT)

        csv = os.path.join(tmp, "long.csv")
        v, _ = synth.sampled(schedule()[:len(schedule()) // REPEAT * CSV_REPEAT], rate=RATE, noise=0.1)
        m = len(v)
        write_csv_fast(csv, v, RATE)
        del v
        print("analyzer_csv_file: %.0f MB, %d rows" % (os.path.getsize(csv) / 1e6, m))
        t, lo, hi = end_to_end(csv, pycache)
        print("analyzer_end_to_end_csv: %.1f Msamples/s (%.2f s, %.2f-%.2f s)" % (m / t / 1e6, t, lo, hi))
        times["csv"] = (t, m)

        sigrok = shutil.which("sigrok-cli")
        if sigrok is None:
            print("sigrok_pwm: skipped (sigrok-cli not installed)")
            return
        for fmt, f in (("sr", path), ("vcd", vcd), ("csv", csv)):
            ts, periods = sigrok_pwm(sigrok, f, fmt)
            ta, samples = times[fmt]
            print("sigrok_pwm_%s: %.1f Msamples/s (%.2f s, %d periods)" % (fmt, samples / ts / 1e6, ts, periods))
            print("analyzer_vs_sigrok_%s: %.1fx (end to end: %.2f s against %.2f s)" % (fmt, ts / ta, ta, ts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
