"""A ninth audit: the charger behind SteVe (github steve-community/steve, read at its 2026
snapshot: ocpp/ws, ocpp/task, service/CentralSystemService16_Service and its validator), replayed
on the virtual bench against the schema-checking central system (octt_cs). Nothing of SteVe's code
is here: the frames below have the shapes SteVe's JSON mapper produces, the checks are what SteVe
stores and what its validator refuses.

How SteVe talks (ocpp/ws): the station connects to .../steve/websocket/CentralSystemService/{id};
an id not in its database is refused at the handshake (HTTP 404) unless auto-register-unknown-
stations is on; the subprotocol must be one it lists (ocpp1.6). It pings every 15 minutes
(payload "ping") and drops a connection idle for 2 hours. Its JSON leaves out nulls (never
`null`), writes dates as UTC with milliseconds ("2026-12-07T05:40:00.000Z"), decimals plain
("16.0"), message ids as UUIDs, and a list it has as empty stays ([] for GetConfiguration's
"every key" and a Full SendLocalList "send empty list").
Its answers: BootNotification Accepted/Pending/Rejected from the station's registration status
with interval = its heartbeat setting (14400 s by default) whatever the status; every idTagInfo
with an expiryDate (now + hours_to_expire, 1 h by default) and the tag's parentIdTag; a
StopTransaction without idTag answered {}; DataTransfer Rejected.
What it refuses (hard errors: logged, the data not stored): MeterValues naming a transactionId it
does not have on that connector or one already stopped; a StopTransaction whose meterStop is below
meterStart, whose timestamp is before the start's, or whose idTag is neither the transaction's nor
of its parentIdTag group."""
import base64
import decimal
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Response

from evse.ocpp import connection
from evse.ocpp.wallclock import parse_iso, format_iso
from ocpp_cs import call_result
from octt_cs import OcttCentralSystem, schema_errors, last_status, status_is
from host_tests.test_ocpp_bench import Bench, run
from host_tests.test_octt_smart import offers

STEVE_PATH = "/steve/websocket/CentralSystemService"
STEVE_HEARTBEAT_S = 14400        # settings.heartbeat_interval_in_seconds, its default
STEVE_HOURS_TO_EXPIRE = 1        # settings.hours_to_expire, its default
TAG, PARENT = "04A2B3C4D5E6F7", "FLEET1"
# SteVe's ErrorCode: a CALLERROR with any other code fails its parsing of the answer
STEVE_ERROR_CODES = ("NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
                     "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
                     "TypeConstraintViolation", "GenericError")


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def steve_date(dt):
    """Joda DateTime as SteVe's mapper writes it: UTC, milliseconds, Z."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def bench_date(b, offset_s=0):
    """A date on the charger's clock in SteVe's form."""
    return format_iso(b.svc.cp_time(b.svc.ticks()) + offset_s)[:-1] + ".000Z"


class SteveCS(OcttCentralSystem):
    """SteVe's answers to the charger, and its handshake."""

    def __init__(self, registration="Accepted", refuse_handshakes=0, **kw):
        super().__init__(accepted_tags=(TAG, "CHILD"), **kw)
        self.registration = registration
        self.refuse_handshakes = refuse_handshakes   # unknown station: HTTP 404 until registered
        self.handshakes = []                         # (path, subprotocols asked)

    def _process_request(self, connection, request):
        self.handshakes.append((request.path, request.headers.get("Sec-WebSocket-Protocol")))
        if not request.path.startswith(STEVE_PATH + "/"):
            return Response(404, "Not Found", Headers(), b"")
        if self.refuse_handshakes:
            self.refuse_handshakes -= 1
            return Response(404, "Not Found", Headers(), b"")
        return super()._process_request(connection, request)

    def id_tag_info(self, tag):
        now = datetime.now(timezone.utc)
        info = {"status": self._tag_status(tag),
                "expiryDate": steve_date(now + timedelta(hours=STEVE_HOURS_TO_EXPIRE))}
        if tag in (TAG, "CHILD"):
            info["parentIdTag"] = PARENT
        return info

    def respond(self, action, kw):
        now = steve_date(datetime.now(timezone.utc))
        if action == "BootNotification":
            return call_result.BootNotification(current_time=now, interval=STEVE_HEARTBEAT_S,
                                                status=self.registration)
        if action == "Heartbeat":
            return call_result.Heartbeat(current_time=now)
        if action == "Authorize":
            return call_result.Authorize(id_tag_info=self.id_tag_info(kw["id_tag"]))
        if action == "StartTransaction":
            txid = self.next_txid
            self.next_txid += 1
            self.open_tx[txid] = kw
            return call_result.StartTransaction(transaction_id=txid, id_tag_info=self.id_tag_info(kw["id_tag"]))
        if action == "StopTransaction":
            if kw.get("id_tag"):
                return call_result.StopTransaction(id_tag_info=self.id_tag_info(kw["id_tag"]))
            return call_result.StopTransaction()
        if action == "DataTransfer":
            return call_result.DataTransfer(status="Rejected")
        return super().respond(action, kw)


