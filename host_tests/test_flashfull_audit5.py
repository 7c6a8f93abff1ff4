"""A full or failing flash while a car charges (the fifth audit, flashfull): the flash under the
OCPP service fills (every file opened there for writing fails with ENOSPC, reads work) in the
middle of the day. The charge goes on: the transaction's messages wait in RAM and are sent, the
central system hears MemoryExhaustion once (OCPP 1.6 Security Whitepaper, appendix 1: "The Flash
or RAM memory of the Charge Point is getting full", critical), the service's status says it, and
the service's poll never raises into the control loop."""
import asyncio

from ocpp.v16 import call

from ocpp_cs import CentralSystem
from host_tests.test_ocpp_cs import Rig, run, statuses, fast_reconnect  # noqa: F401 (fixture)
from host_tests.test_history_audit3 import FullFlash


class GuardedRig(Rig):
    """The Rig, its poll loop as the App's (poll_services): an exception is reported, not raised."""

    async def start(self):
        self.raised = []
        return await super().start()

    async def _poll(self):
        while True:
            try:
                self.svc.poll(self.svc.ticks())
            except Exception as e:
                self.raised.append(repr(e))
            await asyncio.sleep(0.02)

    def event(self, *ev):
        try:
            self.svc.on_event(ev)
        except Exception as e:                          # App.dispatch reports it
            self.raised.append(repr(e))


async def _full_after_boot(cs, tmp_path, monkeypatch, **kw):
    rig = await GuardedRig(cs, tmp_path, **kw).start()
    await cs.wait_for(lambda: rig.svc.accepted)
    await cs.wait_for(lambda: cs.actions("SecurityEventNotification"))   # StartupOfTheDevice
    flash = FullFlash(monkeypatch, str(tmp_path))
    return rig, flash


def test_a_card_on_a_full_flash_starts_a_charge_its_transaction_kept_in_ram(tmp_path, monkeypatch):
    """The flash is full when the driver presents a card the central system accepts. The old code:
    the answer's write to the authorization cache raised inside the session, the connection
    dropped, the card stayed 'pending' and the car was never authorized. Now: authorized, the
    StartTransaction, the MeterValues and the StopTransaction reach the central system from RAM,
    MemoryExhaustion once, the status names the full flash, nothing raised into the loop."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig, _ = await _full_after_boot(cs, tmp_path, monkeypatch, config={"MeterValueSampleInterval": 1})
        assert rig.svc.present_id("GOOD") == "pending"
        await cs.wait_for(lambda: rig.charger.authorized, 10)
        assert rig.svc.last_auth == ("GOOD", "Accepted"), rig.svc.last_auth
        rig.state("B2")
        start = (await cs.wait_action("StartTransaction"))[-1]
        assert start["idTag"] == "GOOD" and start["meterStart"] == 1000
        await cs.wait_for(lambda: rig.svc.tx and rig.svc.tx.get("txid") is not None)
        rig.state("C2")
        rig.event("contactor", True)
        rig.meter.amps = [16.0, 0.0, 0.0]
        rig.meter.wh_total = 1500
        await cs.wait_for(lambda: statuses(cs)[-1:] == ["Charging"])
        await cs.wait_action("MeterValues", 1, timeout=5)
        rig.event("session", "end", "local")
        stop = (await cs.wait_action("StopTransaction"))[-1]
        assert stop["meterStop"] >= 1500 and stop["transactionId"] == rig.svc.txq.txids.get(1, 100)
        await cs.wait_for(lambda: len(rig.svc.txq) == 0)
        kinds = [p["type"] for p in cs.actions("SecurityEventNotification")]
        assert kinds.count("MemoryExhaustion") == 1, kinds
        assert "flash" in (rig.svc.status()["error"] or ""), rig.svc.status()
        assert rig.raised == [], rig.raised
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_flash_that_fills_mid_charge_keeps_the_transaction_going(tmp_path, monkeypatch):
    """A transaction under way when the flash fills: the periodic samples (each saves state.json
    first) no longer raise in poll at every sample; the StopTransaction goes out; once a file is
    removed (room again) the state is written again and the error clears."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await GuardedRig(cs, tmp_path, config={"MeterValueSampleInterval": 1}).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert rig.svc.present_id("GOOD") == "pending"
        await cs.wait_for(lambda: rig.charger.authorized)
        rig.state("B2")
        await cs.wait_for(lambda: rig.svc.tx and rig.svc.tx.get("txid") is not None)
        rig.state("C2")
        rig.event("contactor", True)
        flash = FullFlash(monkeypatch, str(tmp_path))
        rig.meter.wh_total = 1400
        n = len(cs.actions("MeterValues"))
        await cs.wait_action("MeterValues", n + 2, timeout=6)
        assert rig.raised == [], rig.raised
        assert "flash" in (rig.svc.status()["error"] or "")
        flash.on = False                                # room again
        rig.meter.wh_total = 1600
        await cs.wait_action("MeterValues", n + 3, timeout=6)
        await cs.wait_for(lambda: "1600" in (tmp_path / "state.json").read_text(), 5)
        rig.event("session", "end", "local")
        stop = (await cs.wait_action("StopTransaction"))[-1]
        assert stop["meterStop"] == 1600
        kinds = [p["type"] for p in cs.actions("SecurityEventNotification")]
        assert kinds.count("MemoryExhaustion") == 1, kinds
        assert rig.raised == [], rig.raised
        await rig.kill()
        await cs.stop()
    run(main())


