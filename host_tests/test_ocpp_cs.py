"""The OCPP service against a real central system (PyPI `ocpp` v16 on `websockets`, 127.0.0.1).

The firmware side runs under CPython asyncio in the same event loop, driven by a fake charger
and meter; each test scripts the central system and checks what reached it."""
import asyncio
import os
import shutil
import ssl
import subprocess

import pytest

from live_bench import cancel
from ocpp_cs import CentralSystem, HostClock, call
from evse.ocpp import connection
from evse.ocpp.chargepoint import OcppService


class FakeCharger:
    def __init__(self):
        self.calls = []
        self.state = "A1"
        self.fault = None
        self.session_active = False
        self.authorized = False
        self.limit = None

    def set_limit(self, source, amps):
        self.calls.append(("set_limit", source, amps))
        self.limit = amps

    def limit_without(self, source):
        return 32.0

    def enable(self, flag):
        self.calls.append(("enable", flag))

    def authorize(self, flag, id_tag=None):
        self.calls.append(("authorize", flag))
        self.authorized = flag
        self.id_tag = id_tag

    def stop(self, reason):
        self.calls.append(("stop", reason))

    def clear_fault(self):
        self.calls.append(("clear_fault",))

    def clock_from_ntp(self):
        return False                 # no NTP client: the central system's time sets the clock


class FakeMeter:
    def __init__(self):
        self.wh_total = 1000
        self.wh_session = 0
        self.amps = [0.0, 0.0, 0.0]
        self.power_w = 0
        self.volts = 230.0
        self.ok = True


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch):
    monkeypatch.setattr(connection, "RECONNECT_MIN_MS", 100)
    monkeypatch.setattr(connection, "RECONNECT_MAX_MS", 400)
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 50)


class Rig:
    """One charge point: service + fake core + poll loop."""

    def __init__(self, cs, flash, cp_id="cp1", config=None, **settings):
        self.charger = FakeCharger()
        self.meter = FakeMeter()
        self.resets = []
        s = {"ocpp_url": cs.url(), "ocpp_id": cp_id, "nominal_volts": 230, "phases": 1, "max_current": 32,
             "ocpp_config": dict({"MeterValueSampleInterval": 0}, **(config or {}))}
        s.update(settings)
        self.svc = OcppService(self.charger, self.meter, s, str(flash), HostClock(), on_reset=self.resets.append)
        self.tasks = []

    async def start(self):
        self.tasks = [asyncio.create_task(self.svc.run()), asyncio.create_task(self._poll())]
        return self

    async def _poll(self):
        while True:
            self.svc.poll(self.svc.ticks())
            await asyncio.sleep(0.02)

    def event(self, *ev):
        self.svc.on_event(ev)

    def state(self, name):
        self.charger.state = name
        self.event("state", name)

    async def kill(self):
        """Power cut: tasks vanish, nothing more is sent."""
        self.svc.running = False
        await cancel(self.tasks)
        if self.svc.ws:
            self.svc.ws.writer.close()


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 60))


async def booted(cs, tmp_path, **kw):
    rig = await Rig(cs, tmp_path, **kw).start()
    await cs.wait_for(lambda: rig.svc.accepted)
    return rig


def statuses(cs, connector=1):
    return [p["status"] for p in cs.actions("StatusNotification") if p["connectorId"] == connector]


async def charge_session(cs, rig, tag="GOOD"):
    """Authorize, plug in, charge: returns the transaction id."""
    assert rig.svc.present_id(tag) == "pending"
    await cs.wait_for(lambda: rig.charger.authorized)
    rig.state("B2")
    start = (await cs.wait_action("StartTransaction"))[-1]
    assert start["idTag"] == tag and start["meterStart"] == rig.meter.wh_total
    await cs.wait_for(lambda: rig.svc.tx and rig.svc.tx.get("txid") is not None)
    rig.state("C2")
    rig.event("contactor", True)
    rig.meter.amps = [16.0, 0.0, 0.0]
    rig.meter.power_w = 3680
    await cs.wait_for(lambda: statuses(cs)[-1:] == ["Charging"])
    return rig.svc.tx["txid"]


