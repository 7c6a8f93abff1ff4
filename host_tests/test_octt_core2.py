"""More OCPP 1.6J compliance cases (OCTT test-case list, Charge Point side) on the virtual bench
against the PyPI `ocpp` central system, every frame checked against the official schemas
(octt_cs): authorization cache, local stop, parentIdTag, offline, soft reset, power failure,
meter values. Same set-up as test_octt_core.py."""
import pytest

from evse.ocpp import connection

from octt_cs import call, car_draws, change_config, charging, offering, run_case, status_is, statuses, virtual_s
from test_octt_core import _offline, _online, before_boot, reboot


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


async def _cached(b, cs, tag="GOOD"):
    """Memory state IdTagCached: the tag authorized online once (no car), then the authorization
    lapses after ConnectionTimeOut: Preparing, then Available."""
    for key in ("AuthorizationCacheEnabled", "LocalPreAuthorize"):
        assert await change_config(cs, key, "true") == "Accepted"
    assert await change_config(cs, "ConnectionTimeOut", "5") == "Accepted"
    await b.reply({"cmd": "authorize", "id_tag": tag})
    await b.until(lambda: cs.actions("Authorize"), what="Authorize")
    await status_is(b, "Preparing", 3)
    await status_is(b, "Available", 10)


def test_TC_007_CS_regular_start_charging_session_cached_id(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await _cached(b, cs)
        n = len(cs.actions("Authorize"))
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await status_is(b, "Preparing", 3)
        await car_draws(b)
        assert len(cs.actions("Authorize")) == n          # from the cache, no Authorize
    run_case(tmp_path, case)


def test_TC_061_CS_clear_authorization_data_in_authorization_cache(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await _cached(b, cs)
        n = len(cs.actions("Authorize"))
        assert (await cs.call("cp1", call.ClearCache())).status == "Accepted"
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: len(cs.actions("Authorize")) > n, 3, "Authorize after ClearCache")
        assert cs.actions("Authorize")[-1]["idTag"] == "GOOD"
    run_case(tmp_path, case)


def test_TC_068_CS_stop_transaction_idtag_matches_start(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        n = len(cs.calls)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD2"})         # another card: nothing
        await b.wait(2.0)
        assert "Authorize" not in cs.actions()[n:] and not cs.actions("StopTransaction")
        assert offering(b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["idTag"] == "GOOD" and stop.get("reason", "Local") == "Local"
        await status_is(b, "Finishing")
        await b.until(lambda: b.d.duty == 100.0, 1, "PWM off")
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "GOOD2")})


def _with_parents(cs, parents):
    plain = cs.respond

    def respond(action, kw):
        res = plain(action, kw)
        if action in ("Authorize", "StartTransaction") and kw["id_tag"] in parents:
            res.id_tag_info["parent_id_tag"] = parents[kw["id_tag"]]
        return res
    cs.respond = respond


def test_TC_069_CS_stop_transaction_parent_idtag_matches_start(tmp_path):
    async def case(cs, power_on):
        _with_parents(cs, {"GOOD": "FLEET", "GOOD2": "FLEET"})
        b = await power_on()
        await charging(b)
        n = len(cs.calls)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD2"})
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        auth = [p for a, p in cs.calls[n:] if a == "Authorize"]
        assert auth and auth[0]["idTag"] == "GOOD2"
        assert stop["idTag"] == "GOOD2"
        await status_is(b, "Finishing")
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "GOOD2")})


