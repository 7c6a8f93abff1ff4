"""Stop 49's audit of the pilot-signal analyzer, as a bench technician with a real scope uses it:
scope CSVs as Rigol, PicoScope and a European-locale export write them, a pilot with edge
ringing, a scope's overflow markers, a capture shorter than one period, and sigrok-cli's own
`pwm` decoder on sessions that sigrok-cli wrote, at the edges of the duty encoding."""

import shutil
import subprocess

import numpy as np
import pytest

from host_tests.test_analyzer_verdicts import run_json
from tools.analyzer.__main__ import main

SIGROK = shutil.which("sigrok-cli")
needs_sigrok = pytest.mark.skipif(SIGROK is None, reason="sigrok-cli not installed (make test installs it)")
RATE = 1e6
B_POS, NEG = 8.98, -12.0          # the facts sheet's B plateau (2.74 kOhm + diode) and the -12 V


def pilot(duty=53.3, freq=1000.0, dur=0.02, pos=B_POS, neg=NEG, noise=0.05, ring=0.0, seed=1):
    """(t, volts) of a scope's view of the pilot at 1 MS/s; ring: the overshoot of each edge as a
    fraction of its step (a probe's ground lead), decaying in 2 us at 500 kHz."""
    n = int(round(dur * RATE))
    i = np.arange(n)
    v = np.where((i * freq) % RATE < duty / 100.0 * RATE, pos, neg).astype(float)
    if ring:
        step = np.diff(v, prepend=v[0])
        last = np.maximum.accumulate(np.where(step != 0, i, 0))
        age = (i - last) / RATE
        v += ring * step[last] * np.exp(-age / 2e-6) * np.cos(2 * np.pi * 5e5 * age) * (last > 0)
    v += np.random.default_rng(seed).normal(0.0, noise, n)
    return i / RATE, v


