"""UnlockConnector (OCPP 1.6 section 5.17): a running transaction is stopped first (reason
UnlockCommand), then a Type 2 socket's plug lock is released once the contactor is open; the answer
waits for the lock's feedback (Unlocked), UnlockFailed when it does not read unlocked in time.
NotSupported without a lock to release: a tethered cable, a board without one, another connector.
UnlockConnectorOnEVSideDisconnect false: a cable kept locked in the socket once the car side left
is released by its owner's card too (by_card). Imported only when the message arrives
(operations.HANDLERS lazy entry), or such a card."""
import asyncio

from . import auth, transactions
from .config import CONNECTOR
from ..core import limits as L

# Fields of the CALL handled here (format: rpc.check), beside its handler: loaded with it.
INCOMING = {"UnlockConnector": (("connectorId", "i", True, (0, None)),)}
POLL_S = 0.05


def unlock_connector(svc, p):
    if p["connectorId"] != CONNECTOR:
        return {"status": "NotSupported"}
    tx = svc.tx is not None
    if tx:
        transactions.stop(svc, "UnlockCommand", svc.ticks())
    unlock = getattr(svc.charger, "unlock", None)     # (a test's stand-in charger has none)
    lock = unlock(tx) if unlock is not None else None     # (the core's session stopped there)
    if lock is None:        # no lock to release: a tethered cable, a board without one
        return {"status": "NotSupported"}
    return _unlocked(svc, lock)


async def _unlocked(svc, lock):
    t0 = svc.ticks()
    while True:
        if not lock.want:                   # (the car may leave meanwhile: unlocked all the same)
            if lock.ok:
                return {"status": "Unlocked"}
            if lock.since is None:          # its time ran out: fault 'lock'
                break
        if svc.ticks_diff(svc.ticks(), t0) >= L.UNLOCK_ANSWER_MS:
            break
        await asyncio.sleep(POLL_S)
    return {"status": "UnlockFailed"}


def by_card(svc, id_tag, now_ms):
    """A card presented while a cable is kept locked in the socket, the car side gone (section
    4.9's Finishing: not available for a new user): the one that would stop its transaction (its
    idTag, or a valid one of its group: auth.py) releases it, a transaction kept open
    (StopTransactionOnEVSideDisconnect false) stopped first -> 'unlocking'; a card whose group is
    not known here is asked for and releases it once accepted in the owner's group -> 'pending';
    any other card gets nothing -> 'busy' (it would have started a session on the owner's cable).
    None: no owner known (the card goes on as any card)."""
    if svc.tx:
        tag, pt = svc.tx["tag"], svc.tx.get("pt")
    elif svc.owner is None:
        return None
    else:
        tag, pt = svc.owner
    if auth.may_stop(svc, id_tag, tag, pt, now_ms):
        _release(svc, id_tag, now_ms)
        return "unlocking"
    owner = svc.tx["ref"] if svc.tx else svc.owner

    def then():
        if getattr(svc.charger, "held", False) and owner == (svc.tx["ref"] if svc.tx else svc.owner):
            _release(svc, id_tag, svc.ticks())
    return auth.ask_group(svc, id_tag, tag, pt, now_ms, then)


def _release(svc, id_tag, now_ms):
    if svc.tx:
        auth.stop_by(svc, id_tag, now_ms)
    svc.charger.unlock()
