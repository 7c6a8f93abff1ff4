"""The link to the central system: the WebSocket, BootNotification, Heartbeat, one CALL at a time
(immediate messages first, then the transaction queue), incoming frames, and reconnection with
bounded exponential backoff. Functions take the service (chargepoint.OcppService)."""
import asyncio
import os
import binascii
from . import rpc, store, transactions, websocket
from .config import CONNECTOR
from .wallclock import format_iso, parse_iso
from ..core.version import VERSION
from ..shell.dns import pause

# A BootNotification answer's interval (no range in 4.2) at most a day, HeartbeatInterval's most
# (core/ocpp_keys.py): a wait of more than 2**29 ms is never reached by ticks_diff (no Heartbeat, or
# a Pending boot never asked again)
INTERVAL_MAX_S = 86400

CLIENT_CERT = "client_cert.pem"  # security profile 3, in the OCPP directory (DER or PEM inside)
CLIENT_KEY = "client_key.pem"
CERTS = "certs"                  # the installed certificates (security.py), DER, one file each
CS_ROOT = "cs-"                  # a CentralSystemRootCertificate's file name begins so
CALL_TIMEOUT_MS = 30000  # no answer to a CALL within this: the connection is considered dead
PONG_MIN_MS = 10000      # a Pong is awaited at least this long: a slow handler (1.2 s of certificate
# checks on a Pico) holds the reader, and a short WebSocketPingInterval must not call a live link dead
FALLBACK_PING_MIN_MS = 1000  # the fallback's Pings come no closer than this (the sender wakes each 1 s)
RECONNECT_MIN_MS = 1000  # first reconnect delay; doubles per failure
RECONNECT_MAX_MS = 120000  # reconnect delay ceiling
BOOT_RETRY_DEFAULT_S = 60  # BootNotification retry when the answer gives no interval (plus up to a random quarter)
IDLE_WAKE_MS = 1000  # the sender re-checks timers at least this often
STATUS_WAIT_MS = 5000  # after the boot, the security events wait this long at most for the connector's status


def _copy_resolve(obj, ts):
    """Deep copy of a value with every '@T' replaced by the timestamp string."""
    if isinstance(obj, dict):
        return {k: _copy_resolve(v, ts) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_resolve(v, ts) for v in obj]
    return ts if obj == "@T" else obj


def resolve_payload(payload, ts):
    """A payload (always a dict) ready to send: a copy, timestamps filled in."""
    return {k: _copy_resolve(v, ts) for k, v in payload.items()}


def timestamp(svc, meta):
    """The time a message was made (svc.meta), as known now: a message made before the wall clock
    was set gets it from its tick count (WallClock.unwrap) when made in this boot, else the current
    time."""
    ts = meta.get("ts") if meta else None
    if ts is None and meta and meta.get("b") == svc.state["boot"] and meta.get("tk") is not None:
        ts = svc.wall.at(meta["tk"])
    if ts is None:
        ts = svc.wall.now(svc.ticks()) or 0
    return format_iso(ts)


def client_cert(svc, profile):
    """Security profile 3: the charge point's certificate and key, files in the OCPP directory on
    flash (/ocpp/ on a board), DER or PEM (converted once, evse.shell.tls.der_file). Other profiles pass
    nothing more to the transport (an injected one need not know these arguments, nor dns_server)."""
    if profile != 3:
        return {}
    return {"cert_file": store.join(svc.flash_dir, CLIENT_CERT),
            "key_file": store.join(svc.flash_dir, CLIENT_KEY)}


def security_profile(svc):
    """The profile the connection uses: the settings' or the higher one the central system set
    (SecurityProfile, never lowered)."""
    return max(svc.settings.get("ocpp_security_profile", 0), svc.config.get("SecurityProfile") or 0)


def installed_roots(svc):
    """The CentralSystemRootCertificates installed over OCPP (security.py keeps them as DER files),
    the trust anchors of wss:// when the settings name no ocpp_ca_file; None when there is none."""
    d = store.join(svc.flash_dir, CERTS)
    try:
        names = sorted(n for n in os.listdir(d) if n.startswith(CS_ROOT))
    except OSError:
        return None
    return [store.join(d, n) for n in names] or None


