"""Reservation profile (OCPP 1.6 section 5.13 ReserveNow, 5.2 CancelReservation): one reservation
for the one connector, kept in state.json as state["resv"] = {"id", "c", "tag", "parent", "exp"}
(exp: epoch seconds) so that it survives a reboot. Connector 0 (ReserveConnectorZeroSupported)
reserves the only connector. Imported only when a reservation message arrives or one exists
(operations.HANDLERS lazy entry): nothing of it is in RAM otherwise. Functions take the service."""
from .config import CONNECTOR
from .status import unavailable
from .wallclock import parse_iso

# Fields of the CALLs handled here (format: rpc.check), beside their handlers: loaded with them.
INCOMING = {
    "ReserveNow": (("connectorId", "i", True, (0, None)), ("expiryDate", "t", True, 1),
                   ("idTag", "s", True, 20), ("parentIdTag", "s", False, 20),
                   ("reservationId", "i", True, None)),
    "CancelReservation": (("reservationId", "i", True, None),),
}


def _down(svc):
    """'Faulted' or 'Unavailable' while the connector is, as its status reports it, else None."""
    return unavailable(svc.core_state, svc.fault, svc.state["operative"], svc.tx)


def _refusal(svc, p):
    """Why the connector cannot be reserved now (ReserveNowResponse status), or None."""
    c = p["connectorId"]
    if c > CONNECTOR or (c == 0 and not svc.config.get("ReserveConnectorZeroSupported")):
        return "Rejected"
    down = _down(svc)
    if down:
        return down
    held = svc.state.get("resv")
    if svc.tx or svc.plugged or svc.auth_tag or (held and held["id"] != p["reservationId"]):
        return "Occupied"
    exp = parse_iso(p["expiryDate"])
    now = svc.wall.now(svc.ticks())
    if now is not None and exp <= now:
        return "Rejected"  # expired already
    return None


def reserve_now(svc, p):
    """ReserveNow: the same reservationId replaces its reservation (section 5.13)."""
    why = _refusal(svc, p)
    if why:
        return {"status": why}
    svc.state["resv"] = {"id": p["reservationId"], "c": p["connectorId"], "tag": p["idTag"],
                         "parent": p.get("parentIdTag"), "exp": parse_iso(p["expiryDate"])}
    svc.save()
    return {"status": "Accepted"}


def cancel_reservation(svc, p):
    held = svc.state.get("resv")
    if not held or held["id"] != p["reservationId"]:
        return {"status": "Rejected"}
    end(svc)
    return {"status": "Accepted"}


def end(svc):
    svc.state["resv"] = None
    svc.save()


def admits(svc, tag, parent=None):
    """May `tag` use the reserved connector (section 5.13: the idTag or its parent idTag matches
    the reservation's idTag or parentIdTag): True, False, or None (the reservation has a
    parentIdTag and the tag's parent is not known locally: Authorize finds it)."""
    held = svc.state["resv"]
    ids = [(i or "").upper() for i in (held["tag"], held["parent"])]    # idTags: CiString20 (section 7)
    if tag.upper() in ids:
        return True
    if not held["parent"]:
        return False
    parent = parent or svc.auth.parent(tag)
    if parent is None:
        return None
    return parent.upper() in ids


def expire(svc, now_ms):
    """The reservation lapses at its expiryDate (while wall time is unknown it is kept), and ends
    when the connector goes Faulted or Unavailable (section 5.13): it is not Reserved again after.
    The time is read once a second: epoch seconds are long ints on the boards (> 2**30)."""
    if _down(svc):
        end(svc)
        return
    due = svc.resv_due
    if due is not None and 0 < svc.ticks_diff(due, now_ms) <= 1000:
        return
    svc.resv_due = svc.ticks_add(now_ms, 1000)
    now = svc.wall.now(now_ms)
    if now is not None and now >= svc.state["resv"]["exp"]:
        end(svc)


def use(svc, payload):
    """StartTransaction for the reserved idTag (or its group) carries the reservationId and ends
    the reservation."""
    payload["reservationId"] = svc.state["resv"]["id"]
    end(svc)
