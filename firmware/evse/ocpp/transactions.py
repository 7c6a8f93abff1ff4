"""Transactions: StartTransaction / StopTransaction through the queue kept on flash (txqueue.py),
their retries (TransactionMessageAttempts), and exactly one StopTransaction for a transaction a
power cut left open. No transport here: connection.py sends what `prepare` gives and hands the
answer to `on_answer`. Functions take the service (chargepoint.OcppService)."""
from . import metering
from .config import CONNECTOR
from .wallclock import format_iso

# Core stop reasons -> StopTransaction reason (stops this service asked for are reported earlier).
STOP_REASONS = {"remote": "Remote", "local": "Local", "console": "Local", "reset": "SoftReset",
                "unplugged": "EVDisconnected", "emergency": "EmergencyStop"}


def recover_after_boot(svc):
    """A transaction open when power went away gets exactly one StopTransaction. A meter count back
    from its checkpoint below the register already handed out raises the register's offset by the
    gap (chargepoint.meter_wh): it goes on from there, never back."""
    gap = svc.state.get("hi", 0) - svc.meter_wh()
    if gap > 0:
        svc.state["off"] = svc.state.get("off", 0) + gap
    tx = svc.state["tx"]
    reason = "Reboot" if svc.state.get("reset") else "PowerLoss"
    svc.state["reset"] = None
    txq = svc.txq
    if tx:
        known = tx.get("txid") is not None or tx["ref"] in txq.txids or txq.has("StartTransaction", tx["ref"])
        if known and not txq.has("StopTransaction", tx["ref"]):
            # the meter's count is back from flash even before its first reading (ok False)
            wh = max(tx.get("last_wh", tx["start_wh"]), svc.meter_wh())
            ts = tx.get("last_ts")
            if ts is not None and tx.get("ts0") is not None and ts < tx["ts0"]:
                ts = tx["ts0"]      # the clock set back since the start: not before it
            meta = {"b": svc.state["boot"] - 1, "tk": None, "ts": ts}
            txq.push("StopTransaction", {"meterStop": wh, "timestamp": "@T", "reason": reason}, tx["ref"], meta)
        if tx.get("txid") is not None and tx["ref"] not in txq.txids:
            txq.set_txid(tx["ref"], tx["txid"])
        svc.state["tx"] = None
    pend = svc.state.get("pend")
    if pend is not None:  # a Scheduled Inoperative: the power cut ended its transaction (5.2)
        svc.state["cp_off" if pend == 0 else "c1_off"] = True
        svc.state["operative"] = False
        svc.state["pend"] = None
    svc.save()
    svc.profiles.end_transaction()


def poll(svc, now_ms):
    """Start a transaction once a car is plugged in with an accepted (or the free) idTag. After a
    transaction ended with the car still plugged in (Finishing) only an idTag accepted since starts
    one (OCPP 1.6 section 4.9, Finishing -> Preparing): the core offers current for that
    authorization, so it must never wait here without a transaction."""
    tag = svc.auth_tag or (None if svc.state.get("resv") else svc.settings.get("ocpp_free_id_tag"))
    if tag and not svc.tx and svc.plugged and (svc.auth_tag or not svc.finishing) \
            and svc.state["operative"] and not svc.fault and not svc.fw_installing:
        if not svc.auth_tag:
            svc.charger.authorize(True, tag)  # the free idTag (ocpp_free_id_tag)
        start(svc, tag, now_ms)


def start(svc, tag, now_ms):
    ref = svc.state["next_ref"]
    svc.state["next_ref"] = ref + 1
    wh = svc.meter_wh()
    meta = svc.meta(now_ms)
    svc.tx = {"ref": ref, "tag": tag, "start_wh": wh, "last_wh": wh, "txid": None,
              "t0": svc.cp_time(now_ms), "last_ts": meta["ts"], "ts0": meta["ts"]}
    svc.state["tx"] = svc.tx
    svc.save()  # state first: a Start without state would never be stopped
    payload = {"connectorId": CONNECTOR, "idTag": tag, "meterStart": wh, "timestamp": "@T"}
    if svc.state.get("resv"):  # only an admitted idTag gets here (auth.accept)
        from . import reservation
        reservation.use(svc, payload)
    svc.queue_tx("StartTransaction", payload, ref, now_ms)
    svc.keep_cable()  # UnlockConnectorOnEVSideDisconnect false: a plug lock keeps this one's cable
    svc.finishing = False
    svc.auth_tag = None
    metering.next_sample(svc, now_ms)
    rp = svc.remote_profile
    if rp and rp[0] == tag:  # a RemoteStart's TxProfile is its idTag's transaction's only
        svc.profiles.add(CONNECTOR, rp[1], -1)
    svc.remote_profile = None
    svc.limit_ms = None  # re-evaluate the limit now
    svc.tx_data = []
    metering.keep_tx_data(svc, svc.config.get("StopTxnSampledData"), "Transaction.Begin", now_ms)


