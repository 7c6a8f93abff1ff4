"""OCPP 1.6J compliance cases (the Open Charge Alliance's OCTT test-case list, Charge Point side)
that apply to this charger: one connector, AC, tethered cable, no lock actuator. Each test is named
after its case id and follows the case's message sequence as publicly described (docs/ocpp.md,
"Compliance cases", says where each id comes from and which cases do not apply, and why).

The charger is the unmodified firmware on the virtual bench with a scripted car; the central
system is the PyPI `ocpp` library, and every frame the charger sends is checked against the
official 1.6 JSON schemas (octt_cs). A case failing only because of a defect listed in issue 12 is
marked xfail(strict): it turns into a failure once the fix lands."""
import pytest

from evse.ocpp import connection

from octt_cs import call, car_draws, change_config, charging, offering, run_case, status_is, statuses, virtual_s


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    """The service's sender sleeps in real-time slices of IDLE_WAKE_MS; on the bench virtual time
    runs up to 20 times faster, so a 1 s slice would be 20 virtual seconds: wake every 10 ms."""
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def known(defect):
    return pytest.mark.xfail(strict=True, reason="issue 12: " + defect)


# -- boot -----------------------------------------------------------------------------------------

def test_TC_001_CS_cold_boot_charge_point(tmp_path):
    """Rejected first: the next BootNotification waits the interval; then Available for
    connector 0 and 1, and a Heartbeat every HeartbeatInterval (from the Accepted answer)."""
    async def case(cs, power_on):
        b = await power_on()
        boots = [t for t, a in cs.timeline if a == "BootNotification"]
        assert len(boots) == 2 and (boots[1] - boots[0]) / 1e6 >= 4.0        # interval 4 s
        assert statuses(cs, 0) == ["Available"] and statuses(cs, 1) == ["Available"]
        assert cs.actions()[:2] == ["BootNotification"] * 2
        await b.until(lambda: len(cs.actions("Heartbeat")) >= 2, 20, "two heartbeats")
        beats = [t for t, a in cs.timeline if a == "Heartbeat"]
        assert abs((beats[1] - beats[0]) / 1e6 - 5) <= 1.0                   # interval 5 s
    run_case(tmp_path, case, cs_kw={"boot_status": ("Rejected", "Accepted"), "boot_interval": 4,
                                    "heartbeat": 5})


def test_TC_002_CS_cold_boot_charge_point_pending(tmp_path):
    """While Pending the central system reads and sets configuration; the next BootNotification
    waits the interval, then Available and Heartbeats."""
    async def case(cs, power_on):
        b = await power_on(wait_accepted=False)
        await b.until(lambda: cs.actions("BootNotification") and cs.cps.get("cp1"), what="first boot")
        conf = await cs.call("cp1", call.GetConfiguration(key=["MeterValueSampleInterval"]))
        assert conf.configuration_key[0]["key"] == "MeterValueSampleInterval"
        assert await change_config(cs, "MeterValueSampleInterval", "7") == "Accepted"
        assert len(cs.actions("BootNotification")) == 1 and not b.svc.accepted
        await b.until(lambda: b.svc.accepted, 20, "accepted")
        await b.until(lambda: statuses(cs, 0) and statuses(cs, 1), what="status")
        assert statuses(cs, 1) == ["Available"] and cs.actions()[:2] == ["BootNotification"] * 2
        boots = [t for t, a in cs.timeline if a == "BootNotification"]
        assert (boots[1] - boots[0]) / 1e6 >= 10.0
        assert b.svc.config.get("MeterValueSampleInterval") == 7
        await b.until(lambda: cs.actions("Heartbeat"), 10, "heartbeat")
    run_case(tmp_path, case, cs_kw={"boot_status": ("Pending", "Accepted"), "boot_interval": 10, "heartbeat": 5})


