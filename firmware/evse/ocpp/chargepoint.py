"""OCPP 1.6J charge point service (one connector): the facade the app uses.

The app owns one `OcppService`, runs `run()` as an asyncio task, calls `poll(now_ms)` from its loop
and hands it every core event with `on_event(ev)`. The service steers the core only through
charger.set_limit('ocpp', amps), enable(), authorize(), stop() and reads charger.state/fault; the
app's `charger` is its CoreLink, which turns each into an App.command under the source 'ocpp'.

The service's state lives in this one object; the work is split by concern into modules of plain
functions that take the service (on a board every module and object costs heap, docs/ocpp.md):
  connection.py    WebSocket, BootNotification, Heartbeat, the CALL sender, reconnect with backoff
  transactions.py  Start/StopTransaction on the flash queue, their retries, the power-loss stop
  auth.py          a presented idTag: local list and cache, Authorize, offline rules, time-out
  metering.py      MeterValues, periodic and clock-aligned
  schedule.py      charging profiles -> the core's 'ocpp' current limit (smart charging)
  status.py        the connector status StatusNotification reports
  operations.py    one handler per CALL the central system sends, registered in HANDLERS

Flash layout under `flash_dir`: state.json (boot counter, open transaction, availability),
txq.log (transaction messages not yet answered), profiles.json, authcache.json, locallist.json,
config.json."""
import asyncio
from ..core import vocab as V
from . import auth, connection, metering, schedule, store, transactions
from .config import CONNECTOR, Config
from .status import connector_status, PLUGGED_STATES, as_sent, sent_before
from .txqueue import HOLD_MS, TxQueue
from .wallclock import WallClock

RESET_FLUSH_MS = 10000  # a Reset waits at most this long for the StopTransaction to go out
RESET_CLOSE_MS = 2000   # ... then at most this long for its Close frame (RFC 6455 1000) to go out
_UNKNOWN = object()
CS_TRUST_MS = 86400000  # the central system's currentTime, counted on by the ticks: NTP's second opinion for a day
# During a transaction state.json keeps the register ceiling this far above the register handed
# out (the meter's own checkpoint step, energy.CHECKPOINT_MWH): written once per 50 Wh, not per
# sample; a power cut can add up to this to the register, never take any away (meter_wh).
HI_AHEAD_WH = 50
# The meter without a reading this long is PowerMeterFailure (OCPP 1.6 7.6): several of any meter's
# polls; one answer missed on the bus is no failure (and no status)
METER_LOST_MS = 10000


def _state(path):
    """state.json, this boot counted. One of before had one availability flag for the charge point
    and its connector (operative): false there is connector 0 Inoperative (cp_off)."""
    st = store.read_json(path, None) or {"boot": 0, "next_ref": 1, "tx": None, "operative": True, "reset": None}
    st["boot"] += 1
    if not st["operative"] and "cp_off" not in st and "c1_off" not in st:
        st["cp_off"] = True
    return st