# -- boot ---------------------------------------------------------------------------------------

def test_boot_accepted_sends_status_of_both_connectors(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        await cs.wait_for(lambda: len(cs.actions("StatusNotification")) >= 2)
        assert cs.actions()[0] == "BootNotification"
        boot = cs.actions("BootNotification")[0]
        assert boot["chargePointVendor"] and boot["chargePointModel"]
        assert statuses(cs, 0) == ["Available"] and statuses(cs, 1) == ["Available"]
        assert rig.svc.wall.known()
        await rig.kill()
        await cs.stop()
    run(main())


def test_boot_pending_then_accepted_retries_at_interval(tmp_path):
    async def main():
        cs = CentralSystem(boot_status=("Pending", "Rejected", "Accepted"), boot_interval=1)
        await cs.start()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_action("BootNotification", 1)
        assert rig.svc.present_id("GOOD") != "pending"  # not accepted yet: no Authorize sent
        await cs.wait_for(lambda: rig.svc.accepted, timeout=10)
        assert loop.time() - t0 >= 2.0  # two retries, each after the 1 s interval
        assert cs.actions()[:3] == ["BootNotification"] * 3
        assert "StatusNotification" not in cs.actions()[:3]
        await rig.kill()
        await cs.stop()
    run(main())


# -- a whole session ----------------------------------------------------------------------------

def test_authorize_start_meter_values_remote_stop_unplug(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path, config={"MeterValueSampleInterval": 1})
        txid = await charge_session(cs, rig)
        assert txid == 100
        rig.meter.wh_total = 1500
        mv = await cs.wait_action("MeterValues", 1, timeout=5)
        m = mv[-1]
        assert m["transactionId"] == txid and m["connectorId"] == 1
        sv = m["meterValue"][0]["sampledValue"]
        names = [(s.get("measurand"), s.get("phase")) for s in sv]
        assert ("Energy.Active.Import.Register", None) in names
        assert ("Current.Import", "L1") in names and ("Current.Import", "L3") in names
        assert ("Power.Active.Import", None) in names
        # remote stop
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=txid))
        assert res.status == "Accepted"
        assert ("stop", "remote") in rig.charger.calls
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert stop["transactionId"] == txid and stop["reason"] == "Remote" and stop["meterStop"] == 1500
        rig.event("contactor", False)
        rig.state("B1")
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Finishing"])
        rig.state("A1")
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Available"])
        # B2 in the transaction before the car asks: SuspendedEV (section 4.9: Preparing is "no
        # ongoing Transaction (yet)")
        assert statuses(cs) == ["Available", "Preparing", "SuspendedEV", "Charging", "Finishing", "Available"]
        assert len(cs.actions("StopTransaction")) == 1
        assert cs.open_tx == {}
        await rig.kill()
        await cs.stop()
    run(main())