def test_the_harness_flags_a_frame_off_the_official_schema():
    from octt_cs import OcttCentralSystem
    cs = OcttCentralSystem()
    cs.check_frame('[2,"a","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charged"}]')
    cs.pending["b"] = "GetLocalListVersion"
    cs.check_frame('[3,"b",{"listVersion":"1"}]')
    cs.check_frame('[2,"c","Heartbeat",{}]')
    assert len(cs.violations) == 2 and cs.checked == 3
    assert "Charged" in cs.violations[0][1][0] and "GetLocalListVersionResponse" in cs.violations[1][1][0]


# -- charging sessions ----------------------------------------------------------------------------

def test_TC_003_CS_regular_charging_session_plugin_first(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        assert r["ocpp"] == "pending"
        await b.until(lambda: cs.actions("Authorize"), what="Authorize")
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "GOOD" and start["connectorId"] == 1
        await b.until(lambda: b.d.duty < 100.0, 6, "PWM on")
        b.d.ev("C")                                   # the car answers the PWM
        await status_is(b, "Charging")
        await b.until(lambda: offering(b), 6, "current offered, contactor closed")
        # offered while the car is still in B: SuspendedEV (section 4.9: Preparing is "no ongoing
        # Transaction (yet)"; B4 then the car's C)
        assert statuses(cs) == ["Available", "Preparing", "SuspendedEV", "Charging"], (statuses(cs), b.d.states())
    run_case(tmp_path, case)


def test_TC_003_CS_regular_charging_session_plugin_first_car_asks_at_once(tmp_path):
    """TC_003_CS with a car that goes to C as soon as it is plugged in (many do): step 1 is still
    Preparing (OCPP 1.6 section 4.9: no transaction yet), and once the transaction runs the status
    never goes back to Preparing."""
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        b.d.ev("C")
        await b.wait(2.0)
        assert statuses(cs) == ["Available", "Preparing"], (statuses(cs), b.d.states())
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await status_is(b, "Charging")
        assert statuses(cs) == ["Available", "Preparing", "Charging"], (statuses(cs), b.d.states())
    run_case(tmp_path, case)


def test_TC_004_1_CS_regular_charging_session_identification_first(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: cs.actions("Authorize"), what="Authorize")
        await b.wait(2.0)
        await car_draws(b)
        mv = await b.until(lambda: [m for m in cs.actions("MeterValues") if m.get("transactionId")], 5,
                           "MeterValues of the transaction")
        assert mv[0]["connectorId"] == 1
    run_case(tmp_path, case)


def test_TC_012_CS_remote_stop_charging_session(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        start = await charging(b)
        txid = b.svc.tx["txid"]
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=txid))
        assert res.status == "Accepted"
        await stopped_then_unplugged(b, cs, start, txid, "Remote")
    run_case(tmp_path, case)


async def stopped_then_unplugged(b, cs, start, txid, reason):
    """The transaction stopped by the charger: StopTransaction (its id, the reason, the meter not
    below its start), Finishing, the PWM off; the car then stops asking (contactor open) and leaves:
    Available."""
    stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
    assert stop["transactionId"] == txid and stop["reason"] == reason
    assert stop["meterStop"] >= start["meterStart"]
    await status_is(b, "Finishing")
    await b.until(lambda: b.d.duty == 100.0, 1, "PWM off")
    b.d.ev("B")
    await b.until(lambda: not b.d.coil, 1, "contactor open")
    b.d.unplug()
    await status_is(b, "Available")


