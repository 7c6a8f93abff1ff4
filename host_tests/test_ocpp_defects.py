"""Issue 12's defect list, one bench scenario per defect: the unmodified firmware (App, real core)
on the virtual bench against the PyPI `ocpp` central system (test_ocpp_bench.Bench), or a part on
its own with test_ocpp_parts' fake service."""
import asyncio

import pytest

from host_tests.test_ocpp_bench import Bench, statuses, run
from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import Rig
from evse.shell import tls
from evse.core.charger import Charger
from tools.sim.drive import Drive


# -- 1. authorizing before plugging in charges -----------------------------------------------------

def _core_with_auth(tmp_path):
    d = Drive(config={"max_current": 32, "require_auth": True}, flash_dir=str(tmp_path))
    d.run(0.5)
    return d


def test_core_keeps_an_authorization_given_before_the_plug_until_the_unplug(tmp_path):
    d = _core_with_auth(tmp_path)
    d.charger.authorize(True)          # card first
    d.run(5.0)                         # many ticks in A: the authorization waits for the car
    assert d.state == "A1" and d.charger.authorized
    d.plug()
    d.run(0.5)
    d.ev("C")
    d.run(1.5)
    assert d.state == "C2" and d.coil
    d.ev("B")
    d.run(0.1)
    d.unplug()
    d.run(0.2)
    assert d.state == "A1" and not d.charger.authorized    # the unplug ends it: the next car asks again
    d.plug()
    d.ev("C")
    d.run(2.0)
    assert d.state == "C1" and not d.coil


async def _card_first(cs, tmp_path, **kw):
    b = await Bench(cs, tmp_path, **kw).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    await b.until(lambda: statuses(cs)[-1:] == ["Available"], what="Available")
    return b


async def _plug_and_charge(b, cs):
    d = b.d
    await b.wait(2.0)                               # the car comes a little later
    d.plug()
    start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
    d.ev("C")
    await b.until(lambda: d.coil, 6, "contactor closed")
    await b.until(lambda: statuses(cs)[-1:] == ["Charging"], what="Charging")
    return start


@pytest.mark.parametrize("how", ["card_online", "local_list", "remote_start", "card_offline"])
def test_authorized_before_the_plug_charges_when_the_car_comes(tmp_path, how):
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD", "LOCAL", "OFFCARD"))
        await cs.start()
        cfg = {"MeterValueSampleInterval": 0, "LocalPreAuthorize": how == "local_list",
               "AllowOfflineTxForUnknownId": how == "card_offline"}
        b = await _card_first(cs, tmp_path, ocpp_config=cfg)
        if how == "local_list":
            res = await cs.call("cp1", call.SendLocalList(list_version=3, update_type="Full",
                                local_authorization_list=[{"id_tag": "LOCAL", "id_tag_info": {"status": "Accepted"}}]))
            assert res.status == "Accepted"
            assert b.svc.present_id("LOCAL") == "accepted"
        elif how == "remote_start":
            assert (await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD"))).status == "Accepted"
        elif how == "card_offline":
            b.svc.accepted = False                       # the link is down when the card is shown
            assert b.svc.present_id("OFFCARD") == "accepted"
            b.svc.accepted = True
        else:
            assert b.svc.present_id("GOOD") == "pending"
            await b.until(lambda: b.app.charger.authorized, what="Authorize answered")
        await _plug_and_charge(b, cs)
        assert b.app.charger.state == "C2"
        await b.stop()
        await cs.stop()
    run(main())


# -- 2. the connector status ------------------------------------------------------------------------

def test_preparing_while_an_accepted_tag_waits_then_available_after_connection_timeout(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path, ocpp_config={"MeterValueSampleInterval": 0, "ConnectionTimeOut": 3})
        assert (await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD"))).status == "Accepted"
        await b.until(lambda: statuses(cs)[-1:] == ["Preparing"], 1, "Preparing")
        assert b.app.charger.authorized and b.d.state == "A1"
        await b.until(lambda: statuses(cs)[-1:] == ["Available"], 5, "Available after ConnectionTimeOut")
        assert not b.app.charger.authorized                  # nobody came: the next car asks again
        b.d.plug()
        b.d.ev("C")
        # no transaction yet: Preparing (OCPP 1.6 section 4.9), never charging without a tag
        await b.until(lambda: statuses(cs)[-1:] == ["Preparing"], 5, "the car waits")
        await b.wait(2.0)
        assert not b.d.coil and cs.actions("StartTransaction") == []
        await b.stop()
        await cs.stop()
    run(main())


def test_a_car_plugged_in_through_a_power_cut_is_never_reported_available(tmp_path):
    # The central system answers the boot at once (before the first pilot reading): every status
    # queued from then on goes out as it is, none merged away.
    d = Drive(config={"max_current": 32, "ocpp_url": "ws://127.0.0.1:9/ocpp"}, flash_dir=str(tmp_path))
    svc = d.app.ocpp
    svc.accepted = True
    d.plug()                                   # the car was there when the power came back
    d.ev("C")
    d.run(2.0)
    sent = [c[1]["status"] for c in svc.immediate if c[0] == "StatusNotification" and c[1]["connectorId"] == 1]
    assert sent and "Available" not in sent and sent[0] in ("Preparing", "SuspendedEVSE")


def test_change_availability_of_the_charge_point_reports_connector_0_at_once(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path)
        assert statuses(cs, 0) == ["Available"]
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))
        assert res.status == "Accepted"
        await b.until(lambda: statuses(cs, 0)[-1:] == ["Unavailable"], 1, "connector 0 Unavailable")
        await b.until(lambda: statuses(cs, 1)[-1:] == ["Unavailable"], 1, "connector 1 Unavailable")
        await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))
        await b.until(lambda: statuses(cs, 0)[-1:] == ["Available"], 1, "connector 0 Available")
        await b.stop()
        await cs.stop()
    run(main())


