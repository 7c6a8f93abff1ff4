"""settings.py: every kind of bad file is reported by name, the safe default is used, and load()
never raises; the write is atomic and a power cut between remove and rename is recovered."""
import json
import os

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from evse import settings as S

D = S.defaults()


def write(tmp_path, data):
    p = tmp_path / "settings.json"
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(p)


def test_missing_file_is_the_defaults(tmp_path):
    assert S.load(str(tmp_path / "settings.json")) == (D, [])


def test_good_file(tmp_path):
    cfg, errs = S.load(write(tmp_path, '{"max_current": 16, "connector": "nacs", "phases": 3}'))
    assert errs == [] and cfg["max_current"] == 16.0 and cfg["connector"] == "nacs" and cfg["phases"] == 3
    assert isinstance(cfg["max_current"], float) and isinstance(cfg["phases"], int)


@pytest.mark.parametrize("data, word", [
    ("{not json", "not valid JSON"),
    ('{"max_current": 16, "phas', "not valid JSON"),          # half-written
    ("", "empty file"),
    (b"\x00\xff\xfe\x80junk\x01", "not text"),                 # binary junk
    (b"\xff" * 10, "not text"),
    ("[1, 2, 3]", "not a JSON object"),
    ('"max_current"', "not a JSON object"),
    ("null", "not a JSON object"),
    ("12", "not a JSON object"),
    ("x" * (S.MAX_FILE_BYTES + 1), "too large"),
    (" " * 100000, "too large"),
])
def test_unreadable_files_give_defaults(tmp_path, data, word):
    cfg, errs = S.load(write(tmp_path, data))
    assert cfg == D
    assert len(errs) == 1 and word in errs[0], errs


@pytest.mark.parametrize("raw, key, word", [
    ({"bogus": 1}, "bogus", "unknown key"),
    ({"max_current": "32"}, "max_current", "must be a number"),
    ({"max_current": None}, "max_current", "must be a number"),
    ({"max_current": [32]}, "max_current", "must be a number"),
    ({"max_current": 5.9}, "max_current", "out of range"),
    ({"max_current": 80.1}, "max_current", "out of range"),
    ({"max_current": 1e400}, "max_current", "out of range"),        # JSON Infinity
    ({"phases": 2.5}, "phases", "whole number"),
    ({"phases": 0}, "phases", "out of range"),
    ({"phases": True}, "phases", "must be a number"),               # bool is not a number
    ({"max_current": False}, "max_current", "must be a number"),
    ({"ventilation": 1}, "ventilation", "true or false"),            # number is not a bool
    ({"ventilation": "true"}, "ventilation", "true or false"),
    ({"connector": "ccs"}, "connector", "must be one of"),
    ({"connector": 1}, "connector", "must be one of"),
    ({"bc_qualify_ms": 100}, "bc_qualify_ms", "out of range"),
])
def test_bad_values_are_named_and_defaulted(tmp_path, raw, key, word):
    raw = dict(raw, wakeup_after_s=60)      # a good key beside the bad one is kept
    cfg, errs = S.load(write(tmp_path, json.dumps(raw)))
    assert len(errs) == 1 and errs[0].startswith(key + ":") and word in errs[0], errs
    if key in D:
        assert cfg[key] == D[key]
    assert cfg["wakeup_after_s"] == 60
    assert set(cfg) == set(D)


def test_nan_is_out_of_range(tmp_path):
    cfg, errs = S.load(write(tmp_path, '{"max_current": NaN, "phases": Infinity}'))
    assert cfg == D and len(errs) == 2


def test_inconsistent_temperatures_fall_back_together(tmp_path):
    cfg, errs = S.load(write(tmp_path, '{"temp_half_c": 80, "temp_stop_c": 70}'))
    assert any(e.startswith("temp_*") for e in errs)
    for k in ("temp_half_c", "temp_quarter_c", "temp_stop_c", "temp_restore_c"):
        assert cfg[k] == D[k]


def test_several_errors_each_reported(tmp_path):
    cfg, errs = S.load(write(tmp_path, '{"a": 1, "phases": 9, "max_current": "x", "economiser": true}'))
    assert sorted(e.split(":")[0] for e in errs) == ["a", "max_current", "phases"]
    assert cfg["economiser"] is True


def test_save_is_atomic_and_round_trips(tmp_path):
    p = str(tmp_path / "settings.json")
    cfg = dict(D, max_current=20.0)
    S.save(p, cfg)
    assert S.load(p) == (cfg, [])
    assert not os.path.exists(p + ".tmp")
    S.save(p, dict(cfg, phases=3))
    assert S.load(p)[0]["phases"] == 3


def test_power_cut_between_remove_and_rename_recovers_the_tmp(tmp_path):
    p = str(tmp_path / "settings.json")
    with open(p + ".tmp", "w") as f:
        f.write(json.dumps(dict(D, max_current=10)))   # new file complete, old one removed
    cfg, errs = S.load(p)
    assert cfg["max_current"] == 10 and len(errs) == 1 and "recovered" in errs[0]


def test_power_cut_while_writing_tmp_keeps_the_old_file(tmp_path):
    p = str(tmp_path / "settings.json")
    S.save(p, dict(D, max_current=12))
    with open(p + ".tmp", "w") as f:
        f.write('{"max_current": 3')                    # cut while writing the new file
    assert S.load(p) == (dict(D, max_current=12.0), [])


def test_damaged_file_and_damaged_tmp(tmp_path):
    p = write(tmp_path, "garbage")
    with open(p + ".tmp", "w") as f:
        f.write("{")
    cfg, errs = S.load(p)
    assert cfg == D and len(errs) == 2


def test_a_directory_in_place_of_the_file(tmp_path):
    os.mkdir(str(tmp_path / "settings.json"))
    cfg, errs = S.load(str(tmp_path / "settings.json"))
    assert cfg == D and len(errs) == 1


def test_schema_is_a_plain_dict_of_tuples():
    assert type(S.SCHEMA) is dict
    for k, v in S.SCHEMA.items():
        assert isinstance(k, str) and isinstance(v, tuple) and v[0] in (int, float, str, bool, list, dict, S.TEXT)
        assert S.validate({k: v[1]}) == (D, [])


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_any_bytes_never_raise(tmp_path_factory, data):
    p = write(tmp_path_factory.mktemp("s"), data)
    cfg, errs = S.load(p)
    assert set(cfg) == set(D)
    assert isinstance(errs, list)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(S.SCHEMA) + ["x", ""]), json_values, max_size=6))
def test_fuzz_any_object_gives_valid_settings(raw):
    cfg, errs = S.validate(raw)
    assert set(cfg) == set(D)
    again, errs2 = S.validate(cfg)          # whatever came out is itself valid
    assert errs2 == [] and again == cfg
