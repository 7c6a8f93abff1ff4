"""Smart charging: the installed charging profiles (schedule.py) -> the core's 'ocpp' current
limit, re-evaluated every LIMIT_EVAL_MS and on the next poll after any change (svc.limit_ms None).
Functions take the service (chargepoint.OcppService)."""
from evse import limits as L
from evse.ocpp.config import CONNECTOR
from evse.ocpp.schedule import LIMIT_MAX

LIMIT_EVAL_MS = 1000  # how often the charging profiles are re-evaluated


def poll(svc, now_ms):
    if svc.limit_ms is None or svc.ticks_diff(now_ms, svc.limit_ms) >= LIMIT_EVAL_MS:
        svc.limit_ms = now_ms
        apply_limit(svc, now_ms)


def tx_args(svc):
    """What the schedule needs of the transaction: (start time, transactionId, running)."""
    tx = svc.tx
    return (tx["t0"] if tx else None), (tx.get("txid") if tx else None), tx is not None


def apply_limit(svc, now_ms):
    t0, txid, in_tx = tx_args(svc)
    amps = svc.profiles.limit_at(svc.cp_time(now_ms), CONNECTOR, t0, svc.wall.known(), txid, in_tx)
    if amps is not None:
        try:  # a checked profile gives a finite number; if not, offer nothing rather than guess
            amps = L.check_number(amps, 0, LIMIT_MAX["W"])
        except ValueError:
            amps = 0.0
        amps = int(min(amps, L.AMPS_MAX) * 10) / 10  # above 80 A nothing is limited; round down
    if amps != svc.limit_sent:
        svc.limit_sent = amps
        svc.charger.set_limit("ocpp", amps)