def test_a_reset_during_a_session_is_never_reported_as_a_fault(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path)
        b.svc.present_id("GOOD")
        await b.until(lambda: b.app.charger.authorized, what="authorized")
        await _plug_and_charge(b, cs)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction")
        b.d.ev("B")
        await b.until(lambda: any(e == ("ocpp", "reset Hard") for e in b.app.errors), 2, "reset")
        await b.wait(2.0)                     # the bench's machine.reset() returns: the loop runs on
        faulted = [p for p in cs.actions("StatusNotification") if p["status"] == "Faulted"]
        assert faulted == []
        await b.stop()
        await cs.stop()
    run(main())


# -- 3. TriggerMessage while Pending, measurands, StopTxn data ---------------------------------------

def test_trigger_boot_notification_while_pending_goes_out_at_once_and_once(tmp_path):
    async def main():
        cs = CentralSystem(boot_status=("Pending", "Accepted"), boot_interval=30)
        await cs.start()
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_action("BootNotification", 1)
        await asyncio.sleep(0.3)
        t0 = asyncio.get_running_loop().time()
        res = await cs.call("cp1", call.TriggerMessage(requested_message="BootNotification"))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: rig.svc.accepted, timeout=5)
        assert asyncio.get_running_loop().time() - t0 < 2.0      # not the 30 s retry
        await asyncio.sleep(1.0)
        assert len(cs.actions("BootNotification")) == 2           # the first, then the triggered one
        await rig.kill()
        await cs.stop()
    run(main())


def test_offered_current_and_power_are_sampled_and_reported(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path)
        res = await cs.call("cp1", call.ChangeConfiguration(
            key="MeterValuesSampledData", value="Energy.Active.Import.Register,Current.Offered,Power.Offered"))
        assert res.status == "Accepted"
        b.svc.present_id("GOOD")
        await _plug_and_charge(b, cs)
        mv = await b.until(lambda: [m for m in cs.actions("MeterValues") if m.get("transactionId")], 5, "MeterValues")
        got = {s["measurand"]: (s["value"], s["unit"]) for s in mv[-1]["meterValue"][0]["sampledValue"]}
        assert got["Current.Offered"] == ("32.0", "A") and got["Power.Offered"] == ("7360", "W")
        await b.stop()
        await cs.stop()
    run(main())


def test_stop_transaction_carries_the_stop_txn_sampled_data_every_interval(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path, ocpp_config={"MeterValueSampleInterval": 1,
                                                         "StopTxnSampledData": "Energy.Active.Import.Register"})
        b.svc.present_id("GOOD")
        await _plug_and_charge(b, cs)
        await b.wait(3.5)
        b.d.ev("B")
        b.d.unplug()
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        ctx = [v["sampledValue"][0]["context"] for v in stop["transactionData"]]
        assert ctx[0] == "Transaction.Begin" and ctx[-1] == "Transaction.End"
        assert ctx.count("Sample.Periodic") >= 3
        stamps = [v["timestamp"] for v in stop["transactionData"]]
        assert stamps == sorted(stamps) and len(set(stamps)) >= 4     # each sample keeps its own time
        await b.stop()
        await cs.stop()
    run(main())


def test_stop_txn_aligned_data_is_used(tmp_path):
    from evse.ocpp import metering, transactions
    from host_tests.test_ocpp_parts import Service, Meter
    svc = Service(config={"StopTxnAlignedData": "Energy.Active.Import.Register", "ClockAlignedDataInterval": 60},
                  meter=Meter(), tx={"ref": 1, "tag": "A", "txid": 5}, tx_data=[], settings={},
                  plugged=False, profiles=None, _aligned_slot=None, aligned_due=None, next_sample_ms=None)
    svc.meta = lambda now=None: {"b": 1, "tk": svc.now, "ts": None}
    svc.wall = type("W", (), {"now": lambda self, tk: 1000 + tk / 1000})()
    metering.poll(svc, 0)
    metering.poll(svc, 61000)                         # one clock-aligned boundary passed
    assert [v["sampledValue"][0]["context"] for v in svc.tx_data] == ["Sample.Clock"]