def test_TC_069_CS_parent_from_the_start_answer_with_the_cache_off(tmp_path):
    """Without a cache the group is the StartTransaction answer's parentIdTag; a tag of another
    group is asked for and does not stop it; one of the same group does."""
    async def case(cs, power_on):
        _with_parents(cs, {"GOOD": "FLEET", "GOOD2": "FLEET", "OTHER": "ELSEWHERE"})
        b = await power_on()
        assert await change_config(cs, "AuthorizationCacheEnabled", "false") == "Accepted"
        await charging(b)
        await b.reply({"cmd": "authorize", "id_tag": "OTHER"})
        await b.until(lambda: [p for p in cs.actions("Authorize") if p["idTag"] == "OTHER"], 3, "Authorize OTHER")
        await b.wait(2.0)
        assert not cs.actions("StopTransaction") and offering(b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD2"})
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["idTag"] == "GOOD2" and stop.get("reason", "Local") == "Local"
        await status_is(b, "Finishing")
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "GOOD2", "OTHER")})


def test_TC_069_CS_a_blocked_card_of_the_group_does_not_stop_it(tmp_path):
    """Only a valid card of the group stops the transaction (OCPP 2.0.1 C09.FR.03 says it in
    words: a different, valid idToken with the same group). A blocked fleet card is asked for,
    answered Blocked with the fleet's parentIdTag, and does nothing; presented again, its cached
    Blocked entry is not taken as leave to stop it either (asked again); a valid one stops it."""
    async def case(cs, power_on):
        _with_parents(cs, {"GOOD": "FLEET", "GOOD2": "FLEET", "LOST": "FLEET"})
        b = await power_on()
        await charging(b)
        for attempt in (1, 2):
            await b.reply({"cmd": "authorize", "id_tag": "LOST"})
            await b.until(lambda: len([p for p in cs.actions("Authorize") if p["idTag"] == "LOST"]) == attempt,
                          3, "Authorize LOST #%d" % attempt)
            await b.wait(2.0)
            assert not cs.actions("StopTransaction") and offering(b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD2"})
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["idTag"] == "GOOD2"
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "GOOD2"), "tag_status": {"LOST": "Blocked"}})


def test_TC_038_CS_offline_stop_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        await _offline(cs, b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        n = len(cs.calls)
        await _online(cs, b)
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 30, "StopTransaction"))[0]
        assert stop.get("reason", "Local") == "Local" and stop["transactionId"] == 100
        await b.until(lambda: ("Finishing" in [p["status"] for a, p in cs.calls[n:]
                                               if a == "StatusNotification" and p["connectorId"] == 1]),
                      10, "Finishing")
    run_case(tmp_path, case)


def test_TC_036_CS_connection_loss_during_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "MeterValueSampleInterval", "2") == "Accepted"
        await charging(b)
        await _offline(cs, b)
        n = len(cs.calls)
        await b.wait(9.0)
        await _online(cs, b)
        await b.wait(3.0)
        mvs = [p for a, p in cs.calls[n:] if a == "MeterValues" and p.get("transactionId")]
        assert len(mvs) >= 3, mvs
        stamps = [p["meterValue"][0]["timestamp"] for p in mvs]
        assert stamps == sorted(stamps)
        from datetime import datetime
        ts = [datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in stamps]
        gaps = [round(y - x) for x, y in zip(ts, ts[1:])]
        assert all(g == 2 for g in gaps), (gaps, stamps)
        for p in mvs:
            for mv in p["meterValue"]:
                for s in mv["sampledValue"]:
                    assert s.get("format", "Raw") == "Raw" and s.get("context", "Sample.Periodic") == "Sample.Periodic"
    run_case(tmp_path, case)


def test_TC_014_CS_soft_reset_without_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Soft"))).status == "Accepted"
        b = await reboot(b, power_on)
        after = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert (0, "Available") in after and (1, "Available") in after, after
        assert not cs.actions("StopTransaction")
    run_case(tmp_path, case)


def test_TC_016_CS_soft_reset_with_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Soft"))).status == "Accepted"
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "SoftReset"
        b.d.ev("B")
        b = await reboot(b, power_on, wait_accepted=False)
        b.d.plug()
        sent = before_boot(cs, n)
        assert "Finishing" in sent and "Faulted" not in sent, sent
        m = len(statuses(cs))
        await b.until(lambda: b.svc.accepted, what="boot accepted")
        await b.until(lambda: len(statuses(cs)) > m, what="status after the reboot")
        assert statuses(cs)[m] in ("Finishing", "Preparing"), statuses(cs)[m:]
        assert statuses(cs, 0)[-1] == "Available"
        assert len(cs.actions("StopTransaction")) == 1
    run_case(tmp_path, case)


