"""The OCPP service's parts on their own (issue 10): an operation handler, the CALL dispatch, the
transaction message retries, MeterValues, the smart charging limit and idTag authorization, each
with a fake service that has only what the part reads; the connection with a fake transport
(OcppService's `connect`) instead of a central system. And the package's shape: no function over
60 lines or above cyclomatic complexity 15, nothing dead (radon and vulture when installed)."""
import ast
import asyncio
import glob
import json
import os

import pytest

from ocpp_cs import HostClock
from evse.ocpp import auth, connection, metering, operations, rpc, schedule, schemas, transactions
from evse.ocpp.chargepoint import OcppService
from evse.ocpp.config import Config

OCPP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "evse", "ocpp")


class Charger:
    def __init__(self):
        self.calls = []
        self.state = "A1"
        self.fault = None

    @property
    def held(self):               # a query (a plug lock keeping a cable): none here, nothing recorded
        return False

    def __getattr__(self, name):  # enable, authorize, stop, set_limit: recorded
        return lambda *a: self.calls.append((name,) + a)


class Service:
    """What the parts read of OcppService, nothing more: plain attributes and recording queues."""

    def __init__(self, config=None, **kw):
        self.config = Config(None, config)
        self.charger = Charger()
        self.meter = None
        self.state = {"boot": 1, "next_ref": 1, "tx": None, "operative": True, "reset": None}
        self.tx = self.fault = self.limit_sent = self.tx_retry_ms = self.remote_profile = None
        self.accepted = self.fw_installing = False
        self._tx_attempts = 0
        self.now = 1000
        self.saved = 0
        self.sent = []  # (queue, action, payload)
        self.__dict__.update(kw)

    def ticks(self):
        return self.now

    def ticks_add(self, a, d):
        return a + d

    def ticks_diff(self, a, b):
        return a - b

    def save(self):
        self.saved += 1

    def meter_wh(self):
        return self.meter.wh_total

    def queue_call(self, action, payload, callback=None, now_ms=None):
        self.sent.append(("call", action, payload, callback))

    def queue_tx(self, action, payload, ref, now_ms):
        self.sent.append(("tx", action, payload, ref))

    def queue_cp_status(self):
        self.sent.append(("call", "StatusNotification", {"connectorId": 0}, None))


class Meter:
    wh_total = 1234
    amps = [16.04, 15.96, None]
    power_w = 11000
    volts = [230.0, 231.5, 229.9]


# -- operations --------------------------------------------------------------------------------
def test_every_call_the_schemas_know_has_one_handler():
    eager = [a for a, h in operations.HANDLERS.items() if not isinstance(h, str)]
    assert sorted(eager) == sorted(schemas.INCOMING)
    for action, h in operations.HANDLERS.items():   # a lazy entry's module has its handler and fields
        if isinstance(h, str):
            handle, fields = operations.handler(action)
            assert callable(handle) and fields


def test_change_availability_waits_for_the_running_transaction():
    svc = Service(tx={"ref": 1, "tag": "A"})
    assert operations.change_availability(svc, {"connectorId": 1, "type": "Inoperative"}) == {"status": "Scheduled"}
    assert svc.state["pend"] == 1 and svc.state["operative"] and svc.charger.calls == [] and svc.saved == 1
    svc.tx = None
    assert operations.change_availability(svc, {"connectorId": 0, "type": "Inoperative"}) == {"status": "Accepted"}
    assert svc.state["operative"] is False and svc.charger.calls == [("enable", False)] and svc.saved == 2
    assert svc.state["pend"] is None
    assert operations.change_availability(svc, {"connectorId": 2, "type": "Operative"}) == {"status": "Rejected"}


def test_get_configuration_refuses_more_than_the_max_keys():
    """Over GetConfigurationMaxKeys: a CALLERROR, not an answer that leaves keys out."""
    svc = Service(config={"GetConfigurationMaxKeys": 2})
    res = operations.get_configuration(svc, {"key": ["HeartbeatInterval", "Nope"]})
    assert [k["key"] for k in res["configurationKey"]] == ["HeartbeatInterval"] and res["unknownKey"] == ["Nope"]
    with pytest.raises(rpc.CallError) as e:
        operations.get_configuration(svc, {"key": ["HeartbeatInterval", "Nope", "ConnectionTimeOut"]})
    assert e.value.args[0] == rpc.OCCURENCE


