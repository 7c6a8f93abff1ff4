# settings on both interpreters: bad files reported, a harmless key defaulted, a guarded one never
# (nothing offered); the two sealed copies survive a torn write; the core's one check of a limit.
import json
import os

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import new_flash_dir
from evse.services import settings as S
from evse.shell import store
from evse.core import limits as L
from evse.core.charger import Charger

D = S.defaults()
GOOD = b'{"max_current": 16}'


def _file(data):
    p = new_flash_dir() + "/settings.json"
    with open(p, "wb") as f:
        f.write(data)
    return p


def _offers_nothing(data, word):
    cfg, errs, blocked = S.load(_file(data))
    assert cfg == D and cfg["max_current"] is None, cfg
    assert len(errs) == 1 and word in errs[0], errs
    assert list(blocked) == ["max_current"] and "using" not in errs[0], blocked


def test_missing():
    cfg, errs, blocked = S.load(new_flash_dir() + "/settings.json")
    assert cfg == D and errs == [] and list(blocked) == ["max_current"] and "not set" in blocked["max_current"]


def test_not_json():
    _offers_nothing(b"{not json", "not valid JSON")


def test_cut_one_byte_short():
    _offers_nothing(GOOD[:-1], "not valid JSON")


def test_bom_in_front():
    _offers_nothing(b"\xef\xbb\xbf" + GOOD, "not valid JSON")


def test_16_as_a_string():
    cfg, errs, blocked = S.load(_file(b'{"max_current": "16"}'))
    assert cfg["max_current"] is None and "must be a number" in blocked["max_current"], blocked


def test_empty():
    _offers_nothing(b"", "empty file")


def test_binary_junk():
    _offers_nothing(b"\x00\xff\xfe\x80junk", "not")


def test_not_an_object():
    _offers_nothing(b"[1, 2]", "not a JSON object")


def test_huge():
    _offers_nothing(b" " * (S.MAX_FILE_BYTES + 10), "too large")


def test_values_named():
    cfg, errs, blocked = S.load(_file(json.dumps({"bogus": 1, "phases": True, "ventilation": 1,
                                                  "max_current": 99, "connector": "nacs"}).encode()))
    names = sorted(e.split(":")[0] for e in errs)
    assert names == ["bogus", "max_current", "phases", "ventilation"], errs
    assert sorted(blocked) == ["max_current", "phases"], blocked            # guarded: never defaulted
    assert cfg["connector"] == "nacs" and cfg["ventilation"] is False and cfg["max_current"] is None


def test_three_phases_on_a_one_phase_plug_offer_nothing():
    """NACS carries one phase of up to 277 V: phases 3 names both keys and nothing is offered."""
    cfg, errs, blocked = S.load(_file(b'{"max_current": 16, "connector": "nacs", "phases": 3}'))
    assert sorted(blocked) == ["connector", "phases"] and len(errs) == 1, errs
    assert errs[0].startswith("connector, phases: nacs carries one phase of at most 277 V"), errs
    cfg, errs, blocked = S.load(_file(b'{"max_current": 16, "connector": "nacs", "nominal_volts": 277}'))
    assert errs == [] and blocked == {} and cfg["nominal_volts"] == 277


def test_temperatures_inconsistent():
    cfg, errs, blocked = S.load(_file(b'{"max_current": 16, "temp_half_c": 80, "temp_stop_c": 70}'))
    assert any(e.startswith("temp_*") for e in errs) and "temp_stop_c" in blocked


def test_check_number():
    for bad in ("16", True, None, [16], float("nan"), float("inf"), -float("inf"), 10 ** 40, -1, 81):
        try:
            L.check_number(bad, 0, 80)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))
    assert L.check_number(16, 0, 80) == 16.0


def test_seal_round_trip_and_damage():
    data = store.seal(7, GOOD)
    assert store.unseal(data) == (7, GOOD)
    for i in range(len(data)):
        for cut in (data[:i], data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]):
            try:
                store.unseal(cut)
            except ValueError:
                continue
            raise AssertionError("damage at %d not seen" % i)


def test_import_then_torn_write_keeps_the_previous_copy():
    p = _file(GOOD)
    cfg, errs, blocked = S.boot(p)
    assert cfg["max_current"] == 16.0 and errs == [] and blocked == {}
    try:
        os.stat(p)
        raise AssertionError("the import file is removed once sealed")
    except OSError:
        pass
    d = p[:-len("settings.json")]
    new = store.seal(1, json.dumps({"max_current": 32}).encode())
    for cut in range(0, len(new), 7):               # a power cut while the next copy is written
        with open(d + "settings.b", "wb") as f:
            f.write(new[:cut])
        cfg, errs, blocked = S.load(p)
        assert cfg["max_current"] == 16.0 and blocked == {}, (cut, cfg["max_current"])
    S.save(p, dict(cfg, max_current=20.0))
    assert S.load(p)[0]["max_current"] == 20.0


def test_the_core_offers_nothing_without_a_valid_value():
    ch = Charger(D)                                  # max_current None: no valid value
    assert ch.limit_x10() == 0 and ch.settings_error == "max_current: not set"
    ch = Charger(dict(D, max_current=32), max_amps=20)
    assert ch.limit_x10() == 200                     # the board's rating caps the setting
    ch.set_limit("console", 40)
    assert ch.limit_x10() == 200
    for bad in (float("nan"), float("inf"), "16", True):
        try:
            ch.set_limit("ocpp", bad)
            raise AssertionError("accepted %r" % (bad,))
        except ValueError:
            pass
    assert ch.limit_x10() == 200 and "ocpp" not in ch.limits
    assert Charger(dict(D, max_current=16), max_amps=None).settings_error.startswith("board:")


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
