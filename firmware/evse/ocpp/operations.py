"""The CALLs a central system sends, one handler per action: `<action in snake_case>(svc, payload)`
returns the answer's payload, or (payload, after) where after() runs once the answer is sent. The
table HANDLERS registers them; a payload is checked against schemas.INCOMING before its handler
runs. One module for the common ones: on a board every module costs .mpy bytes and heap (docs/ocpp.md,
"Code layout"). This module (with the schemas) is imported at the first CALL, not with the service.
A group of handlers that is big and rarely used lives in its own module, registered in HANDLERS as
"module.function" ("ReserveNow": "reservation.reserve_now"): it is imported when its first message
arrives, and its INCOMING holds the fields."""
from . import auth, metering, rpc, schedule, schemas, transactions
from .config import CONNECTOR, canonical
from .wallclock import format_iso


def change_availability(svc, p):
    """ChangeAvailability: Inoperative waits (Scheduled) for the running transaction to end; the
    newest request wins (an Operative withdraws a Scheduled Inoperative). The Scheduled one is kept
    in state.json (its connector, "pend"): a power cut ends the transaction, and it is due then.
    Connector 0 scheduled covers connector 1 too: a later Inoperative of connector 1 keeps it."""
    c = p["connectorId"]
    if c > CONNECTOR:
        return {"status": "Rejected"}
    flag = p["type"] == "Operative"
    if svc.tx and not flag:
        pend = svc.state.get("pend")
        svc.state["pend"] = c if pend is None else min(pend, c)
        svc.save()
        return {"status": "Scheduled"}
    svc.state["pend"] = None
    transactions.set_operative(svc, flag, c)
    return {"status": "Accepted"}


def change_configuration(svc, p):
    """ChangeConfiguration: config.Config checks and keeps the value; the security keys are the
    security extension's (a security event when they change). A new MeterValueSampleInterval
    applies to the running transaction from now."""
    key = canonical(p["key"])
    if key is None:        # ("VendorData" is no measurand list)
        return {"status": "NotSupported"}
    if key in ("SecurityProfile", "AuthorizationKey"):
        from . import security
        return security.change_key(svc, key, p["value"])
    if key[-4:] == "Data" and svc.meter is None and any(  # a measurand list (section 3.16.4)
            x.strip() not in metering.OFFERED for x in p["value"].split(",") if x.strip()):
        return {"status": "Rejected"}  # without a meter only the pilot's offer is known
    st = svc.config.change(key, p["value"])
    if st == "Accepted" and key == "MeterValueSampleInterval" and svc.tx:
        metering.next_sample(svc, svc.ticks())
    if key == "UnlockConnectorOnEVSideDisconnect":
        svc.keep_cable()      # a plug lock: the running transaction's cable kept, or a kept one let go
    svc.aligned_due = None    # a new ClockAlignedDataInterval: its slot read at the next poll
    return {"status": st}


def clear_cache(svc, p):
    """ClearCache: the authorization cache (not the local list)."""
    svc.auth.clear_cache()
    return {"status": "Accepted"}


def clear_charging_profile(svc, p):
    """ClearChargingProfile: the limit is re-evaluated on the next poll."""
    st = svc.profiles.clear(p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"),
                            p.get("stackLevel"))
    svc.limit_ms = None
    return {"status": st}


def data_transfer(svc, p):
    """DataTransfer: no vendor extension is known."""
    return {"status": "UnknownVendorId"}


def get_composite_schedule(svc, p):
    """GetCompositeSchedule: the profiles' schedule over a duration, capped by the other limits
    standing (section 5.7: local limits "might be taken into account"); not by the momentary
    thermal derating, a passing state no plan for hours (docs/ocpp.md)."""
    c = p["connectorId"]
    if c > CONNECTOR:
        return {"status": "Rejected"}
    t0 = svc.cp_time(svc.ticks())
    tx_t0, txid, in_tx = schedule.tx_args(svc)
    sched = svc.profiles.composite(t0, p["duration"], c, tx_t0, svc.wall.known(), txid, in_tx,
                                   p.get("chargingRateUnit", "A"), svc.charger.limit_without("ocpp"))
    res = {"status": "Accepted", "connectorId": c, "chargingSchedule": sched}
    if svc.wall.known():
        res["scheduleStart"] = format_iso(t0)
    return res


def get_configuration(svc, p):
    """GetConfiguration: every key asked is answered, known or unknown (OCPP 1.6 5.8); more than
    GetConfigurationMaxKeys is refused, never answered in part (a key left out is neither)."""
    keys = p.get("key") or None
    most = svc.config.get("GetConfigurationMaxKeys")
    if keys and len(keys) > most:
        raise rpc.CallError(rpc.OCCURENCE, "more than %d keys (GetConfigurationMaxKeys)" % most)
    known, unknown = svc.config.report(keys)
    res = {"configurationKey": known}
    if unknown:
        res["unknownKey"] = unknown
    return res


