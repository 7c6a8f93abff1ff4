"""OCPP 1.6J compliance cases (OCTT test-case list, Charge Point side) not covered by the other
test_octt_*.py files: unlocking with a session on the fixed cable, the local list refused or failed,
a TxDefaultProfile set during a session, Basic authentication and a security profile that may not be
lowered. Same set-up as test_octt_core.py (the bench, the schema-checking central system); the
case texts are the ocpplab.com pages of the OCTT 1.6 test case document where they were found
(docs/ocpp.md, "Compliance cases")."""
import base64
import shutil
import ssl

import pytest

from evse.ocpp import connection

from octt_cs import call, change_config, charging, last_status, offering, run_case, status_is
from test_octt_core import _offline, _online, charging_offline, stopped_then_unplugged
from test_octt_smart import composite, offers, profile, set_profile


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def test_TC_018_2_CS_unlock_connector_with_charging_session_fixed_cable(tmp_path):
    """Charging on the tethered cable: UnlockConnector is NotSupported (nothing to unlock); the
    transaction is still finished first (OCPP 1.6 section 5.18: 'If there was a transaction in
    progress on the specific connector, then Charge Point SHALL finish the transaction first'),
    StopTransaction UnlockCommand, Finishing, no current offered; Available once unplugged."""
    async def case(cs, power_on):
        b = await power_on()
        start = await charging(b)
        txid = b.svc.tx["txid"]
        res = await cs.call("cp1", call.UnlockConnector(connector_id=1))
        assert res.status == "NotSupported"
        await stopped_then_unplugged(b, cs, start, txid, "UnlockCommand")
    run_case(tmp_path, case)


def test_TC_043_1_CS_send_local_authorization_list_not_supported(tmp_path):
    """The case's prerequisite (no Local Auth List Management) is this charger with
    LocalAuthListEnabled false: SendLocalList is NotSupported and the list sent authorizes nobody
    (offline, its tag starts nothing)."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "LocalAuthListEnabled", "false") == "Accepted"
        assert await change_config(cs, "LocalAuthorizeOffline", "true") == "Accepted"
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "NotSupported"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == -1
        await _offline(cs, b)
        b.d.plug()
        await b.reply({"cmd": "authorize", "id_tag": "LISTED"})
        b.d.ev("C")
        await b.wait(3.0)
        assert not b.svc.tx and not offering(b)
    run_case(tmp_path, case)


def test_TC_043_3_CS_send_local_authorization_list_failed(tmp_path):
    """A state in which setting the list fails: a Full list (version 2) of more entries than
    SendLocalListMaxLength. Failed; the list before it (version 1) stays, and still authorizes."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "LocalAuthListEnabled", "true") == "Accepted"
        one = [{"idTag": "GOOD", "idTagInfo": {"status": "Accepted"}}]
        assert (await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full",
                                                        local_authorization_list=one))).status == "Accepted"
        most = b.svc.config.get("SendLocalListMaxLength")
        many = [{"idTag": "T%d" % i, "idTagInfo": {"status": "Accepted"}} for i in range(most + 1)]
        res = await cs.call("cp1", call.SendLocalList(list_version=2, update_type="Full", local_authorization_list=many))
        assert res.status == "Failed"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 1
        assert b.svc.auth.lookup("GOOD", 0)[1] == "list"
    run_case(tmp_path, case)


def test_TC_082_CS_tx_default_profile_with_ongoing_transaction(tmp_path):
    """A TxDefaultProfile set while a transaction runs (no TxProfile) is Accepted and limits that
    transaction too: the pilot follows it and the composite schedule shows it."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        await offers(b, 32)
        assert await set_profile(cs, 1, profile(21, "TxDefaultProfile", 10, level=1)) == "Accepted"
        await offers(b, 10)
        assert b.d.coil and last_status(cs) == "Charging"
        res = await composite(cs)
        assert res.status == "Accepted"
        assert [p["limit"] for p in res.charging_schedule["charging_schedule_period"]] == [10]
    run_case(tmp_path, case)


def test_TC_085_CS_basic_authentication_valid_username_password(tmp_path):
    """Security profile 1: the upgrade request carries 'Authorization: Basic
    base64(<ChargePointId>:<password>)', the id being the one at the end of the URL; accepted."""
    password = "OCA_OCTT_pw_16chr"

    async def case(cs, power_on):
        b = await power_on()
        assert b.svc.accepted and cs.cps.get("cp1")
        want = "Basic " + base64.b64encode(b"cp1:" + password.encode()).decode()
        assert cs.auth_headers and set(cs.auth_headers) == {want}, cs.auth_headers
    run_case(tmp_path, case, cs_kw={"password": password}, ocpp_security_profile=1, ocpp_password=password)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
def test_TC_084_CS_downgrade_security_profile_rejected(tmp_path):
    """Connected at security profile 2 (wss://, Basic auth): SecurityProfile one level lower (1) is
    Rejected, 0 too; the key still reads 2 and the connection stays."""
    from test_ocpp_cs import _self_signed
    cert, key = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    password = "0123456789abcdef"

    async def case(cs, power_on):
        b = await power_on()
        assert cs.url().startswith("wss://")
        for lower in ("1", "0"):
            assert await change_config(cs, "SecurityProfile", lower) == "Rejected"
        got = await cs.call("cp1", call.GetConfiguration(key=["SecurityProfile"]))
        assert got.configuration_key[0]["value"] == "2"
        await b.wait(2.0)
        assert b.svc.accepted and len([a for a, _ in cs.calls if a == "BootNotification"]) == 1
    run_case(tmp_path, case, cs_kw={"password": password, "ssl_context": ctx}, ocpp_security_profile=2,
             ocpp_password=password, ocpp_ca_file=str(cert))


def test_TC_039_CS_back_online_only_the_current_statuses_after_the_queued_transaction(tmp_path):
    """OCPP 1.6 section 4.9 on connecting after being offline: the current status of a connector
    whose status changed (SHOULD), none of the statuses it went through offline (SHOULD NOT), in
    the order of the events (MUST). Connector 0, unchanged, may report Available again before the
    queued StartTransaction: neither that section nor TC_037_1/039_CS (whose steps list only the
    transaction messages and connector 1's status) forbid it."""
    async def case(cs, power_on):
        b = await power_on()
        await charging_offline(cs, b)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})      # stopped offline
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 4, "contactor open")
        b.d.unplug()
        await b.wait(1.0)
        n = len(cs.calls)
        await _online(cs, b)
        await b.until(lambda: cs.actions("StopTransaction"), 30, "queued StopTransaction")
        await b.wait(2.0)
        after = [(a, p.get("connectorId"), p.get("status")) for a, p in cs.calls[n:]
                 if a in ("StartTransaction", "StopTransaction", "StatusNotification")]
        assert [x for x in after if x[1] != 0] == [("StartTransaction", 1, None), ("StopTransaction", None, None),
                                                   ("StatusNotification", 1, "Available")], after
        assert [x[2] for x in after if x[1] == 0] in ([], ["Available"]), after
    run_case(tmp_path, case)