def test_send_local_list_on_a_full_flash_fails_and_keeps_the_list_before(tmp_path, monkeypatch):
    """SendLocalList.conf has Failed for "local authorization list update failed" (OCPP 1.6 7.40).
    On a full flash the old code put the new list in RAM, then raised (a CALLERROR for the central
    system, a list in force that the next boot forgets): now Failed, and the list before stays in
    force, as on flash; MemoryExhaustion is said like any refused write."""
    from evse.ocpp import store
    from evse.ocpp.auth import AuthStore
    a = AuthStore(str(tmp_path / "authcache.json"), str(tmp_path / "locallist.json"))
    one = [{"idTag": "OLD", "idTagInfo": {"status": "Accepted"}}]
    assert a.send_local_list(1, one, "Full") == "Accepted"
    flash = FullFlash(monkeypatch, str(tmp_path))
    store.error = None
    two = [{"idTag": "NEW", "idTagInfo": {"status": "Accepted"}}]
    assert a.send_local_list(2, two, "Full") == "Failed"
    assert a.list_version == 1 and a.lookup("OLD", 0) == ("Accepted", "list") and a.lookup("NEW", 0)[0] is None
    assert store.error is not None and store.error.errno == 28
    flash.on = False
    assert a.send_local_list(2, two, "Full") == "Accepted"
    assert AuthStore(None, str(tmp_path / "locallist.json")).lookup("NEW", 0) == ("Accepted", "list")


def test_queue_lines_a_full_flash_refused_are_on_flash_once_there_is_room(tmp_path, monkeypatch):
    """The transaction queue's appends refused by a full flash: the messages stay queued in RAM;
    the next write after room came back is the whole queue (a power cut then loses none)."""
    from evse.ocpp.txqueue import TxQueue
    path = str(tmp_path / "txq.log")
    q = TxQueue(path)
    q.push("StartTransaction", {"meterStart": 1}, 1)
    flash = FullFlash(monkeypatch, str(tmp_path))
    q.set_txid(1, 100)
    q.push("MeterValues", {"meterValue": []}, 1)
    q.drop(1)
    assert [r[1] for r in q.records] == ["MeterValues"] and q.txids[1] == 100
    assert [r[1] for r in TxQueue(path).records] == ["StartTransaction"]     # flash as it was
    flash.on = False
    q.push("StopTransaction", {"meterStop": 9}, 1)
    again = TxQueue(path)                                                    # a power cut now
    assert [r[1] for r in again.records] == ["MeterValues", "StopTransaction"] and again.txids[1] == 100


def test_a_weld_latched_on_a_full_flash_is_on_flash_once_there_is_room(tmp_path, monkeypatch):
    """The fault log keeps the latched fault for the next boot: "a welded contactor is never a
    reason to close again". A weld set while the flash was full was dropped from the lines to write
    (the old code: never written, not after room came back, not with the next fault's line), so a
    reboot forgot the lockout. Now the App's save() calls try the whole journal again every 1000
    calls (10 s of 10 ms cycles) until it goes in."""
    from evse.services.journal import Journal
    path = str(tmp_path / "faults.json")
    j = Journal(path)
    j.add(1000, "overcurrent", "C2")
    flash = FullFlash(monkeypatch, str(tmp_path))
    j.add(2000, "weld", "C2", latched=True)
    assert j.latched == "weld" and "not saved" in j.error
    for _ in range(3000):                       # the App's cycles, 30 s on a full flash
        if j.pending:
            j.save()
    flash.on = False                            # room again
    j.add(40_000, "overcurrent", "C2")
    for _ in range(1100):
        if j.pending:
            j.save()
    again = Journal(path)                       # the next boot
    assert again.latched == "weld", again.records
    assert [r[1] for r in again.records] == ["overcurrent", "weld", "overcurrent"]
    assert j.pending == []


def test_change_configuration_on_a_full_flash_is_rejected_and_changes_nothing(tmp_path, monkeypatch):
    """ChangeConfiguration's Rejected is "the setting could not be changed" (OCPP 1.6
    ConfigurationStatus). On a full flash the old code answered Accepted and applied the value in
    RAM only: a new AuthorizationKey or HeartbeatInterval that the next boot forgets, the central
    system never told. Now Rejected, the value before in force and on flash; accepted once there
    is room."""
    from evse.ocpp import store
    from evse.ocpp.config import Config
    path = str(tmp_path / "ocpp_config.json")
    c = Config(path)
    assert c.change("HeartbeatInterval", "300") == "Accepted"
    flash = FullFlash(monkeypatch, str(tmp_path))
    store.error = None
    assert c.change("HeartbeatInterval", "60") == "Rejected"
    assert c.get("HeartbeatInterval") == 300 and Config(path).get("HeartbeatInterval") == 300
    assert store.error is not None and store.error.errno == 28
    assert c.change("HeartbeatInterval", "300") == "Accepted"    # nothing to write: as it is
    assert c.change("SecurityProfile", "0", True) == "Accepted"  # the fallback to stay in reach
    flash.on = False
    assert c.change("HeartbeatInterval", "60") == "Accepted"
    assert Config(path).get("HeartbeatInterval") == 60


def test_a_central_system_hears_rejected_for_a_key_the_full_flash_refused(tmp_path, monkeypatch):
    """The same over the wire, validated against the 1.6 schemas by the central system's library."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig, _ = await _full_after_boot(cs, tmp_path, monkeypatch)
        res = await cs.call("cp1", call.ChangeConfiguration(key="HeartbeatInterval", value="77"))
        assert res.status == "Rejected", res
        got = await cs.call("cp1", call.GetConfiguration(key=["HeartbeatInterval"]))
        assert got.configuration_key[0]["value"] != "77", got
        assert rig.raised == [], rig.raised
        await rig.kill()
        await cs.stop()
    run(main())
