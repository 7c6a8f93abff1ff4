"""OCPP 1.6J compliance cases of the Smart Charging profile (OCTT test-case list, Charge Point side)
and evcc's setup sequence, on the virtual bench against the schema-checking central system
(octt_cs). The duty cycle on the pilot is the proof: a limit the charger accepts must reach the
car (IEC 61851-1 table A.7: duty % = A / 0.6 for 6-51 A; at most one raise per 5 s)."""
import pytest

from evse.ocpp import connection
from evse.ocpp.wallclock import format_iso
from octt_cs import call, charging, last_status, run_case, status_is

DUTY_PER_AMP = 1 / 0.6


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    """As in test_octt_core: the sender's real-time sleep slices must stay short on the bench."""
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def known(defect):
    return pytest.mark.xfail(strict=True, reason="issue 12: " + defect)


def iso(b, offset_s=0):
    """The charger's own wall clock (set from the central system, run on virtual time) + offset."""
    return format_iso(b.svc.cp_time(b.svc.ticks()) + offset_s)


def profile(pid, purpose, limit, level=0, kind="Relative", periods=None, b=None, duration=None, txid=None):
    sched = {"chargingRateUnit": "A",
             "chargingSchedulePeriod": periods or [{"startPeriod": 0, "limit": limit}]}
    if kind == "Absolute":
        sched["startSchedule"] = iso(b, -60)
    if duration is not None:
        sched["duration"] = duration
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sched}
    if txid is not None:
        p["transactionId"] = txid
    return p


async def set_profile(cs, connector, prof):
    return (await cs.call("cp1", call.SetChargingProfile(connector_id=connector, cs_charging_profiles=prof))).status


async def offers(b, amps, virtual_s=7.0):
    """The pilot offers `amps` (PWM-quantised, never more than asked) within virtual_s."""
    def ok():
        return abs(b.d.duty - amps * DUTY_PER_AMP) <= 0.1 and b.app.hw.duty_x100 <= amps * DUTY_PER_AMP * 100
    await b.until(ok, virtual_s, "pilot offering %s A" % amps)


async def composite(cs, connector=1, duration=300):
    return await cs.call("cp1", call.GetCompositeSchedule(connector_id=connector, duration=duration,
                                                          charging_rate_unit="A"))


# -- the OCTT cases -----------------------------------------------------------------------------

def test_TC_056_CS_central_smart_charging_tx_default_profile(tmp_path):
    """A default schedule for new transactions: set before the session, it limits the session."""
    async def case(cs, power_on):
        b = await power_on()
        assert await set_profile(cs, 1, profile(11, "TxDefaultProfile", 10, kind="Absolute", b=b)) == "Accepted"
        await charging(b)
        await offers(b, 10)
        assert b.d.coil
    run_case(tmp_path, case)


def test_TC_057_CS_central_smart_charging_tx_profile(tmp_path):
    """A schedule for the running transaction: the duty follows within the 5 s rule."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        await offers(b, 32)
        txid = b.svc.tx["txid"]
        assert await set_profile(cs, 1, profile(12, "TxProfile", 8, level=1, txid=txid)) == "Accepted"
        await offers(b, 8)
        assert b.d.coil and last_status(cs) == "Charging"
    run_case(tmp_path, case)


def test_TC_059_CS_remote_start_transaction_with_charging_profile(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1,
                                                               charging_profile=profile(13, "TxProfile", 12, level=1)))
        assert res.status == "Accepted"
        await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction")
        b.d.ev("C")
        await status_is(b, "Charging")
        await offers(b, 12)
    run_case(tmp_path, case)


def test_TC_060_CS_remote_start_transaction_with_charging_profile_rejected(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        res = await cs.ask("cp1", call.RemoteStartTransaction(
            id_tag="GOOD", connector_id=1, charging_profile=profile(14, "TxDefaultProfile", 12)))
        assert getattr(res, "status", None) == "Rejected" or type(res).__name__ == "PropertyConstraintViolationError"
        await b.wait(2.0)
        assert not cs.actions("StartTransaction") and b.d.duty == 100.0
    run_case(tmp_path, case)


def test_TC_066_CS_get_composite_schedule(tmp_path):
    """Three profiles (the charge point's maximum, a default, the transaction's): the composite
    schedule is their minimum, over the asked duration, in the asked unit."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        txid = b.svc.tx["txid"]
        assert await set_profile(cs, 0, profile(21, "ChargePointMaxProfile", 10, kind="Absolute", b=b,
                                                duration=86400)) == "Accepted"
        assert await set_profile(cs, 1, profile(22, "TxDefaultProfile", 6, level=0, kind="Absolute", b=b,
                                                periods=[{"startPeriod": 0, "limit": 6},
                                                         {"startPeriod": 360, "limit": 16}])) == "Accepted"
        assert await set_profile(cs, 1, profile(23, "TxProfile", 8, level=1, txid=txid)) == "Accepted"
        res = await composite(cs, 1, 400)
        assert res.status == "Accepted" and res.connector_id == 1 and res.schedule_start
        sched = res.charging_schedule
        assert sched["duration"] == 400 and sched["charging_rate_unit"] == "A"
        assert [p["limit"] for p in sched["charging_schedule_period"]] == [8]        # TxProfile under the max
        await offers(b, 8)
        whole = await composite(cs, 0, 400)     # the whole charger (section 5.7): its one connector's 8 A
        assert [p["limit"] for p in whole.charging_schedule["charging_schedule_period"]] == [8]
    run_case(tmp_path, case)