def test_trigger_message_queues_its_message_after_the_answer():
    svc = Service(meter=Meter(), tx={"ref": 3, "txid": 77})
    res, after = operations.trigger_message(svc, {"requestedMessage": "MeterValues"})
    assert res == {"status": "Accepted"} and svc.sent == []
    after()
    # no connectorId: every connector's (section 5.17), the charge point's meter first
    (_, a0, p0, _), (_, action, payload, _) = svc.sent
    assert a0 == "MeterValues" and p0["connectorId"] == 0 and "transactionId" not in p0
    assert action == "MeterValues" and payload["transactionId"] == 77
    assert {v["context"] for v in payload["meterValue"][0]["sampledValue"]} == {"Trigger"}


def test_trigger_meter_values_for_connector_0_reports_the_main_meter_without_the_transaction():
    """OCPP 1.6 section 4.7: connectorId 0 is the charge point's main meter; the transaction is
    connector 1's, so its id is not in the values of connector 0."""
    svc = Service(meter=Meter(), tx={"ref": 3, "txid": 77})
    res, after = operations.trigger_message(svc, {"requestedMessage": "MeterValues", "connectorId": 0})
    after()
    (_, action, payload, _), = svc.sent
    assert res == {"status": "Accepted"} and action == "MeterValues"
    assert payload["connectorId"] == 0 and "transactionId" not in payload
    assert any(v.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"
               for v in payload["meterValue"][0]["sampledValue"])


