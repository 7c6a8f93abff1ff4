"""Pilot-signal analyzer: what its speed rests on gives the same readings as the plain way, and
its start stays lean (issue 13: analyzer against sigrok-cli -P pwm, end to end)."""

import json
import os
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

from tools.analyzer import readers, synth
from tools.analyzer.__main__ import main
from tools.analyzer.core import percentile
from tools.analyzer.parallel import thread_map

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SESSION = [{"dur": 0.05, "state": "A"}, {"dur": 0.1, "state": "B", "duty": 53.3},
           {"dur": 0.15, "state": "C", "duty": 26.7, "contactor": True},
           {"dur": 0.05, "state": "B", "duty": 26.7}]
RATE = 200000.0


def run_json(capsys, *args):
    code = main([str(a) for a in args] + ["--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else None), err


def _scope_csv(path, extra=True):
    """time, cp, cp_high and a column nobody reads, in numbers the fast parser could not read."""
    v, k = synth.sampled(SESSION, rate=RATE, noise=0.05)
    t = np.arange(len(v)) / RATE
    with open(path, "w") as f:
        f.write("time,cp,cp_high%s\n" % (",note" if extra else ""))
        cols = [t, v, v > 1.0] + ([np.full(len(v), 1.5e-3)] if extra else [])
        np.savetxt(f, np.column_stack(cols), delimiter=",",
                   fmt=["%.7f", "%.4f", "%d"] + (["%.3e"] if extra else []))


def test_the_analyzer_starts_without_what_it_does_not_use(tmp_path):
    """A CSV or VCD run imports neither the zip/config readers (.sr only), nor concurrent.futures
    (logging and all, 10 ms), nor numpy.ma (pulled in by np.unique / np.percentile / np.isin, 20 ms),
    nor json (--json only)."""
    csv = tmp_path / "s.csv"
    _scope_csv(csv)
    vcd = tmp_path / "s.vcd"
    synth.write_vcd(str(vcd), SESSION, waveform=True)
    code = ("import sys; from tools.analyzer.__main__ import main; rc = main([sys.argv[1]]); "
            "bad = [m for m in ('zipfile', 'configparser', 'concurrent.futures', 'numpy.ma', 'json') "
            "if m in sys.modules]; print('LOADED', bad); sys.exit(rc)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    for f in (csv, vcd):
        r = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "LOADED []" in r.stdout, (f.name, r.stdout[-200:])


def test_csv_columns_left_unread_change_nothing(tmp_path, capsys, monkeypatch):
    """The fast parser converts only time, pilot and contactor: the reading is the same as with
    every column converted, and neither takes the general (line by line) path, exponents and all."""
    p = tmp_path / "s.csv"
    _scope_csv(p)
    slow = []
    real = readers.csv_table_general
    monkeypatch.setattr(readers, "csv_table_general", lambda *a: slow.append(1) or real(*a))
    code, res, _ = run_json(capsys, p)
    monkeypatch.setattr(readers, "csv_wanted", lambda *a: (lambda names: None))
    code_all, res_all, _ = run_json(capsys, p)
    assert not slow
    assert code == code_all == 0
    res["file"] = res_all["file"]
    assert res == res_all
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]


def test_csv_pilot_found_by_its_values_reads_every_column(tmp_path, capsys):
    """No column named like a pilot: the first analog one is the pilot, so every column is read."""
    v, _ = synth.sampled(SESSION, rate=RATE, noise=0.05)
    p = tmp_path / "s.csv"
    with open(p, "w") as f:
        f.write("time,flag,probe\n")
        np.savetxt(f, np.column_stack((np.arange(len(v)) / RATE, v > 1.0, v)), delimiter=",",
                   fmt=["%.7f", "%d", "%.4f"])
    code, res, _ = run_json(capsys, p)
    assert code == 0 and res["pilot_channel"] == "probe"
    assert [s["name"] for s in res["segments"]] == ["A1", "B2", "C2", "B2"]


def _rezip(src, dst, compression, corrupt=None):
    """The session src written again with `compression`; corrupt: member whose stored data gets
    one byte changed (the CRC in the zip directory stays the old one)."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", compression) as zo:
        for info in zi.infolist():
            zo.writestr(info.filename, zi.read(info.filename))
    if corrupt:
        with zipfile.ZipFile(dst) as z:
            info = z.getinfo(corrupt)
        data = bytearray(open(dst, "rb").read())
        off = info.header_offset + 30 + len(info.filename.encode()) + 100
        data[off] ^= 0x01
        open(dst, "wb").write(bytes(data))


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("inflater", ["isal", "zlib"])
def test_sr_stored_or_deflated_same_reading_and_a_bad_byte_is_refused(tmp_path, capsys, monkeypatch,
                                                                       compression, inflater):
    """sigrok-cli deflates its members, the benchmark stores them: both read the same, with ISA-L
    (the `isal` package) or without it (zlib), and a changed byte in the pilot's data fails its CRC
    (checked slice by slice as it is read)."""
    if inflater == "zlib":
        monkeypatch.setattr(readers, "zlib_module", lambda: zlib)
    else:
        pytest.importorskip("isal")
    v, k = synth.sampled(SESSION, rate=RATE, noise=0.05)
    src = tmp_path / "src.sr"
    synth.write_sr(str(src), RATE, analog={"cp": v}, logic={"cp_high": v > 1.0, "contactor": k}, chunk=1 << 14)
    p = tmp_path / "s.sr"
    _rezip(src, p, compression)
    code, res, _ = run_json(capsys, p)
    code0, res0, _ = run_json(capsys, src)
    assert code == code0 == 0
    res["file"] = res0["file"]
    assert res == res0
    bad = tmp_path / "bad.sr"
    _rezip(src, bad, zipfile.ZIP_STORED if compression == zipfile.ZIP_STORED else compression,
           corrupt="analog-1-3-2")
    code, res, err = run_json(capsys, bad)
    assert code == 2 and res is None
    assert "CRC" in err or "corrupt" in err


def test_vcd_long_identifiers_and_timestamps_read_as_before(tmp_path):
    """Timestamps past 8 digits and identifiers longer than the one-word key take the byte-by-byte
    path; both give the same changes as short ones."""
    def vcd(ident, t0):
        lines = ["$timescale 1 ns $end", "$scope module bench $end",
                 "$var real 64 %s cp $end" % ident, "$var wire 1 %s1 ac_out $end" % ident,
                 "$upscope $end", "$enddefinitions $end"]
        t = t0
        for i in range(200):
            lines += ["#%d" % t, "r%s %s" % ("9.0" if i % 2 == 0 else "-12.0", ident),
                      "%d%s1" % (i // 100, ident)]
            t += 500000
        lines.append("#%d" % t)
        return "\n".join(lines) + "\n"
    caps = []
    for ident, t0 in (("!", 1000), ("abcdefghij", 1000), ("!", 123456789012), ("abcdefghij", 123456789012)):
        p = tmp_path / ("%s_%d.vcd" % (ident, t0))
        p.write_text(vcd(ident, t0))
        caps.append(readers.load(str(p)))
    for a, b in ((caps[0], caps[1]), (caps[2], caps[3])):
        assert np.array_equal(a.pilot.times, b.pilot.times) and np.array_equal(a.pilot.values, b.pilot.values)
        assert np.array_equal(a.contactor.times, b.contactor.times)
    assert np.allclose(caps[2].pilot.times - caps[0].pilot.times, (123456789012 - 1000) * 1e-9)
    assert len(caps[0].pilot.times) == 200 and caps[0].contactor.values[[0, -1]].tolist() == [0.0, 1.0]


def test_percentile_is_numpys():
    rng = np.random.default_rng(7)
    for n in (1, 2, 7, 1000, 200001):
        for dt in (np.float32, np.float64):
            x = np.abs(rng.normal(0, 5, n)).astype(dt)
            assert percentile(x, 99.9) == float(np.percentile(x, 99.9))


def test_thread_map_keeps_order_and_raises_the_workers_error():
    assert thread_map(lambda x: x * x, range(50), 2) == [x * x for x in range(50)]

    def f(x):
        if x == 17:
            raise ValueError("bad item")
        return x
    with pytest.raises(ValueError, match="bad item"):
        thread_map(f, range(50), 2)