# -- 4. answers the spec gives -------------------------------------------------------------------------

def test_local_list_version_remote_start_on_connector_0_and_ev_side_disconnect_keys(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 0     # nothing installed
        await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[]))
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 0     # installed, empty
        await cs.call("cp1", call.SendLocalList(list_version=2, update_type="Full", local_authorization_list=[
            {"id_tag": "L1", "id_tag_info": {"status": "Accepted"}}]))
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 2
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=0))
        assert res.status == "Rejected" and not rig.charger.authorized
        keys = {k["key"]: k for k in (await cs.call("cp1", call.GetConfiguration(key=[
            "StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect"]))).configuration_key}
        assert not keys["StopTransactionOnEVSideDisconnect"]["readonly"]
        assert not keys["UnlockConnectorOnEVSideDisconnect"]["readonly"]
        change = lambda k, v: cs.call("cp1", call.ChangeConfiguration(key=k, value=v))
        assert (await change("UnlockConnectorOnEVSideDisconnect", "false")).status == "Accepted"
        assert (await change("StopTransactionOnEVSideDisconnect", "true")).status == "Accepted"
        assert (await change("StopTransactionOnEVSideDisconnect", "false")).status == "Accepted"  # TC_005_3_CS
        await rig.kill()
        await cs.stop()
    run(main())


# -- 5. who this unit is ---------------------------------------------------------------------------

def test_boot_notification_names_this_unit_from_its_settings_and_the_one_version(tmp_path):
    import json
    import os
    from evse.services import settings
    from evse.core.version import VERSION
    from tools import flash

    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await Rig(cs, tmp_path, vendor="Garage Works", model="wallbox-2", serial="SN-0042").start()
        await cs.wait_for(lambda: rig.svc.accepted)
        boot = cs.actions("BootNotification")[0]
        assert boot == {"chargePointVendor": "Garage Works", "chargePointModel": "wallbox-2",
                        "chargePointSerialNumber": "SN-0042", "firmwareVersion": VERSION}
        await rig.kill()
        await cs.stop()
    run(main())
    cfg, errors = settings.validate({"max_current": 16, "vendor": "Garage Works", "serial": "SN-0042"})
    assert errors == [] and cfg["serial"] == "SN-0042" and cfg["model"] == "evse"
    assert settings.validate({"max_current": 16, "serial": "x" * 26})[1]        # CiString25
    with open(os.path.join(flash.ROOT, "package.json")) as f:
        assert json.load(f)["version"] == VERSION == flash.firmware_version()


# -- 6. settings that reach a central system ----------------------------------------------------------

@pytest.mark.parametrize("values,why", [
    ({"ocpp_url": "notaurl"}, "ws:// or wss://"),
    ({"ocpp_url": "http://cs.example.net/ocpp"}, "ws:// or wss://"),
    ({"ocpp_url": "ws:///ocpp"}, "host"),
    ({"ocpp_url": "ws://cs.example.net/ocpp", "ocpp_security_profile": 2, "ocpp_password": "A" * 16}, "wss://"),
    ({"ocpp_url": "ws://cs.example.net/ocpp", "ocpp_security_profile": 3}, "wss://"),
    ({"ocpp_url": "wss://cs.example.net/ocpp", "ocpp_security_profile": 2, "ocpp_password": "abc"}, "16-40"),
    ({"ocpp_url": "wss://cs.example.net/ocpp", "ocpp_security_profile": 1, "ocpp_password": "sixteen chars ok"}, "16-40"),
    ({"ocpp_url": "wss://cs.example.net/ocpp", "ocpp_security_profile": 1}, "needs an ocpp_password"),
    ({"ocpp_security_profile": 4}, "ocpp_security_profile"),
])
def test_ocpp_settings_that_cannot_work_are_refused_and_nothing_is_offered(values, why):
    from evse.services import settings
    cfg, errors, blocked = settings.check(dict({"max_current": 16}, **values))
    assert any(why in e for e in errors), errors
    if values.get("ocpp_url"):      # never connected below the profile asked for, and never free
        assert cfg["ocpp_url"] == "" and "ocpp_url" in blocked