async def steve_call(cs, action, payload):
    """One CALL as SteVe's serializer writes it (UUID id, no nulls, compact); the charger's answer
    frame, its payload checked against the official schema."""
    uid = str(uuid.uuid4())
    ans = await cs.send_raw("cp1", json.dumps([2, uid, action, payload], separators=(",", ":")), uid, 5.0)
    assert ans is not None, "no answer to " + action
    if ans[0] == 3:
        errs = schema_errors(action + "Response", json.loads(json.dumps(ans[2]), parse_float=decimal.Decimal))
        if errs:
            cs.violations.append((ans, errs))
    return ans


def run_steve(tmp_path, scenario, cs_kw=None, **settings):
    async def main():
        cs = SteveCS(**(cs_kw or {}))
        await cs.start()
        settings.setdefault("ocpp_url", "ws://127.0.0.1:%d%s" % (cs.port, STEVE_PATH))
        b = await Bench(cs, tmp_path, **settings).start()
        try:
            await scenario(cs, b)
        finally:
            await b.stop()
            await cs.stop()
        assert cs.checked > 0
        assert not cs.violations, cs.violations
    run(main())


async def accepted(cs, b):
    await b.until(lambda: b.svc.accepted, what="boot accepted")
    await b.until(lambda: {0, 1} <= {p["connectorId"] for p in cs.actions("StatusNotification")},
                  what="first StatusNotifications")


def test_steve_handshake_boot_and_its_dates(tmp_path):
    """The charger asks SteVe's URL with its id as the last segment and ocpp1.6; refused twice
    with 404 (not yet registered), it keeps trying and gets in; the BootNotification's
    currentTime with milliseconds sets its clock, interval 14400 becomes HeartbeatInterval; a
    WebSocket Ping with SteVe's payload "ping" is answered with a Pong."""
    async def case(cs, b):
        await b.until(lambda: cs.cps.get("cp1"), 120, "connected after the 404s")
        await accepted(cs, b)
        paths = {p for p, _ in cs.handshakes}
        assert paths == {STEVE_PATH + "/cp1"}, paths
        assert len(cs.handshakes) == 3 and all(proto == "ocpp1.6" for _, proto in cs.handshakes)
        assert b.svc.config.get("HeartbeatInterval") == STEVE_HEARTBEAT_S
        boot = cs.actions("BootNotification")[-1]
        assert boot["chargePointVendor"] and boot["chargePointModel"]
        # the charger's clock: SteVe's time, the milliseconds dropped (never ahead of it)
        now = datetime.now(timezone.utc).timestamp()
        assert abs(b.svc.cp_time(b.svc.ticks()) - now) < 120
        pong = await cs.cps["cp1"]._connection.ping(b"ping")
        await pong
    run_steve(tmp_path, case, {"refuse_handshakes": 2})


