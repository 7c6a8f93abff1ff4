"""The fourth smart charging audit's board-side fixes under the MicroPython unix port (and
CPython): a profiles file with an entry of another shape, and GetCompositeSchedule's answer (the
charger's other limits cap it; past its cap of periods it is shorter, never wrong). The scenarios
against a central system are host_tests/test_smart_audit4.py."""
import json

from ocpp_fakes import tmpdir
from evse.ocpp.schedule import Profiles
from evse.ocpp.wallclock import parse_iso


def _p(pid, purpose, periods, **kw):
    s = {"chargingRateUnit": "A", "startSchedule": "2024-01-01T00:00:00Z",
         "chargingSchedulePeriod": [{"startPeriod": a, "limit": b} for a, b in periods]}
    p = {"chargingProfileId": pid, "stackLevel": 0, "chargingProfilePurpose": purpose,
         "chargingProfileKind": "Absolute", "chargingSchedule": s}
    p.update(kw)
    return p


def test_a_profiles_file_entry_of_another_shape_is_dropped_and_the_rest_kept():
    d = tmpdir("smart_a4_upy")
    good = _p(1, "ChargePointMaxProfile", [(0, 10)])
    odd = _p(2, "TxDefaultProfile", [(0, 32)])
    odd["chargingSchedulf"] = odd.pop("chargingSchedule")
    typed = _p(3, "TxDefaultProfile", [(0, 32)], stackLevel="1")     # a number that is text
    for text in ('[[0, %s], [1, %s], [1], 7, "x", [1, %s]]' % (json.dumps(good), json.dumps(odd), json.dumps(typed)),
                 "null", "{}", "[[0]]"):
        with open(d + "/p.json", "w") as f:
            f.write(text)
        pr = Profiles(d + "/p.json")
        assert [i[1]["id"] for i in pr.items] == ([1] if "Schedulf" in text else []), text
    assert Profiles(d + "/p.json").limit_at(parse_iso("2024-05-01T00:00:00Z"), 1) is None


def test_the_composite_is_capped_by_the_other_limits_and_never_stretched_past_its_periods():
    t0 = parse_iso("2024-05-01T00:00:00Z")
    pr = Profiles(None)
    prof = _p(1, "TxDefaultProfile", [(0, 32), (600, 6)])
    prof["chargingSchedule"]["startSchedule"] = "2024-05-01T00:00:00Z"
    assert pr.add(1, prof, None) == "Accepted"
    c = pr.composite(t0 - 300, 1200, default_amps=16.0)      # the profile 5 min in: 32 A, then 6 A
    assert c["duration"] == 1200 and c["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0, "numberPhases": 1}, {"startPeriod": 900, "limit": 6.0, "numberPhases": 1}], c
    pr = Profiles(None)
    hourly = [(h * 3600, 32 if h % 2 == 0 else 6) for h in range(24)]
    assert pr.add(1, _p(2, "TxDefaultProfile", hourly, chargingProfileKind="Recurring",
                        recurrencyKind="Daily"), None) == "Accepted"
    c = pr.composite(t0, 7 * 86400, default_amps=32.0)
    periods = c["chargingSchedulePeriod"]
    assert 86400 <= c["duration"] < 7 * 86400 and len(periods) == 96, c["duration"]
    for q in periods:
        assert q["limit"] == (32.0 if q["startPeriod"] // 3600 % 2 == 0 else 6.0)
    assert periods[-1]["startPeriod"] < c["duration"] <= periods[-1]["startPeriod"] + 3600


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
