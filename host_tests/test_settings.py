"""settings.py: every kind of bad file is reported by name; a harmless key falls back to its default,
a guarded one (max_current first) never does: nothing is offered. load() never raises; the two
sealed copies survive a write torn at any byte; settings.json is imported once."""
import json
import os

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from evse.services import settings as S

D = S.defaults()


def write(tmp_path, data):
    p = tmp_path / "settings.json"
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(p)


T2 = dict(D, connector="type2-tethered")       # a cable that carries one to three phases
NOT_SET = {"max_current": "max_current: not set; the installer sets the circuit's rating (6-80 A)"}


def test_missing_file_is_the_defaults_but_no_current(tmp_path):
    """A board nobody set up: every default, except that nothing is offered."""
    assert S.load(str(tmp_path / "settings.json")) == (D, [], NOT_SET)
    assert D["max_current"] is None


def test_good_file(tmp_path):
    cfg, errs, blocked = S.load(write(tmp_path, '{"max_current": 16, "connector": "type2-tethered", "phases": 3}'))
    assert errs == [] and blocked == {}
    assert cfg["max_current"] == 16.0 and cfg["connector"] == "type2-tethered" and cfg["phases"] == 3
    assert isinstance(cfg["max_current"], float) and isinstance(cfg["phases"], int)