def stop(svc, reason, now_ms, tag=None):
    tx = svc.tx
    if not tx:
        return
    payload = {"meterStop": svc.meter_wh(), "timestamp": "@T", "reason": reason}
    ts0 = tx.get("ts0")
    now = svc.wall.now(now_ms) if ts0 is not None else None
    if now is not None and now < ts0:
        # the clock was set back since the start: a stop before its start is refused (SteVe)
        payload["timestamp"] = format_iso(ts0)
    if tag:
        payload["idTag"] = tag
    metering.keep_tx_data(svc, svc.config.get("StopTxnSampledData"), "Transaction.End", now_ms)
    data = metering.tx_data(svc)
    if data:
        payload["transactionData"] = data
    svc.queue_tx("StopTransaction", payload, tx["ref"], now_ms)  # queue first, then forget
    svc.tx = None
    svc.owner = tx["tag"], tx.get("pt")  # whose cable a plug lock may keep (unlock.by_card)
    svc.state["tx"] = None
    svc.state["hi"] = max(svc.hi_out, payload["meterStop"])  # the ceiling down to what was handed out
    svc.save()
    svc.auth_tag = None  # an idTag accepted late (an Authorize answer) starts nothing after it
    svc.charger.authorize(False)
    svc.profiles.end_transaction()
    svc.finishing = svc.plugged
    svc.limit_ms = None
    pend = svc.state.get("pend")
    if pend is not None:  # a Scheduled Inoperative (operations.change_availability)
        svc.state["pend"] = None
        set_operative(svc, False, pend)


def on_session_end(svc, ev, now_ms):
    """The core ended the session ('session', 'end', reason)."""
    r = ev[2] if len(ev) > 2 and ev[2] else ""
    if r == "unplugged" and not svc.config.get("StopTransactionOnEVSideDisconnect"):
        return  # suspended, not stopped (ev_left)
    reason = STOP_REASONS.get(r, "Other")
    if not svc.plugged:
        reason = "EVDisconnected"
    stop(svc, reason, now_ms)


def ev_left(svc, now_ms):
    """The car was unplugged during the transaction. StopTransactionOnEVSideDisconnect false (OCPP
    1.6 section 9.1, that key): the transaction goes on, suspended (SuspendedEV), until a local or
    remote stop; its idTag stays authorized, so energy flows again when a car is plugged back in."""
    if svc.config.get("StopTransactionOnEVSideDisconnect"):
        stop(svc, "EVDisconnected", now_ms)
    elif not svc.tx.get("denied"):  # a StartTransaction answered Blocked/Invalid/Expired: nothing
        svc.charger.authorize(True, svc.tx["tag"])  # the core withdrew it on leaving the connected state


def set_operative(svc, flag, connector=CONNECTOR):
    """ChangeAvailability of the charge point (connector 0: every connector follows, Operative
    included) or of the connector; state["operative"] is the connector's availability. Connector 0's
    status changes only with its own (OCTT TC_013_CS: the connector Unavailable, the others
    Available) and goes out at once."""
    st = svc.state
    was = not st.get("cp_off")
    st["cp_off" if connector == 0 else "c1_off"] = not flag
    if connector == 0 and flag:
        st["c1_off"] = False  # the whole charge point Operative: its connector too
    st["operative"] = not st.get("cp_off") and not st.get("c1_off")
    svc.save()
    svc.charger.enable(st["operative"] and not svc.fw_installing)   # an install's reboot is due
    if was != (not st.get("cp_off")):
        svc.queue_cp_status()


def txid_for(svc, ref):
    if ref in svc.txq.txids:
        return svc.txq.txids[ref]
    if svc.tx and svc.tx["ref"] == ref:
        return svc.tx.get("txid")
    return None


def prepare(svc, rec, payload):
    """The queue's head `rec` (seq, action, payload, ref, meta) with `payload` resolved: the payload
    to send, or None when it was dropped instead."""
    if rec[1] != "StartTransaction":
        txid = txid_for(svc, rec[3])
        if txid is None:
            # Its StartTransaction was given up: the central system cannot place this message.
            svc.txq.drop(rec[0])
            return None
        payload["transactionId"] = txid
    return payload


def on_answer(svc, rec, payload, ok, res):
    """The central system's answer to the queue's head: drop it, or keep it for a retry."""
    if not ok:
        svc._tx_attempts += 1
        if svc._tx_attempts < svc.config.get("TransactionMessageAttempts"):
            svc.tx_retry_ms = svc.ticks_add(svc.ticks(), svc.config.get(
                "TransactionMessageRetryInterval") * 1000 * svc._tx_attempts)
            return
    svc._tx_attempts = 0
    svc.tx_retry_ms = None
    action, ref = rec[1], rec[3]
    if ok and action == "StartTransaction":
        txid = res.get("transactionId")
        if isinstance(txid, int):
            svc.txq.set_txid(ref, txid)
            if svc.tx and svc.tx["ref"] == ref:
                svc.tx["txid"] = txid
                svc.state["tx"] = svc.tx
                svc.save()
    info = res.get("idTagInfo") if ok else None
    if isinstance(info, dict) and action in ("StartTransaction", "StopTransaction"):
        _id_tag_info(svc, action, ref, payload.get("idTag"), info)
    svc.txq.drop(rec[0])


def _id_tag_info(svc, action, ref, tag, info):
    """idTagInfo in a Start/StopTransaction answer: cached; a rejected start ends the energy
    delivery: StopTransactionOnInvalidId stops the transaction (DeAuthorized), else it stays open
    with nothing offered (SuspendedEVSE; OCPP 1.6 section 3.5 as corrected by the errata)."""
    if tag:
        from .auth import learn     # auth imports this module
        learn(svc, tag, info)
    if action == "StartTransaction" and svc.tx and svc.tx["ref"] == ref and info.get("parentIdTag"):
        svc.tx["pt"] = info["parentIdTag"]  # its group: a tag with this parent may stop it
    if action == "StartTransaction" and info.get("status") != "Accepted" and svc.tx \
            and svc.tx["ref"] == ref:
        if svc.config.get("StopTransactionOnInvalidId"):
            svc.charger.stop("deauthorized")
            stop(svc, "DeAuthorized", svc.ticks())
        else:
            svc.tx["denied"] = True  # no energy again in it, a car plugged back in included (ev_left)
            svc.charger.authorize(False)
