"""The second OCPP audit's defects (availability, reservations, power limits, declared maximum
lengths, MeterValueSampleInterval), one bench scenario each: the unmodified firmware (App, real
core) on the virtual bench against the PyPI `ocpp` central system (test_ocpp_bench.Bench), which
validates every frame against the official OCPP 1.6 schemas. Section numbers: OCPP 1.6 edition 2."""
import pytest

from evse.ocpp.config import MEASURANDS
from evse.ocpp.wallclock import format_iso
from host_tests.test_ocpp_bench import Bench, statuses, run
from ocpp_cs import CentralSystem, call

QUIET = {"MeterValueSampleInterval": 0}     # no periodic values unless a test asks for them


async def _booted(cs, tmp_path, ocpp_config=QUIET, **settings):
    b = await Bench(cs, tmp_path, ocpp_config=ocpp_config, **settings).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    await b.until(lambda: statuses(cs, 0) and statuses(cs)[-1:] == ["Available"], what="Available")
    return b


async def _charging(b, cs):
    """A car plugged in, the card GOOD, the car asking: Charging in a transaction with its id."""
    b.d.plug()
    b.svc.present_id("GOOD")
    await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction id")
    b.d.ev("C")
    await b.until(lambda: statuses(cs)[-1:] == ["Charging"], 6, "Charging")


# -- 1. ChangeAvailability: the newest request wins (section 5.2) -----------------------------------

def test_operative_after_a_scheduled_inoperative_leaves_the_charger_available_after_the_transaction(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path)
        await _charging(b, cs)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))
        assert res.status == "Scheduled"                        # waits for the transaction
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))
        assert res.status == "Accepted"                         # ... and is withdrawn by this one
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=b.svc.tx["txid"]))
        assert res.status == "Accepted"
        await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction")
        b.d.ev("B")
        b.d.unplug()
        await b.until(lambda: statuses(cs)[-1:] == ["Available"], 5, "Available after the unplug")
        await b.wait(2.0)
        assert b.svc.state["operative"] and b.app.charger.state == "A1"
        assert "Unavailable" not in statuses(cs) + statuses(cs, 0)
        b.d.plug()                                              # the next driver can charge
        b.svc.present_id("GOOD")
        await b.until(lambda: len(cs.actions("StartTransaction")) == 2, what="the next transaction")
        await b.stop()
        await cs.stop()
    run(main())


# -- 2. a reservation ends when the connector goes Unavailable or Faulted (section 5.13) ------------

@pytest.mark.parametrize("how", ["inoperative_then_operative", "fault_then_cleared"])
def test_a_reservation_ends_when_the_connector_goes_unavailable_or_faulted(tmp_path, how):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path)
        exp = format_iso(b.svc.wall.now(b.svc.ticks()) + 3600)
        res = await cs.call("cp1", call.ReserveNow(connector_id=1, expiry_date=exp, id_tag="RES",
                                                   reservation_id=7))
        assert res.status == "Accepted"
        await b.until(lambda: statuses(cs)[-1:] == ["Reserved"], what="Reserved")
        if how == "inoperative_then_operative":
            await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
            await b.until(lambda: statuses(cs)[-1:] == ["Unavailable"], what="Unavailable")
            await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Operative"))
        else:
            b.d.set(cp_short=True)                              # pilot shorted to PE
            await b.until(lambda: statuses(cs)[-1:] == ["Faulted"], what="Faulted")
            b.d.set(cp_short=False)
        await b.until(lambda: statuses(cs)[-1:] == ["Available"], 10, "Available, not Reserved again")
        await b.wait(2.0)
        assert statuses(cs)[-1] == "Available" and not b.svc.state.get("resv")
        assert (await cs.call("cp1", call.CancelReservation(reservation_id=7))).status == "Rejected"
        await b.stop()
        await cs.stop()
    run(main())


# -- 3. a limit in W holds whatever numberPhases says (sections 3.13, 5.7) ---------------------------

def _offered(b):
    return b.app.charger.out.amps_x10 / 10


def _profile(pid, purpose, periods, unit="A", **extra):
    p = {"chargingProfileId": pid, "stackLevel": 0, "chargingProfilePurpose": purpose,
         "chargingProfileKind": "Relative",
         "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}}
    p.update(extra)
    return p


def test_a_power_limit_with_fewer_number_phases_than_the_site_keeps_the_power_within_it(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path, connector="type2-tethered", phases=3)
        await _charging(b, cs)
        period = {"startPeriod": 0, "limit": 4140, "numberPhases": 1}
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            1, "TxDefaultProfile", [period], unit="W")))
        assert res.status == "Accepted"
        # 4140 W over the site's three phases at 230 V: 6 A on each (not 18 A, 12.4 kW)
        await b.until(lambda: _offered(b) == 6.0, 5, "6 A offered")
        comp = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="W"))
        assert [p["limit"] for p in comp.charging_schedule["charging_schedule_period"]] == [4140]
        comp = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="A"))
        assert [p["limit"] for p in comp.charging_schedule["charging_schedule_period"]] == [6]
        await b.stop()
        await cs.stop()
    run(main())


# -- 4. declared maximum lengths are enforced (sections 3.16.1, 9.1, 9.4) ----------------------------

def test_measurand_lists_and_schedules_longer_than_their_declared_maximum_are_rejected(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path)
        change = lambda k, v: cs.call("cp1", call.ChangeConfiguration(key=k, value=v))
        six, four = ",".join(MEASURANDS), ",".join(MEASURANDS[:4])
        assert len(MEASURANDS) == 6
        for key in ("MeterValuesSampledData", "StopTxnSampledData", "MeterValuesAlignedData", "StopTxnAlignedData"):
            got = await cs.call("cp1", call.GetConfiguration(key=[key, key + "MaxLength"]))
            before = {k["key"]: k["value"] for k in got.configuration_key}
            assert before[key + "MaxLength"] == "4"
            assert (await change(key, six)).status == "Rejected", key
            got = await cs.call("cp1", call.GetConfiguration(key=[key]))
            assert got.configuration_key[0]["value"] == before[key]          # unchanged
            assert (await change(key, four)).status == "Accepted", key
        got = await cs.call("cp1", call.GetConfiguration(key=["ChargingScheduleMaxPeriods"]))
        assert got.configuration_key[0]["value"] == "24"
        periods = [{"startPeriod": i * 60, "limit": 6 + i % 3} for i in range(25)]
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            1, "TxDefaultProfile", periods)))
        assert res.status == "Rejected" and b.svc.profiles.items == []
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            1, "TxDefaultProfile", periods[:24])))
        assert res.status == "Accepted"
        await b.stop()
        await cs.stop()
    run(main())


# -- 5. MeterValueSampleInterval changed during a transaction applies from now (section 9.1) --------

def test_meter_value_sample_interval_set_during_a_transaction_applies_at_once(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path)
        await _charging(b, cs)
        await b.wait(3.0)
        assert cs.actions("MeterValues") == []                  # interval 0: none
        res = await cs.call("cp1", call.ChangeConfiguration(key="MeterValueSampleInterval", value="10"))
        assert res.status == "Accepted"
        t0 = b.svc.ticks()
        await b.until(lambda: len(cs.actions("MeterValues")) >= 2, 25, "two periodic MeterValues")
        assert b.svc.ticks_diff(b.svc.ticks(), t0) >= 19000     # at 10 s, then at 20 s (not sooner)
        mv = cs.actions("MeterValues")
        assert all(m["transactionId"] == b.svc.tx["txid"] for m in mv)
        assert mv[0]["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Periodic"
        await b.stop()
        await cs.stop()
    run(main())
