"""Security events (OCPP 1.6 Security Whitepaper, section 2.7 and appendix 1): each is written to
the security log on flash (what GetLog SecurityLog uploads) and sent as a SecurityEventNotification.
An event waits in state.json until the central system answers it, so a reboot (a Reset, a firmware
update) does not lose it. Imported when an event happens, and at boot while one waits."""
from . import store
from .wallclock import format_iso

LOG = "security.log"       # in the OCPP directory; one line per event, the newest LOG_MAX bytes kept
LOG_MAX = 8192
PENDING_MAX = 10           # events waiting for an answer (when full, the oldest not critical goes)
# The whitepaper's critical events (appendix 1): pushed with guaranteed delivery (A04.FR.02), so a
# full queue drops the others first
CRITICAL = ("FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
            "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated")


def report(svc, kind, info=None):
    """A security event now: logged, kept until answered, sent once the connection allows."""
    ts = svc.wall.now(svc.ticks())
    rec = [kind, None if ts is None else int(ts), info[:255] if info else None]
    _log(svc, rec)
    pend = svc.state.setdefault("sec", [])
    pend.append(rec)
    if len(pend) > PENDING_MAX:
        other = [r for r in pend if r[0] not in CRITICAL]
        pend.remove(other[0] if other else pend[0])
    svc.save()
    if svc.started:
        _send(svc, rec)


def after_boot(svc):
    """The events waiting for an answer, at the first BootNotification accepted in a boot (those an
    earlier boot left, and this boot's until then)."""
    for rec in svc.state.get("sec") or ():
        _send(svc, rec)


def _send(svc, rec):
    p = {"type": rec[0], "timestamp": "@T" if rec[1] is None else format_iso(rec[1])}
    if rec[2]:
        p["techInfo"] = rec[2]

    def answered(ok, res):
        pend = svc.state.get("sec") or []
        if rec not in pend:
            return
        if ok:
            pend.remove(rec)
            svc.save()
        elif res is None:    # the link dropped first: again once connected (guaranteed delivery)
            _send(svc, rec)
    svc.queue_call("SecurityEventNotification", p, answered)


def _log(svc, rec):
    path = store.join(svc.flash_dir, LOG)
    line = "%s %s %s\n" % (format_iso(rec[1]) if rec[1] is not None else "boot%d" % svc.state["boot"],
                           rec[0], rec[2] or "")
    try:
        with open(path, "ab") as f:
            f.write(line.encode())
            big = f.tell() > LOG_MAX
        if big:                                  # keep the newer half
            with open(path, "rb") as f:
                f.seek(LOG_MAX // 2)
                keep = f.read()
            with open(path, "wb") as f:
                f.write(keep[keep.find(b"\n") + 1:])
    except OSError:
        pass                                     # the notification still goes out
