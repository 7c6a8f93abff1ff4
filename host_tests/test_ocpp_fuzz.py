"""Malformed and unexpected frames: each gets the right CALLERROR (or is ignored when there is no
uniqueId to answer), and the charge point stays connected."""
import asyncio
import json
import random

from hypothesis import given, settings, strategies as st, HealthCheck

from ocpp_cs import CentralSystem, HostClock, call
from test_ocpp_cs import Rig, booted, run, FakeCharger, FakeMeter, fast_reconnect  # noqa: F401
from evse.ocpp import connection, operations, rpc
from evse.ocpp.chargepoint import OcppService

GOOD_PROFILE = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}


def _without(d, key):
    d = json.loads(json.dumps(d))
    del d[key]
    return d


# (frame, uniqueId to expect an answer for or None, expected error code or None)
CORPUS = [
    ("not json at all", None, None),
    ("{}", None, None),
    ("[]", None, None),
    ("[2]", None, None),
    ('[2, 17, "Reset", {}]', None, None),
    ("[[[[[[[[[[" * 1500, None, None),
    ('[2,"fz1"]', "fz1", "ProtocolError"),
    ('[2,"fz2","Reset"]', "fz2", "ProtocolError"),
    ('[2,"fz3","Reset",{"type":"Soft"},5]', "fz3", "FormationViolation"),
    ('[2,"fz4",5,{}]', "fz4", "FormationViolation"),
    ('[2,"fz5","Reset",[]]', "fz5", "FormationViolation"),
    ('[9,"fz6","Reset",{}]', "fz6", "FormationViolation"),
    ('["2","fz7","Reset",{}]', "fz7", "FormationViolation"),
    ('[2,"fz8","FooBar",{}]', "fz8", "NotImplemented"),
    ('[2,"fz9","GetLog",{}]', "fz9", "OccurenceConstraintViolation"),   # log, logType, requestId required
    ('[2,"fz10","Reset",{}]', "fz10", "OccurenceConstraintViolation"),
    ('[2,"fz11","Reset",{"type":5}]', "fz11", "TypeConstraintViolation"),
    ('[2,"fz12","Reset",{"type":"Medium"}]', "fz12", "PropertyConstraintViolation"),
    ('[2,"fz13","ChangeAvailability",{"connectorId":"1","type":"Operative"}]', "fz13", "TypeConstraintViolation"),
    ('[2,"fz14","ChangeAvailability",{"connectorId":-1,"type":"Operative"}]', "fz14", "PropertyConstraintViolation"),
    (json.dumps([2, "fz15", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": _without(
        GOOD_PROFILE, "chargingSchedule")}]), "fz15", "OccurenceConstraintViolation"),
    (json.dumps([2, "fz16", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": dict(
        GOOD_PROFILE, validFrom="yesterday")}]), "fz16", "TypeConstraintViolation"),
    (json.dumps([2, "fz17", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": dict(
        GOOD_PROFILE, chargingSchedule={"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0}]})}]),
     "fz17", "OccurenceConstraintViolation"),
    ('[2,"fz18","RemoteStopTransaction",{"transactionId":true}]', "fz18", "TypeConstraintViolation"),
    ('[2,"fz19","GetConfiguration",{"key":"HeartbeatInterval"}]', "fz19", "TypeConstraintViolation"),
    ('[2,"fz20","SendLocalList",{"listVersion":1,"updateType":"Full","localAuthorizationList":[{"idTag":"'
     + "X" * 21 + '"}]}]', "fz20", "PropertyConstraintViolation"),
    ('[3,"nobody-asked",{}]', None, None),
    ('[4,"nobody-asked","GenericError","",{}]', None, None),
    ('[3,"fz21"]', None, None),  # a malformed answer is never answered
    ('[2,"fzbig","DataTransfer",{"vendorId":"x","data":"' + "A" * 200000 + '"}]', "fzbig", "FormationViolation"),
    ('[2,"' + "u" * 40 + '","Reset",{"type":"Soft"}]', "u" * 40, "FormationViolation"),  # uniqueId over 36 (OCPP-J 4.2.3)
]


def test_fixed_corpus_over_the_wire(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        ws_before = rig.svc.ws
        for frame, uid, code in CORPUS:
            reply = await cs.send_raw("cp1", frame, uid or "never-" + str(len(frame)), timeout=2 if uid else 0.3)
            if uid is None:
                assert reply is None, frame[:80]
            else:
                assert reply is not None and reply[0] == 4 and reply[1] == uid, frame[:80]
                assert reply[2] == code, (frame[:80], reply)
        await cs.send_raw("cp1", b"\xff\xfe\x00binary")  # a binary frame that is not UTF-8
        res = await cs.call("cp1", call.GetConfiguration(key=["HeartbeatInterval"]))
        assert res.configuration_key[0]["value"] == "300"
        assert rig.svc.ws is ws_before and rig.svc.connected  # the same connection all along
        assert len(cs.actions("BootNotification")) == 1
        assert rig.resets == [] and rig.svc.reset_kind is None
        await rig.kill()
        await cs.stop()
    run(main())


def _mutations(seed, n):
    """Random edits of valid CALLs: dropped/duplicated/retyped fields, cut text, swapped bytes."""
    r = random.Random(seed)
    base = [[2, "m", a, p] for a, p in [
        ("ChangeAvailability", {"connectorId": 1, "type": "Operative"}),
        ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "5"}),
        ("GetCompositeSchedule", {"connectorId": 1, "duration": 600}),
        ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": GOOD_PROFILE}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ("RemoteStopTransaction", {"transactionId": 7}),
        ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
        ("SendLocalList", {"listVersion": 2, "updateType": "Differential",
                           "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}]}),
    ]]
    junk = [None, True, -1, 2 ** 40, 1.5, "", "x" * 600, [], {}, [1, 2], {"a": 1}]
    out = []
    for i in range(n):
        m = json.loads(json.dumps(r.choice(base)))
        m[1] = "m%d" % i
        p = m[3]
        for _ in range(r.randint(1, 3)):
            keys = list(p)
            op = r.randint(0, 3)
            if op == 0 and keys:
                del p[r.choice(keys)]
            elif op == 1 and keys:
                p[r.choice(keys)] = r.choice(junk)
            elif op == 2:
                p[r.choice(["zz", "connectorId", "type"])] = r.choice(junk)
            elif op == 3 and keys and isinstance(p.get(keys[0]), dict):
                sub = p[keys[0]]
                if sub:
                    sub[r.choice(list(sub))] = r.choice(junk)
        text = json.dumps(m)
        if r.random() < 0.2:
            text = text[: r.randint(0, len(text))]
        out.append((m[1], text))
    return out


def test_random_mutations_over_the_wire_keep_the_client_alive(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        ws_before = rig.svc.ws
        answered = 0
        for uid, text in _mutations(1234, 300):
            reply = await cs.send_raw("cp1", text, uid, timeout=0.5)
            if reply is not None:
                answered += 1
                assert reply[0] in (3, 4)
                if reply[0] == 4:
                    assert reply[2] != "InternalError", (text, reply)
        assert answered > 200
        res = await cs.call("cp1", call.GetConfiguration(key=["HeartbeatInterval"]))
        assert res.configuration_key
        assert rig.svc.ws is ws_before and rig.svc.connected
        await rig.kill()
        await cs.stop()
    run(main())


# -- property tests on the dispatcher, without a network -----------------------------------------

class _CaptureWS:
    def __init__(self):
        self.sent = []
        self.closed = False

    async def send_text(self, text):
        self.sent.append(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)

actions = st.sampled_from(sorted(operations.HANDLERS) + ["Nope", "SignCertificate"])
payload_keys = st.sampled_from(["connectorId", "type", "key", "value", "idTag", "transactionId", "duration",
                                "csChargingProfiles", "requestedMessage", "listVersion", "updateType",
                                "chargingProfile", "chargingRateUnit", "id", "stackLevel", "reservationId",
                                "expiryDate", "certificateType", "certificate", "certificateHashData",
                                "certificateChain", "log", "logType", "requestId", "firmware"])
payloads = st.dictionaries(payload_keys, json_values, max_size=5)


def _service(tmp_path):
    svc = OcppService(FakeCharger(), FakeMeter(), {"ocpp_url": ""}, str(tmp_path), HostClock())
    svc.accepted = True
    svc.boot_status = "Accepted"
    return svc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=actions, payload=payloads)
def test_any_payload_gets_a_result_or_a_callerror_never_an_internal_error(tmp_path, action, payload):
    svc = _service(tmp_path)
    ws = _CaptureWS()
    asyncio.run(connection.handle_frame(svc, ws, json.dumps([2, "u1", action, payload])))
    assert len(ws.sent) == 1
    reply = json.loads(ws.sent[0])
    assert reply[1] == "u1" and reply[0] in (3, 4)
    if reply[0] == 4:
        assert reply[2] != "InternalError", reply


@settings(max_examples=300, deadline=None)
@given(frame=st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_parse_never_raises(frame):
    r = rpc.parse(frame)
    assert isinstance(r, tuple) and r[0] in (None, rpc.CALL, rpc.RESULT, rpc.ERROR)
