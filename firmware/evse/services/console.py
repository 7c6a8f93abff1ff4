# The console: JSON lines both ways over the USB serial port (sys.stdin/stdout) or a UART.
# Requests:  {"cmd": "status", "id": 1}            Replies: {"id": 1, "ok": true, ...}
# Events:    {"ev": "state", "state": "B1", "t": 1234}  on every change the core makes.
# Protocol reference: docs/console.md. A service: poll() reads what is there and returns; a
# malformed line gets an error reply and changes nothing; output is queued and bounded.
import json

from ..core import limits as L
from . import settings
from ..core import vocab as V
from ..core.version import VERSION

MAX_LINE = 512            # bytes per request line; longer lines are discarded whole
READ_PER_POLL = 256       # bytes taken from the stream per poll (bounded work per tick)
OUT_MAX = 4096            # bytes queued for output; beyond it event lines are dropped (counted)
WRITE_PER_POLL = 256      # bytes written per poll: at 115200 baud about 22 ms of line time
LOG_RECORDS_MAX = 32      # fault-log records per reply

# Keys the core and the app read on every tick (the Wi-Fi on every poll): a change applies at once. Every other key
# (new ones included) is read once at boot and needs a reboot.
LIVE_KEYS = ("max_current", "require_auth", "ventilation", "wakeup_after_s", "rcd_selftest",
             "economiser", "web_password", "wifi_ssid", "wifi_password")
COMMANDS = ("help", "status", "limit", "enable", "disable", "authorize", "stop", "clear", "log",
            "settings", "set", "reboot", "sessions", "grid", "history", "unlock")
SESSIONS_MAX = 50         # session records per reply (the ring on flash keeps 50)
HISTORY_MAX = 20          # CSV lines per reply: 20 full-length lines fit OUT_MAX with room


def refused(errors):
    """The settings' check's reasons without what a bad value on flash does at boot (a default
    used, a key ignored, nothing offered, MQTT kept off): a refused change does none of that."""
    out = []
    for e in errors:
        for tail in ("; MQTT ", " (using the default", " (ignored)", " (" + settings.NOT_APPLIED):
            i = e.find(tail)
            if i > 0:
                e = e[:i]
        out.append(e)
    return "; ".join(out)


def prefix_id(head):
    """The id of a line cut at MAX_LINE or not JSON, when it came whole before the cut or the
    slip (evsectl sends it first), so the host can match the error to its request; None otherwise."""
    i = head.find(b'"id"')
    if i < 0:
        return None
    rest = head[i + 4:].lstrip()
    if not rest.startswith(b":"):
        return None
    rest = rest[1:].lstrip()
    if rest.startswith(b'"'):
        j = rest.find(b'"', 1)
        v = rest[1:j] if j > 0 else None
        if v is None or b"\\" in v:
            return None
        try:
            return v.decode()
        except UnicodeError:         # binary bytes, no text: no id to echo
            return None
    j = 0
    while j < len(rest) and rest[j] in b"-0123456789":
        j += 1
    if j == 0 or j == len(rest) or rest[j] not in b" ,}":
        return None                  # no number, or cut inside it
    try:
        return int(rest[:j])
    except ValueError:
        return None


class StdioStream:
    """The USB serial port: sys.stdin polled without blocking, sys.stdout for replies.
    Ctrl-C still interrupts the program (mpremote relies on it), so the REPL stays reachable."""

    def __init__(self):
        import select
        import sys
        self._in = getattr(sys.stdin, "buffer", sys.stdin)
        self._out = getattr(sys.stdout, "buffer", sys.stdout)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self, n):
        """Up to n bytes that are already there (one at a time: stdin read(n) blocks for n). Polled
        here, not in a method: this runs every tick, and a call costs about 20 us on the Pico."""
        got = None
        poll = self._poll
        while n > 0:
            for _ in poll.ipoll(0):
                break
            else:
                break             # nothing waiting
            b = self._in.read(1)
            if not b:
                break
            if isinstance(b, str):
                b = b.encode()
            got = b if got is None else got + b
            n -= 1
        return got

    def write(self, data):
        return self._out.write(data)