def test_TC_010_CS_remote_start_charging_session_cable_plugged_in_first(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        conf = await cs.call("cp1", call.GetConfiguration(key=["AuthorizeRemoteTxRequests"]))
        authorize_remote = conf.configuration_key[0]["value"] == "true"
        b.d.plug()
        await status_is(b, "Preparing")
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Accepted"
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "GOOD" and start["connectorId"] == 1
        assert bool(cs.actions("Authorize")) == authorize_remote
        b.d.ev("C")
        await status_is(b, "Charging")
        await b.until(lambda: offering(b), 6, "current offered, contactor closed")
    run_case(tmp_path, case)


def test_TC_011_1_CS_remote_start_charging_session_remote_start_first(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await cs.call("cp1", call.GetConfiguration(key=["AuthorizeRemoteTxRequests"]))
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Accepted"
        await status_is(b, "Preparing", 3)
        await car_draws(b)
    run_case(tmp_path, case)


# -- the car leaves (tethered cable: unplugging the car is the EV side disconnecting) -----------

def test_TC_005_2_CS_ev_side_disconnected_stop_true_unlock_false(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "StopTransactionOnEVSideDisconnect", "true") == "Accepted"
        assert await change_config(cs, "UnlockConnectorOnEVSideDisconnect", "false") == "Accepted"
        await charging(b)
        b.d.unplug()
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "EVDisconnected"
        await b.until(lambda: not b.d.coil, 1, "contactor open")
        res = await cs.call("cp1", call.UnlockConnector(connector_id=1))
        assert res.status in ("Unlocked", "NotSupported")      # fixed cable: nothing to unlock
        await status_is(b, "Available")
    run_case(tmp_path, case)


def test_TC_005_3_CS_ev_side_disconnected_stop_false_unlock_false(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "StopTransactionOnEVSideDisconnect", "false") == "Accepted"
        assert await change_config(cs, "UnlockConnectorOnEVSideDisconnect", "false") == "Accepted"
        await charging(b)
        b.d.unplug()
        await b.until(lambda: not b.d.coil, 1, "contactor open")
        await status_is(b, "SuspendedEV")
        await b.wait(2.0)
        assert not cs.actions("StopTransaction")            # the transaction stays open
        b.d.plug()                                          # a car again: the same transaction charges
        b.d.ev("C")
        await status_is(b, "Charging")
        await b.until(lambda: offering(b), 6, "current offered, contactor closed")
        assert len(cs.actions("StartTransaction")) == 1 and not cs.actions("StopTransaction")
        b.d.unplug()
        await status_is(b, "SuspendedEV")
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=b.svc.tx["txid"]))
        assert res.status == "Accepted"
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "Remote"
    run_case(tmp_path, case)


