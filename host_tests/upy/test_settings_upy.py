# settings.load on both interpreters: bad files reported, defaults used, never an exception.
import json
import os

from tools.rig import _tempdir
from evse import settings as S

D = S.defaults()


def _file(data):
    p = _tempdir() + "/settings.json"
    with open(p, "wb") as f:
        f.write(data)
    return p


def _bad(data, word):
    cfg, errs = S.load(_file(data))
    assert cfg == D, cfg
    assert len(errs) == 1 and word in errs[0], errs


def test_missing():
    assert S.load(_tempdir() + "/settings.json") == (D, [])


def test_not_json():
    _bad(b"{not json", "not valid JSON")


def test_half_written():
    _bad(b'{"max_current": 16, "pha', "not valid JSON")


def test_empty():
    _bad(b"", "empty file")


def test_binary_junk():
    _bad(b"\x00\xff\xfe\x80junk", "not")


def test_not_an_object():
    _bad(b"[1, 2]", "not a JSON object")


def test_huge():
    _bad(b" " * (S.MAX_FILE_BYTES + 10), "too large")


def test_values_named():
    cfg, errs = S.load(_file(json.dumps({"bogus": 1, "phases": True, "ventilation": 1,
                                         "max_current": 99, "connector": "nacs"}).encode()))
    names = sorted(e.split(":")[0] for e in errs)
    assert names == ["bogus", "max_current", "phases", "ventilation"], errs
    assert cfg["connector"] == "nacs" and cfg["phases"] == 1 and cfg["max_current"] == 32.0


def test_temperatures_inconsistent():
    cfg, errs = S.load(_file(b'{"temp_half_c": 80, "temp_stop_c": 70}'))
    assert cfg["temp_half_c"] == 65 and any(e.startswith("temp_*") for e in errs)


def test_save_and_recover_tmp():
    d = _tempdir()
    p = d + "/settings.json"
    S.save(p, dict(D, max_current=20.0))
    assert S.load(p) == (dict(D, max_current=20.0), [])
    os.rename(p, p + ".tmp")          # power cut between remove and rename
    cfg, errs = S.load(p)
    assert cfg["max_current"] == 20.0 and "recovered" in errs[0]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