def test_TC_034_CS_power_failure_with_unavailable_status(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))
        assert res.status == "Accepted"
        await status_is(b, "Unavailable", connector=0)
        await status_is(b, "Unavailable", connector=1)
        n = len(cs.calls)
        b = await power_on()                      # power cut: a new bench on the same flash
        after = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert (0, "Unavailable") in after and (1, "Unavailable") in after, after
        assert (1, "Available") not in after and (0, "Available") not in after, after
    run_case(tmp_path, case)


def test_TC_032_2_CS_power_failure_boot_configured_to_stop_transactions(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        start = await charging(b)
        n = len(cs.calls)
        b = await power_on(wait_accepted=False)     # power cut while charging, the car still there
        b.d.plug()
        await b.until(lambda: b.svc.accepted, what="boot accepted")
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 20, "StopTransaction"))[0]
        assert stop["reason"] == "PowerLoss" and stop["transactionId"] == 100
        assert stop["meterStop"] >= start["meterStart"]
        await b.wait(2.0)
        after = [p["status"] for a, p in cs.calls[n:] if a == "StatusNotification" and p["connectorId"] == 1]
        assert after and after[0] in ("Finishing", "Preparing"), after
        assert not b.d.coil
    run_case(tmp_path, case)


def test_TC_041_CS_fault_behavior(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.set(cp_short=True)                     # pilot shorted to PE: a fault
        await status_is(b, "Faulted")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Rejected"
        await b.wait(4.0)
        assert not cs.actions("StartTransaction") and not b.d.coil and b.d.duty == 100.0
    run_case(tmp_path, case)


def _stamp(s):
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


async def _metered(cs, b, sampled_s, aligned_s, wait_s):
    """Charging with these MeterValues intervals (seconds, 0: none) for wait_s: the measurands
    configured for the kind that runs, the MeterValues sent (3 at least) and their timestamps (s)."""
    assert await change_config(cs, "MeterValueSampleInterval", str(sampled_s)) == "Accepted"
    assert await change_config(cs, "ClockAlignedDataInterval", str(aligned_s)) == "Accepted"
    key = "MeterValuesAlignedData" if aligned_s else "MeterValuesSampledData"
    res = await cs.call("cp1", call.GetConfiguration(key=[key]))
    want = set(res.configuration_key[0]["value"].split(","))
    await charging(b)
    n = len(cs.calls)
    await b.wait(wait_s)
    mvs = [p for a, p in cs.calls[n:] if a == "MeterValues"]
    assert len(mvs) >= 3, mvs
    return want, mvs, [_stamp(p["meterValue"][0]["timestamp"]) for p in mvs]


def test_TC_071_CS_clock_aligned_meter_values(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        want, mvs, ts = await _metered(cs, b, 0, 10, 32.0)
        assert all(t % 10 == 0 for t in ts), [p["meterValue"][0]["timestamp"] for p in mvs]
        assert all(y - x == 10 for x, y in zip(ts, ts[1:])), ts
        for p in mvs:
            sv = p["meterValue"][0]["sampledValue"]
            assert all(s.get("context") == "Sample.Clock" for s in sv)
            assert want <= {s.get("measurand", "Energy.Active.Import.Register") for s in sv}, (want, sv)
            assert p.get("transactionId") == 100
    run_case(tmp_path, case)


def test_TC_070_CS_sampled_meter_values(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        want, mvs, ts = await _metered(cs, b, 3, 0, 10.0)
        assert all(round(y - x) == 3 for x, y in zip(ts, ts[1:])), ts
        for p in mvs:
            sv = p["meterValue"][0]["sampledValue"]
            assert p.get("transactionId") == 100 and p["connectorId"] == 1
            assert all(s.get("context", "Sample.Periodic") == "Sample.Periodic" for s in sv)
            assert want <= {s.get("measurand", "Energy.Active.Import.Register") for s in sv}, (want, sv)
    run_case(tmp_path, case)


def test_TC_058_1_CS_tx_profile_without_a_transaction_is_rejected(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        prof = {"chargingProfileId": 5, "transactionId": 123, "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}
        res = await cs.ask("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=prof))
        assert getattr(res, "status", None) == "Rejected" or type(res).__name__ == "PropertyConstraintViolationError"
        await charging(b)
        prof["transactionId"] = b.svc.tx["txid"] + 1          # not this transaction's
        res = await cs.ask("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=prof))
        assert getattr(res, "status", None) == "Rejected" or type(res).__name__ == "PropertyConstraintViolationError"
    run_case(tmp_path, case)


def test_TC_004_2_CS_identification_first_connection_timeout(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "ConnectionTimeOut", "5") == "Accepted"
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await status_is(b, "Preparing", 3)
        t = virtual_s()
        await status_is(b, "Available", 10)
        assert virtual_s() - t >= 4.0
        b.d.plug()
        b.d.ev("C")
        await b.wait(3.0)
        assert not cs.actions("StartTransaction") and not b.d.coil
    run_case(tmp_path, case)


async def _offline_unknown_start(cs, b):
    assert await change_config(cs, "LocalAuthorizeOffline", "true") == "Accepted"
    assert await change_config(cs, "AllowOfflineTxForUnknownId", "true") == "Accepted"
    await _offline(cs, b)
    b.d.plug()
    await b.reply({"cmd": "authorize", "id_tag": "BAD"})
    b.d.ev("C")
    await b.until(lambda: offering(b), 8, "charging offline")
    await _online(cs, b)
    start = (await b.until(lambda: cs.actions("StartTransaction"), 30, "StartTransaction"))[0]
    assert start["idTag"] == "BAD"


def test_TC_037_3_CS_offline_start_invalid_idtag_stop_transaction_on_invalid_id(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "StopTransactionOnInvalidId", "true") == "Accepted"
        await _offline_unknown_start(cs, b)
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 10, "StopTransaction"))[0]
        assert stop["reason"] == "DeAuthorized"
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        await status_is(b, "Finishing")
    run_case(tmp_path, case)


def test_TC_037_2_CS_offline_start_invalid_idtag_keep_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "StopTransactionOnInvalidId", "false") == "Accepted"
        await _offline_unknown_start(cs, b)
        await b.until(lambda: b.d.duty == 100.0, 3, "no energy")
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        await status_is(b, "SuspendedEVSE")
        await b.wait(2.0)
        assert not cs.actions("StopTransaction")
    run_case(tmp_path, case)


def test_TC_017_2_CS_unlock_connector_no_session_fixed_cable(tmp_path):
    async def case(cs, power_on):
        await power_on()
        assert (await cs.call("cp1", call.UnlockConnector(connector_id=1))).status == "NotSupported"
    run_case(tmp_path, case)


def test_TC_010_CS_remote_start_with_authorize_remote_tx_requests(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "AuthorizeRemoteTxRequests", "true") == "Accepted"
        b.d.plug()
        await status_is(b, "Preparing")
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Accepted"
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        acts = cs.actions()
        assert acts.index("Authorize") < acts.index("StartTransaction") and start["idTag"] == "GOOD"
        b.d.ev("C")
        await status_is(b, "Charging")
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="BAD", connector_id=1))
        assert res.status == "Rejected"
    run_case(tmp_path, case)


def test_change_availability_inoperative_during_a_transaction_is_scheduled(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert res.status == "Scheduled"
        await b.wait(1.0)
        assert offering(b) and "Unavailable" not in statuses(cs)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction")
        await status_is(b, "Unavailable")
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Operative"))
        assert res.status == "Accepted"
        await b.until(lambda: statuses(cs)[-1] != "Unavailable", 3, "operative")
        await b.wait(1.0)
        after = statuses(cs)[statuses(cs).index("Unavailable") + 1:]
        # the car is still there: never Available; Preparing, not Finishing (4.9: no Unavailable -> Finishing)
        assert after == ["Preparing"], after
        b.d.unplug()
        await status_is(b, "Available")
    run_case(tmp_path, case)


def test_stop_transaction_carries_the_stop_txn_sampled_data(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "StopTxnSampledData", "Energy.Active.Import.Register") == "Accepted"
        assert await change_config(cs, "MeterValueSampleInterval", "2") == "Accepted"
        await charging(b)
        await b.wait(5.0)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        ctx = [mv["sampledValue"][0].get("context") for mv in stop["transactionData"]]
        assert ctx[0] == "Transaction.Begin" and ctx[-1] == "Transaction.End" and "Sample.Periodic" in ctx, ctx
        stamps = [_stamp(mv["timestamp"]) for mv in stop["transactionData"]]
        assert stamps == sorted(stamps)
    run_case(tmp_path, case)


def test_change_availability_operative_again_with_a_car_plugged_in_is_never_available(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        for _ in range(2):
            assert (await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))).status == "Accepted"
            await status_is(b, "Unavailable")
            n = len(statuses(cs))
            assert (await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))).status == "Accepted"
            await b.until(lambda: len(statuses(cs)) > n, 3, "operative")
            await b.wait(1.0)
            assert statuses(cs)[n:] == ["Preparing"], statuses(cs)
        assert (await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))).status == "Accepted"
        await status_is(b, "Unavailable")
        b.d.unplug()                              # the car leaves while Unavailable
        await b.wait(1.0)
        assert (await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Operative"))).status == "Accepted"
        await status_is(b, "Available", 3)
        b.d.plug()
        await status_is(b, "Preparing", 3)
    run_case(tmp_path, case)


def test_TC_042_2_CS_get_local_list_version_empty(tmp_path):
    async def case(cs, power_on):
        await power_on()
        assert await change_config(cs, "LocalAuthListEnabled", "true") == "Accepted"
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full"))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 0
    run_case(tmp_path, case)


def test_TC_037_1_CS_offline_start_then_charging_in_this_order(tmp_path):
    """Back online: step 1 StartTransaction, step 3 StatusNotification Charging, in that order (the
    central system learns of the transaction before its connector's Charging)."""
    async def case(cs, power_on):
        b = await power_on()
        for key in ("LocalAuthListEnabled", "LocalAuthorizeOffline"):
            assert await change_config(cs, key, "true") == "Accepted"
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "GOOD", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        await _offline(cs, b)
        n = len(cs.calls)
        b.d.plug()
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        b.d.ev("C")
        await b.until(lambda: offering(b), 8, "charging offline")
        await _online(cs, b)
        await b.until(lambda: cs.actions("StartTransaction"), 30, "queued StartTransaction")
        await status_is(b, "Charging")
        seq = [(a, p.get("status")) for a, p in cs.calls[n:]
               if a == "StartTransaction" or (a == "StatusNotification" and p["connectorId"] == 1)]
        assert seq == [("StartTransaction", None), ("StatusNotification", "Charging")], seq
    run_case(tmp_path, case)


def _tx_and_status(cs, n):
    return [(a, p.get("status")) for a, p in cs.calls[n:]
            if a in ("StartTransaction", "StopTransaction") or (a == "StatusNotification" and p["connectorId"] == 1)]


def test_TC_015_CS_stop_transaction_then_finishing(tmp_path):
    """Reset Hard during a session: step 3 StopTransaction (HardReset), step 5 StatusNotification
    Finishing, in that order; so for a remote stop (TC_012_CS) and offline (TC_038_CS)."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        n = len(cs.calls)
        assert (await cs.call("cp1", call.RemoteStopTransaction(transaction_id=b.svc.tx["txid"]))).status == "Accepted"
        await status_is(b, "Finishing")
        assert _tx_and_status(cs, n) == [("StopTransaction", None), ("StatusNotification", "Finishing")]
        b.d.ev("B")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})       # a new session on the same car
        b.d.ev("C")
        await status_is(b, "Charging")
        await _offline(cs, b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        n = len(cs.calls)
        await _online(cs, b)
        await b.until(lambda: len(cs.actions("StopTransaction")) == 2, 30, "queued StopTransaction")
        await status_is(b, "Finishing")
        assert _tx_and_status(cs, n) == [("StopTransaction", None), ("StatusNotification", "Finishing")]
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        b.d.ev("C")
        await status_is(b, "Charging")
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        await b.until(lambda: len(cs.actions("StopTransaction")) == 3, what="StopTransaction")
        await status_is(b, "Finishing")
        assert _tx_and_status(cs, n)[:2] == [("StopTransaction", None), ("StatusNotification", "Finishing")]
    run_case(tmp_path, case)


def test_TC_015_CS_finishing_goes_out_before_the_reboot_with_the_contactor_open(tmp_path):
    """The car paused (B, contactor open) when the Reset comes: StopTransaction, then Finishing,
    both before the reboot's BootNotification."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        await status_is(b, "SuspendedEV")
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        b = await reboot(b, power_on, wait_accepted=False)
        sent = before_boot(cs, n)
        assert "Finishing" in sent, (sent, cs.actions()[n:])
        assert _tx_and_status(cs, n)[:2] == [("StopTransaction", None), ("StatusNotification", "Finishing")]
    run_case(tmp_path, case)


def test_TC_001_CS_the_statuses_come_right_after_the_boot(tmp_path):
    """Cold boot: BootNotification, then a StatusNotification per connector and for connectorId 0,
    before anything else (the startup's SecurityEventNotification came between them)."""
    async def case(cs, power_on):
        b = await power_on()
        await b.until(lambda: cs.actions("SecurityEventNotification"), 5, "startup event")
        first = cs.actions()[:3]
        assert first == ["BootNotification", "StatusNotification", "StatusNotification"], cs.actions()[:5]
        assert {p["connectorId"] for p in cs.actions("StatusNotification")[:2]} == {0, 1}
    run_case(tmp_path, case)


def test_TC_013_CS_connector_inoperative_leaves_the_charge_point_available(tmp_path):
    """ChangeAvailability of connector 1: step 3 is that connector's StatusNotification
    Unavailable; connector 0 (the charge point) stays Available, after the reboot too (step 9: the
    connector Unavailable, the other statuses Available). Connector 0 Inoperative makes both
    Unavailable; Operative again, both Available."""
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert res.status == "Accepted"
        await status_is(b, "Unavailable")
        first = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert first == [(1, "Unavailable")], first
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        b = await reboot(b, power_on)
        after = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert (1, "Unavailable") in after and (0, "Available") in after, after
        assert (0, "Unavailable") not in after and (1, "Available") not in after, after
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))
        await status_is(b, "Unavailable", connector=0)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Operative"))
        await b.wait(1.0)
        assert statuses(cs)[-1] == "Unavailable"          # the charge point is still Inoperative
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))
        await status_is(b, "Available", connector=0)
        await status_is(b, "Available")
    run_case(tmp_path, case)


def test_charge_point_inoperative_during_a_transaction_is_scheduled(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))
        assert res.status == "Scheduled"
        await b.wait(1.0)
        assert statuses(cs, 0)[-1] == "Available" and offering(b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction")
        await status_is(b, "Unavailable")
        await status_is(b, "Unavailable", connector=0)
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Rejected"
    run_case(tmp_path, case)
