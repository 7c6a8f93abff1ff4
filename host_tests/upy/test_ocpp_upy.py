"""OCPP message, schedule, queue and authorization code: runs under CPython (pytest) and the
MicroPython unix port (python -m tools.toolchain.upy_tests host_tests/upy/test_ocpp_upy.py)."""
import json

from evse.ocpp import rpc, schemas
from evse.ocpp.auth import AuthStore
from evse.ocpp.config import Config
from evse.ocpp.schedule import Profiles
from evse.ocpp.status import connector_status, error_code
from evse.ocpp.txqueue import TxQueue
from evse.ocpp.wallclock import WallClock, format_iso, parse_iso
from evse.ocpp.websocket import accept_key, encode_frame, parse_url, basic_auth
from ocpp_fakes import Meter, TickClock, tmpdir
from upytest import CoreLink


def test_iso_time_round_trip():
    t = parse_iso("2024-02-29T23:59:58Z")
    assert format_iso(t) == "2024-02-29T23:59:58Z"
    assert parse_iso("1970-01-01T00:00:00Z") == 0
    assert parse_iso("2024-03-01T01:00:00.123+01:00") == parse_iso("2024-03-01T00:00:00Z")
    assert parse_iso("yesterday") is None and parse_iso(5) is None and parse_iso("2024-13-01T00:00:00Z") is None


def test_wall_clock_from_ticks():
    w = WallClock()
    assert w.now(1000) is None
    w.set(1700000000, 5000)
    assert w.now(8000) == 1700000003
    w.set(1700000000, (1 << 30) - 1000)  # across the tick counter's wrap
    assert w.now(2000) == 1700000003


def test_websocket_helpers():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 example
    assert parse_url("ws://127.0.0.1:9000/ocpp/cp1") == (False, "127.0.0.1", 9000, "/ocpp/cp1")
    assert parse_url("wss://cs.example.com/x") == (True, "cs.example.com", 443, "/x")
    assert basic_auth("cp1", "pw") == "Basic Y3AxOnB3"
    f = encode_frame(1, b"Hello", mask_key=b"\x37\xfa\x21\x3d")
    assert f == b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 6455 5.7 masked "Hello"
    assert encode_frame(1, b"x" * 300, mask_key=b"\0\0\0\0")[1:4] == b"\xfe\x01\x2c"


def test_rpc_parse_and_errors():
    assert rpc.parse('[2,"a","Reset",{"type":"Soft"}]') == (2, "a", "Reset", {"type": "Soft"})
    assert rpc.parse('[3,"a",{}]') == (3, "a", {})
    assert rpc.parse('[4,"a","GenericError","x",{}]') == (4, "a", "GenericError", "x", {})
    assert rpc.parse("nope")[:2] == (None, None)
    assert rpc.parse('[2,"a","Reset"]')[1:3] == ("a", "ProtocolError")
    assert rpc.parse('[7,"a","Reset",{}]')[1:3] == ("a", "FormationViolation")
    assert rpc.parse("[" * 3000)[0] is None
    assert json.loads(rpc.error("a", "NotImplemented", "x"))[:3] == [4, "a", "NotImplemented"]
    assert rpc.sniff_uid(b'[2, "abc", "DataTransfer", {"d') == "abc"


def test_payload_checks():
    spec = schemas.INCOMING["SetChargingProfile"]
    good = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.5}]}}}
    assert rpc.check(good, spec) is None
    bad = json.loads(json.dumps(good))
    bad["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = "10"
    assert rpc.check(bad, spec)[0] == "TypeConstraintViolation"
    bad["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"] = [{"limit": 1}]
    assert rpc.check(bad, spec)[0] == "OccurenceConstraintViolation"
    assert rpc.check({"type": "Later"}, schemas.INCOMING["Reset"])[0] == "PropertyConstraintViolation"
    assert rpc.check({"type": True}, schemas.INCOMING["Reset"])[0] == "TypeConstraintViolation"


def _p(pid, purpose, level, periods, unit="A", kind="Relative", **kw):
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": [
             {"startPeriod": s, "limit": l} for s, l in periods]}}
    sched_keys = ("duration", "startSchedule")
    for k, v in kw.items():
        if k in sched_keys:
            p["chargingSchedule"][k] = v
        else:
            p[k] = v
    return p


