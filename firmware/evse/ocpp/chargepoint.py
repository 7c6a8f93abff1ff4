"""OCPP 1.6J charge point service (one connector).

The app owns one `OcppService`, runs `run()` as an asyncio task, calls `poll(now_ms)` from its loop
and hands it every core event with `on_event(ev)`. The service steers the core only through
charger.set_limit('ocpp', amps), enable(), authorize(), stop() and reads charger.state/fault.

Flash layout under `flash_dir`: state.json (boot counter, open transaction, availability),
txq.log (transaction messages not yet answered), profiles.json, authcache.json, locallist.json,
config.json."""
import asyncio
import os
import binascii
from evse import limits as L
from evse.ocpp import rpc, schemas, store, websocket
from evse.ocpp.auth import AuthStore
from evse.ocpp.config import Config
from evse.ocpp.schedule import LIMIT_MAX, Profiles
from evse.ocpp.status import connector_status, PLUGGED_STATES
from evse.ocpp.txqueue import TxQueue
from evse.ocpp.wallclock import WallClock, format_iso, parse_iso

VENDOR = "OpenEVSE-uPy"
MODEL = "EVSE-1"
FIRMWARE_VERSION = "0.1"
CONNECTOR = 1  # the only connector

CALL_TIMEOUT_MS = 30000  # no answer to a CALL within this: the connection is considered dead
RECONNECT_MIN_MS = 1000  # first reconnect delay; doubles per failure
RECONNECT_MAX_MS = 120000  # reconnect delay ceiling
BOOT_RETRY_DEFAULT_S = 60  # BootNotification retry when the answer gives no interval
LIMIT_EVAL_MS = 1000  # how often the charging profiles are re-evaluated
RESET_FLUSH_MS = 10000  # a Reset waits at most this long for the StopTransaction to go out
IDLE_WAKE_MS = 1000  # the sender re-checks timers at least this often


def _copy_resolve(obj, ts):
    """Deep copy of a value with every '@T' replaced by the timestamp string."""
    if isinstance(obj, dict):
        return {k: _copy_resolve(v, ts) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_resolve(v, ts) for v in obj]
    return ts if obj == "@T" else obj


def _resolve_payload(payload, ts):
    """A payload (always a dict) ready to send: a copy, timestamps filled in."""
    return {k: _copy_resolve(v, ts) for k, v in payload.items()}


# Core stop reasons -> StopTransaction reason (stops this service asked for are reported earlier).
_STOP_REASONS = {"remote": "Remote", "local": "Local", "console": "Local", "reset": "SoftReset",
                 "unplugged": "EVDisconnected", "emergency": "EmergencyStop"}


