"""UnlockConnector (OCPP 1.6 section 5.17): a running transaction is stopped first (reason
UnlockCommand), then a Type 2 socket's plug lock is released once the contactor is open; the answer
waits for the lock's feedback (Unlocked), UnlockFailed when it does not read unlocked in time.
NotSupported without a lock to release: a tethered cable, a board without one, another connector.
Imported only when the message arrives (operations.HANDLERS lazy entry)."""
import asyncio

from . import transactions
from .config import CONNECTOR
from ..core import limits as L

# Fields of the CALL handled here (format: rpc.check), beside its handler: loaded with it.
INCOMING = {"UnlockConnector": (("connectorId", "i", True, (0, None)),)}
POLL_S = 0.05


def unlock_connector(svc, p):
    if p["connectorId"] != CONNECTOR:
        return {"status": "NotSupported"}
    if svc.tx:
        svc.charger.stop("unlock")
        transactions.stop(svc, "UnlockCommand", svc.ticks())
    unlock = getattr(svc.charger, "unlock", None)     # (a test's stand-in charger has none)
    lock = unlock() if unlock is not None else None
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