def test_schedule_stacking_units_and_validity():
    T = parse_iso("2024-05-01T12:00:00Z")
    pr = Profiles(None, volts=230, phases=3)
    assert pr.add(1, _p(1, "TxDefaultProfile", 0, [(0, 11040)], unit="W"), None) == "Accepted"
    assert pr.limit_at(T, 1) == 16.0  # 11040 W / (230 V x 3)
    assert pr.add(1, _p(2, "TxDefaultProfile", 1, [(0, 10), (600, 12)]), None) == "Accepted"
    assert pr.limit_at(T, 1, tx_start=T - 100, in_tx=True) == 10.0
    assert pr.limit_at(T, 1, tx_start=T - 700, in_tx=True) == 12.0
    assert pr.add(1, _p(3, "TxProfile", 0, [(0, 6)]), None) == "Rejected"  # no transaction
    assert pr.add(1, _p(3, "TxProfile", 0, [(0, 6)]), 42) == "Accepted"
    assert pr.limit_at(T, 1, tx_start=T, in_tx=True, tx_id=42) == 6.0
    assert pr.add(1, _p(4, "ChargePointMaxProfile", 0, [(0, 5)]), None) == "Rejected"  # connector 0 only
    assert pr.add(0, _p(4, "ChargePointMaxProfile", 0, [(0, 5)], kind="Absolute",
                        validFrom="2024-05-01T12:30:00Z", startSchedule="2024-05-01T00:00:00Z"), None) == "Accepted"
    assert pr.limit_at(T, 1, tx_start=T, in_tx=True, tx_id=42) == 6.0  # not valid yet
    assert pr.limit_at(T + 1800, 1, tx_start=T, in_tx=True, tx_id=42) == 5.0
    pr.end_transaction()
    assert pr.limit_at(T, 1, tx_start=T - 100) == 10.0
    assert pr.clear(pid=2) == "Accepted" and pr.clear(pid=99) == "Unknown"
    assert pr.limit_at(T, 1) == 16.0
    assert pr.add(1, _p(9, "TxDefaultProfile", 0, [(60, 10)]), None) == "Rejected"  # must start at 0
    assert pr.add(1, _p(10, "TxDefaultProfile", 0, [(0, 8)]), None) == "Accepted"  # replaces level 0
    assert len([i for i in pr.items if i[0] == 1]) == 1


def test_recurring_daily_profile_and_composite():
    day = parse_iso("2024-05-01T00:00:00Z")
    pr = Profiles(None)
    # every day: 32 A, 10 A from 17:00 to 21:00
    assert pr.add(1, _p(1, "TxDefaultProfile", 0, [(0, 32), (17 * 3600, 10), (21 * 3600, 32)], kind="Recurring",
                        recurrencyKind="Daily", startSchedule="2024-04-01T00:00:00Z"), None) == "Accepted"
    assert pr.limit_at(day + 18 * 3600, 1) == 10.0
    assert pr.limit_at(day + 86400 * 3 + 22 * 3600, 1) == 32.0
    assert pr.limit_at(day + 18 * 3600, 1, clock_known=False) == 10.0  # wall time unknown: its lowest
    c = pr.composite(day + 16 * 3600, 6 * 3600, 1)
    assert c["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 32.0, "numberPhases": 1},
                                           {"startPeriod": 3600, "limit": 10.0, "numberPhases": 1},
                                           {"startPeriod": 5 * 3600, "limit": 32.0, "numberPhases": 1}]
    c = pr.composite(day + 16 * 3600, 3600, 1, unit="W")
    assert c["chargingRateUnit"] == "W" and c["chargingSchedulePeriod"][0]["limit"] == 32 * 230.0


def test_profiles_persist(tmp=None):
    d = tmpdir("ocpp_upy")
    pr = Profiles(d + "/p.json")
    pr.add(1, _p(1, "TxDefaultProfile", 0, [(0, 13)]), None)
    pr.add(1, _p(2, "TxProfile", 1, [(0, 7)]), 5)
    again = Profiles(d + "/p.json")
    assert [i[1]["id"] for i in again.items] == [1]  # TxProfiles end with the transaction