class UartStream:
    """A machine.UART wired to another controller or a USB-serial adapter."""

    def __init__(self, uart):
        self.uart = uart

    def read(self, n):
        k = self.uart.any()
        if not k:
            return None
        return self.uart.read(k if k < n else n)

    def write(self, data):
        return self.uart.write(data)


class Console:
    def __init__(self, app, stream, log=None):
        self.app = app
        self.stream = stream
        self.log = log
        self._line = bytearray()
        self._overlong = False
        self._out = []               # queued output lines (bytes)
        self._out_bytes = 0
        self._partial = None         # a line partly written (bytes remaining)
        self._held = None            # input read but not yet taken: it waits for the output
        self.dropped = 0             # event lines lost because the host did not read
        self.errors = 0              # malformed requests answered with an error
        self.reboot_pending = False
        self.id_tag = None           # the last id presented with "authorize"
        self.src = V.SRC_CONSOLE     # whose limit and grid reading the request in hand is (answer)

    # --- output: queued, bounded, written a little per poll ---
    @property
    def queued_bytes(self):
        """Output waiting for the host: never above OUT_MAX but for one longer reply alone."""
        return self._out_bytes

    def send(self, obj, reply=False):
        try:
            data = (json.dumps(obj) + "\n").encode()
        except Exception:
            data = b'{"ok": false, "error": "reply not serialisable"}\n'
        return self._queue(data, reply)

    def _queue(self, data, reply=False):
        if self._out_bytes + len(data) > OUT_MAX:
            if not reply:
                self.dropped += 1
                return False
            while self._out and self._out_bytes + len(data) > OUT_MAX:
                self._out_bytes -= len(self._out.pop(0))   # a reply outranks old event lines; one
                self.dropped += 1        # longer than OUT_MAX goes alone (its bytes are made already)
        self._out.append(data)
        self._out_bytes += len(data)
        return True

    def _flush(self):
        budget = WRITE_PER_POLL
        while budget > 0:
            if self._partial is None:
                if not self._out:
                    return
                self._partial = self._out.pop(0)
                self._out_bytes -= len(self._partial)
            chunk = self._partial[:budget]
            n = self.stream.write(chunk)
            n = len(chunk) if n is None else n
            budget -= len(chunk)
            self._partial = self._partial[n:] if n < len(self._partial) else None
            if n < len(chunk):
                return               # the stream is full: try again next poll

    # --- input ---
    def poll(self, now_ms):
        data = self._held                        # a request that waited for the replies before it
        self._held = None
        if data is None:
            data = self.stream.read(READ_PER_POLL)
        if data:
            self.feed(data, now_ms)
        if self.dropped and len(self._out) == 0 and self._partial is None:
            n, self.dropped = self.dropped, 0
            self.send({"ev": "dropped", "lines": n})
        if self._out or self._partial is not None:     # (no call on an idle tick)
            self._flush()
        if self.reboot_pending and not self._out and self._partial is None:
            if self.reboot_pending is True:      # the reply written: a tick for the port to send
                self.reboot_pending = 2          # it (a UART's buffer, USB's) before the reset
            else:
                self.app.reset()

    def feed(self, data, now_ms):
        """Bytes from the host, each request answered once the lines queued before it are on their
        way (no reply pushes out another, and the host's writes wait: flow control); the bytes from
        a request that must wait are kept for a later poll."""
        i = 0
        for b in data:
            i += 1
            if b == 10:                          # \n ends a request
                if self._out:
                    self._held = data[i - 1:]
                    return
                self._end_line(now_ms)
            elif b < 32:                         # \r and stray control bytes: never JSON
                pass
            elif self._overlong:
                pass
            elif len(self._line) >= MAX_LINE:
                self._overlong = True
            else:
                self._line.append(b)

    def _end_line(self, now_ms):
        line = bytes(self._line)
        self._line = bytearray()
        if self._overlong:
            self._overlong = False
            self._error(prefix_id(line), "line too long (max %d bytes)" % MAX_LINE)
            return
        if not line.strip():
            return
        self.handle(line, now_ms)

    def _error(self, rid, msg):
        self.send(self._fail(rid, msg), True)

    def _fail(self, rid, msg):
        self.errors += 1
        r = {"ok": False, "error": msg}
        if rid is not None:
            r["id"] = rid
        return r

    def handle(self, line, now_ms):
        """One request line (bytes or str): validated whole before anything changes."""
        raw = line if isinstance(line, bytes) else line.encode()
        if b"\\u" in raw:               # an escape: loaded only then (it costs heap)
            from ..core.credentials import pairs, surrogate
            line = raw = pairs(raw)     # a UTF-16 pair as its character's UTF-8; half of one refused
            why = surrogate(raw)
            if why:
                self._error(prefix_id(raw), why)
                return
        try:
            req = json.loads(line)
        except Exception:
            self._error(prefix_id(raw), "not JSON")
            return
        self.send(self.answer(req, now_ms), True)

    def answer(self, req, now_ms, source=V.SRC_CONSOLE):
        """The reply to one request object ({"cmd": ..., arguments}): the web API asks here too, so
        both check and apply a command the same way. source: whose limit or grid reading it is (the
        REST API's is V.SRC_REST, which the fallback watches)."""
        self.src = source
        if not isinstance(req, dict):
            return self._fail(None, "not a JSON object")
        rid = req.get("id")
        if isinstance(rid, bool) or (rid is not None and not isinstance(rid, (int, str))):
            return self._fail(None, "id must be a number or a string")
        cmd = req.get("cmd")
        if not isinstance(cmd, str) or cmd not in COMMANDS:
            return self._fail(rid, "unknown command; try {\"cmd\": \"help\"}")
        try:
            f = getattr(self, "_cmd_" + cmd, None)
            # enable, disable, clear, unlock: App.command's own verb, with nothing to check
            reply = f(req, now_ms) if f is not None else self.app.command(cmd, None, now_ms)
        except ValueError as e:          # a bad argument: nothing was changed
            return self._fail(rid, "%s: %s" % (cmd, e))
        except Exception as e:           # never into the control loop
            return self._fail(rid, "%s failed: %r" % (cmd, e))
        reply["ok"] = True
        if rid is not None:
            reply["id"] = rid
        return reply

    # --- commands: each validates its arguments before it changes anything ---
    def _cmd_help(self, req, now):
        return {"commands": list(COMMANDS), "version": VERSION}

    def _cmd_status(self, req, now):
        return self.app.status(now)

    def _cmd_sessions(self, req, now):
        n = req.get("n", SESSIONS_MAX)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= SESSIONS_MAX:
            raise ValueError("n must be 0..%d" % SESSIONS_MAX)
        meter = self.app.meter
        recs = meter.sessions() if meter is not None else []
        return {"sessions": recs[-n:] if n else [], "metered": meter is not None}

    def _cmd_history(self, req, now):
        """The charging history as CSV (evse.services.history), the newest n sessions."""
        n = req.get("n", HISTORY_MAX)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= HISTORY_MAX:
            raise ValueError("n must be 0..%d" % HISTORY_MAX)
        from . import history
        recs = self.app.sessions()
        return {"csv": history.csv(recs[-n:] if n else []), "sessions": len(recs)}

    def _cmd_limit(self, req, now):
        if "amps" not in req:            # a misspelt key must never lift the limit it meant to set
            raise ValueError("amps must be given: a number 0..%d, or null to remove the limit" % L.AMPS_MAX)
        try:
            return self.app.command("limit", req.get("amps"), now, self.src)
        except ValueError as e:
            raise ValueError("amps must be a number 0..%d, or null to remove the limit (%s)" % (L.AMPS_MAX, e))

    def _cmd_grid(self, req, now):
        """The grid power (W imported, negative exported) when grid_source is console (rest: the
        REST API's POST /api/v1/grid)."""
        return self.app.command("grid", req.get("watts"), now, self.src)

    def _cmd_authorize(self, req, now):
        tag = req.get("id_tag")
        if not isinstance(tag, str) or not 0 < len(tag) <= 64:
            raise ValueError("id_tag must be a string of 1..64 characters")
        self.id_tag = tag
        ocpp = getattr(self.app, "ocpp", None)
        if ocpp is not None:
            # The central system decides: 'accepted', 'pending' (Authorize sent), 'stopping' (the
            # same tag ends its transaction), 'busy', or a rejection status; see docs/ocpp.md.
            st = ocpp.present_id(tag)      # on the service's own clock
            return {"authorized": st == "accepted", "id_tag": tag, "ocpp": st}
        r = self.app.command("authorize", tag, now)
        r["id_tag"] = tag
        return r

    def _cmd_stop(self, req, now):
        return self.app.command("stop", "console", now)

    def _cmd_log(self, req, now):
        n = req.get("n", LOG_RECORDS_MAX)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= LOG_RECORDS_MAX:
            raise ValueError("n must be 0..%d" % LOG_RECORDS_MAX)
        j = self.app.journal
        from .history import fault_records     # loaded when asked: it costs heap
        return {"records": fault_records(j.records[-n:] if n else []), "counters": j.counters,
                "latched": j.latched}

    def _cmd_settings(self, req, now):
        app = self.app
        from ..core.credentials import masked      # loaded when asked: it costs heap
        r = {"settings": masked(app.cfg), "errors": app.settings_errors, "live": list(LIVE_KEYS),
             "pending": masked(self._pending())}
        if req.get("schema"):
            r["schema"] = {k: [v[1], settings.choices(k)] if v[0] is str else list(v[1:])
                           for k, v in settings.SCHEMA.items()}
        return r

    def _pending(self):
        """The values saved on flash that the running ones are not yet (they apply at the next boot)."""
        cfg = self.app.cfg
        stored, _, blocked = settings.load(self.app.settings_path)
        return dict((k, v) for k, v in stored.items()
                    if k not in LIVE_KEYS and k not in blocked and k in cfg and cfg[k] != v)

    def _cmd_set(self, req, now):
        values = req.get("values")
        from ..core.credentials import masked
        if isinstance(values, dict):     # "(set)": a password as `settings` shows it, kept as it is
            values = masked(values, True)
        if not isinstance(values, dict) or not values:
            raise ValueError("values must be a non-empty object of settings")
        bad = []
        for k in sorted(values):
            if k not in settings.SCHEMA:
                bad.append(k + ": unknown key")
        if bad:
            raise ValueError("; ".join(bad))
        cfg = self._merged(values)
        settings.save(self.app.settings_path, cfg)    # OSError: reply says so, nothing applied
        reboot = self._apply(values, cfg)
        r = {"saved": masked(dict((k, cfg[k]) for k in values)), "reboot": reboot}
        board = self.app.charger.limits[V.SRC_BOARD]    # (every face's set: the REST API's too)
        if "max_current" in values and cfg["max_current"] * 10 > board:
            r["warning"] = "max_current: this board's rating caps the current at %g A" % (board / 10)
        return r

    def _merged(self, values):
        """The settings file as it would be with `values`, validated (ValueError says why)."""
        app = self.app
        stored, errors, lost = settings.load(app.settings_path)   # keep pending (reboot) changes made before
        lost = dict((k, v) for k, v in lost.items() if k not in values)
        for e in errors:                 # a tz not read and no window: not in `lost` (it stops
            if e[:4] == "tz: " and "tz" not in values:     # nothing), kept from UTC all the same
                lost["tz"] = e
        if lost:                         # a default never stands in for a lost guarded value
            raise ValueError("give %s too: %s" % (", ".join(sorted(lost)), settings.reason(lost)))
        for k in app.cfg:
            if k in LIVE_KEYS or k not in stored:
                stored[k] = app.cfg[k]
        new = dict(stored)
        new.update(values)
        cfg, errors = settings.validate(new)
        if errors:
            raise ValueError("refused, nothing changed: " + refused(errors))
        return cfg

    def _apply(self, values, cfg):
        """Live keys take effect now; the others are listed for a reboot."""
        app = self.app
        reboot = []
        blocked = app.settings_blocked
        for k in sorted(values):
            if k in LIVE_KEYS:
                app.cfg[k] = cfg[k]
                if k == "max_current":
                    app.charger.set_limit(V.SRC_SETTINGS, cfg[k])
                blocked.pop(k, None)
            elif cfg[k] != app.cfg.get(k) or k in blocked:
                reboot.append(k)
                if k in blocked:
                    blocked[k] = "%s: saved; applies after a reboot" % k
        app.charger.settings_fault(settings.reason(blocked))
        if "mqtt_url" in values and not cfg["mqtt_url"] and app.mqtt is not None:
            app.mqtt.forget()            # MQTT off: the charger leaves Home Assistant while connected
        return reboot

    def _cmd_reboot(self, req, now):
        self.reboot_pending = True       # after this reply has gone out
        return {"rebooting": True}

    # --- events from the core (a listener) ---
    def on_event(self, ev, now_ms):
        kind = ev[0]
        line = _line(ev, now_ms)
        if line is not None:
            self._queue(line.encode())
            return
        if kind == V.EV_SESSION:
            e = {"ev": kind, "what": ev[1], "reason": ev[2] if len(ev) > 2 else None}
        else:
            e = {"ev": str(kind), "data": [x if isinstance(x, (int, float, str, bool)) or x is None
                                           else repr(x) for x in ev[1:]]}
        e["t"] = now_ms
        self.send(e)

    def log_line(self, level, msg, t_ms):
        """From evse.services.log: a log line as an event."""
        self.send({"ev": "log", "level": level, "msg": msg, "t": t_ms})