def test_steve_transaction_is_stored_and_not_refused(tmp_path):
    """A card (its idTagInfo with SteVe's expiryDate and parentIdTag), plug-in, charging with the
    3-phase meter, another card of the same group stops it. What SteVe validates holds: every
    MeterValues of the transaction names its transactionId on connector 1 and comes before the
    StopTransaction, no sampled value is without a value, the StopTransaction's meterStop is not
    below meterStart, its timestamp not before the start's, its idTag of the transaction's group;
    then a RemoteStart with SteVe's TxProfile from its database (duration, startSchedule,
    minChargingRate, decimals "16.0") and a RemoteStop: reason Remote."""
    async def case(cs, b):
        await accepted(cs, b)
        d = b.d
        await b.reply({"cmd": "authorize", "id_tag": TAG})
        d.plug()
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == TAG and start["connectorId"] == 1 and start["meterStart"] >= 0
        d.ev("C")
        await status_is(b, "Charging")
        await b.wait(6.0)
        await b.reply({"cmd": "authorize", "id_tag": "CHILD"})    # same parentIdTag: may stop it
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        txid = stop["transactionId"]
        assert txid == 100
        assert stop["meterStop"] >= start["meterStart"]
        assert parse_iso(stop["timestamp"]) >= parse_iso(start["timestamp"])
        assert stop["idTag"] == "CHILD" and stop["reason"] == "Local"
        order = [(a, p) for a, p in cs.calls if a in ("MeterValues", "StopTransaction")]
        i_stop = [a for a, _ in order].index("StopTransaction")
        for a, p in order[i_stop + 1:]:
            assert p.get("transactionId") != txid, p          # SteVe: "already stopped", dropped
        tx_mv = [p for a, p in order[:i_stop] if p.get("transactionId") == txid]
        assert tx_mv, "no MeterValues in the transaction"
        t0 = parse_iso(start["timestamp"])
        for p in tx_mv + [{"connectorId": 1, "meterValue": stop.get("transactionData", [])}]:
            assert p["connectorId"] == 1
            for mv in p["meterValue"]:
                assert parse_iso(mv["timestamp"]) >= t0 - 300   # SteVe's 5 min tolerance
                assert all(s.get("value", "") != "" for s in mv["sampledValue"])
        # what SteVe takes as the energy of a transaction it has to close itself
        # (TransactionStopServiceHelper.isEnergyValue, the monotonic streak from meterStart)
        energy = []
        for p in tx_mv + [{"meterValue": stop.get("transactionData", [])}]:
            for mv in p["meterValue"]:
                for s in mv["sampledValue"]:
                    if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
                        assert s.get("format", "Raw") == "Raw" and s.get("unit", "Wh") in ("Wh", "kWh"), s
                        wh = float(s["value"]) * (1000 if s.get("unit") == "kWh" else 1)
                        energy.append((parse_iso(mv["timestamp"]), wh, s.get("phase")))
        energy.sort(key=lambda e: e[0])
        assert energy and all(e[2] is None for e in energy), energy
        whs = [e[1] for e in energy]
        assert whs == sorted(whs) and whs[0] >= start["meterStart"] and whs[-1] <= stop["meterStop"] + 1, whs
        d.unplug()
        await status_is(b, "Available")
        # RemoteStart with its database profile, then RemoteStop
        prof = {"chargingProfileId": 3, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"duration": 7200, "startSchedule": bench_date(b, -60),
                                     "chargingRateUnit": "A", "minChargingRate": 6.0,
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0},
                                                                {"startPeriod": 3600, "limit": 10.0,
                                                                 "numberPhases": 3}]}}
        d.plug()
        await status_is(b, "Preparing")
        ans = await steve_call(cs, "RemoteStartTransaction", {"idTag": TAG, "connectorId": 1, "chargingProfile": prof})
        assert ans[2] == {"status": "Accepted"}, ans
        await b.until(lambda: len(cs.actions("StartTransaction")) == 2, what="second StartTransaction")
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="its transactionId")
        d.ev("C")
        await offers(b, 16)
        txid2 = b.svc.tx["txid"]
        ans = await steve_call(cs, "RemoteStopTransaction", {"transactionId": txid2})
        assert ans[2] == {"status": "Accepted"}
        stop2 = (await b.until(lambda: len(cs.actions("StopTransaction")) == 2 and cs.actions("StopTransaction"),
                               what="second StopTransaction"))[1]
        assert stop2["reason"] == "Remote" and stop2["transactionId"] == txid2
        assert stop2.get("idTag") in (None, TAG)
    run_steve(tmp_path, case, meter="ct", meter_phases=3, connector="type2-tethered", phases=3)