def test_tx_queue_survives_reboot_and_torn_line():
    d = tmpdir("ocpp_upy")
    q = TxQueue(d + "/q.log")
    a = q.push("StartTransaction", {"idTag": "A"}, 1)
    b = q.push("MeterValues", {"x": 1}, 1)
    q.push("StopTransaction", {"reason": "Local"}, 1)
    q.drop(a)
    q.set_txid(1, 77)
    with open(d + "/q.log", "a") as f:
        f.write('["q", 9, "Stop')  # power cut in the middle of a write
    q2 = TxQueue(d + "/q.log")
    assert [r[1] for r in q2.records] == ["MeterValues", "StopTransaction"]
    assert q2.txids[1] == 77 and q2.head()[0] == b and q2.has("StopTransaction", 1)
    q2.compact()
    q3 = TxQueue(d + "/q.log")
    assert [r[1] for r in q3.records] == ["MeterValues", "StopTransaction"] and q3.txids[1] == 77
    n = q3.push("MeterValues", {}, 2)
    assert n > 3  # sequence numbers keep growing across reboots


def test_auth_cache_and_local_list():
    d = tmpdir("ocpp_upy")
    a = AuthStore(d + "/c.json", d + "/l.json")
    a.remember("T1", {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z"})
    a.remember("T2", {"status": "Blocked"})
    now = parse_iso("2025-01-01T00:00:00Z")
    assert a.lookup("T1", now) == ("Accepted", "cache")
    assert a.lookup("T1", parse_iso("2031-01-01T00:00:00Z"))[0] == "Expired"
    assert a.lookup("T2", now)[0] == "Blocked" and a.lookup("T3", now) == (None, None)
    assert a.send_local_list(2, [{"idTag": "L1", "idTagInfo": {"status": "Accepted"}}], "Full") == "Accepted"
    assert a.send_local_list(2, [], "Differential") == "VersionMismatch"
    assert a.send_local_list(3, [{"idTag": "L1"}, {"idTag": "L2", "idTagInfo": {"status": "Accepted"}}],
                             "Differential") == "Accepted"
    b = AuthStore(d + "/c.json", d + "/l.json")
    assert b.list_version == 3 and b.lookup("L2", now) == ("Accepted", "list") and b.lookup("L1", now) == (None, None)
    assert b.lookup("T1", now)[0] == "Accepted"
    b.clear_cache()
    assert AuthStore(d + "/c.json", d + "/l.json").lookup("T1", now) == (None, None)


def test_status_mapping():
    S = connector_status
    assert S("A1", None, False, False, False, False, True)[0] == "Available"
    assert S("B1", None, False, True, False, False, True)[0] == "Preparing"
    # in a transaction before the first charge: never Preparing (section 4.9: "no ongoing Transaction")
    assert S("B2", None, False, True, True, False, True)[0] == "SuspendedEV"
    assert S("B1", None, False, True, True, False, True)[0] == "SuspendedEVSE"
    assert S("C2", None, False, True, True, False, True)[0] is None     # closing: the last holds
    assert S("C2", None, True, True, True, False, True)[0] == "Charging"
    assert S("C1", None, False, True, True, False, True)[0] == "SuspendedEVSE"
    assert S("paused", None, False, True, True, False, True)[0] == "SuspendedEVSE"
    assert S("B2", None, False, True, False, True, True)[0] == "Finishing"
    assert S("disabled", None, False, False, False, False, True)[0] == "Unavailable"
    assert S("A1", None, False, False, False, False, False)[0] == "Unavailable"
    assert S("fault", "weld", False, True, False, False, True)[:2] == ("Faulted", "PowerSwitchFailure")
    assert error_code("rcd_dc") == ("GroundFailure", None)
    assert error_code("overcurrent")[0] == "OverCurrentFailure"
    assert error_code("settings") == ("OtherError", "settings")    # no fault of the core is HighTemperature (a pause)
    assert error_code("pilot") == ("EVCommunicationError", "pilot") and error_code("pp") == ("OtherError", "pp")


def test_config_keys():
    d = tmpdir("ocpp_upy")
    c = Config(d + "/cfg.json", {"MeterValueSampleInterval": 10})
    assert c.get("MeterValueSampleInterval") == 10
    assert c.change("MeterValueSampleInterval", "30") == "Accepted"
    assert c.change("MeterValueSampleInterval", "-1") == "Rejected"
    assert c.change("LocalAuthorizeOffline", "FALSE") == "Accepted"
    assert c.change("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus") == "Rejected"
    assert c.change("NumberOfConnectors", "2") == "Rejected" and c.change("X", "1") == "NotSupported"
    c2 = Config(d + "/cfg.json")
    assert c2.get("MeterValueSampleInterval") == 30 and c2.get("LocalAuthorizeOffline") is False
    known, unknown = c2.report(["HeartbeatInterval", "AuthorizationKey"])
    assert known == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                     {"key": "AuthorizationKey", "readonly": False}]  # write-only: no value
    assert unknown == []


def test_service_offline_session_and_reboot_recovery():
    """The service itself on this interpreter: an offline session queued on flash, then a reboot."""
    import gc
    gc.collect()  # compiling chargepoint.py from source needs room (the board loads .mpy)
    from evse.ocpp.chargepoint import OcppService
    d = tmpdir("ocpp_upy")
    ch = CoreLink()
    svc = OcppService(ch, Meter(), {"ocpp_url": "", "ocpp_config": {"AllowOfflineTxForUnknownId": True}}, d,
                      TickClock())
    assert svc.present_id("CARD1", 0) == "accepted" and ("authorize", True) in ch.calls
    svc.on_event(("state", "B2"))
    svc.poll(100)
    assert svc.tx is not None and [r[1] for r in svc.txq.records] == ["StartTransaction"]
    assert svc.immediate[-1][1]["status"] == "SuspendedEV"     # offered, the car not yet asking
    svc.on_event(("state", "C2"))
    svc.on_event(("contactor", True))
    svc.poll(200)
    assert svc.immediate[-1][1]["status"] == "Charging"
    svc2 = OcppService(CoreLink(), Meter(), {"ocpp_url": ""}, d, TickClock())  # power cut and reboot
    assert [r[1] for r in svc2.txq.records] == ["StartTransaction", "StopTransaction"]
    assert svc2.txq.records[1][2]["reason"] == "PowerLoss"
    svc3 = OcppService(CoreLink(), Meter(), {"ocpp_url": ""}, d, TickClock())
    assert len(svc3.txq) == 2  # no second StopTransaction



def test_clock_aligned_meter_values_follow_wall_time():
    import gc
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    svc = OcppService(CoreLink(), Meter(), {"ocpp_url": "", "ocpp_config": {"ClockAlignedDataInterval": 900}},
                      tmpdir("ocpp_upy"), TickClock())
    svc.accepted = True
    svc.wall.set(parse_iso("2024-05-01T12:14:58Z"), 0)
    svc.poll(0)
    svc.poll(1000)
    assert not [i for i in svc.immediate if i[0] == "MeterValues"]
    svc.poll(2500)  # 12:15:00.5: a quarter-hour boundary passed
    mv = [i for i in svc.immediate if i[0] == "MeterValues"]
    assert len(mv) == 1 and mv[0][1]["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
    svc.poll(3000)
    assert len([i for i in svc.immediate if i[0] == "MeterValues"]) == 1


class _OpenSocket:
    closed = False


def test_a_reset_waits_for_its_close_frame_at_most_reset_close_ms():
    """The Reset's reboot follows the connection's close, or RESET_CLOSE_MS if it never closes."""
    import gc
    gc.collect()
    from evse.ocpp.chargepoint import OcppService, RESET_CLOSE_MS
    for closes in (True, False):
        resets = []
        svc = OcppService(CoreLink(), Meter(), {"ocpp_url": ""}, tmpdir("ocpp_upy"), TickClock(), on_reset=resets.append)
        svc.ws = _OpenSocket()
        svc.reset_kind, svc.reset_ms = "Soft", 0
        svc.poll(10)
        assert resets == [] and svc.redial
        if closes:
            svc.ws = None
            svc.poll(20)
        else:
            svc.poll(10 + RESET_CLOSE_MS)
            assert resets == []
            svc.poll(11 + RESET_CLOSE_MS)
        assert resets == ["Soft"]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