class OcppService:
    def __init__(self, charger, meter, settings, flash_dir, clock, on_reset=None):
        """clock: an object with ticks_ms(), ticks_diff(a, b), ticks_add(a, d), the same clock the
        caller's poll(now_ms) values come from (the app passes evse.hal; host tests a real clock)."""
        self.charger = charger
        self.meter = meter
        self.settings = settings
        self.dir = flash_dir
        self.ticks = clock.ticks_ms
        self._diff = clock.ticks_diff
        self._add = clock.ticks_add
        self.on_reset = on_reset  # callable('Soft'|'Hard') that reboots the board
        store.ensure_dir(flash_dir)
        p = lambda n: store.join(flash_dir, n)
        self.config = Config(p("config.json"), settings.get("ocpp_config"))
        self.auth = AuthStore(p("authcache.json"), p("locallist.json"),
                              self.config.get("LocalAuthListMaxLength"))
        self.profiles = Profiles(p("profiles.json"), settings.get("nominal_volts", 230),
                                 settings.get("phases", 1), self.config.get("ChargeProfileMaxStackLevel"),
                                 self.config.get("MaxChargingProfilesInstalled"))
        self.txq = TxQueue(p("txq.log"))
        self.state_path = p("state.json")
        self.state = store.read_json(self.state_path, None) or {"boot": 0, "next_ref": 1, "tx": None,
                                                                "operative": True, "reset": None}
        self.state["boot"] += 1
        self.wall = WallClock(self._diff)
        # connection
        self.ws = None
        self.connected = False
        self.accepted = False
        self.boot_status = None
        self.last_error = None
        self.running = True
        self._uid = 0
        self._pending = None  # [uid, Event, answer]
        self._wake = asyncio.Event()
        self._immediate = []  # [action, payload, meta, callback] not kept across reboots
        self._last_sent_ms = self.ticks()
        self._tx_attempts = 0
        self._tx_retry_ms = None
        # core mirror
        self.core_state = getattr(charger, "state", None)
        self.fault = getattr(charger, "fault", None)
        self.contactor = False
        self.plugged = self.core_state in PLUGGED_STATES
        self.charged = False
        self.finishing = False
        self._sent_status = {}
        # authorization and transactions
        self.auth_tag = None
        self._auth_ms = None
        self.last_auth = None  # (idTag, status) for the console
        self._remote_profile = None
        self._pending_operative = None
        self._reset_kind = None
        self._reset_ms = None
        self._next_sample_ms = None
        self._aligned_slot = None
        self._limit_ms = None
        self.limit_sent = None
        self.tx = None
        self._recover_after_boot()
        if not self.state["operative"]:
            charger.enable(False)

    # -- persistence -------------------------------------------------------------------------
    def _save(self):
        store.write_json(self.state_path, self.state)

    def _recover_after_boot(self):
        """A transaction open when power went away gets exactly one StopTransaction."""
        tx = self.state["tx"]
        reason = "Reboot" if self.state.get("reset") else "PowerLoss"
        self.state["reset"] = None
        if tx:
            known = tx.get("txid") is not None or tx["ref"] in self.txq.txids or \
                self.txq.has("StartTransaction", tx["ref"])
            if known and not self.txq.has("StopTransaction", tx["ref"]):
                wh = tx.get("last_wh", tx["start_wh"])
                if self.meter is not None and getattr(self.meter, "ok", False):
                    wh = max(wh, self._meter_wh())
                meta = {"b": self.state["boot"] - 1, "tk": None, "ts": tx.get("last_ts")}
                self.txq.push("StopTransaction", {"meterStop": wh, "timestamp": "@T", "reason": reason},
                              tx["ref"], meta)
            if tx.get("txid") is not None and tx["ref"] not in self.txq.txids:
                self.txq.set_txid(tx["ref"], tx["txid"])
            self.state["tx"] = None
        self._save()
        self.profiles.end_transaction()

    # -- helpers -----------------------------------------------------------------------------
    def _meter_wh(self):
        m = self.meter
        v = getattr(m, "wh_total", None) if m is not None else None
        return int(v) if v is not None else 0

    def _meta(self, now_ms=None):
        tk = self.ticks() if now_ms is None else now_ms
        t = self.wall.now(tk)
        return {"b": self.state["boot"], "tk": tk, "ts": None if t is None else int(t)}

    def _timestamp(self, meta):
        ts = meta.get("ts") if meta else None
        if ts is None and meta and meta.get("b") == self.state["boot"] and meta.get("tk") is not None:
            ts = self.wall.now(meta["tk"])
        if ts is None:
            ts = self.wall.now(self.ticks()) or 0
        return format_iso(ts)

    def cp_time(self, now_ms):
        """Seconds on the schedule time line: epoch once known, else uptime (Relative profiles only)."""
        t = self.wall.now(now_ms)
        return int(t) if t is not None else now_ms // 1000

    def _password(self):
        return self.config.get("AuthorizationKey") or self.settings.get("ocpp_password", "")

    def _queue_immediate(self, action, payload, callback=None, now_ms=None):
        if action == "StatusNotification" and not self.accepted:
            # Offline only the latest status per connector matters: it is sent again after boot.
            self._immediate = [i for i in self._immediate if not (
                i[0] == action and i[1]["connectorId"] == payload["connectorId"])]
        self._immediate.append([action, payload, self._meta(now_ms), callback])
        self._wake.set()

    def _queue_tx(self, action, payload, ref, now_ms):
        self.txq.push(action, payload, ref, self._meta(now_ms))
        self._wake.set()

    def _sample(self, measurands, context, now_ms):
        sv = []
        m = self.meter
        if m is None:
            return sv
        for name in measurands.split(","):
            if name == "Energy.Active.Import.Register":
                sv.append({"value": str(self._meter_wh()), "context": context, "measurand": name, "unit": "Wh"})
            elif name == "Current.Import":
                for i, a in enumerate((getattr(m, "amps", None) or [])[:3]):
                    sv.append({"value": "%.1f" % (a or 0), "context": context, "measurand": name,
                               "phase": "L%d" % (i + 1), "unit": "A"})
            elif name == "Power.Active.Import":
                sv.append({"value": "%d" % (getattr(m, "power_w", 0) or 0), "context": context,
                           "measurand": name, "unit": "W"})
            elif name == "Voltage":
                v = getattr(m, "volts", None)
                for i, x in enumerate(v[:3] if isinstance(v, list) else ([v] if v is not None else [])):
                    sv.append({"value": "%.1f" % x, "context": context, "measurand": name,
                               "phase": "L%d-N" % (i + 1), "unit": "V"})
        return sv

    def _meter_values(self, measurands, context, now_ms, in_tx):
        sv = self._sample(measurands, context, now_ms)
        if not sv:
            return
        payload = {"connectorId": CONNECTOR, "meterValue": [{"timestamp": "@T", "sampledValue": sv}]}
        if in_tx and self.tx:
            self._queue_tx("MeterValues", payload, self.tx["ref"], now_ms)
        elif self.accepted:  # values outside a transaction are not kept offline
            if self.tx and self.tx.get("txid") is not None:
                payload["transactionId"] = self.tx["txid"]
            self._queue_immediate("MeterValues", payload, None, now_ms)

    # -- what the app calls ------------------------------------------------------------------
    def status(self):
        """For the console: a short snapshot."""
        return {"connected": self.connected, "accepted": self.accepted, "boot": self.boot_status,
                "tx": self.tx and {"ref": self.tx["ref"], "id": self.tx.get("txid"), "tag": self.tx["tag"]},
                "queued": len(self.txq), "auth": self.last_auth, "limit": self.limit_sent,
                "error": self.last_error}

    def on_event(self, ev, now_ms=None):
        """A core event (the app passes its tick time; ticks are read here when it is missing)."""
        now = self.ticks() if now_ms is None else now_ms
        kind = ev[0]
        if kind == "state":
            self.core_state = ev[1]
            if ev[1] in PLUGGED_STATES:
                self.plugged = True
            elif ev[1] in ("A1", "A2"):
                self.plugged = False
                self.finishing = False
                if self.tx:
                    self._stop_tx("EVDisconnected", now)
        elif kind == "contactor":
            self.contactor = bool(ev[1])
            if self.contactor and self.tx:
                self.charged = True
        elif kind == "fault":
            self.fault = ev[1] if ev[2] else (getattr(self.charger, "fault", None) or None)
        elif kind == "session" and ev[1] == "end" and self.tx:
            r = ev[2] if len(ev) > 2 and ev[2] else ""
            reason = _STOP_REASONS.get(r, "Other")
            if not self.plugged:
                reason = "EVDisconnected"
            self._stop_tx(reason, now)

    def present_id(self, id_tag, now_ms=None):
        """An idTag from the console or a reader. Returns 'accepted', 'pending' (asking the central
        system), 'stopping' (it ended its own transaction) or the rejection status."""
        now_ms = self.ticks() if now_ms is None else now_ms
        if not isinstance(id_tag, str) or not 0 < len(id_tag) <= 20:
            return "Invalid"
        if self.tx:
            if id_tag == self.tx["tag"] or (self.auth.parent(id_tag) and
                                            self.auth.parent(id_tag) == self.auth.parent(self.tx["tag"])):
                self.charger.stop("local")
                self._stop_tx("Local", now_ms, id_tag)
                return "stopping"
            return "busy"
        use_list = self.config.get("LocalAuthListEnabled")
        use_cache = self.config.get("AuthorizationCacheEnabled")
        now_s = self.wall.now(now_ms)
        if self.config.get("LocalPreAuthorize"):
            st, _ = self.auth.lookup(id_tag, now_s, use_list, use_cache)
            if st == "Accepted":
                return self._accept(id_tag, now_ms)
        if self.accepted:
            def done(ok, res, tag=id_tag):
                if ok and isinstance(res.get("idTagInfo"), dict):
                    info = res["idTagInfo"]
                    if use_cache:
                        self.auth.remember(tag, info)
                    if info.get("status") == "Accepted":
                        self._accept(tag, self.ticks())
                    else:
                        self._reject(tag, info.get("status"))
                else:
                    self._offline_decision(tag, self.ticks())
            self._queue_immediate("Authorize", {"idTag": id_tag}, done, now_ms)
            self.last_auth = (id_tag, "pending")
            return "pending"
        return self._offline_decision(id_tag, now_ms)

    def _offline_decision(self, tag, now_ms):
        if self.config.get("LocalAuthorizeOffline"):
            st, _ = self.auth.lookup(tag, self.wall.now(now_ms), self.config.get("LocalAuthListEnabled"),
                                     self.config.get("AuthorizationCacheEnabled"))
            if st == "Accepted":
                return self._accept(tag, now_ms)
            if st is not None:
                return self._reject(tag, st)
        if self.config.get("AllowOfflineTxForUnknownId"):
            return self._accept(tag, now_ms)
        return self._reject(tag, "Invalid")

    def _accept(self, tag, now_ms):
        self.auth_tag = tag
        self._auth_ms = now_ms
        self.last_auth = (tag, "Accepted")
        self.charger.authorize(True)
        return "accepted"

    def _reject(self, tag, status):
        self.last_auth = (tag, status or "Invalid")
        return status or "Invalid"

    # -- transactions ------------------------------------------------------------------------
    def _start_tx(self, tag, now_ms):
        ref = self.state["next_ref"]
        self.state["next_ref"] = ref + 1
        wh = self._meter_wh()
        meta = self._meta(now_ms)
        self.tx = {"ref": ref, "tag": tag, "start_wh": wh, "last_wh": wh, "txid": None,
                   "t0": self.cp_time(now_ms), "last_ts": meta["ts"]}
        self.state["tx"] = self.tx
        self._save()  # state first: a Start without state would never be stopped
        self._queue_tx("StartTransaction", {"connectorId": CONNECTOR, "idTag": tag, "meterStart": wh,
                                            "timestamp": "@T"}, ref, now_ms)
        self.charged = self.contactor
        self.finishing = False
        self.auth_tag = None
        iv = self.config.get("MeterValueSampleInterval")
        self._next_sample_ms = self._add(now_ms, iv * 1000) if iv else None
        if self._remote_profile:
            self.profiles.add(CONNECTOR, self._remote_profile, -1)
            self._remote_profile = None
        self._limit_ms = None  # re-evaluate the limit now

    def _stop_tx(self, reason, now_ms, tag=None):
        tx = self.tx
        if not tx:
            return
        wh = self._meter_wh()
        payload = {"meterStop": wh, "timestamp": "@T", "reason": reason}
        if tag:
            payload["idTag"] = tag
        data = self.config.get("StopTxnSampledData")
        if data:
            sv = self._sample(data, "Transaction.End", now_ms)
            if sv:
                payload["transactionData"] = [{"timestamp": "@T", "sampledValue": sv}]
        self._queue_tx("StopTransaction", payload, tx["ref"], now_ms)  # queue first, then forget
        self.tx = None
        self.state["tx"] = None
        self._save()
        self.charger.authorize(False)
        self.profiles.end_transaction()
        self.finishing = self.plugged
        self.charged = False
        self._limit_ms = None
        if self._pending_operative is not None:
            self._set_operative(self._pending_operative)
            self._pending_operative = None

    def _txid_for(self, ref):
        if ref in self.txq.txids:
            return self.txq.txids[ref]
        if self.tx and self.tx["ref"] == ref:
            return self.tx.get("txid")
        return None

    def _set_operative(self, flag):
        self.state["operative"] = flag
        self._save()
        self.charger.enable(flag)

    # -- poll: quick bookkeeping from the app's loop ---------------------------------------------
    def poll(self, now_ms):
        cfg = self.config
        if self.auth_tag and not self.tx and self._diff(now_ms, self._auth_ms) > cfg.get("ConnectionTimeOut") * 1000:
            self.auth_tag = None  # nobody plugged in in time
            self.charger.authorize(False)
        free = self.settings.get("ocpp_free_id_tag")
        tag = self.auth_tag or free
        if tag and not self.tx and self.plugged and not self.finishing and self.state["operative"] \
                and not self.fault:
            if not self.auth_tag:
                self.charger.authorize(True)
            self._start_tx(tag, now_ms)
        # status
        st = connector_status(self.core_state, self.fault, self.contactor, self.plugged,
                              self.tx is not None, self.charged, self.finishing, self.state["operative"])
        if self._sent_status.get(CONNECTOR) != st:
            self._sent_status[CONNECTOR] = st
            self._queue_status(CONNECTOR, st, now_ms)
        # periodic meter values during a transaction
        if self.tx and self._next_sample_ms is not None and self._diff(now_ms, self._next_sample_ms) >= 0:
            iv = cfg.get("MeterValueSampleInterval")
            self._next_sample_ms = self._add(now_ms, iv * 1000) if iv else None
            self._meter_values(cfg.get("MeterValuesSampledData"), "Sample.Periodic", now_ms, True)
            self.tx["last_wh"] = self._meter_wh()
            self.tx["last_ts"] = self._meta(now_ms)["ts"]
            self._save()  # the last known meter value survives a power cut
        # clock-aligned meter values
        iv = cfg.get("ClockAlignedDataInterval")
        t = self.wall.now(now_ms)
        if iv and t is not None:
            slot = int(t) // iv
            if self._aligned_slot is not None and slot != self._aligned_slot:
                self._meter_values(cfg.get("MeterValuesAlignedData"), "Sample.Clock", now_ms, self.tx is not None)
            self._aligned_slot = slot
        # smart charging
        if self._limit_ms is None or self._diff(now_ms, self._limit_ms) >= LIMIT_EVAL_MS:
            self._limit_ms = now_ms
            self._apply_limit(now_ms)
        # A pending Reset once the StopTransaction went out and the core opened the contactor under
        # control (EV to B, or its 6 s wait), or after RESET_FLUSH_MS whatever happened.
        if self._reset_kind and ((len(self.txq) == 0 and not self.contactor)
                                 or self._diff(now_ms, self._reset_ms) > RESET_FLUSH_MS):
            kind = self._reset_kind
            self._reset_kind = None
            if self.on_reset:
                self.on_reset(kind)

    def _queue_status(self, connector, st, now_ms=None):
        payload = {"connectorId": connector, "status": st[0], "errorCode": st[1], "timestamp": "@T"}
        if st[2]:
            payload["info"] = st[2]
            payload["vendorErrorCode"] = st[2]
        self._queue_immediate("StatusNotification", payload, None, now_ms)

    def _apply_limit(self, now_ms):
        tx = self.tx
        amps = self.profiles.limit_at(self.cp_time(now_ms), CONNECTOR, tx["t0"] if tx else None,
                                      self.wall.known(), tx.get("txid") if tx else None, tx is not None)
        if amps is not None:
            try:  # a checked profile gives a finite number; if not, offer nothing rather than guess
                amps = L.check_number(amps, 0, LIMIT_MAX["W"])
            except ValueError:
                amps = 0.0
            amps = int(min(amps, L.AMPS_MAX) * 10) / 10  # above 80 A nothing is limited; round down
        if amps != self.limit_sent:
            self.limit_sent = amps
            self.charger.set_limit("ocpp", amps)

    # -- the asyncio side ----------------------------------------------------------------------
    def stop(self):
        """Ask run() to finish (tests, shutdown)."""
        self.running = False
        self._wake.set()
        if self.ws:
            self.ws.closed = True
            try:
                self.ws.writer.close()
            except Exception:
                pass

    async def run(self):
        """Connect, boot, exchange messages; reconnect with bounded exponential backoff."""
        delay = RECONNECT_MIN_MS
        while self.running:
            url = self.settings.get("ocpp_url", "")
            if not url:
                await asyncio.sleep(IDLE_WAKE_MS / 1000)
                continue
            cpid = self.settings.get("ocpp_id", "evse")
            profile = self.settings.get("ocpp_security_profile", 0)
            try:
                ws = await websocket.connect(
                    url.rstrip("/") + "/" + cpid, "ocpp1.6",
                    user=cpid if profile >= 1 else None, password=self._password() if profile >= 1 else None,
                    ca_file=self.settings.get("ocpp_ca_file") or None)
            except Exception as e:
                self.last_error = "connect: %r" % (e,)
                await asyncio.sleep(delay / 1000)
                delay = min(delay * 2, RECONNECT_MAX_MS)
                continue
            delay = RECONNECT_MIN_MS
            self.ws = ws
            self.connected = True
            rx = asyncio.create_task(self._rx_loop(ws))
            try:
                await self._session(ws)
            except Exception as e:
                self.last_error = "session: %r" % (e,)
            self.connected = False
            self.accepted = False
            await ws.close()
            try:
                rx.cancel()
            except Exception:
                pass
            self._fail_pending()
            if self.running:
                await asyncio.sleep(delay / 1000)

    def _fail_pending(self):
        if self._pending:
            self._pending[2] = (False, ("Disconnected", ""))
            self._pending[1].set()

    async def _rx_loop(self, ws):
        try:
            while not ws.closed:
                op, data, truncated = await ws.recv()
                if truncated:
                    uid = rpc.sniff_uid(data)
                    if uid and self.boot_status != "Rejected":
                        await ws.send_text(rpc.error(uid, rpc.FORMATION, "message too large"))
                    continue
                await self._handle_frame(ws, data)
        except Exception as e:
            self.last_error = "receive: %r" % (e,)
        ws.closed = True
        self._fail_pending()
        self._wake.set()

    async def _handle_frame(self, ws, data):
        msg = rpc.parse(data)
        kind = msg[0]
        if kind is None:
            if msg[1] is not None and self.boot_status != "Rejected":
                await ws.send_text(rpc.error(msg[1], msg[2], msg[3]))
            return
        if kind in (rpc.RESULT, rpc.ERROR):
            p = self._pending
            if p and p[0] == msg[1]:
                p[2] = (True, msg[2]) if kind == rpc.RESULT else (False, (msg[2], msg[3]))
                p[1].set()
            return  # an answer nobody waits for is dropped
        _, uid, action, payload = msg
        if self.boot_status == "Rejected":
            return  # while rejected the charge point does not answer (OCPP 1.6 4.2.1)
        after = None
        handler = self._handler(action)
        if handler is None:
            code = rpc.NOT_SUPPORTED if action in schemas.NOT_SUPPORTED else rpc.NOT_IMPLEMENTED
            reply = rpc.error(uid, code, "action not supported" if code == rpc.NOT_SUPPORTED else "unknown action")
        else:
            bad = rpc.check(payload, schemas.INCOMING[action]) if action in schemas.INCOMING else None
            if bad:
                reply = rpc.error(uid, bad[0], bad[1])
            else:
                try:
                    res = handler(payload)
                    if isinstance(res, tuple):
                        res, after = res
                    reply = rpc.result(uid, res)
                except Exception as e:  # a handler bug must not take the connection down
                    reply = rpc.error(uid, rpc.INTERNAL, repr(e))
                    after = None
        await ws.send_text(reply)
        if after:
            after()

    def _handler(self, action):
        if action not in schemas.INCOMING:
            return None
        return getattr(self, "_on_" + action, None)

    async def _call(self, ws, action, payload):
        """Send one CALL and wait for its answer: (True, payload) or (False, (code, description)).
        Raises on timeout or a lost connection (the caller reconnects)."""
        self._uid += 1
        uid = "%d-%s" % (self._uid, binascii.hexlify(os.urandom(4)).decode())
        ev = asyncio.Event()
        self._pending = [uid, ev, None]
        self._last_sent_ms = self.ticks()
        await ws.send_text(rpc.call(uid, action, payload))
        try:
            await asyncio.wait_for(ev.wait(), CALL_TIMEOUT_MS / 1000)
        finally:
            answer = self._pending[2]
            self._pending = None
        if answer is None or (not answer[0] and answer[1][0] == "Disconnected"):
            raise websocket.WebSocketError("no answer to " + action)
        return answer

    def _clock_from(self, res):
        t = parse_iso(res.get("currentTime")) if isinstance(res, dict) else None
        if t is not None:
            self.wall.set(t, self.ticks())

    def _boot_payload(self):
        p = {"chargePointVendor": VENDOR, "chargePointModel": MODEL, "firmwareVersion": FIRMWARE_VERSION}
        if self.settings.get("serial"):
            p["chargePointSerialNumber"] = str(self.settings["serial"])[:25]
        return p

    async def _boot(self, ws):
        while not ws.closed and self.running:
            ok, res = await self._call(ws, "BootNotification", self._boot_payload())
            interval = BOOT_RETRY_DEFAULT_S
            if ok:
                self._clock_from(res)
                self.boot_status = res.get("status")
                if isinstance(res.get("interval"), int) and res["interval"] > 0:
                    interval = res["interval"]
                if self.boot_status == "Accepted":
                    self.config.values["HeartbeatInterval"] = interval  # the central system's choice
                    return True
            await self._sleep_or_closed(ws, interval * 1000)
        return False

    async def _sleep_or_closed(self, ws, ms):
        t0 = self.ticks()
        while not ws.closed and self.running and self._diff(self.ticks(), t0) < ms:
            await asyncio.sleep(min(IDLE_WAKE_MS, ms) / 1000)

    async def _session(self, ws):
        if not await self._boot(ws):
            return
        self.accepted = True
        self._queue_status(0, ("Available" if self.state["operative"] else "Unavailable", "NoError", None))
        st = self._sent_status.get(CONNECTOR)
        if st:
            self._immediate = [i for i in self._immediate if not (
                i[0] == "StatusNotification" and i[1]["connectorId"] == CONNECTOR)]
            self._queue_status(CONNECTOR, st)
        self._tx_retry_ms = None
        last_ping = self.ticks()
        while not ws.closed and self.running:
            now = self.ticks()
            if self._immediate:
                action, payload, meta, cb = self._immediate.pop(0)
                ok, res = await self._call(ws, action, _resolve_payload(payload, self._timestamp(meta)))
                self._after_answer(action, ok, res, cb)
                continue
            head = self.txq.head()
            if head and (self._tx_retry_ms is None or self._diff(now, self._tx_retry_ms) >= 0):
                await self._send_tx(ws, head)
                continue
            if self._diff(now, self._last_sent_ms) >= self.config.get("HeartbeatInterval") * 1000:
                ok, res = await self._call(ws, "Heartbeat", {})
                if ok:
                    self._clock_from(res)
                continue
            ping = self.config.get("WebSocketPingInterval")
            if ping and self._diff(now, last_ping) >= ping * 1000:
                last_ping = now
                await ws.ping()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_WAKE_MS / 1000)
            except asyncio.TimeoutError:
                pass

    def _after_answer(self, action, ok, res, cb):
        if action in ("BootNotification", "Heartbeat") and ok:
            self._clock_from(res)
            if action == "BootNotification" and isinstance(res.get("interval"), int) and res["interval"] > 0:
                self.config.values["HeartbeatInterval"] = res["interval"]
        if cb:
            cb(ok, res)

    async def _send_tx(self, ws, rec):
        seq, action, payload, ref, meta = rec
        payload = _resolve_payload(payload, self._timestamp(meta))
        if action != "StartTransaction":
            txid = self._txid_for(ref)
            if txid is None:
                # Its StartTransaction was given up: the central system cannot place this message.
                self.txq.drop(seq)
                return
            payload["transactionId"] = txid
        ok, res = await self._call(ws, action, payload)
        if not ok:
            self._tx_attempts += 1
            if self._tx_attempts < self.config.get("TransactionMessageAttempts"):
                self._tx_retry_ms = self._add(self.ticks(), self.config.get(
                    "TransactionMessageRetryInterval") * 1000 * self._tx_attempts)
                return
        self._tx_attempts = 0
        self._tx_retry_ms = None
        if ok and action == "StartTransaction":
            txid = res.get("transactionId")
            if isinstance(txid, int):
                self.txq.set_txid(ref, txid)
                if self.tx and self.tx["ref"] == ref:
                    self.tx["txid"] = txid
                    self.state["tx"] = self.tx
                    self._save()
        info = res.get("idTagInfo") if ok else None
        if isinstance(info, dict) and action in ("StartTransaction", "StopTransaction"):
            tag = payload.get("idTag")
            if tag and self.config.get("AuthorizationCacheEnabled"):
                self.auth.remember(tag, info)
            if action == "StartTransaction" and info.get("status") != "Accepted" and self.tx \
                    and self.tx["ref"] == ref and self.config.get("StopTransactionOnInvalidId"):
                self.charger.stop("deauthorized")
                self._stop_tx("DeAuthorized", self.ticks())
        self.txq.drop(seq)

    # -- CALLs from the central system ----------------------------------------------------------
    def _on_ChangeAvailability(self, p):
        if p["connectorId"] > CONNECTOR:
            return {"status": "Rejected"}
        flag = p["type"] == "Operative"
        if self.tx and not flag:
            self._pending_operative = False
            return {"status": "Scheduled"}
        self._set_operative(flag)
        return {"status": "Accepted"}

    def _on_ChangeConfiguration(self, p):
        return {"status": self.config.change(p["key"], p["value"])}

    def _on_ClearCache(self, p):
        self.auth.clear_cache()
        return {"status": "Accepted"}

    def _on_ClearChargingProfile(self, p):
        st = self.profiles.clear(p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"),
                                 p.get("stackLevel"))
        self._limit_ms = None
        return {"status": st}

    def _on_DataTransfer(self, p):
        return {"status": "UnknownVendorId"}

    def _on_GetCompositeSchedule(self, p):
        c = p["connectorId"]
        if c > CONNECTOR:
            return {"status": "Rejected"}
        now_ms = self.ticks()
        t0 = self.cp_time(now_ms)
        tx = self.tx
        sched = self.profiles.composite(t0, p["duration"], c, tx["t0"] if tx else None, self.wall.known(),
                                        tx.get("txid") if tx else None, tx is not None,
                                        p.get("chargingRateUnit", "A"), self.charger.limit_without("ocpp"))
        res = {"status": "Accepted", "connectorId": c, "chargingSchedule": sched}
        if self.wall.known():
            res["scheduleStart"] = format_iso(t0)
        return res

    def _on_GetConfiguration(self, p):
        keys = p.get("key") or None
        if keys and len(keys) > self.config.get("GetConfigurationMaxKeys"):
            keys = keys[:self.config.get("GetConfigurationMaxKeys")]
        known, unknown = self.config.report(keys)
        res = {"configurationKey": known}
        if unknown:
            res["unknownKey"] = unknown
        return res

    def _on_GetLocalListVersion(self, p):
        if not self.config.get("LocalAuthListEnabled"):
            return {"listVersion": -1}
        return {"listVersion": self.auth.list_version}

    def _on_RemoteStartTransaction(self, p):
        if self.tx or self.fault or not self.state["operative"] or p.get("connectorId", CONNECTOR) != CONNECTOR:
            return {"status": "Rejected"}
        prof = p.get("chargingProfile")
        if prof and prof["chargingProfilePurpose"] != "TxProfile":
            return {"status": "Rejected"}
        self._remote_profile = prof
        tag = p["idTag"]
        if self.config.get("AuthorizeRemoteTxRequests"):
            return {"status": "Accepted"}, lambda: self.present_id(tag)
        self._accept(tag, self.ticks())
        return {"status": "Accepted"}

    def _on_RemoteStopTransaction(self, p):
        if not self.tx or self.tx.get("txid") != p["transactionId"]:
            return {"status": "Rejected"}
        self.charger.stop("remote")
        self._stop_tx("Remote", self.ticks())
        return {"status": "Accepted"}

    def _on_Reset(self, p):
        kind = p["type"]
        self.state["reset"] = kind
        self._save()
        if self.tx:
            self.charger.stop("reset")
            self._stop_tx(kind + "Reset", self.ticks())
        self._reset_kind = kind
        self._reset_ms = self.ticks()
        return {"status": "Accepted"}

    def _on_SendLocalList(self, p):
        if not self.config.get("LocalAuthListEnabled"):
            return {"status": "NotSupported"}
        entries = p.get("localAuthorizationList") or []
        if len(entries) > self.config.get("SendLocalListMaxLength"):
            return {"status": "Failed"}
        return {"status": self.auth.send_local_list(p["listVersion"], entries, p["updateType"])}

    def _on_SetChargingProfile(self, p):
        tx = self.tx
        txid = None
        if tx:
            txid = tx.get("txid") if tx.get("txid") is not None else -1
        st = self.profiles.add(p["connectorId"], p["csChargingProfiles"], txid,
                               self.config.get("NumberOfConnectors"))
        self._limit_ms = None  # poll applies it on its next call
        return {"status": st}

    def _on_TriggerMessage(self, p):
        what = p["requestedMessage"]
        c = p.get("connectorId")
        if c is not None and c > CONNECTOR:
            return {"status": "Rejected"}
        if what == "BootNotification":
            after = lambda: self._queue_immediate("BootNotification", self._boot_payload())
        elif what == "Heartbeat":
            after = lambda: self._queue_immediate("Heartbeat", {})
        elif what == "StatusNotification":
            def after():
                if c in (None, 0):
                    self._queue_status(0, ("Available" if self.state["operative"] else "Unavailable",
                                           "NoError", None))
                if c in (None, CONNECTOR) and self._sent_status.get(CONNECTOR):
                    self._queue_status(CONNECTOR, self._sent_status[CONNECTOR])
        elif what == "MeterValues":
            def after():
                sv = self._sample(self.config.get("MeterValuesSampledData"), "Trigger", self.ticks())
                if sv:
                    payload = {"connectorId": CONNECTOR, "meterValue": [{"timestamp": "@T", "sampledValue": sv}]}
                    if self.tx and self.tx.get("txid") is not None:
                        payload["transactionId"] = self.tx["txid"]
                    self._queue_immediate("MeterValues", payload)
        else:
            after = lambda: self._queue_immediate(what, {"status": "Idle"})
        return {"status": "Accepted"}, after

    def _on_UnlockConnector(self, p):
        if p["connectorId"] != CONNECTOR:
            return {"status": "NotSupported"}
        if self.tx:
            self.charger.stop("unlock")
            self._stop_tx("UnlockCommand", self.ticks())
        return {"status": "NotSupported"}  # tethered cable or no lock actuator
