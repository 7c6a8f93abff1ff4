"""The third audit of OCPP 1.6J metering (edition 2, sections 3.16, 4.7, 9.1): what the MeterValues
and StopTransaction carry, one bench scenario each. The OCPP service runs under CPython against the
PyPI `ocpp` central system (host_tests/ocpp_cs.py), which validates every frame against the official
OCPP 1.6 JSON schemas."""
import asyncio

from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import booted, charge_session, run, fast_reconnect  # noqa: F401 (fixture)
from evse.core.calendar import days_from_civil


def values(payload):
    """(measurand, phase, value) of every sampledValue of a MeterValues payload."""
    return [(s.get("measurand"), s.get("phase"), s["value"])
            for mv in payload["meterValue"] for s in mv["sampledValue"]]


# -- 1. a lost meter's figures are not measurements (section 3.16; meter.py: never a silent 0.0) --

def test_a_meter_that_lost_its_reading_reports_no_made_up_current_power_or_voltage(tmp_path):
    """A session charges at 16 A; then the Modbus meter answers an implausible reading: the meter
    service says so (ok False) and publishes its sentinels, -1.0 A and -1.0 V per phase, and
    power_w 0.0 (metering/meter.py). A MeterValues sent then must not hand those to the central
    system as a current of -1.0 A, a voltage of -1.0 V and a power of 0 W at 16 A (a billing or
    load-management back end takes a sampledValue as measured): the figures the meter does not
    have are left out, and the energy register, whose count the meter service keeps, stays."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path, config={"MeterValuesSampledData":
                                                 "Energy.Active.Import.Register,Current.Import,Power.Active.Import,Voltage"})
        txid = await charge_session(cs, rig)
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))).status == "Accepted"
        good = (await cs.wait_action("MeterValues"))[-1]
        assert good["transactionId"] == txid
        assert ("Current.Import", "L1", "16.0") in values(good) and ("Power.Active.Import", None, "3680") in values(good)
        m = rig.meter                                       # the implausible reading, as published
        m.ok, m.amps, m.volts, m.power_w = False, [-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0], 0.0
        m.wh_total = 1500
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))).status == "Accepted"
        lost = (await cs.wait_action("MeterValues", 2))[-1]
        got = values(lost)
        assert [v for v in got if v[0] in ("Current.Import", "Voltage", "Power.Active.Import")] == [], got
        assert got == [("Energy.Active.Import.Register", None, "1500")], got
        await cs.stop()
    run(main())


# -- 2. clock-aligned intervals restart at midnight (section 9.1.2, ClockAlignedDataInterval) ------

def test_a_clock_aligned_interval_that_does_not_divide_the_day_starts_again_at_midnight(tmp_path):
    """ClockAlignedDataInterval is "the size of the set of evenly spaced aggregation intervals per
    day, starting at 00:00:00 (midnight)" and takes any value up to 86400 s here. At 25200 s (7 h)
    the day's boundaries are 00:00, 07:00, 14:00 and 21:00: the charger's clock passing midnight of
    2026-03-02 (a day whose midnight is no multiple of 7 h since 1970) must send a Sample.Clock
    MeterValues stamped 00:00:00."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        await cs.wait_for(lambda: cs.actions("SecurityEventNotification") and not rig.svc.immediate)
        midnight = days_from_civil(2026, 3, 2) * 86400
        assert midnight % 25200 != 0
        rig.svc.wall.set(midnight - 1.5, rig.svc.ticks())  # the charger's clock: 23:59:58.5
        res = await cs.call("cp1", call.ChangeConfiguration(key="ClockAlignedDataInterval", value="25200"))
        assert res.status == "Accepted"
        mv = await cs.wait_for(lambda: [p for p in cs.actions("MeterValues")
                                        if p["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock"], 4)
        assert mv[0]["meterValue"][0]["timestamp"] == "2026-03-02T00:00:00Z", mv
        await cs.stop()
    run(main())


# -- 3. a sample taken before the clock was known keeps its own time (section 4.10, 3.16) --------

def test_the_transaction_begin_sample_keeps_its_time_when_the_clock_comes_later(tmp_path):
    """The charger boots with its central system out of reach, so it has no wall clock; a car is
    plugged in and the free idTag starts a transaction offline, with StopTxnSampledData set. The
    link comes back (the BootNotification answer sets the clock), the car charges 2 s and is
    unplugged. StopTransaction's transactionData must stamp its Transaction.Begin sample with the
    time it was taken, the StartTransaction's own timestamp, not with the stop's time (the
    StartTransaction made in the same state gets its time back from the tick clock already)."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        await cs.stop()                                   # out of reach, its port known
        from host_tests.test_ocpp_cs import Rig
        rig = await Rig(cs, tmp_path, ocpp_free_id_tag="GOOD",
                        config={"StopTxnSampledData": "Energy.Active.Import.Register"}).start()
        rig.state("B2")
        await asyncio.sleep(0.3)
        assert rig.svc.tx and not rig.svc.wall.known()    # started offline, no clock yet
        rig.event("contactor", True)
        rig.state("C2")
        await cs.start(cs.port)
        await cs.wait_for(lambda: rig.svc.accepted)
        start = (await cs.wait_action("StartTransaction"))[-1]
        await asyncio.sleep(2.2)
        rig.meter.wh_total = 1200
        rig.event("contactor", False)
        rig.state("A1")
        stop = (await cs.wait_action("StopTransaction"))[-1]
        assert stop["reason"] == "EVDisconnected" and stop["meterStop"] == 1200
        data = stop["transactionData"]
        assert [d["sampledValue"][0]["context"] for d in data] == ["Transaction.Begin", "Transaction.End"]
        assert data[0]["timestamp"] == start["timestamp"], (data, start["timestamp"], stop["timestamp"])
        assert data[1]["timestamp"] == stop["timestamp"] != start["timestamp"]
        assert [d["sampledValue"][0]["value"] for d in data] == ["1000", "1200"]
        await rig.kill()
        await cs.stop()
    run(main())


# -- 4. TriggerMessage Accepted means the message comes (section 5.17, 6.52) -------------------

def test_a_charger_without_a_meter_does_not_accept_a_trigger_for_meter_values_it_never_sends(tmp_path):
    """A charger built without a meter (setting `meter` none: the app hands the service no meter)
    keeps the default MeterValuesSampledData (energy register, current, power): it has none of
    them. TriggerMessage(MeterValues) answered Accepted promises "the requested notification will
    be sent"; none came, so the central system waits for it in vain. With nothing to send the
    answer is Rejected; with a measurand it has (Current.Offered, the pilot's offer) the trigger is
    Accepted and the MeterValues comes."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        rig.svc.meter = None
        await cs.wait_for(lambda: cs.actions("SecurityEventNotification") and not rig.svc.immediate)
        res = await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))
        await asyncio.sleep(1.0)
        assert (res.status, cs.actions("MeterValues")) == ("Rejected", [])
        res = await cs.call("cp1", call.ChangeConfiguration(key="MeterValuesSampledData", value="Current.Offered"))
        assert res.status == "Accepted"
        res = await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))
        assert res.status == "Accepted"
        mv = (await cs.wait_action("MeterValues"))[-1]
        assert values(mv) == [("Current.Offered", None, "0.0")]
        await cs.stop()
    run(main())