def test_steve_operations_page_as_its_forms_send_them(tmp_path):
    """Each operation of SteVe's OCPP 1.6 page, in the shape its task classes build, answered as
    the spec says (every answer schema-checked)."""
    async def case(cs, b):
        await accepted(cs, b)

        async def ok(action, payload):
            ans = await steve_call(cs, action, payload)
            assert ans[0] == 3, (action, ans)
            return ans[2]

        assert await ok("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {"status": "Accepted"}
        await b.until(lambda: last_status(cs, 0) == "Unavailable", 5, "charge point Unavailable")
        assert await ok("ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == {"status": "Accepted"}
        await status_is(b, "Available")
        assert await ok("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}) == {"status": "Accepted"}
        assert b.svc.config.get("MeterValueSampleInterval") == 30
        assert (await ok("ChangeConfiguration", {"key": "MyCustomKey", "value": "x"}))["status"] == "NotSupported"
        assert await ok("ClearCache", {}) == {"status": "Accepted"}
        # GetConfiguration: no key chosen is an empty list (every key); chosen and custom keys
        every = await ok("GetConfiguration", {"key": []})
        assert len(every["configurationKey"]) > 20 and not every.get("unknownKey")
        some = await ok("GetConfiguration", {"key": ["HeartbeatInterval", "MyCustomKey"]})
        assert [k["key"] for k in some["configurationKey"]] == ["HeartbeatInterval"]
        assert some["unknownKey"] == ["MyCustomKey"]
        assert await ok("DataTransfer", {"vendorId": "org.example", "messageId": "hello", "data": "42"}) \
            == {"status": "UnknownVendorId"}
        assert await ok("DataTransfer", {"vendorId": "org.example"}) == {"status": "UnknownVendorId"}
        assert "listVersion" in await ok("GetLocalListVersion", {})
        # SendLocalList: Differential (deletions are bare idTags), Full with its tags, Full empty
        entry = {"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted", "expiryDate": bench_date(b, 3600),
                                                   "parentIdTag": PARENT}}
        assert await ok("SendLocalList", {"listVersion": 5, "updateType": "Full", "localAuthorizationList": [entry]}) \
            == {"status": "Accepted"}
        assert (await ok("GetLocalListVersion", {}))["listVersion"] == 5
        assert await ok("SendLocalList", {"listVersion": 6, "updateType": "Differential",
                                          "localAuthorizationList": [{"idTag": "LOCAL1"}]}) == {"status": "Accepted"}
        assert await ok("SendLocalList", {"listVersion": 7, "updateType": "Full", "localAuthorizationList": []}) \
            == {"status": "Accepted"}
        assert (await ok("GetLocalListVersion", {}))["listVersion"] == 0   # empty: 0 (section 5.10)
        # ReserveNow with parentIdTag, CancelReservation
        assert await ok("ReserveNow", {"connectorId": 1, "expiryDate": bench_date(b, 3600), "idTag": TAG,
                                       "reservationId": 12, "parentIdTag": PARENT}) == {"status": "Accepted"}
        await status_is(b, "Reserved")
        assert await ok("CancelReservation", {"reservationId": 12}) == {"status": "Accepted"}
        await status_is(b, "Available")
        # SetChargingProfile from its database: TxDefaultProfile, Recurring Daily, validFrom/validTo
        prof = {"chargingProfileId": 4, "stackLevel": 2, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
                "validFrom": bench_date(b, -3600), "validTo": bench_date(b, 86400 * 30),
                "chargingSchedule": {"duration": 86400, "startSchedule": bench_date(b, -60),
                                     "chargingRateUnit": "A", "minChargingRate": 6.0,
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.0}]}}
        assert await ok("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": prof}) == {"status": "Accepted"}
        comp = await ok("GetCompositeSchedule", {"connectorId": 1, "duration": 600})
        assert comp["status"] == "Accepted"
        assert comp["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 13
        comp = await ok("GetCompositeSchedule", {"connectorId": 1, "duration": 600, "chargingRateUnit": "W"})
        assert comp["status"] == "Accepted" and comp["chargingSchedule"]["chargingRateUnit"] == "W"
        # ClearChargingProfile by id (its primary key), then by the other fields
        assert await ok("ClearChargingProfile", {"id": 4}) == {"status": "Accepted"}
        assert await ok("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": prof}) == {"status": "Accepted"}
        assert await ok("ClearChargingProfile", {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile",
                                                 "stackLevel": 2}) == {"status": "Accepted"}
        assert await ok("ClearChargingProfile", {"id": 4}) == {"status": "Unknown"}
        # TriggerMessage of every kind, with and without connectorId (its form: >= 1 or none)
        for msg in ("BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
                    "Heartbeat", "MeterValues", "StatusNotification"):
            assert await ok("TriggerMessage", {"requestedMessage": msg}) == {"status": "Accepted"}, msg
        for msg in ("MeterValues", "StatusNotification"):
            assert await ok("TriggerMessage", {"requestedMessage": msg, "connectorId": 1}) == {"status": "Accepted"}
        await b.wait(2.0)
        assert await ok("UnlockConnector", {"connectorId": 1}) == {"status": "NotSupported"}   # no lock actuator
        # GetDiagnostics and UpdateFirmware with its dates (milliseconds, Z)
        diag = await ok("GetDiagnostics", {"location": "ftp://127.0.0.1:9/diag/", "retries": 1, "retryInterval": 5,
                                           "startTime": bench_date(b, -86400), "stopTime": bench_date(b)})
        assert set(diag) == {"fileName"}
        # its ftp:// example location, nothing listening on port 9 there: UploadFailed, which SteVe stores
        await b.until(lambda: [p["status"] for p in cs.actions("DiagnosticsStatusNotification")][-1:] == ["UploadFailed"],
                      30, "UploadFailed")
        assert await ok("UpdateFirmware", {"location": "http://127.0.0.1:9/fw.bin", "retrieveDate": bench_date(b, 86400),
                                           "retries": 1, "retryInterval": 60}) == {}
        assert await ok("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    (tmp_path / "log.txt").write_text("a line of the charger's log\n")
    run_steve(tmp_path, case)


def test_steve_pending_registration_then_triggered_boot(tmp_path):
    """A station SteVe holds as Pending: BootNotification Pending with interval 14400 s. The
    charger sends nothing else and no second BootNotification soon, yet answers SteVe's requests
    (section 4.2: the central system may configure a Pending charge point); once the operator
    sets it Accepted, SteVe's TriggerMessage(BootNotification) brings the boot in at once."""
    async def case(cs, b):
        await b.until(lambda: cs.actions("BootNotification"), what="first BootNotification")
        await b.wait(30.0)
        assert cs.actions() == ["BootNotification"], cs.actions()
        ans = await steve_call(cs, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert ans[0] == 3 and ans[2]["configurationKey"][0]["key"] == "HeartbeatInterval"
        ans = await steve_call(cs, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"})
        assert ans[2] == {"status": "Accepted"}
        cs.registration = "Accepted"
        ans = await steve_call(cs, "TriggerMessage", {"requestedMessage": "BootNotification"})
        assert ans[2] == {"status": "Accepted"}
        await accepted(cs, b)
        assert len(cs.actions("BootNotification")) == 2
    run_steve(tmp_path, case, {"registration": "Pending"})


def test_steve_authorization_key_in_hex_for_basic_auth(tmp_path):
    """Security profile 1 in SteVe: the charger logs in with its id and password; SteVe's
    ChangeConfiguration(AuthorizationKey) carries the new password hex-encoded (its UTF-8 bytes,
    SteVe issue 1895, as OCPP-J 1.6 with the security whitepaper asks); the charger reconnects at
    once with the decoded password and SteVe, which stored it in clear, lets it in. A password
    SteVe's form takes but the whitepaper does not (AuthorizationKey: 16 to 20 bytes, ed. 4
    A00.FR.205; here 22 characters) is Rejected and the connection stays as it was."""
    old, new = "0123456789abcdefXYZ", "Steve-Station-Key-26"
    async def case(cs, b):
        await accepted(cs, b)
        n = cs.connections
        ans = await steve_call(cs, "ChangeConfiguration", {"key": "AuthorizationKey",
                                                           "value": "Steve-Station-Key-2026".encode().hex()})
        assert ans[2] == {"status": "Rejected"}
        await b.wait(3.0)
        assert cs.connections == n
        ans = await steve_call(cs, "ChangeConfiguration", {"key": "AuthorizationKey", "value": new.encode().hex()})
        assert ans[2] == {"status": "Accepted"}
        cs.password = new
        await b.until(lambda: cs.connections > n and cs.cps.get("cp1"), 30, "reconnected with the new key")
        assert cs.rejected_logins == 0
        assert cs.auth_headers[-1] == "Basic " + base64.b64encode(("cp1:" + new).encode()).decode()
    run_steve(tmp_path, case, {"password": old}, ocpp_security_profile=1, ocpp_password=old)


def test_steve_charge_point_max_profile_and_dates_with_an_offset(tmp_path):
    """A ChargePointMaxProfile from SteVe's database on connector 0 (Absolute, no duration) limits
    the car to 10 A; a ReserveNow whose expiryDate has an offset (+01:00, the form a server in
    Central Europe could write) expires when that instant passes, not an hour off."""
    async def case(cs, b):
        await accepted(cs, b)
        prof = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"startSchedule": bench_date(b, -60), "chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}}
        ans = await steve_call(cs, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": prof})
        assert ans[2] == {"status": "Accepted"}
        t = b.svc.cp_time(b.svc.ticks()) + 40 + 3600       # in 40 s, written at +01:00
        expiry = format_iso(t)[:-1] + ".000+01:00"
        ans = await steve_call(cs, "ReserveNow", {"connectorId": 1, "expiryDate": expiry, "idTag": TAG,
                                                  "reservationId": 3})
        assert ans[2] == {"status": "Accepted"}
        await status_is(b, "Reserved")
        await b.wait(20.0)
        assert last_status(cs) == "Reserved"
        await status_is(b, "Available", 40.0)
        await b.reply({"cmd": "authorize", "id_tag": TAG})
        b.d.plug()
        b.d.ev("C")
        await status_is(b, "Charging")
        await offers(b, 10)
    run_steve(tmp_path, case)


def test_steve_form_edges(tmp_path):
    """What SteVe's forms let through that the spec bounds: RemoteStartTransaction on connector 0
    (its form's minimum; the spec: connectorId > 0) Rejected and nothing starts; without a
    connector it starts on the only one; ReserveNow on connector 0 (ReserveConnectorZeroSupported);
    TriggerMessage for a connector the charger has not (its form has no maximum) Rejected;
    GetCompositeSchedule of connector 0 (the charge point's)."""
    async def case(cs, b):
        await accepted(cs, b)

        async def ans(action, payload):
            a = await steve_call(cs, action, payload)
            return a[2] if a[0] == 3 else ("CALLERROR", a[2])

        assert await ans("RemoteStartTransaction", {"idTag": TAG, "connectorId": 0}) == {"status": "Rejected"}
        await b.wait(2.0)
        assert not b.svc.tx and not cs.actions("StartTransaction")
        assert await ans("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 2}) \
            == {"status": "Rejected"}
        comp = await ans("GetCompositeSchedule", {"connectorId": 0, "duration": 3600})
        assert comp["status"] == "Accepted" and comp["connectorId"] == 0
        assert await ans("ReserveNow", {"connectorId": 0, "expiryDate": bench_date(b, 600), "idTag": TAG,
                                        "reservationId": 21}) == {"status": "Accepted"}
        assert await ans("CancelReservation", {"reservationId": 21}) == {"status": "Accepted"}
        b.d.plug()
        await status_is(b, "Preparing")
        assert await ans("RemoteStartTransaction", {"idTag": TAG}) == {"status": "Accepted"}
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["connectorId"] == 1 and start["idTag"] == TAG
    run_steve(tmp_path, case)


def test_steve_rejected_registration_keeps_quiet(tmp_path):
    """A station SteVe has with registration status Rejected: BootNotification Rejected, interval
    14400 s. The charger sends nothing else (section 4.2) and does not boot again within the
    minute; its clock is not taken from a central system that rejects it."""
    async def case(cs, b):
        await b.until(lambda: cs.actions("BootNotification"), what="first BootNotification")
        await b.wait(60.0)
        assert cs.actions() == ["BootNotification"], cs.actions()
        assert not b.svc.accepted
    run_steve(tmp_path, case, {"registration": "Rejected"})


# The keys SteVe's GetConfiguration form offers for OCPP 1.6 (ConfigurationKeyEnum, readable, in
# its TreeMap's order): choosing them all asks for 51 keys at once.
STEVE_16_READ_KEYS = sorted((
    "ConnectionTimeOut ResetRetries BlinkRepeat LightIntensity MeterValueSampleInterval "
    "ClockAlignedDataInterval MeterValuesSampledData MeterValuesAlignedData StopTxnSampledData "
    "StopTxnAlignedData HeartbeatInterval AllowOfflineTxForUnknownId AuthorizationCacheEnabled "
    "AuthorizeRemoteTxRequests ConnectorPhaseRotation ConnectorPhaseRotationMaxLength "
    "GetConfigurationMaxKeys LocalAuthorizeOffline LocalPreAuthorize MaxEnergyOnInvalidId "
    "MeterValuesAlignedDataMaxLength MeterValuesSampledDataMaxLength MinimumStatusDuration "
    "NumberOfConnectors StopTransactionOnEVSideDisconnect StopTransactionOnInvalidId "
    "StopTxnAlignedDataMaxLength StopTxnSampledDataMaxLength SupportedFeatureProfiles "
    "SupportedFeatureProfilesMaxLength TransactionMessageAttempts TransactionMessageRetryInterval "
    "UnlockConnectorOnEVSideDisconnect WebSocketPingInterval LocalAuthListEnabled LocalAuthListMaxLength "
    "SendLocalListMaxLength ReserveConnectorZeroSupported SupportedFileTransferProtocols "
    "ChargeProfileMaxStackLevel ChargingScheduleAllowedChargingRateUnit ChargingScheduleMaxPeriods "
    "MaxChargingProfilesInstalled AdditionalRootCertificateCheck CertificateSignedMaxChainSize "
    "CertificateStoreMaxLength CpoName SecurityProfile StopTransactionSignatureFormat "
    "StopTransactionSignatureContexts MeterValuesSignatureContexts").split())


def test_steve_get_configuration_of_every_key_it_offers(tmp_path):
    """SteVe's GetConfiguration with every OCPP 1.6 key of its form chosen (51 keys): each one is
    answered, its value or as unknown (section 5.8: recognized keys with their values, the others
    in unknownKey); WebSocketPingInterval, the last, was left out of both when only 50 were read.
    A request over GetConfigurationMaxKeys ("the number of keys requested MAY be limited") is
    refused with OccurenceConstraintViolation rather than answered in part."""
    async def case(cs, b):
        await accepted(cs, b)
        assert len(STEVE_16_READ_KEYS) == 51
        ans = await steve_call(cs, "GetConfiguration", {"key": STEVE_16_READ_KEYS})
        assert ans[0] == 3, ans
        known = [k["key"] for k in ans[2]["configurationKey"]]
        unknown = ans[2].get("unknownKey", [])
        assert sorted(known + unknown) == STEVE_16_READ_KEYS
        assert "WebSocketPingInterval" in known and "BlinkRepeat" in unknown
        most = int(b.svc.config.get("GetConfigurationMaxKeys"))
        assert most >= len(STEVE_16_READ_KEYS)
        ans = await steve_call(cs, "GetConfiguration", {"key": ["HeartbeatInterval"] + ["Key%d" % i for i in range(most)]})
        assert ans[0] == 4 and ans[2] == "OccurenceConstraintViolation", ans
        assert ans[2] in STEVE_ERROR_CODES and ans[4] == {}     # what SteVe's ErrorCode reads
    run_steve(tmp_path, case)


def _db_profile(pid, kind, limit, start=None, recurrency=None, purpose="TxDefaultProfile", txid=None):
    """A charging profile as SteVe's database gives it (ChargingProfileDetailsMapper): startSchedule
    and recurrencyKind only where the form had them, decimals as "x.0"."""
    sched = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(limit)}]}
    if start:
        sched["startSchedule"] = start
    prof = {"chargingProfileId": pid, "stackLevel": pid, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": sched}
    if recurrency:
        prof["recurrencyKind"] = recurrency
    if txid is not None:
        prof["transactionId"] = txid
    return prof


@pytest.mark.parametrize("kind,with_start,recurrency", [
    ("Absolute", False, None),      # its form: startSchedule optional whatever the kind
    ("Relative", True, None),
    ("Recurring", True, "Daily"),
])
def test_steve_profile_shapes_its_form_allows(tmp_path, kind, with_start, recurrency):
    """SteVe's profile form leaves startSchedule optional for every kind. An Absolute profile
    without one (the spec's ChargingSchedule.startSchedule: "If absent the schedule will be
    relative to start of charging"), a Relative one with one (ignored), and a Recurring one: each
    Accepted as SetChargingProfile on connector 1 and the pilot follows it in a transaction; then
    SteVe's TxProfile with the transactionId on top."""
    async def case(cs, b):
        await accepted(cs, b)
        start = bench_date(b, -30) if with_start else None
        ans = await steve_call(cs, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles":
                                                          _db_profile(2, kind, 12, start, recurrency)})
        assert ans[2] == {"status": "Accepted"}, ans
        await b.reply({"cmd": "authorize", "id_tag": TAG})
        b.d.plug()
        b.d.ev("C")
        await status_is(b, "Charging")
        await offers(b, 12)
        await b.until(lambda: b.svc.tx.get("txid") is not None, what="transactionId")
        ans = await steve_call(cs, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": _db_profile(
            5, "Relative", 8, purpose="TxProfile", txid=b.svc.tx["txid"])})
        assert ans[2] == {"status": "Accepted"}, ans
        await offers(b, 8)
    run_steve(tmp_path, case)


