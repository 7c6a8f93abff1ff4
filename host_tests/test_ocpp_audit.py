"""The OCPP audit's defects, one bench scenario each: the unmodified firmware (App, real core) on the
virtual bench against the PyPI `ocpp` central system (test_ocpp_bench.Bench), which validates every
frame against the OCPP 1.6 schemas."""
import pytest

from host_tests.test_ocpp_bench import Bench, statuses, run
from ocpp_cs import CentralSystem, call, call_result

TX_PROFILE_8A = {"chargingProfileId": 5, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                 "chargingProfileKind": "Relative",
                 "chargingSchedule": {"chargingRateUnit": "A",
                                      "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}


async def _booted(cs, tmp_path, **cfg):
    b = await Bench(cs, tmp_path, ocpp_config=dict({"MeterValueSampleInterval": 0}, **cfg)).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    await b.until(lambda: statuses(cs)[-1:] == ["Available"], what="Available")
    return b


async def _charging(b, cs, tag="GOOD"):
    """Plug in, present `tag`, the car asks: a running transaction with the contactor closed."""
    b.d.plug()
    await b.wait(1.0)
    assert b.svc.present_id(tag) == "pending"
    await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
    b.d.ev("C")
    await b.until(lambda: b.d.coil, 6, "contactor closed")


@pytest.mark.parametrize("how", ["remote_start", "card"])
def test_a_new_idtag_while_finishing_starts_a_new_transaction_before_any_energy(tmp_path, how):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path)
        d = b.d
        await _charging(b, cs)
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=b.svc.tx["txid"]))
        assert res.status == "Accepted"
        d.ev("B")
        await b.until(lambda: statuses(cs)[-1:] == ["Finishing"], what="Finishing")
        await b.until(lambda: not d.coil and cs.actions("StopTransaction"), 2, "stopped")
        if how == "remote_start":
            res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
            assert res.status == "Accepted"
        else:
            assert b.svc.present_id("GOOD") == "pending"        # Finishing -> Preparing (section 4.9)
        await b.until(lambda: len(cs.actions("StartTransaction")) == 2, 5, "a second StartTransaction")
        # Finishing -> Preparing (F2), then the transaction's own status (B4/B5), never Preparing again
        await b.until(lambda: "Preparing" in statuses(cs)[statuses(cs).index("Finishing"):], 2, "Preparing")
        await b.until(lambda: statuses(cs)[-1][:9] == "Suspended", 5, "Suspended in the new transaction")
        d.ev("C")
        await b.until(lambda: d.coil, 6, "contactor closed")
        assert b.svc.tx and b.svc.tx["ref"] == 2                 # never energy without a transaction
        await b.until(lambda: statuses(cs)[-1:] == ["Charging"], 2, "Charging")
        await b.stop()
        await cs.stop()
    run(main())


def test_a_remote_start_profile_that_never_got_its_transaction_does_not_cap_the_next_one(tmp_path):
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD", "OTHER"))
        await cs.start()
        b = await _booted(cs, tmp_path, ConnectionTimeOut=3)
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1,
                                                               charging_profile=TX_PROFILE_8A))
        assert res.status == "Accepted"
        await b.until(lambda: statuses(cs)[-1:] == ["Preparing"], 1, "Preparing")
        await b.until(lambda: statuses(cs)[-1:] == ["Available"], 5, "Available after ConnectionTimeOut")
        await _charging(b, cs, "OTHER")                      # another driver's own transaction
        await b.wait(3.0)                                    # the limit is re-evaluated every second
        assert b.app.charger.out.amps_x10 == 320, b.app.charger.out.amps_x10
        comp = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=60))
        assert [p["limit"] for p in comp.charging_schedule["charging_schedule_period"]] == [32]
        await b.stop()
        await cs.stop()
    run(main())


