"""More Smart Charging cases of the OCTT list (Charge Point side), the set-up of test_octt_smart.py:
TC_072_CS (two stacked TxDefaultProfiles read back as a composite schedule) and TC_058_2_CS."""
import pytest

from evse.ocpp import connection
from octt_cs import call, charging, run_case
from test_octt_smart import composite, iso, offers, set_profile


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def absolute(b, pid, level, duration, periods, dev=0):
    return {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute", "validFrom": iso(b, -dev), "validTo": iso(b, dev + 401),
            "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": iso(b, -dev), "duration": duration + dev,
                                 "chargingSchedulePeriod": [{"startPeriod": s, "limit": l} for s, l in periods]}}


def _periods(res):
    return [(p["start_period"], p["limit"]) for p in res.charging_schedule["charging_schedule_period"]]


def test_TC_072_CS_stacking_charging_profiles(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await set_profile(cs, 1, absolute(b, 1, 0, 400, [(0, 6), (100, 8), (200, 10)])) == "Accepted"
        assert await set_profile(cs, 1, absolute(b, 2, 1, 150, [(0, 10), (100, 6)])) == "Accepted"
        res = await composite(cs, 1, 350)
        assert res.status == "Accepted" and res.charging_schedule["duration"] == 350
        got = _periods(res)
        want = [(0, 10), (100, 6), (150, 8), (200, 10)]
        assert len(got) == 4 and all(abs(g[0] - w[0]) <= 2 and g[1] == w[1] for g, w in zip(got, want)), got
        await charging(b)
        await offers(b, 10)
    run_case(tmp_path, case)


def test_TC_072_CS_stacking_with_a_time_deviation(tmp_path):
    """The OCTT places both schedules <max time deviation> (here 5 s) before now: the composite
    starts inside their periods, each period change 5 s earlier."""
    async def case(cs, power_on):
        b = await power_on()
        assert await set_profile(cs, 1, absolute(b, 1, 0, 400, [(0, 6), (100, 8), (200, 10)], 5)) == "Accepted"
        assert await set_profile(cs, 1, absolute(b, 2, 1, 150, [(0, 10), (100, 6)], 5)) == "Accepted"
        got = _periods(await composite(cs, 1, 350))
        want = [(0, 10), (95, 6), (150, 8), (195, 10)]
        assert len(got) == 4 and all(abs(g[0] - w[0]) <= 2 and g[1] == w[1] for g, w in zip(got, want)), got
    run_case(tmp_path, case)


def test_TC_058_2_CS_tx_profile_for_another_transaction_is_rejected(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        prof = {"chargingProfileId": 9, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative", "transactionId": b.svc.tx["txid"] + 7,
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}}
        res = await cs.ask("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=prof))
        assert getattr(res, "status", None) == "Rejected" or type(res).__name__ == "PropertyConstraintViolationError"
        await offers(b, 32)
    run_case(tmp_path, case)