# The core's frequent events as JSON lines from templates: their fields are vocabulary names, bools
# and finite numbers. json.dumps of a dict costs about 3x as much on the Pico (a state line 280 ->
# 86 us, a pwm line 500 -> 370 us), and a state change brings up to four lines in one tick.
_TEMPLATES = {V.EV_STATE: '{"ev": "' + V.EV_STATE + '", "state": "%s", "t": %d}\n',
              V.EV_PWM: '{"ev": "' + V.EV_PWM + '", "duty": %s, "amps": %s, "t": %d}\n',
              V.EV_CONTACTOR: '{"ev": "' + V.EV_CONTACTOR + '", "closed": %s, "t": %d}\n',
              V.EV_FAULT: '{"ev": "' + V.EV_FAULT + '", "fault": "%s", "set": %s, "t": %d}\n'}


def _line(ev, now_ms):
    """The event's line from its template, or None when it has none."""
    kind = ev[0]
    tpl = _TEMPLATES.get(kind)
    if tpl is None:
        return None
    if kind == V.EV_STATE:
        return tpl % (ev[1], now_ms)
    if kind == V.EV_PWM:
        return tpl % (ev[1], ev[2], now_ms)
    if kind == V.EV_CONTACTOR:
        return tpl % ("true" if ev[1] else "false", now_ms)
    return tpl % (ev[1], "true" if ev[2] else "false", now_ms)


def attach(app, stream=None):
    """Wire the console (and the log) into the app: at boot on the board and the virtual board."""
    from .log import Log
    log = Log(app.flash_dir)
    con = Console(app, stream if stream is not None else StdioStream(), log)
    log.console = con
    app.services.append(con)
    app.services.append(log)
    app.listeners.append(con)
    app.console = con
    app.log = log
    for e in app.settings_errors:
        log.warn("settings: " + e)
    if app.charger.settings_error:
        log.error("settings: nothing is offered: " + app.charger.settings_error)
    uart_id = getattr(app.board, "CONSOLE_UART", None)    # a second console where one is wired
    if uart_id is not None:
        u = UartStream(app.hw.open_uart(uart_id, 115200))
        con2 = Console(app, u, log)
        app.services.append(con2)
        app.listeners.append(con2)
    return con