def test_unplug_stops_with_ev_disconnected_and_local_stop_by_same_tag(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        txid = await charge_session(cs, rig)
        rig.state("A1")
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert stop["reason"] == "EVDisconnected" and stop["transactionId"] == txid
        txid2 = await charge_session(cs, rig)
        assert rig.svc.present_id("GOOD") == "stopping"
        stop = (await cs.wait_action("StopTransaction", 2))[1]
        assert stop["reason"] == "Local" and stop["transactionId"] == txid2 and stop["idTag"] == "GOOD"
        await rig.kill()
        await cs.stop()
    run(main())


def test_rejected_id_never_authorizes_the_core(tmp_path):
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD",))
        await cs.start()
        rig = await booted(cs, tmp_path)
        assert rig.svc.present_id("BAD") == "pending"
        await cs.wait_for(lambda: rig.svc.last_auth == ("BAD", "Invalid"))
        rig.state("B2")
        await asyncio.sleep(0.5)
        assert ("authorize", True) not in rig.charger.calls
        assert cs.actions("StartTransaction") == []
        # the answer went into the cache: offline, BAD stays rejected and GOOD is unknown
        await cs.stop()
        await asyncio.sleep(0.3)
        assert rig.svc.present_id("BAD") == "Invalid"
        assert rig.svc.present_id("NEVERSEEN") == "Invalid"
        await rig.kill()
    run(main())


def test_offline_authorization_from_cache_and_local_list(tmp_path):
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD",))
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.SendLocalList(list_version=3, update_type="Full", local_authorization_list=[
            {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 3
        rig.svc.present_id("GOOD")
        await cs.wait_for(lambda: rig.charger.authorized)
        rig.charger.authorized = False
        rig.svc.auth_tag = None
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        assert rig.svc.present_id("GOOD") == "accepted"  # cache
        rig.svc.auth_tag = None
        assert rig.svc.present_id("LISTED") == "accepted"  # local list
        await rig.kill()
    run(main())


# -- smart charging -----------------------------------------------------------------------------

def _profile(pid, purpose, level, periods, unit="A", kind="Relative", **extra):
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind,
         "chargingSchedule": {"chargingRateUnit": unit,
                              "chargingSchedulePeriod": [{"startPeriod": s, "limit": l} for s, l in periods]}}
    p.update(extra)
    return p


def test_set_charging_profile_lowers_the_limit_and_composite_schedule(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        # TxDefaultProfile in watts: 4600 W / (230 V x 1 phase) = 20 A
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            1, "TxDefaultProfile", 0, [(0, 4600)], unit="W")))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: rig.charger.limit == 20.0)
        txid = await charge_session(cs, rig)
        # TxProfile overrides the default: 10 A now, 6 A after an hour
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            2, "TxProfile", 1, [(0, 10), (3600, 6)], transactionId=txid)))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: rig.charger.limit == 10.0)
        # stacking: a higher stack level TxProfile wins
        await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            3, "TxProfile", 2, [(0, 13)])))
        await cs.wait_for(lambda: rig.charger.limit == 13.0)
        # ChargePointMaxProfile on connector 0 caps everything
        await cs.call("cp1", call.SetChargingProfile(connector_id=0, cs_charging_profiles=_profile(
            4, "ChargePointMaxProfile", 0, [(0, 8)], kind="Absolute",
            validFrom="2000-01-01T00:00:00Z")))
        await cs.wait_for(lambda: rig.charger.limit == 8.0)
        res = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=7200))
        assert res.status == "Accepted"
        periods = res.charging_schedule["charging_schedule_period"]
        assert periods[0] == {"start_period": 0, "limit": 8.0, "number_phases": 1}     # a single-phase charger
        res = await cs.call("cp1", call.ClearChargingProfile(id=4))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: rig.charger.limit == 13.0)
        res = await cs.call("cp1", call.ClearChargingProfile(id=3))
        res = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=7200, charging_rate_unit="A"))
        lims = [(p["start_period"], p["limit"]) for p in res.charging_schedule["charging_schedule_period"]]
        assert lims[0] == (0, 10.0) and lims[1][1] == 6.0 and 3590 <= lims[1][0] <= 3600
        # a TxProfile without a transaction is rejected; it ends with its transaction
        rig.state("A1")
        await cs.wait_action("StopTransaction")
        await cs.wait_for(lambda: rig.charger.limit == 20.0)
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            5, "TxProfile", 1, [(0, 10)])))
        assert res.status == "Rejected"
        limits = [c[2] for c in rig.charger.calls if c[0] == "set_limit"]
        assert all(c[1] == "ocpp" for c in rig.charger.calls if c[0] == "set_limit")
        assert limits[:1] == [20.0]
        await rig.kill()
        await cs.stop()
    run(main())


# -- offline and reboot -------------------------------------------------------------------------