def test_TC_005_2_CS_car_unplugged_stops_the_transaction_with_the_default_keys(tmp_path):
    """What TC_005_2_CS checks that the firmware does today (its keys fixed at true): the car
    unplugs while charging, the contactor opens, StopTransaction EVDisconnected, Available."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        t = b.d.unplug()
        await b.until(lambda: not b.d.coil, 1, "contactor open")
        assert (b.d.coil_change(0, t) - t) / 1e3 <= 100
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "EVDisconnected"
        await status_is(b, "Available")
        assert "Faulted" not in statuses(cs)
    run_case(tmp_path, case)


# -- reset and availability -------------------------------------------------------------------

async def reboot(b, power_on, **kw):
    """The board resets (machine.reset() on the mock raises ResetRequested into the app's log);
    a virtual second later the power comes back: a new bench on the same flash."""
    await b.until(lambda: any("ResetRequested" in e[1] for e in b.app.errors), 5, "reboot requested")
    await b.wait(1.0)
    return await power_on(**kw)


def before_boot(cs, n, connector=1):
    """Connector statuses sent after call n and before the next BootNotification."""
    out = []
    for a, p in cs.calls[n:]:
        if a == "BootNotification":
            break
        if a == "StatusNotification" and p["connectorId"] == connector:
            out.append(p["status"])
    return out


def test_TC_013_CS_hard_reset_without_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert res.status == "Accepted"
        await status_is(b, "Unavailable")
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        b = await reboot(b, power_on)                # same flash, same settings
        assert cs.close_codes[:1] == [1000]          # a Close frame before the reboot, not a lost link
        assert "Faulted" not in before_boot(cs, n), before_boot(cs, n)
        after = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert (1, "Unavailable") in after and (1, "Available") not in after, after
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Operative"))
        assert res.status == "Accepted"
        await status_is(b, "Available")
    run_case(tmp_path, case)


def test_TC_015_CS_hard_reset_with_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        n = len(cs.calls)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "HardReset"
        b.d.ev("B")                                  # the car stops drawing: contactor opens
        b = await reboot(b, power_on, wait_accepted=False)   # the car still plugged in
        b.d.plug()
        sent = before_boot(cs, n)
        assert "Finishing" in sent and "Faulted" not in sent, sent
        m = len(statuses(cs))
        await b.until(lambda: b.svc.accepted, what="boot accepted")
        await b.until(lambda: len(statuses(cs)) > m, what="status after the reboot")
        assert statuses(cs)[m] in ("Finishing", "Preparing"), statuses(cs)[m:]
    run_case(tmp_path, case)


# -- configuration ------------------------------------------------------------------------------

# OCPP 1.6 section 9 keys of the profiles this charger reports, with the accessibility TC_019_CS
# checks ("R", "RW", or "R/RW": the charger's choice).
REQUIRED_KEYS = {
    "Core": {"AuthorizeRemoteTxRequests": "R/RW", "ClockAlignedDataInterval": "RW", "ConnectionTimeOut": "RW",
             "ConnectorPhaseRotation": "RW", "GetConfigurationMaxKeys": "R", "HeartbeatInterval": "RW",
             "LocalAuthorizeOffline": "RW", "LocalPreAuthorize": "RW", "MeterValuesAlignedData": "RW",
             "MeterValuesSampledData": "RW", "MeterValueSampleInterval": "RW", "NumberOfConnectors": "R",
             "ResetRetries": "RW", "StopTransactionOnEVSideDisconnect": "RW", "StopTransactionOnInvalidId": "RW",
             "StopTxnAlignedData": "RW", "StopTxnSampledData": "RW", "SupportedFeatureProfiles": "R",
             "TransactionMessageAttempts": "RW", "TransactionMessageRetryInterval": "RW",
             "UnlockConnectorOnEVSideDisconnect": "RW"},
    "LocalAuthListManagement": {"LocalAuthListEnabled": "RW", "LocalAuthListMaxLength": "R",
                                "SendLocalListMaxLength": "R"},
    "SmartCharging": {"ChargeProfileMaxStackLevel": "R", "ChargingScheduleAllowedChargingRateUnit": "R",
                      "ChargingScheduleMaxPeriods": "R", "MaxChargingProfilesInstalled": "R"},
    "RemoteTrigger": {},
    "Reservation": {"ReserveConnectorZeroSupported": "R"},
    "FirmwareManagement": {"SupportedFileTransferProtocols": "R"},
}


def _wrong_accessibility(keys, profiles):
    by_key = {k["key"]: k for k in keys}
    wrong = []
    for prof in profiles:
        for key, acc in REQUIRED_KEYS[prof].items():
            k = by_key.get(key)
            if k is None:
                wrong.append((key, "missing"))
            elif acc != "R/RW" and k["readonly"] != (acc == "R"):
                wrong.append((key, "readonly" if k["readonly"] else "writable"))
    return wrong


def test_TC_019_CS_retrieve_configuration(tmp_path):
    async def case(cs, power_on):
        await power_on()
        res = await cs.call("cp1", call.GetConfiguration(key=["SupportedFeatureProfiles"]))
        assert not res.unknown_key
        profiles = res.configuration_key[0]["value"].split(",")
        assert "Core" in profiles and set(profiles) <= {"Core", "FirmwareManagement", "LocalAuthListManagement",
                                                         "Reservation", "SmartCharging", "RemoteTrigger"}
        every = (await cs.call("cp1", call.GetConfiguration())).configuration_key
        assert _wrong_accessibility(every, profiles) == []
        some = await cs.call("cp1", call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
        assert [k["key"] for k in some.configuration_key] == ["HeartbeatInterval"]
        assert some.unknown_key == ["NoSuchKey"]
    run_case(tmp_path, case)


def test_TC_019_CS_every_required_key_is_reported(tmp_path):
    """What TC_019_CS checks that holds today: every required key of the reported profiles is
    there, each with the accessibility of section 9, at worst but the two EVSideDisconnect keys
    (issue 12, see above)."""
    async def case(cs, power_on):
        await power_on()
        every = (await cs.call("cp1", call.GetConfiguration())).configuration_key
        profiles = [k for k in every if k["key"] == "SupportedFeatureProfiles"][0]["value"].split(",")
        assert set(_wrong_accessibility(every, profiles)) <= {
            ("StopTransactionOnEVSideDisconnect", "readonly"), ("UnlockConnectorOnEVSideDisconnect", "readonly")}
    run_case(tmp_path, case)


def test_TC_021_CS_change_set_configuration(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "MeterValueSampleInterval", "30") == "Accepted"
        res = await cs.call("cp1", call.GetConfiguration(key=["MeterValueSampleInterval"]))
        assert res.configuration_key[0]["value"] == "30"
        assert b.svc.config.get("MeterValueSampleInterval") == 30
    run_case(tmp_path, case)


def test_TC_040_1_CS_configuration_key_not_supported(tmp_path):
    async def case(cs, power_on):
        await power_on()
        assert await change_config(cs, "Testing", "true") == "NotSupported"
    run_case(tmp_path, case)


def test_TC_040_2_CS_configuration_key_invalid_value(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        res = await cs.ask("cp1", call.ChangeConfiguration(key="MeterValueSampleInterval", value="-1"))
        assert getattr(res, "status", None) == "Rejected" or type(res).__name__ == "PropertyConstraintViolationError"
        assert b.svc.config.get("MeterValueSampleInterval") == 1      # unchanged
    run_case(tmp_path, case)


# -- authorization ------------------------------------------------------------------------------

def test_TC_023_CS_start_charging_session_authorize_invalid(tmp_path):
    """An invalid (also a blocked, an expired) idTag: Authorize answered so, the car plugs in:
    Preparing, and no transaction, no PWM, contactor open."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "LocalPreAuthorize", "true") == "Accepted"
        for tag, status in (("BAD", "Invalid"), ("BLOCKED", "Blocked"), ("OLD", "Expired")):
            await b.reply({"cmd": "authorize", "id_tag": tag})
            await b.until(lambda: b.svc.last_auth == (tag, status), what="Authorize " + status)
        b.d.plug()
        await status_is(b, "Preparing")
        b.d.ev("C")
        await b.wait(3.0)
        assert not cs.actions("StartTransaction") and not b.d.coil and b.d.duty == 100.0
        assert [p["idTag"] for p in cs.actions("Authorize")] == ["BAD", "BLOCKED", "OLD"]
    run_case(tmp_path, case, cs_kw={"tag_status": {"BLOCKED": "Blocked", "OLD": "Expired"}})


def test_TC_042_1_CS_get_local_list_version_not_supported(tmp_path):
    async def case(cs, power_on):
        await power_on()
        assert await change_config(cs, "LocalAuthListEnabled", "false") == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == -1
    run_case(tmp_path, case)


def test_TC_043_CS_send_local_authorization_list(tmp_path):
    """A Full list, then a Differential update, both Accepted; a tag from the list then starts a
    session at once, without an Authorize (LocalPreAuthorize)."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "LocalAuthListEnabled", "true") == "Accepted"
        assert await change_config(cs, "LocalPreAuthorize", "true") == "Accepted"
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        res = await cs.call("cp1", call.SendLocalList(list_version=2, update_type="Differential",
                                                      local_authorization_list=[
                                                          {"idTag": "LOCAL2", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 2
        b.d.plug()
        await status_is(b, "Preparing")
        await b.reply({"cmd": "authorize", "id_tag": "LOCAL2"})
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "LOCAL2" and not cs.actions("Authorize")
        b.d.ev("C")
        await status_is(b, "Charging")
        await b.until(lambda: offering(b), 6, "current offered, contactor closed")
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("LOCAL1", "LOCAL2")})


def test_TC_008_CS_regular_start_charging_session_id_in_local_authorization_list(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        for key in ("LocalPreAuthorize", "LocalAuthListEnabled"):
            assert await change_config(cs, key, "true") == "Accepted"
        assert await change_config(cs, "AuthorizationCacheEnabled", "false") == "Accepted"
        await cs.call("cp1", call.GetLocalListVersion())
        res = await cs.call("cp1", call.SendLocalList(list_version=3, update_type="Full", local_authorization_list=[
            {"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        await b.reply({"cmd": "authorize", "id_tag": "LOCAL1"})
        await status_is(b, "Preparing", 3)
        await car_draws(b, "LOCAL1")
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("LOCAL1",)})


# -- remote trigger -----------------------------------------------------------------------------

def test_TC_054_CS_trigger_message(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        for what, action in (("MeterValues", "MeterValues"), ("Heartbeat", "Heartbeat"),
                             ("StatusNotification", "StatusNotification"),
                             ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
                             ("FirmwareStatusNotification", "FirmwareStatusNotification")):
            n = len(cs.actions(action))
            res = await cs.call("cp1", call.TriggerMessage(requested_message=what, connector_id=1))
            assert res.status == "Accepted", what
            await b.until(lambda: len(cs.actions(action)) > n, 3, "triggered " + what)
        mv = cs.actions("MeterValues")[-1]
        assert all(s.get("context") == "Trigger" for s in mv["meterValue"][0]["sampledValue"])
    run_case(tmp_path, case)


def test_TC_055_CS_trigger_message_rejected(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        res = await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=2))
        assert res.status == "Rejected"
        await b.wait(2.0)
        assert "MeterValues" not in cs.actions()[n:]
    run_case(tmp_path, case)


def test_TC_011_2_CS_remote_start_charging_session_time_out(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "ConnectionTimeOut", "5") == "Accepted"
        await cs.call("cp1", call.GetConfiguration(key=["AuthorizeRemoteTxRequests"]))
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Accepted"
        await status_is(b, "Preparing", 3)
        t = virtual_s()
        await status_is(b, "Available", 10)
        assert virtual_s() - t >= 4.0 and not cs.actions("StartTransaction")
    run_case(tmp_path, case)


# -- offline --------------------------------------------------------------------------------------

async def _listed(cs, tag="GOOD"):
    for key in ("LocalAuthListEnabled", "LocalAuthorizeOffline"):
        assert await change_config(cs, key, "true") == "Accepted"
    res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
        {"idTag": tag, "idTagInfo": {"status": "Accepted"}}]))
    assert res.status == "Accepted"


async def _offline(cs, b):
    """Remove connectivity: the central system goes away (the charger notices the closed socket)."""
    await cs.stop()
    await b.until(lambda: not b.svc.accepted or b.svc.ws is None or b.svc.ws.closed, 10, "offline")


async def _online(cs, b):
    await cs.start(port=cs.port)
    await b.until(lambda: cs.cps.get("cp1"), 200, "reconnected")


async def charging_offline(cs, b):
    """The local list holds GOOD, the central system goes away; a car is plugged in, GOOD is
    presented and the car asks: charging offline."""
    await _listed(cs)
    await _offline(cs, b)
    b.d.plug()
    await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
    b.d.ev("C")
    await b.until(lambda: offering(b), 8, "charging offline")


def test_TC_037_1_CS_offline_start_transaction_valid_idtag(tmp_path):
    """Offline, the car plugged in first (see TC_004_1_CS for the other order), a listed tag starts
    the session at once; StartTransaction goes out when the connection is back."""
    async def case(cs, power_on):
        b = await power_on()
        await charging_offline(cs, b)
        n = len(cs.calls)                 # as when it went offline: nothing reached the central system
        await _online(cs, b)
        start = (await b.until(lambda: cs.actions("StartTransaction"), 30, "queued StartTransaction"))[0]
        assert start["idTag"] == "GOOD" and cs.calls[n:].count(("StartTransaction", start)) == 1
        await status_is(b, "Charging", 10)
    run_case(tmp_path, case)


def test_TC_039_CS_offline_transaction(tmp_path):
    """Offline: start, stop locally, unplug; back online both transaction messages go out, in order."""
    async def case(cs, power_on):
        b = await power_on()
        await charging_offline(cs, b)
        await b.wait(2.0)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})      # the same card ends it
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        b.d.unplug()
        await b.wait(1.0)
        await _online(cs, b)
        await b.until(lambda: cs.actions("StopTransaction"), 30, "queued StopTransaction")
        tx = [a for a in cs.actions() if a in ("StartTransaction", "StopTransaction")]
        assert tx == ["StartTransaction", "StopTransaction"]
        start, stop = cs.actions("StartTransaction")[0], cs.actions("StopTransaction")[0]
        assert stop.get("reason", "Local") == "Local" and stop["meterStop"] >= start["meterStart"]
        assert stop["transactionId"] == 100                         # the id the central system gave
    run_case(tmp_path, case)


# -- rejections -----------------------------------------------------------------------------------

def test_TC_026_CS_remote_start_charging_session_rejected(tmp_path):
    """The only connector is busy with a transaction: a second RemoteStartTransaction is Rejected
    and nothing changes."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Rejected"
        await b.wait(1.0)
        assert len(cs.actions("StartTransaction")) == 1 and b.d.coil
    run_case(tmp_path, case)


def test_TC_027_CS_remote_start_transaction_connector_id_shall_not_be_0(tmp_path):
    """RemoteStartTransaction on connectorId 0: Rejected (the case also lets a CallError pass);
    nothing starts when the car then comes."""
    async def case(cs, power_on):
        b = await power_on()
        res = await cs.ask("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=0))
        assert getattr(res, "status", res) == "Rejected"
        b.d.plug()
        await status_is(b, "Preparing")
        await b.wait(2.0)
        assert not cs.actions("StartTransaction") and not cs.actions("Authorize") and not offering(b)
    run_case(tmp_path, case)


def test_TC_028_CS_remote_stop_transaction_rejected(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=b.svc.tx["txid"] + 1000))
        assert res.status == "Rejected"
        await b.wait(1.0)
        assert not cs.actions("StopTransaction") and offering(b)
    run_case(tmp_path, case)


def test_TC_031_CS_unlock_connector_unknown_connector(tmp_path):
    async def case(cs, power_on):
        await power_on()
        assert (await cs.call("cp1", call.UnlockConnector(connector_id=2))).status == "NotSupported"
    run_case(tmp_path, case)


def test_TC_062_CS_data_transfer_to_a_charge_point(tmp_path):
    async def case(cs, power_on):
        await power_on()
        res = await cs.call("cp1", call.DataTransfer(vendor_id="org.openchargealliance.octt", message_id="Test"))
        assert res.status in ("Rejected", "UnknownMessageId", "UnknownVendorId")
    run_case(tmp_path, case)


def test_TC_043_2_CS_send_local_authorization_list_version_mismatch(tmp_path):
    """Versions 2 (Full) then 5 (Differential) are kept; a differential update that is not newer
    than the list is refused with VersionMismatch and the version stays 5."""
    async def case(cs, power_on):
        await power_on()
        assert await change_config(cs, "LocalAuthListEnabled", "true") == "Accepted"
        entry = [{"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted"}}]
        res = await cs.call("cp1", call.SendLocalList(list_version=2, update_type="Full", local_authorization_list=entry))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 2
        res = await cs.call("cp1", call.SendLocalList(list_version=5, update_type="Differential",
                                                      local_authorization_list=entry))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 5
        res = await cs.call("cp1", call.SendLocalList(list_version=4, update_type="Differential",
                                                      local_authorization_list=entry))
        assert res.status == "VersionMismatch"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 5
    run_case(tmp_path, case)