def write(path, header, rows, newline="\r\n", encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as f:
        f.write(header.replace("\n", newline))
        f.write(newline.join(rows) + newline)
    return path


def assert_b2_at_32_amps(code, res, chk):
    assert code == 0, [c for c in chk.values() if not c["ok"]]
    assert [s["name"] for s in res["segments"]] == ["B2"]
    s = res["summary"]
    assert s["frequency_hz"] == pytest.approx(1000.0, abs=0.5)
    assert s["duty_pct"] == pytest.approx(53.3, abs=0.1) and s["amps"] == pytest.approx(32.0, abs=0.1)
    assert s["pos_v"] == pytest.approx(B_POS, abs=0.05) and s["neg_v"] == pytest.approx(NEG, abs=0.05)


# --------------------------------------------------------------------------- scope CSV exports
def test_a_european_scope_export_with_semicolons_and_decimal_commas(tmp_path, capsys):
    """A scope (or a spreadsheet) set to a German locale writes `0,000001;8,9973`: the analyzer
    said "no numeric data rows (not a capture?)" and read nothing."""
    t, v = pilot()
    rows = [("%.6f;%.4f" % (a, b)).replace(".", ",") for a, b in zip(t, v)]
    p = write(tmp_path / "messung.csv", "Zeit (s);CH1 (V)\n", rows)
    assert_b2_at_32_amps(*run_json(capsys, p))


@pytest.mark.parametrize("unit,encoding", [("\u00b5s", "utf-8"), ("\u03bcs", "utf-8"), ("\u00b5s", "cp1252")])
def test_picoscope_time_in_microseconds_written_with_a_micro_sign(tmp_path, capsys, unit, encoding):
    """PicoScope's CSV captions its time column `(µs)`: the analyzer took the microseconds for
    seconds, saw 1 s samples alternating B1 and F, and passed every check (exit 0)."""
    t, v = pilot()
    rows = ["%.3f,%.5f" % (a * 1e6, b) for a, b in zip(t, v)]
    p = write(tmp_path / "pico.csv", "Time,Channel A\n(%s),(V)\n\n" % unit, rows, encoding=encoding)
    assert_b2_at_32_amps(*run_json(capsys, p))


def test_picoscope_millivolt_column_is_read_in_volts(tmp_path, capsys):
    """PicoScope on a +-20 V range still writes `(mV)` when set so: the analyzer read 8980 V
    plateaus, "pilot fault" and five failed checks."""
    t, v = pilot()
    rows = ["%.5f,%.2f" % (a * 1e3, b * 1e3) for a, b in zip(t, v)]
    p = write(tmp_path / "pico_mv.csv", "Time,Channel A\n(ms),(mV)\n\n", rows)
    assert_b2_at_32_amps(*run_json(capsys, p))


def rigol_rows(v, overflow=()):
    return ["%d,%s," % (i, "9.9E37" if i in overflow else "%.3e" % x) for i, x in enumerate(v)]


RIGOL_HEAD = "X,CH1,Start,Increment,\nSequence,VOLT,0.000000e+00,1.000000e-06,\n"


def test_a_few_overflow_samples_are_left_out_of_the_plateaus(tmp_path, capsys):
    """A Rigol writes 9.9E37 for a sample beyond its screen (a spike): two of them in a B2
    plateau made it +2.1e34 V and failed state_bands. They are replaced by the next sample and
    said in a note."""
    t, v = pilot()
    p = write(tmp_path / "rigol.csv", RIGOL_HEAD, rigol_rows(v, overflow=(5200, 5201)))
    code, res, chk = run_json(capsys, p)
    assert_b2_at_32_amps(code, res, chk)
    assert any("9.9E37" in n and "2 sample" in n for n in res["notes"]), res["notes"]


def test_a_pilot_clipped_by_the_scope_is_refused_with_a_reason(tmp_path, capsys):
    """The vertical scale too small: every high plateau is off the screen (9.9E37). No level
    can be measured; the analyzer says so (exit 2), not a plateau of 1e37 V."""
    t, v = pilot()
    p = write(tmp_path / "clipped.csv", RIGOL_HEAD, rigol_rows(v, overflow=set(np.flatnonzero(v > 5).tolist())))
    code = main([str(p)])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("analyzer: error:") and "Traceback" not in err
    assert "9.9E37" in err and "range" in err, err


def test_rigol_channels_are_picked_by_the_names_on_the_scope(tmp_path, capsys):
    """A Rigol with CH1 on the pilot and CH2 on the contactor coil (0 / 5 V) writes its channel
    names over a line of units (`X,CH1,CH2,Start,Increment,` / `Sequence,VOLT,VOLT,...`): the
    analyzer knew the channels only as `VOLT, VOLT` and refused `--contactor-channel CH2`."""
    t, v = pilot(pos=6.0, dur=0.03)                     # C2: the EV asks for power
    coil = np.where(t >= 0.01, 5.0, 0.0)
    rows = ["%d,%.3e,%.3e," % (i, a, b) for i, (a, b) in enumerate(zip(v, coil))]
    p = write(tmp_path / "rigol2.csv", "X,CH1,CH2,Start,Increment,\nSequence,VOLT,VOLT,0.0e+00,1.0e-06,\n", rows)
    code, res, chk = run_json(capsys, p, "--channel", "CH1", "--contactor-channel", "CH2")
    assert res["pilot_channel"] == "CH1" and res["contactor_channel"] == "CH2"
    assert [s["name"] for s in res["segments"]] == ["C2"] and res["summary"]["amps"] == pytest.approx(32.0, abs=0.1)
    assert [e["t_s"] for e in res["timeline"] if e["kind"] == "contactor"] == [pytest.approx(0.01, abs=1e-5)]


# ------------------------------------------------------------------------------ the waveform
def test_edge_ringing_does_not_fail_signal_range(tmp_path, capsys):
    """A 10:1 probe with its long ground lead rings 10 % on each edge for a few microseconds: the
    peak reads 14.4 V at 1 MS/s and signal_range (meant to catch a forgotten --divider) failed a
    healthy pilot. It now judges the plateaus, which skip 10 us after each edge (facts 3)."""
    t, v = pilot(pos=12.0, ring=0.10)                    # A2: the charger's PWM, nothing plugged in
    p = write(tmp_path / "ring.csv", "time,cp\n", ["%.6f,%.4f" % (a, b) for a, b in zip(t, v)])
    code, res, chk = run_json(capsys, p)
    assert code == 0 and chk["signal_range"]["ok"], chk["signal_range"]
    assert 11.4 <= chk["signal_range"]["measured"] <= 14.0
    assert res["segments"][0]["name"] == "A2"


def test_a_capture_shorter_than_one_period_reads_no_state(tmp_path, capsys):
    """A single-shot of 0.8 ms that starts mid-pulse (fewer edges than one full period): it was
    reported as B1 at +1.98 V (the mean of a high and a low half) and state_bands failed on
    that made-up level. No level is read as a state; pilot_found says the capture is too short."""
    t, v = pilot(dur=0.0008)
    v = np.roll(v, -300)                    # starts 0.3 ms into the period, inside the high half
    p = write(tmp_path / "short.csv", "time,cp\n", ["%.6f,%.4f" % (a, b) for a, b in zip(t, v)])
    code, res, chk = run_json(capsys, p)
    assert code == 1 and not chk["pilot_found"]["ok"] and "too short" in chk["pilot_found"]["detail"]
    assert [s["name"] for s in res["segments"]] == ["?"]
    assert res["segments"][0]["level_v"] is None and res["summary"]["pos_v"] is None
    assert "state_bands" not in chk


# ------------------------------------------------------------------- sigrok-cli as the reference
def sigrok(*args):
    r = subprocess.run([SIGROK] + [str(a) for a in args], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


@needs_sigrok
@pytest.mark.parametrize("duty,freq,amps", [(8.2, 1000.0, 6.0), (10.0, 1000.0, 6.0), (84.9, 1000.0, 50.9),
                                            (85.2, 1000.0, 53.0), (96.0, 1000.0, 80.0), (96.8, 1000.0, 80.0),
                                            (53.3, 997.0, 32.0), (53.3, 1003.0, 32.0)])
def test_duty_and_current_agree_with_sigroks_pwm_decoder(tmp_path, capsys, duty, freq, amps):
    """A session written by sigrok-cli itself (analog pilot, logic copy) at the encoding table's
    edges and at 997 / 1003 Hz: sigrok's `pwm` decoder and the analyzer read the same duty (to the
    decoder's 0.1 %), and the current is the facts sheet's (8-10 % reads as 6 A, 96-97 % as 80 A;
    either side of 85 % its two formulas: 84.9 % is 50.9 A, 85.2 % is 53 A)."""
    t, v = pilot(duty=duty, freq=freq, dur=0.05)
    src = tmp_path / "in.csv"
    with open(src, "w") as f:
        f.write("time,cp,cp_high\n")
        np.savetxt(f, np.column_stack((t, v, v > 1.0)), delimiter=",", fmt=["%.7f", "%.4f", "%d"])
    sr = tmp_path / "pilot.sr"
    sigrok("-I", "csv:column_formats=t,a,l:samplerate=%d" % RATE, "-i", src, "-o", sr)
    out = sigrok("-i", sr, "-P", "pwm:data=cp_high", "-A", "pwm=duty-cycle")
    theirs = float(np.median([float(x.split(":")[1].strip().rstrip("%")) for x in out.splitlines()]))
    code, res, chk = run_json(capsys, sr)
    s = res["summary"]
    assert s["duty_pct"] == pytest.approx(theirs, abs=0.1)
    assert s["frequency_hz"] == pytest.approx(freq, abs=0.5) and chk["frequency"]["ok"]
    assert s["amps"] == pytest.approx(amps, abs=0.5)
    assert chk["duty_range"]["ok"] is (10.0 <= duty <= 96.0)
