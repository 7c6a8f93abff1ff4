"""Reservations and a transaction kept over an unplug (StopTransactionOnEVSideDisconnect false):
the service itself, under CPython (pytest) and the MicroPython unix port
(python -m tools.toolchain.upy_tests host_tests/upy/test_ocpp_reservation_upy.py)."""
import gc
import json
import sys

from ocpp_fakes import Meter, TickClock, tmpdir
from upytest import CoreLink
from evse.ocpp import operations
from evse.ocpp.wallclock import parse_iso

T0 = parse_iso("2024-05-01T12:00:00Z")


def _service(clock=None):
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    svc = OcppService(CoreLink(), Meter(), {"ocpp_url": ""}, tmpdir("ocpp_resv_upy"), clock or TickClock())
    svc.accepted = True
    svc.wall.set(T0, 0)
    return svc


def _call(svc, action, payload):
    frame = json.loads(operations.dispatch(svc, "u1", action, payload)[0])
    return frame[2] if frame[0] == 3 else frame[2:4]


def _reserve(svc, rid=7, connector=1, tag="GOOD", parent=None, exp="2024-05-01T12:10:00Z"):
    p = {"connectorId": connector, "expiryDate": exp, "idTag": tag, "reservationId": rid}
    if parent:
        p["parentIdTag"] = parent
    return _call(svc, "ReserveNow", p)


def test_reservation_module_is_loaded_only_by_its_first_message():
    sys.modules.pop("evse.ocpp.reservation", None)   # another test (pytest) may have used it
    svc = _service()
    svc.poll(0)
    assert "evse.ocpp.reservation" not in sys.modules
    assert _call(svc, "ReserveNow", {"connectorId": 1}) == ["OccurenceConstraintViolation",
                                                           "expiryDate is required"]
    assert "evse.ocpp.reservation" in sys.modules


def test_reserved_status_admission_start_and_expiry():
    clock = TickClock()
    svc = _service(clock)
    assert _reserve(svc, connector=2) == {"status": "Rejected"}
    assert _reserve(svc) == {"status": "Accepted"}
    svc.poll(0)
    assert svc.immediate[-1][1]["status"] == "Reserved"
    assert svc.present_id("OTHER", 0) == "Reserved" and not svc.immediate[-1][0] == "Authorize"
    assert _call(svc, "CancelReservation", {"reservationId": 8}) == {"status": "Rejected"}
    assert svc.present_id("GOOD", 0) == "pending"
    svc.immediate[-1][3](True, {"idTagInfo": {"status": "Accepted"}})   # the Authorize answer
    svc.on_event(("state", "B2"))
    svc.poll(100)
    start = svc.txq.records[-1][2]
    assert start["idTag"] == "GOOD" and start["reservationId"] == 7 and svc.state["resv"] is None
    svc2 = _service()
    _reserve(svc2, exp="2024-05-01T12:00:30Z")
    svc2.poll(29000)
    assert svc2.state["resv"] is not None
    svc2.poll(30000)
    assert svc2.state["resv"] is None and svc2.immediate[-1][1]["status"] == "Available"


def test_a_reservation_reads_the_time_once_a_second_not_every_poll():
    """Epoch seconds are long ints on the 32-bit boards (over 2**30): the expiry check read the
    wall time at every 10 ms poll while a reservation stood, an allocation a tick."""
    svc = _service()
    _reserve(svc, exp="2024-05-01T12:00:30Z")
    reads, now = [0], svc.wall.now

    def counted(ms):
        reads[0] += 1
        return now(ms)
    svc.wall.now = counted
    for ms in range(0, 10000, 10):
        svc.poll(ms)
    assert svc.state["resv"] is not None and reads[0] <= 22, reads    # with the profiles' evaluation,
    # once a second too; every poll before (and the clock-aligned check, its interval 0 or not)
    for ms in range(10000, 30010, 10):
        svc.poll(ms)
    assert svc.state["resv"] is None                     # it lapses on time, to the poll


def test_a_steady_poll_allocates_only_the_profiles_evaluation_once_a_second():
    """The service's poll runs every 10 ms from the control cycle: it made the connector status's
    tuple at every one (and read the wall time for the clock-aligned values, a long int on the
    boards). Under heap_lock (MicroPython) only the profiles' once-a-second evaluation allocates."""
    import upytest
    svc = _service()
    svc.config.values["ClockAlignedDataInterval"] = 900
    for ms in range(0, 2000, 10):
        svc.poll(ms)
    gc.collect()
    allocated = 0
    for ms in range(2010, 5010, 10):                      # 3 s of polls
        ok = True
        upytest.heap_lock()
        try:
            svc.poll(ms)
        except MemoryError:
            ok = False
        upytest.heap_unlock()
        if not ok:
            allocated += 1
    assert allocated <= 3, allocated                      # (was 300: every poll)
    assert svc.sent_status                                # the status was reported, once


def test_parent_id_tag_learned_from_authorize_admits_its_group():
    svc = _service()
    svc.config.change("AuthorizationCacheEnabled", "false")
    _reserve(svc, parent="FLEET")
    assert svc.present_id("MATE", 0) == "pending"          # its parent is not known here: ask
    svc.immediate[-1][3](True, {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}})
    assert svc.auth_tag == "MATE"
    svc.auth_tag = None
    svc.present_id("STRANGER", 0)
    svc.immediate[-1][3](True, {"idTagInfo": {"status": "Accepted", "parentIdTag": "OTHERS"}})
    assert svc.auth_tag is None and svc.last_auth == ("STRANGER", "Reserved")
    assert svc.present_id("FLEET", 0) == "pending"         # the group's own card
    svc.immediate[-1][3](True, {"idTagInfo": {"status": "Accepted"}})
    assert svc.auth_tag == "FLEET"


def test_unplug_suspends_the_transaction_when_the_key_is_false():
    svc = _service()
    assert svc.config.change("StopTransactionOnEVSideDisconnect", "false") == "Accepted"
    svc.present_id("GOOD", 0)
    svc.immediate[-1][3](True, {"idTagInfo": {"status": "Accepted"}})
    svc.on_event(("state", "C2"))
    svc.on_event(("contactor", True))
    svc.poll(100)
    svc.on_event(("contactor", False))
    svc.on_event(("session", "end", "unplugged"))
    svc.on_event(("state", "A1"))
    svc.poll(200)
    assert svc.tx is not None and svc.immediate[-1][1]["status"] == "SuspendedEV"
    assert svc.charger.calls[-1] == ("authorize", True)       # a car plugged back in may charge
    assert [r[1] for r in svc.txq.records] == ["StartTransaction"]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