def test_TC_067_CS_clear_charging_profile(tmp_path):
    """A stepped default (6, 8, 10 A at 0, 60, 200 s) and a ChargePointMaxProfile: cleared by id,
    by purpose, then all; the composite schedule follows each step and the pilot too."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        steps = [{"startPeriod": 0, "limit": 6}, {"startPeriod": 60, "limit": 8}, {"startPeriod": 200, "limit": 10}]
        prof = profile(31, "TxDefaultProfile", 6, level=1, kind="Absolute", b=b, periods=steps, duration=460)
        prof["chargingSchedule"]["startSchedule"] = iso(b, 0)
        assert await set_profile(cs, 1, prof) == "Accepted"
        assert await set_profile(cs, 0, profile(32, "ChargePointMaxProfile", 20, kind="Absolute", b=b)) == "Accepted"
        res = await composite(cs, 1, 400)
        limits = [p["limit"] for p in res.charging_schedule["charging_schedule_period"]]
        assert limits[:3] == [6, 8, 10], res.charging_schedule
        await offers(b, 6)
        clear = await cs.call("cp1", call.ClearChargingProfile(id=31))
        assert clear.status == "Accepted"
        assert [p["limit"] for p in (await composite(cs))
                .charging_schedule["charging_schedule_period"]] == [20]
        await offers(b, 20)
        clear = await cs.call("cp1", call.ClearChargingProfile(charging_profile_purpose="ChargePointMaxProfile"))
        assert clear.status == "Accepted"
        assert (await cs.call("cp1", call.ClearChargingProfile())).status == "Unknown"   # nothing left
        await offers(b, 32)
    run_case(tmp_path, case)


# -- evcc ---------------------------------------------------------------------------------------
# evcc (the home energy manager) drives a charger through OCPP 1.6 like this (issue 12): it reads
# three keys, asks for its measurands, triggers the charger's messages, then sets the current with
# an absolute TxDefaultProfile (limit 0 = stop) and reads it back with GetCompositeSchedule.

EVCC_MEASURANDS = ("Power.Active.Import,Energy.Active.Import.Register,Current.Import,Voltage,"
                   "Current.Offered,Power.Offered,SoC")


def evcc_profile(b, amps):
    return {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": iso(b, -1),
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}


async def evcc_set_current(cs, b, amps):
    assert await set_profile(cs, 1, evcc_profile(b, amps)) == "Accepted"
    res = await composite(cs, 1, 60)
    assert res.status == "Accepted"
    return res.charging_schedule["charging_schedule_period"][0]["limit"]


def test_evcc_setup_sequence_and_the_duty_follows_an_absolute_tx_default_profile(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        keys = {}
        for key in ("SupportedFeatureProfiles", "ChargingScheduleAllowedChargingRateUnit",
                    "ConnectorSwitch3to1PhaseSupported"):
            res = await cs.call("cp1", call.GetConfiguration(key=[key]))
            keys[key] = res.configuration_key[0]["value"] if res.configuration_key else None
            assert res.configuration_key or res.unknown_key == [key]
        assert "SmartCharging" in keys["SupportedFeatureProfiles"].split(",")
        assert "Current" in keys["ChargingScheduleAllowedChargingRateUnit"].split(",")
        await cs.call("cp1", call.ChangeConfiguration(key="MeterValuesSampledData", value=EVCC_MEASURANDS))
        for what in ("BootNotification", "MeterValues", "StatusNotification"):
            n = len(cs.actions(what))
            res = await cs.call("cp1", call.TriggerMessage(requested_message=what, connector_id=1
                                                           if what != "BootNotification" else None))
            assert res.status == "Accepted"
            await b.until(lambda: len(cs.actions(what)) > n, 3, "triggered " + what)
        await b.wait(2.0)
        assert len(cs.actions("BootNotification")) == 2          # the triggered one, once
        # a session at the settings' 32 A, then evcc sets the current
        await charging(b)
        await offers(b, 32)
        assert await evcc_set_current(cs, b, 16) == 16
        await offers(b, 16)
        assert await evcc_set_current(cs, b, 0) == 0             # limit 0: stop
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        b.d.ev("B")                                              # the car stops drawing
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        await status_is(b, "SuspendedEVSE")
        assert not cs.actions("StopTransaction")                 # paused, not ended
        assert await evcc_set_current(cs, b, 10) == 10
        await offers(b, 10)                                      # the 5 s rule for raising
        b.d.ev("C")
        await b.until(lambda: b.d.coil, 6, "contactor closed again")
        await status_is(b, "Charging")
    run_case(tmp_path, case)


def test_evcc_measurands_current_offered_and_power_offered_are_accepted(tmp_path):
    async def case(cs, power_on):
        await power_on()
        # four measurands at most (MeterValuesSampledDataMaxLength): six were Accepted before the
        # maximum was enforced (OCPP 1.6 section 9.1)
        res = await cs.call("cp1", call.ChangeConfiguration(
            key="MeterValuesSampledData", value="Power.Active.Import,Energy.Active.Import.Register,"
                                                "Current.Offered,Power.Offered"))
        assert res.status == "Accepted"
    run_case(tmp_path, case)