def test_steve_absolute_profile_without_start_runs_from_the_start_of_charging(tmp_path):
    """SteVe's TxDefaultProfile, Absolute, no startSchedule, 12 A then 8 A after 60 s, installed
    two minutes before the car comes: the schedule is relative to the start of charging (section
    7.13, startSchedule: "If absent the schedule will be relative to start of charging"), so the
    car gets 12 A first and 8 A a minute later."""
    async def case(cs, b):
        await accepted(cs, b)
        prof = _db_profile(2, "Absolute", 12)
        prof["chargingSchedule"]["chargingSchedulePeriod"].append({"startPeriod": 60, "limit": 8.0})
        ans = await steve_call(cs, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": prof})
        assert ans[2] == {"status": "Accepted"}, ans
        await b.wait(120.0)
        await b.reply({"cmd": "authorize", "id_tag": TAG})
        b.d.plug()
        b.d.ev("C")
        await status_is(b, "Charging")
        await offers(b, 12)
        await b.wait(20.0)
        await offers(b, 12, 1.0)
        await offers(b, 8, 60.0)
    run_steve(tmp_path, case)


def test_steve_reservation_used_by_a_card_of_its_group(tmp_path):
    """SteVe's ReserveNow with the tag's parentIdTag: a card of that group (its Authorize answer
    names the same parentIdTag) takes the reservation, and the StartTransaction carries the
    reservationId, which SteVe marks used; a RemoteStopTransaction of a transaction the charger
    does not have is Rejected."""
    async def case(cs, b):
        await accepted(cs, b)
        ans = await steve_call(cs, "ReserveNow", {"connectorId": 1, "expiryDate": bench_date(b, 3600), "idTag": TAG,
                                                  "reservationId": 12, "parentIdTag": PARENT})
        assert ans[2] == {"status": "Accepted"}
        await status_is(b, "Reserved")
        await b.reply({"cmd": "authorize", "id_tag": "CHILD"})
        b.d.plug()
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "CHILD" and start.get("reservationId") == 12
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transactionId")
        ans = await steve_call(cs, "RemoteStopTransaction", {"transactionId": b.svc.tx["txid"] + 7})
        assert ans[2] == {"status": "Rejected"}
    run_steve(tmp_path, case)


async def _clock_set_back_in_a_transaction(cs, b):
    """A card, a car charging, then a Heartbeat whose currentTime is 5 s behind the charger's
    clock: returns the StartTransaction and SteVe's own answers (to put back)."""
    await accepted(cs, b)
    await b.reply({"cmd": "authorize", "id_tag": TAG})
    b.d.plug()
    b.d.ev("C")
    start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
    await b.until(lambda: b.svc.tx.get("txid") is not None, what="transactionId")
    behind = format_iso(b.svc.cp_time(b.svc.ticks()) - 5)
    steve = cs.respond
    cs.respond = lambda a, kw: call_result.Heartbeat(current_time=behind) if a == "Heartbeat" else steve(a, kw)
    assert (await steve_call(cs, "TriggerMessage", {"requestedMessage": "Heartbeat"}))[2] == {"status": "Accepted"}
    await b.until(lambda: cs.actions("Heartbeat"), what="Heartbeat")
    return start, steve


def test_steve_stop_is_never_stamped_before_its_start(tmp_path):
    """The charger's clock set back by a Heartbeat's currentTime (here 5 s; a drifting clock
    corrected, or the milliseconds SteVe sends and the charger drops) during a short transaction:
    the StopTransaction said it stopped before it started, which SteVe refuses ("start.timestamp
    is after stop.timestamp": stored as a failed stop, the transaction left open, so the card's
    next StartTransaction is answered ConcurrentTx). A transaction stops at or after its start."""
    async def case(cs, b):
        start, _ = await _clock_set_back_in_a_transaction(cs, b)
        await b.wait(0.5)
        await b.reply({"cmd": "authorize", "id_tag": TAG})
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "Local"
        assert parse_iso(stop["timestamp"]) >= parse_iso(start["timestamp"]), (start["timestamp"], stop["timestamp"])
    run_steve(tmp_path, case)


def test_steve_stop_after_a_power_cut_is_not_stamped_before_its_start(tmp_path):
    """As above, then the power fails before the car stops: the StopTransaction (PowerLoss) the
    charger sends after the reboot carries the time of the last sample, which the clock set back
    put before the start; it is stamped no earlier than the start either."""
    async def main():
        cs = SteveCS()
        await cs.start()
        url = "ws://127.0.0.1:%d%s" % (cs.port, STEVE_PATH)
        b = await Bench(cs, tmp_path, ocpp_url=url).start()
        try:
            start, steve = await _clock_set_back_in_a_transaction(cs, b)
            n = len(cs.actions("MeterValues"))
            await b.until(lambda: len(cs.actions("MeterValues")) > n + 1, 5, "samples after the clock moved")
            cs.respond = steve
        finally:
            await b.stop()                                   # the power fails
        b = await Bench(cs, tmp_path, ocpp_url=url).start()
        try:
            stop = (await b.until(lambda: cs.actions("StopTransaction"), 20, "StopTransaction"))[0]
            assert stop["reason"] == "PowerLoss"
            assert parse_iso(stop["timestamp"]) >= parse_iso(start["timestamp"]), (start["timestamp"], stop["timestamp"])
        finally:
            await b.stop()
            await cs.stop()
        assert not cs.violations, cs.violations
    run(main())