def test_ocpp_settings_that_work_are_accepted():
    from evse.services import settings
    for values in ({"ocpp_url": "ws://10.0.0.2:9000/ocpp"},
                   {"ocpp_url": "wss://cs.example.net/ocpp", "ocpp_security_profile": 2,
                    "ocpp_password": "Abc-123_=:+|@.*xyZ"},
                   {"ocpp_url": "wss://cs.example.net", "ocpp_security_profile": 3, "ocpp_ca_file": "/ca.pem"}):
        cfg, errors, blocked = settings.check(dict({"max_current": 16}, **values))
        assert errors == [] and blocked == {} and cfg["ocpp_url"] == values["ocpp_url"]


def test_a_pem_ca_file_is_stored_as_der_once(tmp_path):
    import base64
    der = bytes(range(256)) * 3
    b64 = base64.encodebytes(der).decode()
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\r\n" + b64.replace("\n", "\r\n") + "-----END CERTIFICATE-----\r\n")
    out = tls.der_file(str(pem))
    assert out == str(pem) + ".der" and open(out, "rb").read() == der
    t = __import__("os").stat(out).st_mtime_ns
    assert tls.der_file(str(pem)) == out and __import__("os").stat(out).st_mtime_ns == t   # no rewrite
    assert tls.der_file(out) == out          # DER is used as it is


def _openssl(*args):
    import subprocess
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="openssl CLI missing")
def test_security_profile_3_presents_the_client_certificate_from_the_ocpp_directory(tmp_path):
    import ssl
    srv_cert, srv_key = tmp_path / "srv.pem", tmp_path / "srv_key.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(srv_key),
             "-out", str(srv_cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    flash = tmp_path / "cp"
    flash.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(flash / "client_key.pem"),
             "-out", str(flash / "client_cert.pem"), "-subj", "/CN=cp3")
    # the CA in DER as the unix port needs it; the PEM form works as well (converted on flash)
    _openssl("x509", "-in", str(srv_cert), "-outform", "DER", "-out", str(tmp_path / "srv.der"))

    async def main():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(srv_cert), str(srv_key))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(flash / "client_cert.pem"))
        cs = CentralSystem(ssl_context=ctx)
        await cs.start()
        rig = await Rig(cs, flash, cp_id="cp3", ocpp_security_profile=3, ocpp_ca_file=str(tmp_path / "srv.der")).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert cs.auth_headers == [] or all(h is None for h in cs.auth_headers)   # no Basic auth
        await rig.kill()
        await cs.stop()
    run(main())


def test_authorization_key_is_16_to_20_bytes_in_hex():
    from evse.ocpp.config import Config
    c = Config(None)
    assert c.change("AuthorizationKey", "short") == "Rejected"
    assert c.change("AuthorizationKey", "spaces are not allowed") == "Rejected"
    assert c.change("AuthorizationKey", "0123456789abcdef0123456789ABCDEF0123456") == "Rejected"   # odd
    assert c.change("AuthorizationKey", "0123456789abcdef0123456789ABCD") == "Rejected"            # 15 bytes
    assert c.change("AuthorizationKey", "OCA_OCTT_admin_test") == "Rejected"                       # not hex
    assert c.change("AuthorizationKey", "0123456789abcdef0123456789ABCDEF01234567") == "Accepted"  # 20 bytes
    assert c.get("AuthorizationKey") == "0123456789abcdef0123456789ABCDEF01234567"


@pytest.mark.parametrize("values, word", [
    ({"ocpp_url": "notaurl"}, "ws:// or wss://"),
    ({"ocpp_url": "ws://cs.example.net/ocpp", "ocpp_security_profile": 2, "ocpp_password": "abc"}, "16-40"),
])
def test_console_set_refuses_an_ocpp_setting_that_cannot_work(tmp_path, values, word):
    from host_tests.test_console import ask, flash_files, make
    rig, s, con = make(tmp_path=tmp_path)
    before = flash_files(tmp_path)
    (r,) = ask(rig, s, {"cmd": "set", "values": values})
    assert not r["ok"] and word in r["error"]
    assert flash_files(tmp_path) == before and rig.app.cfg["ocpp_url"] == ""


def test_stop_txn_data_is_bounded_keeping_the_first_and_the_latest():
    from evse.ocpp import metering
    from host_tests.test_ocpp_parts import Service, Meter
    svc = Service(meter=Meter(), tx={"ref": 1, "tag": "A"}, tx_data=[], settings={})
    svc.meta = lambda now=None: {"b": 1, "tk": now, "ts": 1764633600 + now // 1000}
    metering.keep_tx_data(svc, "Energy.Active.Import.Register", "Transaction.Begin", 0)
    for i in range(1, 200):      # 200 minutes at MeterValueSampleInterval 60
        metering.keep_tx_data(svc, "Energy.Active.Import.Register", "Sample.Periodic", i * 60000)
    assert len(svc.tx_data) == metering.TX_VALUES_MAX
    assert svc.tx_data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert svc.tx_data[-1]["timestamp"] == "2025-12-02T03:19:00Z"