def test_central_system_away_mid_session_messages_replayed_in_order(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path, config={"MeterValueSampleInterval": 1})
        txid = await charge_session(cs, rig)
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        n_before = len(cs.calls)
        for wh in (2000, 3000, 4000):
            rig.meter.wh_total = wh
            await asyncio.sleep(1.05)
        rig.state("A1")  # unplugged while offline
        assert len(rig.svc.txq) >= 3 and rig.svc.tx is None
        await cs.start()  # same port
        await cs.wait_action("StopTransaction", timeout=15)
        await cs.wait_for(lambda: len(rig.svc.txq) == 0)
        later = cs.calls[n_before:]
        tx_msgs = [(a, p) for a, p in later if a in ("MeterValues", "StopTransaction", "StartTransaction")]
        assert tx_msgs[-1][0] == "StopTransaction" and [a for a, _ in tx_msgs].count("StopTransaction") == 1
        assert all(p["transactionId"] == txid for _, p in tx_msgs)
        energies = [int(s["value"]) for a, p in tx_msgs if a == "MeterValues"
                    for s in p["meterValue"][0]["sampledValue"] if s.get("measurand") == "Energy.Active.Import.Register"]
        assert energies == sorted(energies) and energies[-1] >= 3000
        stamps = [p["meterValue"][0]["timestamp"] for a, p in tx_msgs if a == "MeterValues"]
        assert stamps == sorted(stamps)
        assert tx_msgs[-1][1]["meterStop"] == 4000 and tx_msgs[-1][1]["reason"] == "EVDisconnected"
        assert cs.actions("StartTransaction").__len__() == 1
        await rig.kill()
        await cs.stop()
    run(main())


def test_transaction_started_offline_gets_its_id_later(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path, config={"MeterValueSampleInterval": 1})
        rig.svc.present_id("GOOD")
        await cs.wait_for(lambda: rig.charger.authorized)
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        rig.state("B2")
        await asyncio.sleep(1.2)
        rig.state("A1")
        await cs.start()
        await cs.wait_action("StopTransaction", timeout=15)
        txs = [(a, p) for a, p in cs.calls if a in ("StartTransaction", "MeterValues", "StopTransaction")]
        assert txs[0][0] == "StartTransaction" and txs[-1][0] == "StopTransaction"
        assert all(p["transactionId"] == 100 for _, p in txs[1:])
        await rig.kill()
        await cs.stop()
    run(main())


def test_reboot_mid_session_sends_exactly_one_stop(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path, config={"MeterValueSampleInterval": 1})
        txid = await charge_session(cs, rig)
        rig.meter.wh_total = 2500
        await cs.wait_for(lambda: any(s["value"] == "2500" for p in cs.actions("MeterValues")
                                      for s in p["meterValue"][0]["sampledValue"]))
        await rig.kill()  # power cut: no StopTransaction
        await asyncio.sleep(0.2)
        assert cs.actions("StopTransaction") == []
        rig2 = Rig(cs, tmp_path, config={"MeterValueSampleInterval": 1})
        rig2.meter.ok = False  # the meter has not answered yet after boot
        await rig2.start()
        stop = (await cs.wait_action("StopTransaction"))[0]
        # the register's ceiling on flash: at most HI_AHEAD_WH above the 2500 sent, never below (stop 45)
        assert stop["transactionId"] == txid and stop["reason"] == "PowerLoss" and stop["meterStop"] == 2550
        await cs.wait_for(lambda: len(rig2.svc.txq) == 0)
        await rig2.kill()
        rig3 = await Rig(cs, tmp_path).start()  # and once more: nothing left to stop
        await cs.wait_for(lambda: rig3.svc.accepted)
        await asyncio.sleep(0.5)
        assert len(cs.actions("StopTransaction")) == 1
        assert cs.open_tx == {}
        await rig3.kill()
        await cs.stop()
    run(main())