class OcppService:
    def __init__(self, charger, meter, settings, flash_dir, clock, on_reset=None, connect=None, dns_server=None):
        """clock: ticks_ms(), ticks_diff(a, b), ticks_add(a, d) of the clock the caller's poll(now_ms)
        values come from, set_utc(t) and utc_seconds() if it has the board's (the app passes evse.shell.hal).
        connect: the transport, websocket.connect's signature (tests may pass a fake one).
        dns_server: the Wi-Fi network's DNS server, for names looked up in steps (shell/dns.py)."""
        self.charger, self.meter, self.settings, self.dns_server = charger, meter, settings, dns_server
        self.ticks, self.ticks_diff, self.ticks_add = clock.ticks_ms, clock.ticks_diff, clock.ticks_add
        self.on_reset, self.connect = on_reset, connect  # on_reset('Soft'|'Hard') reboots the board
        self.set_utc, self.utc = getattr(clock, "set_utc", None), getattr(clock, "utc_seconds", None)  # the RTC
        store.ensure_dir(flash_dir)
        self.flash_dir = flash_dir  # also holds the profile 3 client certificate (connection.py)
        p = lambda n: store.join(flash_dir, n)
        self.config = Config(p("config.json"), settings.get("ocpp_config"))
        self.config.values["SecurityProfile"] = connection.security_profile(self)  # reported as used
        self.auth = auth.AuthStore(p("authcache.json"), p("locallist.json"),
                                   self.config.get("LocalAuthListMaxLength"))
        self.profiles = schedule.Profiles(p("profiles.json"), settings.get("nominal_volts", 230),
                                          settings.get("phases", 1), self.config.get("ChargeProfileMaxStackLevel"),
                                          self.config.get("MaxChargingProfilesInstalled"))
        self.txq = TxQueue(p("txq.log"))
        self.state_path = p("state.json")
        self.state = _state(self.state_path)
        self.wall, self.cs_said = WallClock(self.ticks_diff), None  # cs_said: (UTC, ticks) of its currentTime
        # connection.py (pending [uid, Event, answer]; immediate [action, payload, meta, callback]: sent
        self.ws = self.boot_status = self._pending = self.boot_url = store.error = None  # once online)
        self.last_error = self.config.damaged       # (a damaged key file, from the boot on)
        self.connected = self.accepted = self.boot_now = self.started = False  # started: accepted once this boot
        self.boot_after = None  # ticks before which no BootNotification (a Pending/Rejected interval)
        self.redial = False  # new credentials or a Reset: end this connection between two exchanges
        self.told = []  # the security events reported once a boot (connection.once)
        self.running, self._uid = True, 0
        self.wake, self.immediate = asyncio.Event(), []
        self._last_sent_ms = self._held_ms = self.ticks()  # _held_ms: the oldest MeterValues held (queue_tx)
        # the core as its events tell it (on_event)
        self.core_state = getattr(charger, "state", None)
        self.fault = getattr(charger, "fault", None)
        self.plugged = self.core_state in PLUGGED_STATES
        self.contactor = self.finishing = False
        self.sent_status = {}
        self._st_was, self._st_now = [_UNKNOWN] * 11, [_UNKNOWN] * 11  # _report_status's inputs: last, now
        self._meter_bad = None  # ticks since when the meter has no reading
        # No connector status until the core has read the pilot after boot: the state before that
        # is a guess (a car plugged in through a power cut would be reported Available for a moment).
        # A charger without the query (a test double) counts as read.
        self._pilot_read = getattr(charger, "pilot_read", None)
        self.rebooting = self.fw_installing = False  # a Reset handed to the app; an update installing (Unavailable)
        # auth.py (last_auth: (idTag, status) for the console)
        self.auth_tag = self._auth_ms = self.last_auth = None
        # transactions.py (remote_profile: RemoteStartTransaction's, installed when it starts; a Scheduled
        # ChangeAvailability is state["pend"]; owner: the last one's (idTag, parentIdTag): unlock.by_card)
        self.tx = self.tx_retry_ms = self.remote_profile = self.owner = None
        self.hi_out = 0  # the highest register handed out this boot (meter_wh)
        self.tx_data = []  # metering.keep_tx_data: the running transaction's StopTransaction samples
        self._tx_attempts = 0
        # operations.reset, metering.py, schedule.py (limit_ms None: re-evaluate on the next poll)
        self.reset_kind = self.reset_ms = self.reset_close_ms = self.next_sample_ms = self._aligned_slot = None
        self.limit_ms = self.limit_sent = self.aligned_due = self.resv_due = None  # metering's, reservation's next read
        transactions.recover_after_boot(self)
        if not self.state["operative"]:
            charger.enable(False)

    def keep_cable(self):
        """UnlockConnectorOnEVSideDisconnect false: a plug lock keeps a transaction's cable when the
        car side leaves (armed for a transaction only: a car never authorized is no one's to keep;
        the core disarms it once the cable is let go). True: nothing kept, a kept one let go."""
        keep = getattr(self.charger, "keep_cable", None)     # (a test's stand-in charger has none)
        unlock = self.config.get("UnlockConnectorOnEVSideDisconnect")
        if keep is not None and (self.tx or unlock):
            keep(not unlock)

    # -- what every part uses --------------------------------------------------------------------
    def save(self):
        store.write_json(self.state_path, self.state)

    def meter_wh(self):
        """Energy.Active.Import.Register (Wh): the meter's count plus state["off"], raised at boot
        when the count came back from its checkpoint below state["hi"], so the register never goes
        back across a power cut and adds only energy counted since. state["hi"] is at least every
        register handed out: in a transaction a ceiling HI_AHEAD_WH above it (state.json rewritten
        once per 50 Wh, not per sample; before, once per sample: 14,448 a day at an interval of 1 s),
        the exact highest (hi_out) once it ends (transactions.stop)."""
        m = self.meter
        v = getattr(m, "wh_total", None) if m is not None else None
        st = self.state
        wh = (int(v) if v is not None else 0) + st.get("off", 0)
        if wh > self.hi_out:
            self.hi_out = wh
        if wh > st.get("hi", 0):
            st["hi"] = wh + HI_AHEAD_WH if self.tx else wh
        return wh

    def meta(self, now_ms=None):
        """When a message was made: boot number, ticks and epoch seconds if known (see
        connection.timestamp)."""
        tk = self.ticks() if now_ms is None else now_ms
        t = self.wall.now(tk)       # (tk: the ticks as a count that does not wrap, for a message
        return {"b": self.state["boot"], "tk": self.wall.unwrap(tk), "ts": None if t is None else int(t)}

    def cs_time(self, now_ms):
        """UTC now by the central system's last currentTime, counted on for up to a day, or None:
        NTP's second opinion on an answer far off (services/netclock.py)."""
        c = self.cs_said
        if c is None:
            return None
        d = self.ticks_diff(now_ms, c[1])
        return c[0] + d // 1000 if 0 <= d < CS_TRUST_MS else None

    def cp_time(self, now_ms):
        """Seconds on the schedule time line: epoch once known, else uptime (Relative profiles only)."""
        t = self.wall.now(now_ms)
        return int(t) if t is not None else now_ms // 1000

    def queue_call(self, action, payload, callback=None, now_ms=None):
        """A message sent once connected, not kept across reboots; callback(ok, answer)."""
        if action == "StatusNotification" and not self.accepted:
            # Offline only the latest status per connector matters: it is sent again after boot.
            self.immediate = [i for i in self.immediate if not (
                i[0] == action and i[1]["connectorId"] == payload["connectorId"])]
        self.immediate.append([action, payload, self.meta(now_ms), callback])
        self.wake.set()

    def queue_tx(self, action, payload, ref, now_ms):
        """A transaction message: kept on flash until the central system answers it; a MeterValues
        held in RAM first: connected it goes out at once, offline the samples held are written
        together every HOLD_MS (poll; TxQueue)."""
        txq = self.txq
        held = len(txq.unsaved)
        txq.push(action, payload, ref, self.meta(now_ms), action != "MeterValues")
        if not held and txq.unsaved:
            self._held_ms = self.ticks() if now_ms is None else now_ms
        self.wake.set()

    def queue_status(self, connector, st, now_ms=None):
        payload = {"connectorId": connector, "status": st[0], "errorCode": st[1], "timestamp": "@T"}
        if st[2]:
            payload["info"] = st[2]
            payload["vendorErrorCode"] = st[2]
        self.queue_call("StatusNotification", payload, None, now_ms)
        if connector and connection.tx_queued(self):
            self.immediate[-1][2]["w"] = 1  # after the Start/StopTransaction queued before it (next_immediate)

    def queue_cp_status(self, code="NoError"):
        """StatusNotification for the charge point as a whole (connector 0)."""
        self.queue_status(0, ("Unavailable" if self.state.get("cp_off") else "Available", code, None))

    # -- what the app calls ------------------------------------------------------------------
    def heard(self):
        """True once for each stretch in which frames came from the central system (any frame, a
        Pong too): the fallback's sign that it is still there (its profiles hold without repeats)."""
        ws = self.ws
        if ws is not None and ws.heard:
            ws.heard = False
            return True
        return False

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
        if kind == V.EV_STATE:
            self._on_state(ev[1], now)
        elif kind == V.EV_CONTACTOR:
            self.contactor = bool(ev[1])
        elif kind == V.EV_FAULT:
            self.fault = ev[1] if ev[2] else (getattr(self.charger, "fault", None) or None)
        elif kind == V.EV_SESSION and ev[1] == V.SESSION_END and self.tx:
            transactions.on_session_end(self, ev, now)

    def _on_state(self, state, now_ms):
        was, self.core_state = self.core_state, state
        if was == V.ST_DISABLED and state == V.ST_A1 and self._guessing():
            return  # enabled again: A1 until the pilot is read, no car's leaving (_report_status)
        if state in PLUGGED_STATES:
            self.plugged = True
        elif state == V.ST_A1:
            self.plugged = False
            self.finishing = False
            if self.tx:
                transactions.ev_left(self, now_ms)

    # Functions that take the service serve as its methods as they are (no wrapper to keep in RAM).
    present_id = auth.present_id  # (id_tag, now_ms=None) from the console or a reader

    def poll(self, now_ms):
        """Quick bookkeeping from the app's loop."""
        if self.rebooting:
            return  # the outputs went safe for the reboot: what the core sees now is no status
        self.wall.track(now_ms)     # (made days before the clock came, a message keeps its time)
        if not self.wall.known():
            connection.wall_from_ntp(self)
        e = store.error
        if e is not None:
            self._flash_refused(e)
        auth.expire(self, now_ms)
        if self.state.get("resv"):
            from . import reservation  # only while a reservation exists
            reservation.expire(self, now_ms)
        transactions.poll(self, now_ms)
        self._report_status(now_ms)
        metering.poll(self, now_ms)
        if self.txq.unsaved and self.ticks_diff(now_ms, self._held_ms) >= HOLD_MS:
            self.txq.flush()  # offline samples held HOLD_MS: one append for them all
        schedule.poll(self, now_ms)
        # A pending Reset once the StopTransaction went out and the core opened the contactor under
        # control (EV to B, or its 6 s wait), online also the status after it (Finishing), or after
        # RESET_FLUSH_MS whatever happened; then the connection's Close frame.
        if self.reset_kind and ((len(self.txq) == 0 and not self.contactor
                                 and not (self.accepted and self.immediate))
                                or self.ticks_diff(now_ms, self.reset_ms) > RESET_FLUSH_MS) \
                and self._closed_for_reset(now_ms):
            kind = self.reset_kind
            self.reset_kind = self.reset_close_ms = None
            self.rebooting = self.on_reset is not None
            if self.on_reset:
                self.on_reset(kind)

    def _flash_refused(self, e):
        """A flash write refused since the last poll (e, its OSError): what it held stays in RAM
        (the state, the transaction queue, the cache), the status says it; a full flash (ENOSPC,
        errno 28 on every port) is a critical MemoryExhaustion once a boot (Security Whitepaper,
        appendix 1)."""
        store.error = None
        self.last_error = "flash: %s" % (e,)
        if e.args and e.args[0] == 28:
            connection.once(self, "MemoryExhaustion", self.last_error)

    def _closed_for_reset(self, now_ms):
        """The central system sees a reboot as a Close frame (1000), not as a lost TCP connection
        (1006): the session ends between two exchanges, as for new credentials, and the reboot
        follows once the connection is closed, or RESET_CLOSE_MS after that was asked."""
        if self.ws is None:
            return True
        if self.reset_close_ms is None:
            self.reset_close_ms = now_ms
            self.redial = True
            self.wake.set()
        return self.ticks_diff(now_ms, self.reset_close_ms) > RESET_CLOSE_MS

    def _guessing(self):
        """The core left Disabled through A1 before reading the pilot (a car may still be there):
        no status and no car's leaving until it has read it (ChangeAvailability Operative with a
        car plugged in reported Available for a moment and forgot Finishing)."""
        read = getattr(self.charger, "pilot_read", None)
        if read is None or read():
            return False
        self._pilot_read = read
        return True

    def _report_status(self, now_ms):
        if self._pilot_read is not None:
            if not self._pilot_read():
                return
            self._pilot_read = None  # read once: from now on every state is the pilot's
            self._on_state(self.core_state, now_ms)
            self._st_was[0] = _UNKNOWN
        # connector_status's inputs as at the last status computed: no new tuple (every 10 ms poll
        # made one); _UNKNOWN equals no input: computed at the next poll
        v = self._st_now             # (one store a line: an unpacking of more than 3 makes a tuple)
        v[0] = self.core_state
        v[1] = self.fault
        v[2] = self.contactor
        # a cable kept locked in the socket after its transaction, the car gone, is Finishing (4.9:
        # "not yet available for a new user, e.g. the cable has not been removed") until let go
        kept = self.tx is None and getattr(self.charger, "held", False)
        v[3] = self.plugged or kept
        v[4] = self.tx is not None
        v[5] = self.finishing or kept
        v[6] = self.state["operative"] and not self.fw_installing
        v[7] = self.auth_tag is not None
        v[8] = bool(self.state.get("resv"))
        m = self.meter
        if m is None or getattr(m, "ok", True):
            self._meter_bad = None
        elif self._meter_bad is None:
            self._meter_bad = now_ms
        v[9] = self._meter_bad is not None and self.ticks_diff(now_ms, self._meter_bad) >= METER_LOST_MS
        v[10] = getattr(self.charger, "heat", 0)
        if v == self._st_was:
            return
        self._st_was, self._st_now = v, self._st_was
        was = self.sent_status.get(CONNECTOR, "-")
        st = as_sent(connector_status(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]), was, v[9], v[10])
        if st[0] is not None and was != st:
            first = sent_before(st, was)
            if first:
                self.queue_status(CONNECTOR, first, now_ms)
            self.sent_status[CONNECTOR] = st
            self.queue_status(CONNECTOR, st, now_ms)

    # -- the asyncio side ----------------------------------------------------------------------
    def stop(self):
        """Ask run() to finish (tests, shutdown)."""
        self.running = False
        self.wake.set()
        if self.ws:
            self.ws.closed = True
            try:
                self.ws.writer.close()
            except Exception:
                pass

    run = connection.run  # (): connect, boot, exchange messages; reconnect with bounded backoff