def test_dispatch_answers_every_call_with_a_result_or_the_right_error():
    svc = Service()
    assert json.loads(operations.dispatch(svc, "u1", "FooBar", {})[0])[:3] == [4, "u1", "NotImplemented"]
    assert json.loads(operations.dispatch(svc, "u2", "GetLog", {})[0])[:3] == [4, "u2", "OccurenceConstraintViolation"]
    reply, after = operations.dispatch(svc, "u3", "Reset", {"type": "Later"})
    assert json.loads(reply)[2] == "PropertyConstraintViolation" and after is None
    svc.auth = None  # a handler that raises: InternalError, the connection stays up
    assert json.loads(operations.dispatch(svc, "u4", "ClearCache", {})[0])[2] == "InternalError"
    reply, after = operations.dispatch(svc, "u5", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert json.loads(reply) == [3, "u5", {"status": "Accepted"}] and after is not None


# -- transactions ------------------------------------------------------------------------------
class TxQueue:
    def __init__(self):
        self.txids = {}
        self.dropped = []

    def drop(self, seq):
        self.dropped.append(seq)

    def set_txid(self, ref, txid):
        self.txids[ref] = txid


def test_a_transaction_message_is_retried_then_given_up():
    svc = Service(config={"TransactionMessageAttempts": 3, "TransactionMessageRetryInterval": 20}, txq=TxQueue())
    rec = (5, "StopTransaction", {}, 1, None)
    svc.txq.txids[1] = 42
    payload = transactions.prepare(svc, rec, {"meterStop": 10})
    assert payload == {"meterStop": 10, "transactionId": 42}
    transactions.on_answer(svc, rec, payload, False, ("InternalError", ""))
    assert svc.tx_retry_ms == 1000 + 20000 and svc.txq.dropped == []
    transactions.on_answer(svc, rec, payload, False, ("InternalError", ""))
    assert svc.tx_retry_ms == 1000 + 40000  # the interval grows with each attempt
    transactions.on_answer(svc, rec, payload, False, ("InternalError", ""))
    assert svc.txq.dropped == [5] and svc.tx_retry_ms is None and svc._tx_attempts == 0


def test_a_message_whose_start_was_given_up_is_dropped_unsent():
    svc = Service(txq=TxQueue())
    assert transactions.prepare(svc, (9, "MeterValues", {}, 4, None), {}) is None and svc.txq.dropped == [9]


# -- metering ----------------------------------------------------------------------------------
def test_sampled_values_per_measurand_and_phase():
    svc = Service(meter=Meter())
    sv = metering.sample(svc, "Energy.Active.Import.Register,Current.Import,Voltage", "Sample.Periodic")
    assert [(v["measurand"], v.get("phase"), v["value"]) for v in sv] == [
        ("Energy.Active.Import.Register", None, "1234"), ("Current.Import", "L1", "16.0"),
        ("Current.Import", "L2", "16.0"), ("Current.Import", "L3", "0.0"),
        ("Voltage", "L1-N", "230.0"), ("Voltage", "L2-N", "231.5"), ("Voltage", "L3-N", "229.9")]
    assert metering.sample(Service(), "Energy.Active.Import.Register", "Trigger") == []  # no meter


def test_meter_values_outside_a_transaction_are_not_kept_offline():
    svc = Service(meter=Meter())
    metering.report(svc, "Power.Active.Import", "Sample.Clock", 0, False)
    assert svc.sent == []
    svc.accepted = True
    metering.report(svc, "Power.Active.Import", "Sample.Clock", 0, False)
    svc.tx = {"ref": 2, "txid": None}
    metering.report(svc, "Power.Active.Import", "Sample.Periodic", 0, True)
    assert [(q, a, p.get("transactionId")) for q, a, p, _ in svc.sent] == [
        ("call", "MeterValues", None), ("tx", "MeterValues", None)]


# -- smart charging ----------------------------------------------------------------------------
class Profiles:
    def __init__(self, amps):
        self.amps = amps

    def limit_at(self, *args):
        return self.amps


class Wall:
    def known(self):
        return False


@pytest.mark.parametrize("amps, sent", [(None, None), (16.06, 16.0), (200.0, 80.0), (float("nan"), 0.0),
                                         (float("inf"), 0.0), (-3, 0.0)])
def test_the_profiles_limit_reaches_the_core_checked_and_rounded_down(amps, sent):
    svc = Service(profiles=Profiles(amps), wall=Wall(), limit_sent="never", cp_time=lambda now: now // 1000)
    schedule.apply_limit(svc, 0)
    assert svc.charger.calls == [("set_limit", "ocpp", sent)] and svc.limit_sent == sent
    schedule.apply_limit(svc, 1000)
    assert len(svc.charger.calls) == 1  # unchanged: not set again


# -- authorization -----------------------------------------------------------------------------
def test_offline_an_unknown_id_follows_allow_offline_tx_for_unknown_id():
    store = auth.AuthStore(None, None)
    svc = Service(auth=store, wall=Wall(), auth_tag=None, last_auth=None)
    svc.wall.now = lambda now: None
    assert auth.present_id(svc, "CARD1") == "Invalid" and svc.charger.calls == []
    svc.config.values["AllowOfflineTxForUnknownId"] = True
    assert auth.present_id(svc, "CARD1") == "accepted" and svc.auth_tag == "CARD1"
    assert svc.charger.calls == [("authorize", True, "CARD1")]  # for CARD1: its session record names it
    store.remember("CARD2", {"status": "Blocked"})  # the cache knows better than the rule
    assert auth.present_id(svc, "CARD2") == "Blocked"


def test_online_authorize_is_asked_and_its_answer_decides():
    svc = Service(auth=auth.AuthStore(None, None), wall=Wall(), auth_tag=None, last_auth=None, accepted=True)
    assert auth.present_id(svc, "CARD1") == "pending" and svc.last_auth == ("CARD1", "pending")
    (_, action, payload, done), = svc.sent
    assert action == "Authorize" and payload == {"idTag": "CARD1"}
    done(True, {"idTagInfo": {"status": "Expired"}})
    assert svc.last_auth == ("CARD1", "Expired") and svc.charger.calls == []
    assert svc.auth.lookup("CARD1", None) == ("Expired", "cache")


# -- connection, with a fake transport -----------------------------------------------------------
class FakeSocket:
    """A central system in a box: answers BootNotification Accepted and every other CALL with {}."""

    def __init__(self):
        self.closed = False
        self.calls = []
        self.inbox = asyncio.Queue()
        self.writer = Charger()  # OcppService.stop() closes the stream writer: recorded

    async def send_text(self, text):
        msg = json.loads(text)
        if msg[0] == 2:
            self.calls.append((msg[2], msg[3]))
            res = {"status": "Accepted", "interval": 7, "currentTime": "2024-05-01T12:00:00Z"} \
                if msg[2] == "BootNotification" else {}
            await self.inbox.put(json.dumps([3, msg[1], res]))

    async def recv(self):
        return 1, await self.inbox.get(), False

    async def close(self):
        self.closed = True


def test_the_connection_boots_and_reports_over_any_transport(tmp_path):
    sock = FakeSocket()
    opened = []

    async def connect(url, subprotocol, user=None, password=None, ca_file=None):
        opened.append((url, subprotocol, user, password))
        return sock

    async def main():
        svc = OcppService(Charger(), None, {"ocpp_url": "ws://cs.invalid/ocpp/", "ocpp_id": "cp7"},
                          str(tmp_path), HostClock(), connect=connect)
        task = asyncio.create_task(svc.run())
        for _ in range(200):
            if len(sock.calls) >= 2:
                break
            await asyncio.sleep(0.01)
        svc.stop()
        await asyncio.wait_for(task, 5)
        return svc

    svc = asyncio.run(main())
    assert opened == [("ws://cs.invalid/ocpp/cp7", "ocpp1.6", None, None)]
    assert [a for a, _ in sock.calls[:2]] == ["BootNotification", "StatusNotification"]
    assert sock.calls[1][1]["connectorId"] == 0 and sock.calls[1][1]["status"] == "Available"
    assert svc.config.get("HeartbeatInterval") == 7 and svc.wall.known()


class HandClock:
    ticks_diff = staticmethod(lambda a, b: a - b)
    ticks_add = staticmethod(lambda a, d: a + d)

    def ticks_ms(self):
        return 0


class OpenSocket:
    closed = False


def _resetting(tmp_path, kind):
    """A service whose Reset's StopTransaction is out and contactor open, on an open connection."""
    resets = []
    svc = OcppService(Charger(), None, {"ocpp_url": ""}, str(tmp_path), HandClock(), on_reset=resets.append)
    svc.ws = OpenSocket()
    svc.reset_kind, svc.reset_ms = kind, 0
    return svc, resets


def test_a_reset_reboots_once_its_connection_has_closed(tmp_path):
    svc, resets = _resetting(tmp_path, "Soft")
    svc.poll(10)
    assert resets == [] and svc.redial          # the session is asked to end with a Close frame
    svc.ws = None                               # connection.run: closed, its Close frame out
    svc.poll(20)
    assert resets == ["Soft"] and svc.rebooting


def test_a_connection_that_never_closes_holds_a_reset_at_most_reset_close_ms(tmp_path):
    from evse.ocpp.chargepoint import RESET_CLOSE_MS
    svc, resets = _resetting(tmp_path, "Hard")
    svc.poll(10)
    svc.poll(10 + RESET_CLOSE_MS)
    assert resets == []
    svc.poll(11 + RESET_CLOSE_MS)
    assert resets == ["Hard"]


# -- the package's shape -----------------------------------------------------------------------
def _functions():
    for path in sorted(glob.glob(os.path.join(OCPP_DIR, "*.py"))):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield os.path.basename(path), node


def test_no_function_in_the_ocpp_package_is_over_60_lines():
    long = ["%s:%s %d lines" % (f, n.name, n.end_lineno - n.lineno + 1) for f, n in _functions()
            if n.end_lineno - n.lineno + 1 > 60]
    assert long == []


def test_no_function_in_the_ocpp_package_is_above_complexity_15():
    cc = pytest.importorskip("radon.complexity")
    high = []
    for path in sorted(glob.glob(os.path.join(OCPP_DIR, "*.py"))):
        with open(path) as f:
            for block in cc.cc_visit(f.read()):
                for b in [block] + list(getattr(block, "methods", [])):
                    if b.complexity > 15:
                        high.append("%s:%s %d" % (os.path.basename(path), b.name, b.complexity))
    assert high == []


def test_nothing_in_the_ocpp_package_is_dead():
    vulture = pytest.importorskip("vulture")
    v = vulture.Vulture()
    firmware = os.path.dirname(os.path.dirname(OCPP_DIR))
    # The package as the app and the OCPP tests use it: their calls count as uses.
    tests = os.path.dirname(os.path.abspath(__file__))
    v.scavenge([os.path.dirname(OCPP_DIR)] + glob.glob(os.path.join(tests, "*ocpp*.py"))
               + glob.glob(os.path.join(tests, "upy", "*ocpp*.py"))
               + [os.path.join(os.path.dirname(tests), "tools", "toolchain", "vulture_allow.py")])  # lazy handlers
    dead = ["%s:%d %s" % (os.path.relpath(str(u.filename), firmware), u.first_lineno, u.name)
            for u in v.get_unused_code(min_confidence=60) if os.path.dirname(str(u.filename)) == OCPP_DIR]
    assert dead == []
