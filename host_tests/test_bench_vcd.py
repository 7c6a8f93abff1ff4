"""The bench's VCD (bench contract): GTKWave conventions, a VCD reader, and the real sigrok-cli."""
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from host_tests.test_bench import bench

SCENARIO = """# 32 A, then 16 A, then 6 A while charging
config max_current=32
wait 1
plug
wait 0.5
ev C
expect contactor closed within 1
wait 0.5
limit 16
wait 0.5
limit 6
wait 0.5
ev B
wait 0.3
"""
REQUIRED = {"cp": "real", "duty": "real", "contactor": "wire", "ac_out": "wire", "ev_current": "real",
            "pp": "real", "cp_high": "wire"}


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("vcd")
    scn = d / "s.scn"
    scn.write_text(SCENARIO)
    out = {}
    for mode in ("plateau", "waveform"):
        vcd = d / ("%s.vcd" % mode)
        log = d / ("%s.jsonl" % mode)
        args = [str(scn), "--vcd", str(vcd), "--log", str(log)] + (["--waveform"] if mode == "waveform" else [])
        r = bench(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        out[mode] = vcd
    return out


def strict_check(path):
    """GTKWave conventions and VCD syntax; returns ({name: type}, [(t, id, value)])."""
    text = open(path).read()
    head, _, body = text.partition("$enddefinitions $end")
    assert body, "no $enddefinitions"
    order = [m.group(1) for m in re.finditer(r"\$(date|version|timescale|scope|var|upscope)\b", head)]
    assert order[:4] == ["date", "version", "timescale", "scope"], order
    assert order[-1] == "upscope" and set(order[4:-1]) == {"var"}
    assert re.search(r"\$timescale\s+1\s*us\s+\$end", head)
    assert re.search(r"\$scope\s+module\s+bench\s+\$end", head)
    names, ids = {}, {}
    for m in re.finditer(r"\$var\s+(\w+)\s+(\d+)\s+(\S+)\s+(\w+)\s+\$end", head):
        kind, width, ident, name = m.groups()
        assert kind in ("real", "wire") and width == "1"
        names[name] = kind
        ids[ident] = (name, kind)
    tokens = body.split()
    assert tokens[0] == "#0" and tokens[1] == "$dumpvars", tokens[:3]
    changes, t, last_t, i = [], None, -1, 0
    dumped = set()
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("$dumpvars", "$end"):
            i += 1
            continue
        if tok.startswith("#"):
            t = int(tok[1:])
            assert t > last_t, "timestamps must increase: %d after %d" % (t, last_t)
            last_t = t
            i += 1
            continue
        if tok.startswith("r"):
            value, ident = float(tok[1:]), tokens[i + 1]
            assert ids[ident][1] == "real"
            i += 2
        else:
            assert tok[0] in "01xz" and ids[tok[1:]][1] == "wire", tok
            value, ident = tok[0], tok[1:]
            i += 1
        if t == 0:
            dumped.add(ident)
        changes.append((t, ids[ident][0], value))
    assert dumped == set(ids), "every variable has an initial value"
    return names, changes


@pytest.mark.parametrize("mode", ["plateau", "waveform"])
def test_vcd_conventions(traces, mode):
    names, changes = strict_check(traces[mode])
    for n, k in REQUIRED.items():
        assert names.get(n) == k, (n, names)
    duties = [v for t, n, v in changes if n == "duty"]
    assert duties[:2] == [100.0, 53.32]      # time 0: the charger booted (A, +12 V), then the plug
    assert {53.32, 26.65, 10.0} <= set(duties)
    pp = [v for t, n, v in changes if n == "pp"]
    assert pp[0] == 1e9 and 150.0 in pp
    cont = [v for t, n, v in changes if n == "contactor"]
    assert cont == ["0", "1", "0"]


def test_plateau_mode_writes_levels_once_per_change(traces):
    _, changes = strict_check(traces["plateau"])
    cp = [v for t, n, v in changes if n == "cp"]
    assert len(cp) < 20, cp                      # no PWM edges: one value per change
    assert any(8.5 < v < 9.5 for v in cp) and any(5.5 < v < 6.5 for v in cp)   # B and C plateaus


def test_waveform_mode_writes_every_edge(traces):
    _, changes = strict_check(traces["waveform"])
    rises = [t for t, n, v in changes if n == "cp_high" and v == "1"]
    pwm_on = next(t for t, n, v in changes if n == "duty" and v == 53.32)
    pwm_off = max(t for t, n, v in changes if n == "duty")     # the end of the file: PWM still on
    end = int(open(traces["waveform"]).read().split("#")[-1].split()[0])
    # one rising edge per 1 ms period, on the period grid, from the start of the PWM to the end
    on = [t for t in rises if t > pwm_on]
    assert abs(len(on) - (end - pwm_on) / 1000) <= 1, (len(on), pwm_on, pwm_off, end)
    assert all(t % 1000 == 0 for t in on)


def test_vcdvcd_reads_it(traces):
    old = signal.getsignal(signal.SIGPIPE)
    vcdvcd = pytest.importorskip("vcdvcd")
    signal.signal(signal.SIGPIPE, old)   # vcdvcd resets SIGPIPE on import: a later socket test would die
    for mode in ("plateau", "waveform"):
        v = vcdvcd.VCDVCD(str(traces[mode]))
        assert {"bench.cp", "bench.cp_high", "bench.duty", "bench.contactor"} <= set(v.signals)
        assert v["bench.duty"].tv[0] == (0, "100")      # time 0: booted, at A


SIGROK = shutil.which("sigrok-cli")
needs_sigrok = pytest.mark.skipif(SIGROK is None, reason="sigrok-cli not installed (apt-get install sigrok-cli; `make test` does)")


@needs_sigrok
@pytest.mark.parametrize("mode", ["plateau", "waveform"])
def test_sigrok_imports_vcd(traces, mode):
    r = subprocess.run([SIGROK, "-I", "vcd", "-i", str(traces[mode]), "--show"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    assert "cp_high" in r.stdout


@needs_sigrok
def test_sigrok_pwm_decoder_reads_the_commanded_duty(traces):
    r = subprocess.run([SIGROK, "-i", str(traces["waveform"]), "-P", "pwm:data=cp_high", "-A", "pwm"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-500:]
    duties = [float(m.group(1)) for m in re.finditer(r"pwm-1: ([\d.]+)%", r.stdout)]
    counts = {}
    for d in duties:
        counts[round(d, 1)] = counts.get(round(d, 1), 0) + 1
    # the commanded duties (hal.duty_x100: 53.32, 26.65, 10.00) hold for hundreds of periods each,
    # read to the 1 us resolution of the timescale
    for want in (53.32, 26.65, 10.0):
        n = sum(c for d, c in counts.items() if abs(d - want) <= 0.1)
        assert n >= 400, (want, sorted(counts.items(), key=lambda x: -x[1])[:6])


def _edges(vcd_text, name):
    """Value changes of a wire, found by its name in the header."""
    m = re.search(r"\$var\s+wire\s+1\s+(\S+)\s+%s\s+\$end" % name, vcd_text)
    assert m, "no wire %s" % name
    return len(re.findall(r"^[01]%s$" % re.escape(m.group(1)), vcd_text, re.M))


@pytest.mark.parametrize("mode", ["plateau", "waveform"])
def test_gtkwave_reads_it(traces, mode, tmp_path):
    """GTKWave's own VCD reader (its vcd2fst converter) loads the trace and keeps every edge."""
    if not shutil.which("vcd2fst"):
        pytest.skip("gtkwave not installed (make test installs the Debian package)")
    fst = tmp_path / "t.fst"
    r = subprocess.run(["vcd2fst", "-v", str(traces[mode]), "-f", str(fst)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0 and fst.stat().st_size > 0, r.stdout
    back = subprocess.run(["fst2vcd", str(fst)], stdout=subprocess.PIPE, text=True, timeout=120).stdout
    original = open(traces[mode]).read()
    for name in ("cp_high", "contactor", "ac_out"):
        assert _edges(back, name) == _edges(original, name) > 0, name
    for var in ("cp", "duty", "ev_current", "pp"):
        assert re.search(r"\$var\s+real\s+64\s+\S+\s+%s\s+\$end" % var, back), var