def test_a_remote_start_profile_whose_idtag_is_refused_caps_no_later_transaction(tmp_path):
    """The profile belongs to the RemoteStart's idTag (section 5.16.2): that idTag refused by
    Authorize (AuthorizeRemoteTxRequests), the profile goes with it."""
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD", "OTHER"))
        await cs.start()
        b = await _booted(cs, tmp_path, AuthorizeRemoteTxRequests=True)
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="BAD", connector_id=1,
                                                               charging_profile=TX_PROFILE_8A))
        assert res.status == "Accepted"
        await b.until(lambda: b.svc.last_auth == ("BAD", "Invalid"), 5, "BAD refused")
        await _charging(b, cs, "OTHER")                      # another driver's own transaction
        await b.wait(3.0)
        assert b.app.charger.out.amps_x10 == 320, b.app.charger.out.amps_x10
        await b.stop()
        await cs.stop()
    run(main())


def _deaf_to(cs, action):
    """The central system's current connection never answers `action` (a reconnect hears again)."""
    cp = cs.cps["cp1"]
    real = cp.route_message

    async def route(raw):
        if '"%s"' % action in raw:
            cs.calls.append((action, None))
            return
        await real(raw)
    cp.route_message = route


@pytest.mark.parametrize("tag, status", [("LISTED", "Accepted"), ("NOBODY", "Invalid")])
def test_an_authorize_never_answered_is_decided_by_the_offline_rules(tmp_path, monkeypatch, tag, status):
    from evse.ocpp import connection
    monkeypatch.setattr(connection, "CALL_TIMEOUT_MS", 2000)   # 30 s of real time in the firmware

    async def main():
        cs = CentralSystem(accepted_tags=("GOOD", "LISTED"))
        await cs.start()
        b = await _booted(cs, tmp_path)
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"id_tag": "LISTED", "id_tag_info": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        d = b.d
        d.plug()
        await b.wait(1.0)
        _deaf_to(cs, "Authorize")
        assert b.svc.present_id(tag) == "pending"
        await b.until(lambda: b.svc.last_auth != (tag, "pending"), 60, "the pending Authorize decided")
        assert b.svc.last_auth == (tag, status)                # LocalAuthorizeOffline: the local list
        await b.until(lambda: b.svc.accepted, 60, "reconnected")
        d.ev("C")
        await b.wait(3.0)
        if status == "Accepted":
            await b.until(lambda: cs.actions("StartTransaction"), 5, "StartTransaction")
            assert cs.actions("StartTransaction")[0]["idTag"] == tag and d.coil
        else:
            assert cs.actions("StartTransaction") == [] and not d.coil and d.duty == 100.0
        await b.stop()
        await cs.stop()
    run(main())


@pytest.mark.parametrize("stop_on_invalid", [False, True])
def test_a_start_transaction_answered_blocked_ends_energy_delivery(tmp_path, stop_on_invalid):
    async def main():
        cs = CentralSystem()
        cs.overrides["StartTransaction"] = lambda kw: call_result.StartTransaction(
            transaction_id=77, id_tag_info={"status": "Blocked"})
        await cs.start()
        b = await _booted(cs, tmp_path, StopTransactionOnInvalidId=stop_on_invalid,
                          StopTransactionOnEVSideDisconnect=stop_on_invalid)
        d = b.d
        d.plug()
        await b.wait(1.0)
        assert b.svc.present_id("GOOD") == "pending"
        await b.until(lambda: cs.actions("StartTransaction") and not b.svc.txq.has("StartTransaction", 1),
                      what="StartTransaction answered")
        d.ev("C")
        await b.wait(5.0)
        assert not d.coil and d.duty == 100.0 and not any(lv for _, lv in d.coil_edges)
        if stop_on_invalid:
            stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
            assert stop["reason"] == "DeAuthorized" and b.svc.tx is None
        else:   # "SHALL only stop energy delivery": the transaction stays open, suspended by the EVSE
            assert b.svc.tx and b.svc.tx["txid"] == 77 and cs.actions("StopTransaction") == []
            await b.until(lambda: statuses(cs)[-1:] == ["SuspendedEVSE"], 2, "SuspendedEVSE")
            d.ev("B")
            d.unplug()                          # the transaction goes on without the car ...
            await b.wait(1.0)
            d.plug()
            await b.wait(1.0)
            d.ev("C")                           # ... and a car plugged back in gets nothing either
            await b.wait(5.0)
            assert not d.coil and d.duty == 100.0 and b.svc.tx and cs.actions("StopTransaction") == []
        await b.stop()
        await cs.stop()
    run(main())