def test_reboot_offline_before_start_was_delivered(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        rig.svc.present_id("GOOD")
        await cs.wait_for(lambda: rig.charger.authorized)
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        rig.state("B2")
        await asyncio.sleep(0.2)
        await rig.kill()
        await cs.start()
        rig2 = await Rig(cs, tmp_path).start()
        await cs.wait_action("StopTransaction")
        await cs.wait_for(lambda: len(rig2.svc.txq) == 0)
        txs = [(a, p) for a, p in cs.calls if a in ("StartTransaction", "StopTransaction")]
        assert [a for a, _ in txs] == ["StartTransaction", "StopTransaction"]
        assert txs[1][1]["transactionId"] == 100 and txs[1][1]["reason"] == "PowerLoss"
        await rig2.kill()
        await cs.stop()
    run(main())


def test_reset_stops_transaction_then_calls_the_app(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        await charge_session(cs, rig)
        res = await cs.call("cp1", call.Reset(type="Soft"))
        assert res.status == "Accepted"
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert stop["reason"] == "SoftReset"
        assert ("stop", "reset") in rig.charger.calls
        await asyncio.sleep(0.3)
        assert rig.resets == []  # the core has not opened the contactor yet: no reboot under load
        rig.event("contactor", False)
        await cs.wait_for(lambda: rig.resets == ["Soft"])
        assert cs.close_codes == [1000]     # the central system saw a Close frame, not a lost link
        await rig.kill()
        rig2 = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig2.svc.accepted)
        await asyncio.sleep(0.3)
        assert len(cs.actions("StopTransaction")) == 1
        await rig2.kill()
        await cs.stop()
    run(main())


# -- other central-system requests --------------------------------------------------------------

def test_configuration_availability_trigger_unlock_clear_cache(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
        assert res.configuration_key == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        assert res.unknown_key == ["Nope"]
        assert (await cs.call("cp1", call.ChangeConfiguration(key="HeartbeatInterval", value="1"))).status == "Accepted"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="HeartbeatInterval", value="x"))).status == "Rejected"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="NumberOfConnectors", value="2"))).status == "Rejected"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="Foo", value="2"))).status == "NotSupported"
        all_keys = (await cs.call("cp1", call.GetConfiguration())).configuration_key
        assert len(all_keys) > 25 and {"key": "AuthorizationKey", "readonly": False} in all_keys  # no value: write-only
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert res.status == "Accepted" and ("enable", False) in rig.charger.calls
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Unavailable"])
        await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Available"])
        n = len(cs.actions("MeterValues"))
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues"))).status == "Accepted"
        await cs.wait_action("MeterValues", n + 1)
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
        await cs.wait_action("Heartbeat")
        n = len(cs.actions("StatusNotification"))
        await cs.call("cp1", call.TriggerMessage(requested_message="StatusNotification", connector_id=1))
        await cs.wait_action("StatusNotification", n + 1)
        assert (await cs.call("cp1", call.UnlockConnector(connector_id=1))).status == "NotSupported"
        assert (await cs.call("cp1", call.ClearCache())).status == "Accepted"
        assert (await cs.call("cp1", call.DataTransfer(vendor_id="x"))).status == "UnknownVendorId"
        # remote start with the default AuthorizeRemoteTxRequests=false authorizes at once
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="REMOTE"))
        assert res.status == "Accepted" and rig.charger.authorized
        rig.state("B2")
        start = (await cs.wait_action("StartTransaction"))[0]
        assert start["idTag"] == "REMOTE"
        # the central system does not know REMOTE: StopTransactionOnInvalidId ends it at once
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert stop["reason"] == "DeAuthorized" and ("stop", "deauthorized") in rig.charger.calls
        # the configured heartbeat interval (1 s) is used
        n = len(cs.actions("Heartbeat"))
        await cs.wait_action("Heartbeat", n + 2, timeout=6)
        await rig.kill()
        await cs.stop()
    run(main())