def get_local_list_version(svc, p):
    """GetLocalListVersion: -1 while the local list is disabled, 0 while it is empty (OCPP 1.6 5.10)."""
    if not svc.config.get("LocalAuthListEnabled"):
        return {"listVersion": -1}
    return {"listVersion": svc.auth.list_version if svc.auth.local else 0}


def remote_start_transaction(svc, p):
    """RemoteStartTransaction: the idTag is authorized like a presented one (AuthorizeRemoteTxRequests)
    or at once; a TxProfile given with it is installed when the transaction starts (Rejected if
    SetChargingProfile would refuse it: no transaction runs without the limit asked)."""
    if svc.tx or svc.fault or not svc.state["operative"] or svc.fw_installing \
            or p.get("connectorId", CONNECTOR) != CONNECTOR or auth.reserved_against(svc, p["idTag"]):
        return {"status": "Rejected"}
    prof = p.get("chargingProfile")
    if prof and (prof["chargingProfilePurpose"] != "TxProfile" or _too_long(svc, prof) or schedule.Profiles(
            None, max_level=svc.profiles.max_level).add(CONNECTOR, prof, -1) != "Accepted"):
        return {"status": "Rejected"}  # one SetChargingProfile would refuse is never dropped at the start
    tag = p["idTag"]
    svc.remote_profile = (tag, prof) if prof else None
    if svc.config.get("AuthorizeRemoteTxRequests"):
        return {"status": "Accepted"}, lambda: svc.present_id(tag)
    auth.accept(svc, tag, svc.ticks())
    return {"status": "Accepted"}


def remote_stop_transaction(svc, p):
    """RemoteStopTransaction: only the running transaction's id is accepted."""
    if not svc.tx or svc.tx.get("txid") != p["transactionId"]:
        return {"status": "Rejected"}
    svc.charger.stop("remote")
    transactions.stop(svc, "Remote", svc.ticks())
    return {"status": "Accepted"}


def reset(svc, p):
    """Reset: the transaction is stopped now; the service reboots the board once its StopTransaction
    went out (OcppService._finish_reset)."""
    kind = p["type"]
    svc.state["reset"] = kind
    svc.save()
    if svc.tx:
        svc.charger.stop("reset")
        transactions.stop(svc, kind + "Reset", svc.ticks())
    svc.reset_kind = kind
    svc.reset_ms = svc.ticks()
    from . import secevents
    secevents.report(svc, "ResetOrReboot", kind + " reset by the central system")
    return {"status": "Accepted"}


def send_local_list(svc, p):
    """SendLocalList: a full or differential update of the local authorization list."""
    if not svc.config.get("LocalAuthListEnabled"):
        return {"status": "NotSupported"}
    entries = p.get("localAuthorizationList") or []
    if len(entries) > svc.config.get("SendLocalListMaxLength"):
        return {"status": "Failed"}
    return {"status": svc.auth.send_local_list(p["listVersion"], entries, p["updateType"])}


def set_charging_profile(svc, p):
    """SetChargingProfile: a TxProfile needs the running transaction (-1: its id is not known yet);
    a schedule of more than ChargingScheduleMaxPeriods periods is Rejected (section 9.4)."""
    prof = p["csChargingProfiles"]
    if _too_long(svc, prof):
        return {"status": "Rejected"}
    tx = svc.tx
    txid = None
    if tx:
        txid = tx.get("txid") if tx.get("txid") is not None else -1
    st = svc.profiles.add(p["connectorId"], prof, txid, svc.config.get("NumberOfConnectors"))
    svc.limit_ms = None  # poll applies it on its next call
    return {"status": st}


def _too_long(svc, prof):
    return len(prof["chargingSchedule"]["chargingSchedulePeriod"]) > svc.config.get("ChargingScheduleMaxPeriods")


def trigger_message(svc, p):
    """TriggerMessage: the requested message is queued once the answer went out."""
    what = p["requestedMessage"]
    c = p.get("connectorId")
    if c is not None and c > CONNECTOR:
        return {"status": "Rejected"}
    if what == "BootNotification" and not svc.accepted:
        after = lambda: _trigger_boot(svc)  # the boot's own retry goes out now, and only it
    elif what == "BootNotification":
        from . import connection  # here: connection imports this module
        after = lambda: svc.queue_call("BootNotification", connection.boot_payload(svc))
    elif what == "Heartbeat":
        after = lambda: svc.queue_call("Heartbeat", {})
    elif what == "StatusNotification":
        after = lambda: _trigger_status(svc, c)
    elif what == "MeterValues":
        sv = metering.sample(svc, svc.config.get("MeterValuesSampledData"), "Trigger")
        if not sv:  # no measurand it has (no meter): Accepted would promise a message never sent
            return {"status": "Rejected"}
        after = lambda: _trigger_meter_values(svc, c, sv)
    else:
        after = lambda: svc.queue_call(what, {"status": _transfer_status(svc, what)})
    return {"status": "Accepted"}, after


