"""The sixth OCPP audit's firmware fixes under the MicroPython unix port (and CPython): a tag of
the transaction's group (parentIdTag) stops it after an Authorize (OCTT TC_069_CS), and the status
after ChangeAvailability Operative waits for the pilot's reading. The scenarios against a central
system are host_tests/test_octt_core2.py."""
import gc

from ocpp_fakes import Meter, TickClock, tmpdir
from upytest import CoreLink


class _Charger(CoreLink):
    """A core that says whether it has read the pilot since it left Disabled (`read`)."""
    read = True

    def pilot_read(self):
        return self.read


def _service(sub):
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    ch = _Charger()
    svc = OcppService(ch, Meter(), {"ocpp_url": "", "ocpp_config": {"AuthorizationCacheEnabled": False, "AllowOfflineTxForUnknownId": True}},
                      tmpdir("ocpp_audit6_upy", sub), TickClock())
    return svc, ch


def _started(svc):
    assert svc.present_id("CARD1", 0) == "accepted"
    svc.on_event(("state", "B2"))
    svc.poll(100)
    assert svc.tx is not None
    svc.accepted = True


def test_a_tag_of_the_group_stops_the_transaction_after_authorize():
    svc, ch = _service("/a")
    _started(svc)
    svc.tx["pt"] = "FLEET"              # the StartTransaction answer's parentIdTag
    assert svc.present_id("CARD2", 200) == "pending"
    action, payload, _, done = svc.immediate[-1]
    assert action == "Authorize" and payload == {"idTag": "CARD2"}
    done(True, {"idTagInfo": {"status": "Accepted", "parentIdTag": "fleet"}})
    assert svc.tx is None and ("stop", "local") in ch.calls
    stop = [r for r in svc.txq.records if r[1] == "StopTransaction"][0][2]
    assert stop["idTag"] == "CARD2" and stop["reason"] == "Local"


def test_another_group_or_none_does_not_stop_it():
    svc, ch = _service("/b")
    _started(svc)
    assert svc.present_id("CARD2", 200) == "busy"     # no group: nothing to ask (TC_068_CS)
    svc.tx["pt"] = "FLEET"
    n = len(svc.immediate)
    assert svc.present_id("CARD3", 300) == "pending"
    svc.immediate[n][3](True, {"idTagInfo": {"status": "Accepted", "parentIdTag": "OTHER"}})
    svc.immediate[n][3](False, None)
    assert svc.tx is not None and ("stop", "local") not in ch.calls


def test_status_waits_for_the_pilot_after_disabled():
    from evse.ocpp.chargepoint import OcppService
    gc.collect()
    ch = _Charger()
    svc = OcppService(ch, Meter(), {"ocpp_url": ""}, tmpdir("ocpp_audit6_upy", "/c"), TickClock())
    svc.on_event(("state", "B1"))
    svc.finishing = True
    svc.poll(0)
    svc.on_event(("state", "disabled"))
    svc.poll(10)
    ch.read = False                     # enabled again: A1 before the pilot is read
    svc.on_event(("state", "A1"))
    svc.poll(20)
    assert svc.plugged and svc.finishing and svc.sent_status[1][0] == "Unavailable"
    ch.read = True
    svc.on_event(("state", "B1"))
    svc.poll(30)
    # the car is still there (never Available); Preparing, as 4.9 has no Unavailable -> Finishing
    assert svc.sent_status[1][0] == "Preparing" and svc.finishing


def test_the_connector_status_waits_for_a_queued_start_transaction():
    from evse.core import ticks
    from evse.ocpp import connection

    class Q:
        records = [[1, "StartTransaction", {}, 0, None], [2, "MeterValues", {}, 0, None]]

    class Svc:
        txq = Q()
        tx_retry_ms = None
        ticks_diff = staticmethod(ticks.ticks_diff)
        immediate = [["StatusNotification", {"connectorId": 1}, {"w": 1}, None],
                     ["StatusNotification", {"connectorId": 0}, None, None]]
    svc = Svc()
    assert connection.next_immediate(svc, 0)[1]["connectorId"] == 0
    assert connection.next_immediate(svc, 0) is None           # the StartTransaction goes first
    svc.tx_retry_ms = 5000                                      # waiting for a retry: it does not wait
    assert connection.next_immediate(svc, 0)[1]["connectorId"] == 1
    svc.immediate.append(["StatusNotification", {"connectorId": 1}, {"w": 1}, None])
    svc.tx_retry_ms = None
    Q.records = Q.records[1:]                                   # answered
    assert connection.next_immediate(svc, 0)[1]["connectorId"] == 1
    Q.records.append([3, "StopTransaction", {}, 0, None])       # the end too goes before Finishing
    svc.immediate.append(["StatusNotification", {"connectorId": 1}, {"w": 1}, None])
    assert connection.next_immediate(svc, 0) is None
    svc.immediate.insert(0, ["StatusNotification", {"connectorId": 1}, {}, None])   # from before it
    assert connection.next_immediate(svc, 0)[2] == {} and connection.next_immediate(svc, 0) is None


def test_availability_of_the_connector_and_of_the_charge_point():
    from evse.ocpp import transactions
    svc, ch = _service("/d")
    n = len(svc.immediate)
    transactions.set_operative(svc, False, 1)
    assert svc.state["operative"] is False and len(svc.immediate) == n     # connector 0 unchanged
    transactions.set_operative(svc, False, 0)
    assert svc.immediate[-1][1]["connectorId"] == 0 and svc.immediate[-1][1]["status"] == "Unavailable"
    transactions.set_operative(svc, True, 1)
    assert svc.state["operative"] is False                                  # the charge point still off
    transactions.set_operative(svc, False, 1)
    transactions.set_operative(svc, True, 0)                                # all of it Operative
    assert svc.state["operative"] is True and svc.immediate[-1][1]["status"] == "Available"
    assert ch.calls[-1] == ("enable", True)


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