def test_status_mapping_for_faults_reaches_the_central_system(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        rig.event("fault", "rcd", True)
        rig.state("fault")
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Faulted"])
        last = [p for p in cs.actions("StatusNotification") if p["connectorId"] == 1][-1]
        assert last["errorCode"] == "GroundFailure"
        rig.event("fault", "rcd", False)
        rig.event("fault", "diode", True)
        await cs.wait_for(lambda: [p for p in cs.actions("StatusNotification")][-1].get("info") == "diode")
        last = cs.actions("StatusNotification")[-1]
        assert last["errorCode"] == "EVCommunicationError" and last["status"] == "Faulted"
        rig.event("fault", "diode", False)
        rig.state("A1")
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Available"])
        await rig.kill()
        await cs.stop()
    run(main())


# -- transport: WebSocket details, Basic auth, TLS ------------------------------------------------

def test_fragmented_message_and_ping_are_handled(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        conn = cs.cps["cp1"]._connection
        pong = await conn.ping()
        await asyncio.wait_for(pong, 3)
        uid = "frag1"
        fut = asyncio.get_running_loop().create_future()
        cs.raw_waiters[uid] = fut
        await conn.send(['[2,"frag1","GetConf', 'iguration",{"key":["Heart', 'beatInterval"]}]'])
        reply = await asyncio.wait_for(fut, 3)
        assert reply[0] == 3 and reply[2]["configurationKey"][0]["key"] == "HeartbeatInterval"
        await rig.kill()
        await cs.stop()
    run(main())


def test_basic_auth_security_profile_1(tmp_path):
    async def main():
        cs = CentralSystem(password="0123456789abcdef")
        await cs.start()
        bad = await Rig(cs, tmp_path / "a", cp_id="cpA", ocpp_security_profile=1, ocpp_password="wrong").start()
        good = await Rig(cs, tmp_path / "b", cp_id="cpB", ocpp_security_profile=1,
                         ocpp_password="0123456789abcdef").start()
        await cs.wait_for(lambda: good.svc.accepted)
        await cs.wait_for(lambda: cs.rejected_logins >= 2)
        assert not bad.svc.accepted and "upgrade refused" in bad.svc.last_error
        assert "Basic Y3BCOjAxMjM0NTY3ODlhYmNkZWY=" in cs.auth_headers  # cpB:0123456789abcdef
        # the central system changes the password (hex, Security Whitepaper): the charge point
        # connects again at once with its bytes (TC_073)
        cs.password = "OCA_OCTT_admin_test"
        res = await cs.call("cpB", call.ChangeConfiguration(key="AuthorizationKey",
                                                            value="4F43415F4F4354545F61646D696E5F74657374"))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: "Basic Y3BCOk9DQV9PQ1RUX2FkbWluX3Rlc3Q=" in cs.auth_headers)
        await cs.wait_for(lambda: good.svc.accepted)
        await bad.kill()
        await good.kill()
        await cs.stop()
    run(main())


def _self_signed(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
def test_wss_with_server_certificate_check_security_profile_2(tmp_path):
    cert, key = _self_signed(tmp_path)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other, _ = _self_signed(other_dir)

    async def main():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        cs = CentralSystem(password="0123456789abcdef", ssl_context=ctx)
        await cs.start()
        assert cs.url().startswith("wss://")
        good = await Rig(cs, tmp_path / "g", cp_id="cpG", ocpp_security_profile=2,
                         ocpp_password="0123456789abcdef", ocpp_ca_file=str(cert)).start()
        wrong_ca = await Rig(cs, tmp_path / "w", cp_id="cpW", ocpp_security_profile=2,
                             ocpp_password="0123456789abcdef", ocpp_ca_file=str(other)).start()
        await cs.wait_for(lambda: good.svc.accepted)
        await asyncio.sleep(0.5)
        assert not wrong_ca.svc.connected and "CERTIFICATE_VERIFY_FAILED" in (wrong_ca.svc.last_error or "")
        assert "cpW" not in cs.cps
        await good.kill()
        await wrong_ca.kill()
        await cs.stop()
    run(main())