@pytest.mark.parametrize("data, word", [
    ("{not json", "not valid JSON"),
    ('{"max_current": 16, "phas', "not valid JSON"),          # half-written
    ('{"max_current": 16}'[:-1], "not valid JSON"),           # cut one byte short
    (b"\xef\xbb\xbf" + b'{"max_current": 16}', "not valid JSON"),   # a UTF-8 BOM in front
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
def test_unreadable_files_offer_nothing(tmp_path, data, word):
    cfg, errs, blocked = S.load(write(tmp_path, data))
    assert cfg == D and cfg["max_current"] is None
    assert len(errs) == 1 and word in errs[0], errs
    assert list(blocked) == ["max_current"] and "using" not in str(errs) + str(blocked)


@pytest.mark.parametrize("raw, key, word", [
    ({"bogus": 1}, "bogus", "unknown key"),
    ({"wakeup_after_s": "60"}, "wakeup_after_s", "must be a number"),
    ({"bc_qualify_ms": 100}, "bc_qualify_ms", "out of range"),
    ({"economiser": 1}, "economiser", "true or false"),             # number is not a bool
    ({"ventilation": "true"}, "ventilation", "true or false"),
    ({"meter_baud": 9600.5}, "meter_baud", "whole number"),
])
def test_harmless_bad_values_are_named_and_defaulted(tmp_path, raw, key, word):
    raw = dict(raw, max_current=16, connector="type2-socket", phases=3)   # good keys beside the bad one are kept
    cfg, errs, blocked = S.load(write(tmp_path, json.dumps(raw)))
    assert len(errs) == 1 and errs[0].startswith(key + ":") and word in errs[0], errs
    if key in D:
        assert cfg[key] == D[key] and "using the default %r" % (D[key],) in errs[0]
    assert blocked == {} and cfg["max_current"] == 16 and cfg["phases"] == 3
    assert set(cfg) == set(D)


@pytest.mark.parametrize("raw, key, word", [
    ({"max_current": "16"}, "max_current", "must be a number"),     # a string is not a number
    ({"max_current": None}, "max_current", "must be a number"),
    ({"max_current": [32]}, "max_current", "must be a number"),
    ({"max_current": False}, "max_current", "must be a number"),
    ({"max_current": 5.9}, "max_current", "out of range"),
    ({"max_current": 80.1}, "max_current", "out of range"),
    ({"max_current": 1e400}, "max_current", "finite"),               # JSON 1e400 reads as infinity
    ({"max_current": 10 ** 400}, "max_current", "out of range"),
    ({"phases": 2.5}, "phases", "whole number"),
    ({"phases": 0}, "phases", "out of range"),
    ({"phases": True}, "phases", "must be a number"),               # bool is not a number
    ({"require_auth": 1}, "require_auth", "true or false"),
    ({"connector": "ccs"}, "connector", "must be one of"),
    ({"connector": 1}, "connector", "must be one of"),
    ({"temp_stop_c": "71"}, "temp_stop_c", "must be a number"),
    ({"ct_cal": [1.0, "1", 1.0]}, "ct_cal", "must be a number"),
    ({"meter": "CT"}, "meter", "must be one of"),
    ({"ocpp_url": 7}, "ocpp_url", "must be text"),
])
def test_guarded_bad_values_are_never_replaced(tmp_path, raw, key, word):
    """A value that could raise a current or weaken a protection: no default stands in for it."""
    raw = dict({"max_current": 16}, **raw)
    cfg, errs, blocked = S.load(write(tmp_path, json.dumps(raw)))
    assert len(errs) == 1 and errs[0].startswith(key + ":") and word in errs[0], errs
    assert list(blocked) == [key] and "nothing is offered" in blocked[key]
    assert "using" not in errs[0]
    if key == "max_current":
        assert cfg["max_current"] is None


def test_nan_and_infinity_literals(tmp_path):
    cfg, errs, blocked = S.load(write(tmp_path, '{"max_current": NaN, "phases": Infinity}'))
    assert cfg == D and len(errs) == 2 and sorted(blocked) == ["max_current", "phases"]


def test_inconsistent_temperatures_block_together(tmp_path):
    cfg, errs, blocked = S.load(write(tmp_path, '{"max_current": 16, "temp_half_c": 80, "temp_stop_c": 70}'))
    assert any(e.startswith("temp_*") for e in errs)
    assert sorted(blocked) == ["temp_half_c", "temp_quarter_c", "temp_restore_c", "temp_stop_c"]


@pytest.mark.parametrize("raw, word", [
    ({"phases": 3}, "j1772 carries one phase of at most 250 V"),                     # the default connector
    ({"connector": "j1772", "phases": 2}, "j1772 carries one phase of at most 250 V"),
    ({"connector": "nacs", "phases": 3}, "nacs carries one phase of at most 277 V"),
    ({"connector": "j1772", "nominal_volts": 277}, "j1772 carries one phase of at most 250 V"),   # J3400's, not J1772's
    ({"connector": "j1772", "phases": 3, "nominal_volts": 260}, "j1772 carries one phase of at most 250 V"),
])
def test_a_single_phase_connector_with_three_phases_or_its_volts_exceeded_offers_nothing(tmp_path, raw, word):
    """J1772 and NACS carry one phase: phases 3 there would close the second contactor and cut every
    watt limit's amps to a third; which of the two keys is wrong nobody knows: both named, nothing
    offered."""
    cfg, errs, blocked = S.load(write(tmp_path, json.dumps(dict(raw, max_current=16))))
    named = ["connector"] + [k for k in ("phases", "nominal_volts") if k in raw]
    assert sorted(blocked) == sorted(named) and len(errs) == 1, (errs, blocked)
    assert errs[0].startswith(", ".join(named) + ": ") and word in errs[0] and S.NOT_APPLIED in errs[0]
    assert (cfg["connector"], cfg["phases"], cfg["nominal_volts"]) == ("j1772", 1, 230.0)   # a consistent pair


@pytest.mark.parametrize("raw", [
    {"connector": "nacs", "phases": 1, "nominal_volts": 277},      # SAE J3400: up to 277 V
    {"connector": "j1772", "phases": 1, "nominal_volts": 240},     # AC Level 2: 208-240 V
    {"connector": "j1772", "phases": 1, "nominal_volts": 120},     # AC Level 1
    {"connector": "type2-socket", "phases": 3, "nominal_volts": 230},
    {"connector": "type2-tethered", "phases": 2, "nominal_volts": 277},
])
def test_connectors_with_the_phases_and_volts_they_carry_are_good(tmp_path, raw):
    assert S.load(write(tmp_path, json.dumps(dict(raw, max_current=16))))[1:] == ([], {})


@pytest.mark.parametrize("connector, phases", [("type2-socket", 3), ("type2-tethered", 3), ("nacs", 1),
                                               ("type2-socket", 1)])
def test_a_three_phase_supplys_400_v_line_to_line_typed_as_the_volts_per_phase_offers_nothing(
        tmp_path, connector, phases):
    """nominal_volts is per phase, line to neutral (W = V x A x phases): 400 on a 230/400 V supply
    would make every watt limit a little over half its amps and Power.Offered 1.7 times too high.
    480 V three-phase is 277 V per phase, the most any of the three plugs carries: above, refused."""
    raw = {"max_current": 16, "connector": connector, "phases": phases, "nominal_volts": 400}
    cfg, errs, blocked = S.load(write(tmp_path, json.dumps(raw)))
    assert list(blocked) == ["nominal_volts"] and len(errs) == 1, (errs, blocked)
    assert errs[0].startswith("nominal_volts: ") and "277" in errs[0] and S.NOT_APPLIED in errs[0]
    assert cfg["nominal_volts"] == 230.0 and cfg["connector"] == connector


def test_several_errors_each_reported(tmp_path):
    cfg, errs, blocked = S.load(write(tmp_path, '{"a": 1, "phases": 9, "max_current": "x", "economiser": true}'))
    assert sorted(e.split(":")[0] for e in errs) == ["a", "max_current", "phases"]
    assert sorted(blocked) == ["max_current", "phases"]
    assert cfg["economiser"] is True


# --- the two sealed copies -------------------------------------------------------------------

def copies(tmp_path):
    return [tmp_path / n for n in ("settings.a", "settings.b")]


def test_save_seals_alternate_copies_and_round_trips(tmp_path):
    p = str(tmp_path / "settings.json")
    cfg = dict(T2, max_current=20.0)
    S.save(p, cfg)
    assert S.load(p) == (cfg, [], {})
    a, b = copies(tmp_path)
    assert a.exists() and not b.exists() and not os.path.exists(p)
    S.save(p, dict(cfg, phases=3))
    assert b.exists() and S.load(p)[0]["phases"] == 3
    S.save(p, dict(cfg, phases=2))                     # the oldest copy is the one rewritten
    assert S.load(p)[0]["phases"] == 2 and b"3" in b.read_bytes().split(b"phases")[1][:4]


def _sealed_next(tmp_path, cfg):
    """What save() would write next, and where: (path, bytes)."""
    from evse.shell import store
    c = store.Copies([str(x) for x in copies(tmp_path)])
    c.read()
    i = 0 if c.newest is None else 1 - c.newest
    return copies(tmp_path)[i], store.seal(c.seq + 1, json.dumps(cfg).encode())


def test_a_write_torn_at_any_byte_keeps_the_installers_values(tmp_path):
    """Power cut while the new copy is written: whatever prefix reached flash, the previous copy
    (16 A) is used, never a default, never the half-written one; complete, the new one (20 A)."""
    p = str(tmp_path / "settings.json")
    S.save(p, dict(T2, max_current=16.0))
    S.save(p, dict(T2, max_current=16.0, phases=3))
    target, data = _sealed_next(tmp_path, dict(D, max_current=20.0))
    for cut in range(len(data) + 1):
        target.write_bytes(data[:cut])
        cfg, errs, blocked = S.load(p)
        assert blocked == {}, (cut, blocked)
        if cut == len(data):
            assert cfg["max_current"] == 20.0 and errs == []
        else:
            assert cfg["max_current"] == 16.0 and cfg["phases"] == 3, cut
            assert cut == 0 or len(errs) == 1, (cut, errs)   # the torn copy is named


def test_a_flipped_byte_in_the_newest_copy_falls_back_to_the_previous(tmp_path):
    p = str(tmp_path / "settings.json")
    S.save(p, dict(D, max_current=16.0))
    S.save(p, dict(D, max_current=20.0))
    b = copies(tmp_path)[1]
    good = b.read_bytes()
    for i in range(len(good)):
        for bit in (0x01, 0x80):
            bad = bytearray(good)
            bad[i] ^= bit
            b.write_bytes(bytes(bad))
            cfg, errs, blocked = S.load(p)
            assert cfg["max_current"] == 16.0 and blocked == {} and len(errs) == 1, (i, errs)


def test_both_copies_damaged_offer_nothing(tmp_path):
    p = str(tmp_path / "settings.json")
    S.save(p, dict(D, max_current=16.0))
    S.save(p, dict(D, max_current=20.0))
    for c in copies(tmp_path):
        c.write_bytes(c.read_bytes()[:-1])
    cfg, errs, blocked = S.load(p)
    assert cfg["max_current"] is None and len(errs) == 2 and "no valid copy" in blocked["max_current"]


# --- settings.json: an import (older firmware, make flash SETTINGS=..., by hand) ----------------

def test_an_old_plain_file_is_imported_once(tmp_path):
    p = write(tmp_path, '{"max_current": 16, "connector": "nacs"}')
    cfg, errs, blocked = S.boot(p)
    assert cfg["max_current"] == 16.0 and errs == [] and blocked == {}
    assert not os.path.exists(p) and copies(tmp_path)[0].exists()
    assert S.load(p) == (cfg, [], {})


def test_an_upload_replaces_the_copies(tmp_path):
    p = str(tmp_path / "settings.json")
    S.save(p, dict(T2, max_current=32.0, phases=3))
    write(tmp_path, '{"max_current": 10}')
    cfg, errs, blocked = S.boot(p)
    assert cfg["max_current"] == 10.0 and cfg["phases"] == 1 and blocked == {}
    assert S.load(p)[0]["max_current"] == 10.0


def test_a_damaged_upload_is_kept_and_offers_nothing(tmp_path):
    """The installer's newest values are unknown: the older copy does not stand in for them."""
    p = str(tmp_path / "settings.json")
    S.save(p, dict(D, max_current=32.0))
    write(tmp_path, '{"max_current": 16}'[:-1])
    cfg, errs, blocked = S.boot(p)
    assert cfg["max_current"] is None and "not valid JSON" in blocked["max_current"]
    assert os.path.exists(p)                               # said again at every boot until replaced
    assert S.boot(p)[2] == blocked


def test_an_upload_with_a_bad_value_stays_until_set(tmp_path):
    p = write(tmp_path, '{"max_current": "16"}')
    cfg, errs, blocked = S.boot(p)
    assert cfg["max_current"] is None and list(blocked) == ["max_current"] and os.path.exists(p)


def test_power_cut_between_remove_and_rename_recovers_the_tmp(tmp_path):
    p = str(tmp_path / "settings.json")
    with open(p + ".tmp", "w") as f:
        f.write(json.dumps(dict(D, max_current=10)))   # an older firmware's save, cut before rename
    cfg, errs, blocked = S.boot(p)
    assert cfg["max_current"] == 10 and errs == [] and blocked == {}
    assert not os.path.exists(p + ".tmp") and S.load(p)[0]["max_current"] == 10


def test_power_cut_while_an_old_firmware_wrote_its_tmp_keeps_the_old_file(tmp_path):
    p = write(tmp_path, json.dumps({"max_current": 12}))
    with open(p + ".tmp", "w") as f:
        f.write('{"max_current": 3')
    assert S.boot(p)[0]["max_current"] == 12.0
    assert S.load(p) == (dict(D, max_current=12.0), [], {})


def test_a_directory_in_place_of_the_file(tmp_path):
    os.mkdir(str(tmp_path / "settings.json"))
    cfg, errs, blocked = S.load(str(tmp_path / "settings.json"))
    assert cfg == D and len(errs) == 1 and list(blocked) == ["max_current"]


def test_schema_is_a_plain_dict_of_tuples():
    assert type(S.SCHEMA) is dict
    for k, v in S.SCHEMA.items():
        assert isinstance(k, str) and isinstance(v, tuple) and v[0] in (int, float, str, bool, list, dict, S.TEXT)
        if v[1] is not None:
            assert S.validate({k: v[1]}) == (D, [])


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_any_bytes_never_raise(tmp_path_factory, data):
    p = write(tmp_path_factory.mktemp("s"), data)
    cfg, errs, blocked = S.load(p)
    assert set(cfg) == set(D)
    assert isinstance(errs, list) and (cfg["max_current"] is None) == ("max_current" in blocked)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(S.SCHEMA) + ["x", ""]), json_values, max_size=6))
def test_fuzz_any_object_gives_valid_settings(raw):
    cfg, errs = S.validate(raw)
    assert set(cfg) == set(D)
    again, errs2 = S.validate(dict((k, v) for k, v in cfg.items() if v is not None))
    assert errs2 == [] and again == cfg     # whatever came out is itself valid