# -- 5. a measurand the charger cannot measure is Rejected (section 3.16.4) ---------------------

def test_a_charger_without_a_meter_rejects_measurands_it_cannot_measure(tmp_path):
    """Section 3.16.4: a ChangeConfiguration of MeterValuesSampledData, MeterValuesAlignedData,
    StopTxnSampledData or StopTxnAlignedData naming a measurand the charge point does not support
    SHALL be Rejected, the configuration unchanged. A charger without a meter can give the pilot's
    offer (Current.Offered, Power.Offered) and nothing measured: a list with Voltage or the energy
    register is Rejected there, the offered ones and the empty list are Accepted."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        rig.svc.meter = None
        change = lambda k, v: cs.call("cp1", call.ChangeConfiguration(key=k, value=v))
        for key in ("MeterValuesSampledData", "MeterValuesAlignedData", "StopTxnSampledData", "StopTxnAlignedData"):
            before = (await cs.call("cp1", call.GetConfiguration(key=[key]))).configuration_key[0]["value"]
            assert (await change(key, "Current.Offered,Voltage")).status == "Rejected", key
            assert (await change(key, "Energy.Active.Import.Register")).status == "Rejected", key
            assert (await cs.call("cp1", call.GetConfiguration(key=[key]))).configuration_key[0]["value"] == before
            assert (await change(key, "Current.Offered,Power.Offered")).status == "Accepted", key
            assert (await change(key, "")).status == "Accepted", key
        await cs.stop()
    run(main())


# -- 6. the power-loss StopTransaction takes the energy the meter kept (section 4.10; never lose it) --

def test_a_power_cut_stop_carries_the_energy_counted_to_the_last_checkpoint(tmp_path, monkeypatch):
    """MeterValueSampleInterval 0 (no sampled values, section 9.1): the service saves no meter value
    during the transaction. The car takes 800 Wh (1000 -> 1800 Wh), then the power is cut. At the
    next boot the meter service has its lifetime count back from its sealed checkpoints on flash
    (metering/energy.py: 1800 Wh) but a Modbus meter has not answered yet (ok False, "no reading
    yet"). The StopTransaction for the cut must carry meterStop 1800, the count the meter kept,
    not the meterStart: a central system would bill that session as 0 Wh."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        txid = await charge_session(cs, rig)
        rig.meter.wh_total = 1800
        await asyncio.sleep(0.2)
        await rig.kill()                                  # power cut: no StopTransaction
        from host_tests import test_ocpp_cs

        class BootMeter(test_ocpp_cs.FakeMeter):          # as the service finds it at boot:
            def __init__(self):
                super().__init__()
                self.wh_total, self.ok = 1800, False      # restored from flash; no reading yet
        monkeypatch.setattr(test_ocpp_cs, "FakeMeter", BootMeter)
        rig2 = await test_ocpp_cs.Rig(cs, tmp_path).start()
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert (stop["transactionId"], stop["reason"]) == (txid, "PowerLoss")
        assert stop["meterStop"] == 1800, stop
        await rig2.kill()
        await cs.stop()
    run(main())