def _transfer_status(svc, what):
    """A triggered Firmware/DiagnosticsStatusNotification: the transfer's status while one runs,
    else Idle (firmware.py keeps the last one sent)."""
    st = getattr(svc, "fw_status" if what[0] == "F" else "diag_status", None)
    return st if st in ("Downloading", "Downloaded", "Installing", "Uploading") else "Idle"


def _trigger_boot(svc):
    svc.boot_now = True
    svc.wake.set()


def _trigger_status(svc, c):
    if c in (None, 0):
        svc.queue_cp_status()
    if c in (None, CONNECTOR) and svc.sent_status.get(CONNECTOR):
        svc.queue_status(CONNECTOR, svc.sent_status[CONNECTOR])


def _trigger_meter_values(svc, c, sv):
    """Connector 0 asks for the charge point's main meter (section 4.7): its readings, without
    the connector's transaction. No connectorId: every connector, 0 first (section 5.17, "for all
    allowed connectorId values", as for StatusNotification)."""
    for connector in ((0, CONNECTOR) if c is None else (c,)):
        txid = svc.tx and svc.tx.get("txid") if connector else None
        svc.queue_call("MeterValues", metering.values_payload(sv, txid, connector))


# A string is a lazy entry "module.function": evse.ocpp.<module> is imported when the first such
# CALL arrives (boot heap does not grow with the profiles); its INCOMING holds the fields.
HANDLERS = {
    "CancelReservation": "reservation.cancel_reservation",
    "CertificateSigned": "security.certificate_signed",
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_configuration,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_charging_profile,
    "DataTransfer": data_transfer,
    "DeleteCertificate": "security.delete_certificate",
    "ExtendedTriggerMessage": "security.extended_trigger_message",
    "GetCompositeSchedule": get_composite_schedule,
    "GetConfiguration": get_configuration,
    "GetDiagnostics": "firmware.get_diagnostics",
    "GetInstalledCertificateIds": "security.get_installed_certificate_ids",
    "GetLocalListVersion": get_local_list_version,
    "GetLog": "security.get_log",
    "InstallCertificate": "security.install_certificate",
    "RemoteStartTransaction": remote_start_transaction,
    "RemoteStopTransaction": remote_stop_transaction,
    "ReserveNow": "reservation.reserve_now",
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_charging_profile,
    "SignedUpdateFirmware": "security.signed_update_firmware",
    "TriggerMessage": trigger_message,
    "UnlockConnector": "unlock.unlock_connector",
    "UpdateFirmware": "firmware.update_firmware",
}


def handler(action):
    """(handler, fields) of an action, importing a lazy entry's module."""
    handle = HANDLERS[action]
    if not isinstance(handle, str):
        return handle, schemas.INCOMING[action]
    name, fn = handle.split(".")
    mod = __import__("evse.ocpp." + name, None, None, (fn,))
    return getattr(mod, fn), mod.INCOMING[action]


def dispatch(svc, uid, action, payload):
    """A CALL -> (the answer frame, after or None); (None, coroutine) for a handler that works over
    several control ticks (an `async def`, e.g. a signature check): the coroutine gives the pair."""
    if action not in HANDLERS:
        return rpc.error(uid, rpc.NOT_IMPLEMENTED, "unknown action"), None
    handle, fields = handler(action)
    bad = rpc.check(payload, fields)
    if bad:
        from . import connection  # (as in trigger_message)
        connection.once(svc, "InvalidMessages", "%s %s: %s" % (action, bad[0], bad[1]))
        return rpc.error(uid, bad[0], bad[1]), None
    try:
        res = handle(svc, payload)
        if hasattr(res, "send"):                 # a coroutine (a generator on MicroPython)
            return None, _finish(uid, res)
        return _answer(uid, res)
    except rpc.CallError as e:
        return rpc.error(uid, e.args[0], e.args[1]), None
    except Exception as e:  # a handler bug must not take the connection down
        return rpc.error(uid, rpc.INTERNAL, repr(e)), None


def _answer(uid, res):
    after = None
    if isinstance(res, tuple):
        res, after = res
    return rpc.result(uid, res), after


async def _finish(uid, coro):
    try:
        return _answer(uid, await coro)
    except Exception as e:  # as in dispatch
        return rpc.error(uid, rpc.INTERNAL, repr(e)), None