# Why a TLS connection failed, as the stacks word it (CPython's OpenSSL names; MicroPython's
# ValueError with mbedtls's verify info, "The certificate is not correctly signed by the trusted
# CA" and its kin; mbedtls's error names, or numbers on a build without error strings): the
# server's certificate failed our check, or the server's alert refused our own (profile 3).
SERVER_CERT_BAD = ("CERTIFICATE_VERIFY_FAILED", "CERT_VERIFY_FAILED", "-9984", "THE CERTIFICATE",
                   "CERTIFICATE WAS", "THE CRL", "USAGE DOES NOT MATCH")
CLIENT_CERT_REFUSED = ("BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "UNKNOWN_CA", "FATAL_ALERT", "-30592")
OLD_TLS = ("PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "-28288")   # the server offers only TLS < 1.2


def refusal(text, profile):
    """The security event a refused connection is: a 401 to the upgrade, or at profile 3 a TLS
    alert about our certificate or a server that closes before answering the upgrade (TLS 1.3
    checks the client's certificate after the handshake), FailedToAuthenticateAtCentralSystem; a
    server certificate the TLS stack did not trust, InvalidCentralSystemCertificate; a server that
    offers only TLS below 1.2, InvalidTLSVersion (A00.FR.315); else None."""
    t = text.upper()
    if " 401" in text:
        return "FailedToAuthenticateAtCentralSystem"
    if any(k in t for k in SERVER_CERT_BAD):
        return "InvalidCentralSystemCertificate"
    if any(k in t for k in OLD_TLS):
        return "InvalidTLSVersion"
    if profile == 3 and (any(k in t for k in CLIENT_CERT_REFUSED) or t.strip() == "UPGRADE REFUSED:"):
        return "FailedToAuthenticateAtCentralSystem"
    return None


def _refused(svc, e):
    """A connection refused for security is a security event, each kind once a boot."""
    text = str(e)
    once(svc, refusal(text, security_profile(svc)), text)


def once(svc, kind, text):
    """The security event `kind` (None: none), the first time this boot: a refused connection's, or
    InvalidMessages (whitepaper appendix 1: a frame or payload that is no valid OCPP message).
    Nothing without a service's list (operations.dispatch on its own, as tests call it)."""
    told = getattr(svc, "told", None)
    if kind and told is not None and kind not in told:
        told.append(kind)
        from . import secevents
        secevents.report(svc, kind, text[:100])


def _tried(svc, ok):
    """A connection at a SecurityProfile just raised: kept, or the previous one after refusals."""
    if "sp" in svc.state:
        from . import security
        security.profile_tried(svc, ok)


def _password(svc):
    """The AuthorizationKey's bytes (it is set in hex), else the ocpp_password setting."""
    key = svc.config.get("AuthorizationKey")
    return binascii.unhexlify(key) if key else svc.settings.get("ocpp_password", "")


def path_id(cpid):
    """The charge point identity as the URL's last path segment (OCPP-J 1.6 section 3.1.1): what
    a path segment may not hold (RFC 3986 3.3: a space, '/', '?', '#', '%', non-ASCII...) in
    percent-encoded UTF-8."""
    out = ""
    for b in cpid.encode():
        c = chr(b)
        ok = b < 128 and (c.isalpha() or c.isdigit() or c in "-._~!$&'()*+,;=:@")
        out += c if ok else "%%%02X" % b
    return out


async def run(svc):
    """Connect, boot, exchange messages; reconnect with bounded exponential backoff: the pause
    doubles (1 s to 2 min, each plus a random quarter at most) while connecting fails or sessions
    end soon; only a session that outlived CALL_TIMEOUT_MS, or one ended for a reconnection
    (svc.redial: new credentials, a raised SecurityProfile), resets it (a central system that
    takes the upgrade, then closes at once, is not dialled every second for ever)."""
    delay = RECONNECT_MIN_MS
    connect = svc.connect or websocket.connect
    while svc.running:
        url = svc.settings.get("ocpp_url", "")
        if not url:
            await asyncio.sleep(IDLE_WAKE_MS / 1000)
            continue
        cpid = svc.settings.get("ocpp_id", "evse")
        profile = security_profile(svc)
        basic = profile in (1, 2)
        kw = client_cert(svc, profile)
        if svc.dns_server is not None:     # a board with Wi-Fi: the name is looked up in steps
            kw["dns_server"] = svc.dns_server
        try:
            ws = await connect(
                url.rstrip("/") + "/" + path_id(cpid), "ocpp1.6",
                user=cpid if basic else None, password=_password(svc) if basic else None,
                ca_file=svc.settings.get("ocpp_ca_file") or installed_roots(svc),
                **kw)  # pyright: ignore[reportArgumentType] (file names, the DNS server)
        except Exception as e:
            svc.last_error = "connect: %r" % (e,)
            _refused(svc, e)
            _tried(svc, False)
            await pause(delay)
            delay = min(delay * 2, RECONNECT_MAX_MS)
            continue
        _tried(svc, True)
        began = svc.ticks()
        svc.ws = ws
        svc.redial = False
        svc.connected = True
        rx = asyncio.create_task(_rx_loop(svc, ws))
        try:
            await _session(svc, ws)
        except Exception as e:
            svc.last_error = "session: %r" % (e,)
        await _ended(svc, ws, rx)
        # long enough, or so long that ticks_diff wrapped (negative), or a deliberate reconnection
        if svc.redial or not 0 <= svc.ticks_diff(svc.ticks(), began) <= CALL_TIMEOUT_MS:
            delay = RECONNECT_MIN_MS
        if svc.running:
            await pause(delay)
            delay = min(delay * 2, RECONNECT_MAX_MS)


async def _ended(svc, ws, rx):
    """A session over: the socket closed (a Close frame when it still can), the CALL on the wire
    failed, the reader stopped."""
    svc.connected = False
    svc.accepted = False
    svc.txq.flush()        # a sample held in RAM while on the wire: kept for the next link
    await ws.close()
    svc.ws = None          # closed, its Close frame out: a pending Reset may reboot now
    try:
        rx.cancel()
    except Exception:
        pass
    _fail_pending(svc)
    # An Authorize still queued is decided now by the offline rules, as the one on the wire
    # was: never left pending until the link comes back, nor sent late.
    for i in [i for i in svc.immediate if i[0] == "Authorize"]:
        svc.immediate.remove(i)
        i[3](False, None)


def _fail_pending(svc):
    if svc._pending and svc._pending[2] is None:      # an answer already in stays the answer
        svc._pending[2] = (False, ("Disconnected", ""))
        svc._pending[1].set()


async def _rx_loop(svc, ws):
    try:
        while not ws.closed:
            op, data, truncated = await ws.recv()
            if truncated:
                uid = rpc.sniff_uid(data)
                if uid and svc.boot_status != "Rejected":
                    await ws.send_text(rpc.error(uid, rpc.FORMATION, "message too large"))
                continue
            await handle_frame(svc, ws, data)
    except Exception as e:
        svc.last_error = "receive: %r" % (e,)
    ws.closed = True
    _fail_pending(svc)
    svc.wake.set()


async def handle_frame(svc, ws, data):
    """One incoming frame: an answer to our CALL, or a CALL answered by its operation."""
    msg = rpc.parse(data)
    kind = msg[0]
    if kind is None:
        once(svc, "InvalidMessages", "%s: %s" % msg[2:4])
        if msg[1] is not None and svc.boot_status != "Rejected":
            await ws.send_text(rpc.error(msg[1], msg[2], msg[3]))
        return
    if kind in (rpc.RESULT, rpc.ERROR):
        p = svc._pending
        if p and p[0] == msg[1]:
            p[2] = (True, msg[2]) if kind == rpc.RESULT else (False, (msg[2], msg[3]))
            p[1].set()
        return  # an answer nobody waits for is dropped
    _, uid, action, payload = msg
    if svc.boot_status == "Rejected":
        return  # while rejected the charge point does not answer (OCPP 1.6 4.2.1)
    try:
        from . import operations   # at the first CALL: the handlers and schemas cost heap (docs/ocpp.md)
        reply, after = operations.dispatch(svc, uid, action, payload)
    except Exception as e:         # they could not load (a full heap's MemoryError): answered, the link kept
        reply, after = rpc.error(uid, rpc.INTERNAL, repr(e)), None
    if reply is None:            # a handler that takes several ticks: `after` is its coroutine
        reply, after = await after  # pyright: ignore[reportGeneralTypeIssues]
    await ws.send_text(reply)
    if after:
        if not svc.accepted and action[-14:] == "TriggerMessage":
            _after_trigger(svc, after)
        else:
            after()  # pyright: ignore[reportCallIssue]


def _after_trigger(svc, after):
    """A TriggerMessage's message queued before the boot is Accepted: marked as asked for, it may
    go out while the boot is Pending (4.2.1, _triggered)."""
    had = list(svc.immediate)
    after()
    for i in svc.immediate:
        if not any(i is o for o in had):
            i[2]["t"] = 1


async def call(svc, ws, action, payload):
    """Send one CALL and wait for its answer: (True, payload) or (False, (code, description)).
    Raises on timeout or a lost connection (the caller reconnects)."""
    svc._uid += 1
    uid = "%d-%s" % (svc._uid, binascii.hexlify(os.urandom(4)).decode())
    ev = asyncio.Event()
    svc._pending = [uid, ev, None]
    svc._last_sent_ms = svc.ticks()
    await ws.send_text(rpc.call(uid, action, payload))
    try:
        await asyncio.wait_for(ev.wait(), CALL_TIMEOUT_MS / 1000)
    finally:
        answer = svc._pending[2]
        svc._pending = None
    if answer is None or (not answer[0] and answer[1][0] == "Disconnected"):
        raise websocket.WebSocketError("no answer to " + action)
    return answer


def _clock_from(svc, res):
    """The central system's currentTime sets the clock; moving a clock already set by a minute or
    more is the security event SettingSystemTime (whitepaper appendix 1, critical). A central
    system that rejects this charger sets nothing (OCPP 1.6 4.2: the clock follows an Accepted one)."""
    t = parse_iso(res.get("currentTime")) if isinstance(res, dict) and res.get("status") != "Rejected" else None
    if t is not None:
        svc.cs_said = (t, svc.ticks())
        was = svc.wall.now(svc.ticks())
        _set_wall(svc, t)
        _board_clock(svc, t)
        if was is not None and abs(t - was) >= 60:
            from . import secevents
            secevents.report(svc, "SettingSystemTime", "%+d s" % (t - was))


def _set_wall(svc, t):
    if svc.tx:  # its start moves onto the new time line: a Relative schedule keeps its place
        svc.tx["t0"] += t - svc.cp_time(svc.ticks())
    svc.wall.set(t, svc.ticks())
    svc.aligned_due = None      # the clock-aligned slot is read again at once


def wall_from_ntp(svc):
    """Polled while no central system has given the time this boot (a reboot with it away): the
    board's clock once NTP has set it, so profiles are placed and messages stamped meanwhile."""
    t = svc.utc() if svc.utc is not None and svc.charger.clock_from_ntp() else None
    if t is not None:
        _set_wall(svc, t)


def _board_clock(svc, t):
    """The board's clock (fault log, history, charging windows) follows the central system's time
    (OCPP 1.6 4.2 and 4.6: the Charge Point SHOULD synchronize its internal clock), unless NTP has
    set it: a time server that answered is kept (its next poll would set the clock back)."""
    if svc.set_utc is None or svc.charger.clock_from_ntp() or t // 86400 < 20089:
        return                     # (before 2025-01-01: a wrong time, which the board reads as unset)
    try:
        svc.set_utc(t)
    except Exception as e:         # the OCPP time line stands; the exchange goes on
        svc.last_error = "board clock: %r" % (e,)


def boot_payload(svc):
    """Who this unit is: vendor, model and serial from the settings (each unit's own), the version
    from evse/core/version.py."""
    s = svc.settings
    p = {"chargePointVendor": s.get("vendor") or "evse", "chargePointModel": s.get("model") or "evse",
         "firmwareVersion": VERSION}
    if s.get("serial"):
        p["chargePointSerialNumber"] = s["serial"]
    return p


def _open(svc, ws):
    """The connection goes on: not closed, the service running, no new credentials or Reset waiting."""
    return not ws.closed and svc.running and not svc.redial


async def _boot(svc, ws):
    """BootNotification until Accepted. A Pending or Rejected answer's interval is the minimum wait
    before the next one (4.2.1), also over a new connection (svc.boot_after: a central system that
    hangs up on a refused charger is not asked again at every reconnection)."""
    while _open(svc, ws):
        item = _triggered(svc)
        if item:
            await _send_item(svc, ws, item)
            continue
        due = svc.boot_after
        if due is not None and not svc.boot_now:
            left = svc.ticks_diff(due, svc.ticks())
            if left > 0:
                await _sleep_or_closed(svc, ws, left)
                continue
        svc.boot_now = False  # this one answers a trigger that came before it
        ok, res = await call(svc, ws, "BootNotification", boot_payload(svc))
        interval = 0
        if ok:
            _clock_from(svc, res)
            svc.boot_status = res.get("status")
            if isinstance(res.get("interval"), int) and res["interval"] > 0:
                interval = min(res["interval"], INTERVAL_MAX_S)
            if svc.boot_status == "Accepted":
                svc.boot_after = None   # the central system's choice, else ours
                svc.config.values["HeartbeatInterval"] = interval or BOOT_RETRY_DEFAULT_S
                return True
        # No interval: ours (4.2), plus up to a random quarter: chargers that booted together after
        # a power cut do not ask together again
        wait = interval * 1000 or BOOT_RETRY_DEFAULT_S * (1024 + os.urandom(1)[0]) * 1000 // 1024
        svc.boot_after = svc.ticks_add(svc.ticks(), wait)
    return False


def _triggered(svc):
    """While Pending, the first message a TriggerMessage asked for (the only ones 4.2.1 lets out
    before Accepted), taken from the queue; else None."""
    if svc.boot_status == "Pending":
        for i, item in enumerate(svc.immediate):
            if item[2].get("t"):
                return svc.immediate.pop(i)
    return None


async def _sleep_or_closed(svc, ws, ms):
    """Wait before the next BootNotification; a TriggerMessage ends the wait (its BootNotification
    goes out now, another message it asked for before it)."""
    t0 = svc.ticks()
    while _open(svc, ws) and not svc.boot_now and svc.ticks_diff(svc.ticks(), t0) < ms \
            and not (svc.boot_status == "Pending" and any(i[2].get("t") for i in svc.immediate)):
        svc.wake.clear()
        try:
            await asyncio.wait_for(svc.wake.wait(), min(IDLE_WAKE_MS, ms) / 1000)
        except asyncio.TimeoutError:
            pass


async def _session(svc, ws):
    # A BootNotification once a boot (section 4.2), and for a central system first met: a link
    # that comes back is no reboot (a central system may end the sessions of a charger that boots)
    url = svc.settings.get("ocpp_url")
    if svc.boot_url != url:
        if not await _boot(svc, ws):
            return
        svc.boot_url = url          # (who accepted this boot's BootNotification)
        if svc.state.get("fw"):
            from . import firmware  # only while an update is under way
            firmware.after_boot(svc)
    svc.accepted = True  # the charge point's status and the connector's last one go first
    svc.queue_cp_status()
    st = svc.sent_status.get(CONNECTOR)
    if st:
        svc.immediate = [i for i in svc.immediate if not (
            i[0] == "StatusNotification" and i[1]["connectorId"] == CONNECTOR)]
        svc.queue_status(CONNECTOR, st)
    svc.tx_retry_ms = None
    last_ping = began = svc.ticks()
    while _open(svc, ws):
        now = svc.ticks()
        if not svc.started and (svc.sent_status.get(CONNECTOR) or svc.ticks_diff(now, began) > STATUS_WAIT_MS):
            _started(svc)
        if await _send_next(svc, ws, now):
            continue
        last_ping = await _keepalive(svc, ws, now, last_ping)
        svc.wake.clear()
        try:
            await asyncio.wait_for(svc.wake.wait(), IDLE_WAKE_MS / 1000)
        except asyncio.TimeoutError:
            pass


def _started(svc):
    """Once per boot, after the statuses of connector 0 and 1 (the connector's waits for the pilot's
    first reading, STATUS_WAIT_MS at most): the security events waiting, then this boot's. Before,
    StartupOfTheDevice could come between them, where the OCTT's cold boot (TC_001_CS) expects the
    StatusNotifications."""
    svc.started = True
    from . import secevents
    secevents.after_boot(svc)
    secevents.report(svc, "StartupOfTheDevice")


async def _keepalive(svc, ws, now, last_ping):
    """A WebSocket Ping every WebSocketPingInterval (with fallback_timeout_s set, every third of it
    at most: the fallback hears the central system by its frames, a Pong too); the link is dead (WebSocketError: the session
    ends, the charge point is offline and queues) when a Ping has had no Pong (RFC 6455 5.5.3)
    within that interval (at least PONG_MIN_MS, at most CALL_TIMEOUT_MS): a path that went silent
    without closing (a NAT time-out, a router reboot) is noticed then, not at the next CALL's
    time-out."""
    ping = (svc.config.get("WebSocketPingInterval") or 0) * 1000
    watch = svc.settings.get("fallback_timeout_s") or 0
    if watch:   # the fallback's watch (app.py): a quiet link that works is heard 3 times a timeout
        watch = max(watch * 1000 // 3, FALLBACK_PING_MIN_MS)
        ping = min(ping, watch) if ping else watch
    if not ping:
        return last_ping
    sent = getattr(ws, "pinged", None)   # the oldest Ping without a Pong (websocket.py)
    if sent is not None and svc.ticks_diff(now, sent) >= min(max(ping, PONG_MIN_MS), CALL_TIMEOUT_MS):
        raise websocket.WebSocketError("no pong in %d s" % (svc.ticks_diff(now, sent) // 1000))
    if svc.ticks_diff(now, last_ping) < ping:
        return last_ping
    if sent is None:
        ws.pinged = now
    await ws.ping()
    return now


async def _send_next(svc, ws, now):
    """Send what is due (an immediate message, the transaction queue's head, a Heartbeat): True if
    something was sent."""
    item = next_immediate(svc, now)
    if item:
        await _send_item(svc, ws, item)
        return True
    head = svc.txq.head()
    if head and (svc.tx_retry_ms is None or svc.ticks_diff(now, svc.tx_retry_ms) >= 0):
        await _send_tx(svc, ws, head)
        return True
    if svc.ticks_diff(now, svc._last_sent_ms) >= svc.config.get("HeartbeatInterval") * 1000:
        ok, res = await call(svc, ws, "Heartbeat", {})
        if ok:
            _clock_from(svc, res)
        return True
    return False


async def _send_item(svc, ws, item):
    """One immediate message ([action, payload, meta, callback]) sent and its answer handled."""
    action, payload, meta, cb = item
    payload = resolve_payload(payload, timestamp(svc, meta))
    if action == "StatusNotification" and not svc.wall.known():
        del payload["timestamp"]  # optional (6.47): no clock, no time rather than 1970
    try:
        ok, res = await call(svc, ws, action, payload)
    except Exception:
        if cb:  # no answer is an answer too: an Authorize falls back to the offline rules
            cb(False, None)
        raise
    _after_answer(svc, action, ok, res, cb)


def next_immediate(svc, now):
    """The first immediate message to send, or None. A connector status made while a Start- or
    StopTransaction was queued (meta "w", chargepoint.queue_status) waits while one is queued and
    may be sent: the central system learns of a transaction's start before its connector's
    Charging, of its end before Finishing (OCTT TC_037_1_CS: after a reconnection
    StartTransaction, then the StatusNotification; before, Charging came first; TC_015_CS:
    StopTransaction, then Finishing). A status from before it goes first, as it happened."""
    held = (svc.tx_retry_ms is None or svc.ticks_diff(now, svc.tx_retry_ms) >= 0) and tx_queued(svc)
    for i, item in enumerate(svc.immediate):
        if not (held and item[0] == "StatusNotification" and (item[2] or {}).get("w")):
            return svc.immediate.pop(i)
    return None


def tx_queued(svc):
    """A Start- or StopTransaction is waiting in the transaction queue."""
    for r in svc.txq.records:
        if r[1] == "StartTransaction" or r[1] == "StopTransaction":
            return True
    return False


def _after_answer(svc, action, ok, res, cb):
    if action in ("BootNotification", "Heartbeat") and ok:
        _clock_from(svc, res)
        if action == "BootNotification" and res.get("status") == "Accepted" \
                and isinstance(res.get("interval"), int) and res["interval"] > 0:   # else a retry wait (4.2)
            svc.config.values["HeartbeatInterval"] = min(res["interval"], INTERVAL_MAX_S)
    if cb:
        cb(ok, res)


async def _send_tx(svc, ws, rec):
    payload = transactions.prepare(svc, rec, resolve_payload(rec[2], timestamp(svc, rec[4])))
    if payload is None:
        return
    ok, res = await call(svc, ws, rec[1], payload)
    if not ok:
        svc.txq.flush()    # held in RAM while on the wire: kept for the retry
    transactions.on_answer(svc, rec, payload, ok, res)
