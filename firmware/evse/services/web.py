# The web page and the REST API (docs/web.md; the API in docs/openapi.yaml), on PyPI's microdot
# (installed on the board's /lib by tools/flash.py, frozen by manifest.py; never copied here).
# Imported only when the setting web_port is not 0, or for the Wi-Fi set-up page: off, it costs no heap.
# It speaks to the charger only through App.status() and the console's own command checks
# (Console.answer, which ends in App.command): one set of rules for every way in.
# An asyncio task beside the control loop: each handler does bounded work and awaits its socket.
import asyncio
import binascii
import json
import os

from microdot import Microdot, Request, Response
from microdot.websocket import with_websocket

from . import words
from ..core import vocab as V
from ..shell.hal import ticks_ms, ticks_diff, utc_seconds
from ..shell.store import join

API = "/api/v1"
SETUP_PORT = 80                  # the set-up page's port when web_port is 0 (a phone opens http://)
PAGE = "www/index.html.gz"       # gzipped on flash by tools/flash.py from firmware/www/index.html
FW_DIR = "fw"                    # the firmware slots (evse/shell/bundle.py; ROOT "/fw" on a board)
FW_MARK = "/web.json"            # in FW_DIR while a web update waits for its confirmation
WRITE_CMDS = ("limit", "grid", "enable", "disable", "authorize", "stop", "clear", "unlock")
FIELDS = {"limit": ("amps",), "grid": ("watts",), "authorize": ("id_tag",), "login": ("password",),
          "set": ("values",)}        # a body's fields (openapi.json); the other commands take none
SETTINGS_CMD = "settings"        # the console's command (not the fault of that name)
TOKENS_MAX = 4                   # logged-in browsers at once; the oldest is logged out
TOKEN_IDLE_S = 1800              # a token unused this long ends, and any this old (ASVS 4.0 3.3.2,
TOKEN_LIFE_S = 12 * 3600         # level 2: 30 minutes idle, 12 hours): the browser asks for the password
WS_MAX = 2                       # WebSocket clients at once (each costs a socket and a buffer)
WS_PERIOD_MS = 250               # how often a WebSocket's status is compared and, when changed, sent
WS_RESEND_MS = 10000             # sent unchanged this often too: a browser gone is noticed, its slot freed
WS_IN_MAX = 1024                 # bytes of a client's message (the page sends none): longer, Close 1009
FAIL_DELAY_S = 1                 # after a wrong password: slows guessing, never the control loop
IDLE_S = 10                      # a client silent this long in a request is dropped, and one whose head
                                 # (line, headers, JSON body) takes longer: a browser's spare connections
                                 # would hold a board's few sockets (ESP-IDF's lwIP: 10 by default)
BODY_MAX = 2048                  # bytes of a request body (a settings change is well below)
HEAD_MAX = 4096                  # bytes of a request's line and headers (a browser's: under 1.5 KB)
CONN_MAX = 16                    # connections served at once, WebSockets too (8 API clients and their
                                 # closing ones, a browser's page and socket): the next is answered 503 at
                                 # once, unless the address holding the most holds more than the newcomer
                                 # would: its oldest connection whose head has not come is closed for it (one
                                 # machine, or a few, never keeps the owner's phone from the page). Each
                                 # held 2.7 KB of the unix port's heap doing nothing: 50 ran it out
HELD_MAX = 8192                  # bytes of heads and JSON bodies all open connections hold together (a
                                 # browser's head: under 1.5 KB): one more refuses its connection (400).
                                 # 4 KB of head held 11 KB of heap: ten clients at HEAD_MAX ran it out
BUSY_MAX = 4                     # connections answered 503 that wait for their request to be read
BUSY_WAIT_S = 1                  # how long (a browser's head comes with its connection)
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
        b"Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        b'{"ok": false, "error": "too many connections: try again"}')
PAGE_HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'",   # no other site frames a page's
                "X-Frame-Options": "DENY",                             # controls (clickjacking); the
                "X-Content-Type-Options": "nosniff"}                   # page and the set-up page
LOCAL_NAMES = (".local", ".home.arpa", ".internal", ".lan", ".home", ".localdomain", ".fritz.box")
                                 # names no other site can have (mDNS, RFC 8375, ICANN's private use,
                                 # home routers'): a page whose own name was rebound to the charger has not
UPLOAD_MAX = 512 * 1024          # a firmware bundle (evse.services.webfw), streamed to flash: more than
                                 # the whole firmware as .mpy (about 170 KB)


def view(st):
    """The web status: App.status() flattened, with the words a person reads."""
    e = st.get("energy") or {}
    n = st.get("net") or {}
    d = st["diag"]
    letter, meaning = words.state(st["state"])
    return {"wifi": n.get("wifi"), "wifi_error": n.get("error"), "setup_ap": n.get("setup_ap"),
            "state": st["state"], "iec_state": letter, "state_text": meaning,
            "contactor": st["contactor"], "offered_a": st["amps"], "duty": st["duty"],
            "pilot": st["pilot"], "limit_a": st["limit"], "limit_by": st["limit_by"],
            "car_min_a": st["car_min_a"],
            "enabled": st["enabled"], "authorized": st["authorized"], "session": st["session"],
            "fault": st["fault"], "fault_text": words.fault(st["fault"]),
            "fault_reason": st["fault_reason"], "latched": st["latched"],
            "latched_text": words.fault(st["latched"]),
            "current_a": e.get("amps"), "power_w": e.get("power_w"),
            "session_wh": e.get("wh_session"), "total_wh": e.get("wh_total"),
            "meter": e.get("kind"), "meter_error": e.get("error"),
            "temp_c": st["temp_c"], "temp_sensor_broken": st["temp_sensor_broken"], "lock": st["lock"],
            "cp_high_v": d["cp_high_v"], "cp_low_v": d["cp_low_v"],
            "pp_ohms": d["pp_ohms"], "diode": words.diode(st),
            "tick_gap_ms": st["tick_gap_ms"], "t": st["t"]}


def same(a, b):
    """Compare in a time that tells neither how many leading characters matched nor b's length
    (a the supplied value, b the secret)."""
    r = len(a) ^ len(b)
    for i in range(len(a)):
        r |= ord(a[i]) ^ ord(b[i % len(b)]) if b else 1
    return r == 0


def _credentials(req):
    """(scheme in lower case, credentials) of the Authorization header (RFC 9110 11.1: the scheme
    in any case); ("", "") without one."""
    scheme, _, cred = (req.headers.get("Authorization") or "").partition(" ")
    return scheme.lower(), cred.strip()


def _error(code, msg):
    return {"ok": False, "error": msg}, code


def _denied(msg):
    """401, with the scheme to answer it (RFC 9110 15.5.2); Bearer: a browser asks for no password."""
    return {"ok": False, "error": msg}, 401, {"WWW-Authenticate": 'Bearer realm="evse"'}


def _body(req):
    """The request's JSON object ({} when empty); ValueError when it is not one."""
    if req.content_length > BODY_MAX:
        raise ValueError("body over %d bytes" % BODY_MAX)
    raw = req.body
    if not raw:
        return {}
    if b"\\u" in raw:                   # a UTF-16 pair joined, half of one refused: as the console
        from ..core.credentials import pairs, surrogate
        raw = pairs(raw)
        why = surrogate(raw)
        if why:
            raise ValueError(why)
    try:
        obj = json.loads(raw.decode())
    except Exception:
        raise ValueError("not JSON")
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def _only(obj, name):
    """obj, the body of `name`; ValueError for a field it does not take: a misspelt or guessed one
    (`{"amps": 10, "phases": 1}`) is refused, never silently ignored."""
    known = FIELDS.get(name, ())
    for k in obj:
        if k not in known:
            raise ValueError("%s: unknown field %s (it takes %s)" % (name, json.dumps(k), ", ".join(known) or "none"))
    return obj


def own_name(host):
    """Whether a Host header names the charger as no page of another site can (DNS rebinding: the
    page of evil.example, its name now resolved to the charger, sends Host evil.example): an IP
    literal, a name of one label (localhost, the router's name for it), or under LOCAL_NAMES."""
    h = host.lower()
    if h[:1] == "[":                                # an IPv6 literal
        return True
    h = (h.rpartition(":")[0] or h).rstrip(".")     # its port dropped
    if "." not in h or h.replace(".", "").isdigit():
        return True
    for n in LOCAL_NAMES:
        if h.endswith(n):
            return True
    return False


def has_wifi(app):
    """A board with Wi-Fi: its set-up access point opens when no network is configured, or when the
    configured one cannot be joined, and this service serves the set-up page there (on web_port, or
    SETUP_PORT when web_port is 0)."""
    return "net" in app.status(ticks_ms())


def _peer(addr):
    """The client's address from a peername: CPython's and a board's (host, port), the unix port's
    raw sockaddr_in (its 4 address bytes); None when unknown."""
    if isinstance(addr, tuple):
        return addr[0]
    return "%d.%d.%d.%d" % tuple(addr[4:8]) if addr else None


class _Refuse(Exception):
    """A client's frame that breaks RFC 6455: the connection fails with this Close code (7.4.1)."""


async def _ws_frame(rd):
    """(fin, opcode, payload) of a client's frame (RFC 6455 5.2): masked (5.1), no RSV bit without an
    extension, a known opcode, a control frame whole and of 125 bytes at most (5.5)."""
    h = await rd.readexactly(2)
    op = h[0] & 15
    n = h[1] & 127
    if h[0] & 0x70 or not h[1] & 0x80 or 2 < op < 8 or op > 10 \
            or op > 7 and (n > 125 or not h[0] & 0x80):
        raise _Refuse(1002)
    if n > 125:
        n = int.from_bytes(await rd.readexactly(2 if n == 126 else 8), "big")
    if n > WS_IN_MAX:
        raise _Refuse(1009)
    mask = await rd.readexactly(4)
    data = bytearray(await rd.readexactly(n))
    for i in range(n):
        data[i] ^= mask[i & 3]
    return h[0] & 0x80, op, data


def _utf8(b):
    try:
        bytes(b).decode()
    except UnicodeError:
        raise _Refuse(1007)


def _close_reply(data):
    """Our Close's payload for the client's (RFC 6455 5.5.1): its code echoed, none for none; a code
    no endpoint may send (7.4) or a reason not UTF-8 fails the connection."""
    if not data:
        return b""
    code = data[0] << 8 | data[1] if len(data) > 1 else 0
    if code < 1000 or 1004 <= code <= 1006 or 1015 <= code < 3000 or code > 4999:
        raise _Refuse(1002)
    _utf8(data[2:])
    return bytes(data[:2])


async def _ws_hear(ws):
    """The client's frames until its Close: the payload of the Close to answer it with. A Ping gets
    its Pong; messages (fragmented too, 5.4) are read and dropped, a text one checked as UTF-8."""
    rd = ws.request.sock[0]
    kind = 0                            # the message being received: 1 text, 2 binary, 0 none
    size = 0
    msg = bytearray()
    while True:
        fin, op, data = await _ws_frame(rd)
        if op == 8:
            return _close_reply(data)
        if op == 9:
            await ws.send(bytes(data), 10)
        elif op < 3:
            if (op == 0) != (kind != 0):   # a continuation of nothing, or a new message inside one
                raise _Refuse(1002)
            kind = kind or op
            size += len(data)
            if size > WS_IN_MAX:
                raise _Refuse(1009)
            if kind == 1:
                msg += data
            if fin:
                if kind == 1:
                    _utf8(msg)
                kind = size = 0
                msg = bytearray()


def _parses(line, first):
    """Whether microdot reads this line of a head without an exception, whose traceback it prints
    (on a board, to the console's serial line while the loop waits): UTF-8 within its max_readline,
    a request line of three words ending in HTTP/x, a header `name: value`, a Content-Length of
    digits (a negative one is refused later, in the API's words)."""
    if len(line) > Request.max_readline:
        return False
    try:
        s = line.decode().strip()
    except UnicodeError:
        return False
    if first:
        w = s.split()
        return len(w) == 3 and "/" in w[2]
    name, colon, value = s.partition(":")
    if not s or name.lower() != "content-length":
        return not s or colon == ":"
    v = value.strip()
    return v.isdigit() or v[:1] == "-" and v[1:].isdigit()


class _Reader:
    """A client's stream whose reads give up after IDLE_S of silence, as the OSError microdot mutes
    (it answers 400 and closes); a WebSocket lifts it (idle None): a status page listens for hours.
    A request's head (its line and headers) is read a piece at a time and refused the same way past
    HEAD_MAX bytes: microdot keeps any number of headers, and asyncio a line of any length, until
    the heap runs out. What it reads before its request is served is counted in its server's
    held, HELD_MAX for all connections together (_Http)."""

    def __init__(self, s, srv):
        self.s = s
        self.srv = srv
        self.held = 0                   # bytes of its head and JSON body counted in srv.held
        self.idle = IDLE_S
        self.t0 = ticks_ms()            # the head's start; None once its request is served
        self.task = None  # type: asyncio.Task | None  # the task serving it (_Http: closed for another address)
        self.closing = False
        self.buf = b""                  # read past the last line given
        self.head = 0                   # bytes of the head so far

    async def _wait(self, f, n):
        if not self.idle:
            return await f(n)
        t = self.idle
        if self.t0 is not None:         # the whole head within IDLE_S: not a byte every 9 s for ever
            t -= ticks_diff(ticks_ms(), self.t0) / 1000
        try:
            if t > 0:
                return await asyncio.wait_for(f(n), t)
        except asyncio.TimeoutError:
            pass
        raise OSError(104, "")          # microdot closes it quietly (errno 104)

    def _hold(self, n):
        if self.t0 is None:             # served: a bundle's bytes go to flash, a WebSocket's are bounded
            return
        self.held += n
        self.srv.held += n
        if self.srv.held > HELD_MAX:
            raise OSError(104, "")

    def give_back(self):
        """Its head no longer counted: a WebSocket's, which lives for hours (WS_MAX of them)."""
        self.srv.held -= self.held
        self.held = 0

    async def read(self, n=-1):
        if not self.buf:
            return await self._wait(self.s.read, n)
        b = self.buf if n < 0 else self.buf[:n]
        self.buf = self.buf[len(b):]
        return b

    async def readline(self):
        while b"\n" not in self.buf:
            if self.head + len(self.buf) > HEAD_MAX:
                raise OSError(104, "")
            more = await self._wait(self.s.read, 256)
            if not more:
                if self.head or self.buf:   # the client gone mid-head: not served as if whole
                    raise OSError(104, "")
                break
            self._hold(len(more))
            self.buf += more
        i = self.buf.find(b"\n") + 1 or len(self.buf)
        line, self.buf = self.buf[:i], self.buf[i:]
        first = not self.head
        self.head = 0 if line in (b"\r\n", b"\n") else self.head + i      # a blank line ends the head
        if self.head > HEAD_MAX or line and not _parses(line, first):
            raise OSError(104, "")      # refused quietly: 400, closed
        return line

    async def readexactly(self, n):
        b, self.buf = self.buf[:n], self.buf[n:]
        if len(b) < n:
            self._hold(n - len(b))      # before it is read: a JSON body of BODY_MAX at most
            b += await self._wait(self.s.readexactly, n - len(b))
        return b

    def __getattr__(self, name):
        return getattr(self.s, name)


async def _bye(ws, payload):
    """Our Close (RFC 6455 5.5.1), with its code; microdot's wrapper then sends no second one."""
    ws.closed = True
    await ws.send(payload, 8)


class _Http(Microdot):
    """microdot with its connections bounded: CONN_MAX at once, shared between the addresses,
    HELD_MAX bytes held by their heads."""
    conns = 0
    held = 0
    refusing = 0

    def __init__(self):
        Microdot.__init__(self)
        self.peers = {}                 # address: its connections' _Readers, oldest first (CONN_MAX in all)

    async def _busy(self, reader, writer):
        """503, and its request read (for BUSY_WAIT_S at most) before the close: closed unread, the
        connection is reset, the 503 lost before the client reads it. Past BUSY_MAX refusals
        waiting, closed at once: a flood of connections holds no more heap."""
        self.refusing += 1
        try:
            await writer.awrite(BUSY)
            if self.refusing <= BUSY_MAX:
                await asyncio.wait_for(reader.read(512), BUSY_WAIT_S)
        except (OSError, asyncio.TimeoutError):      # gone already, or sent nothing
            pass
        finally:
            self.refusing -= 1
        try:
            await writer.aclose()
        except OSError:
            pass

    def _make_room(self, n):
        """Whether a connection of the address holding the most, more than n + 1 (what the newcomer
        would hold), whose head has not come (silent or slow: nothing of it served yet) was closed."""
        most = None
        for rs in self.peers.values():
            if len(rs) > n + 1 and (most is None or len(rs) > len(most)):
                most = rs
        for r in most or ():
            if r.t0 is not None and not r.closing:       # the oldest first
                r.closing = True
                if r.task is not None:
                    r.task.cancel()
                return True
        return False

    async def handle_request(self, reader, writer):
        peer = _peer(writer.get_extra_info("peername"))
        mine = self.peers.get(peer) or []
        if self.conns >= CONN_MAX and not self._make_room(len(mine)):
            await self._busy(reader, writer)
            return
        self.conns += 1
        r = _Reader(reader, self)
        r.task = asyncio.current_task()
        mine.append(r)
        self.peers[peer] = mine
        try:
            await Microdot.handle_request(self, r, writer)
        except asyncio.CancelledError:                 # closed for another address (_make_room)
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass
        finally:
            self.conns -= 1
            self.held -= r.held
            mine.remove(r)
            if not mine:
                del self.peers[peer]


class Web:
    def __init__(self, app, console):
        self.app = app
        self.console = console
        self.port = app.cfg["web_port"] or SETUP_PORT
        self.page = join(app.flash_dir, PAGE)
        self.fw_dir = join(app.flash_dir, FW_DIR)
        self.tokens = []                             # [token, ticks issued, ticks last used]
        self._pw = app.cfg["web_password"]
        self.ws_clients = 0
        self.guessing = asyncio.Lock()               # one password judged at a time (_guess)
        self.queues = {}                             # address: [its own Lock, its guesses waiting]
        self.lockout = None                          # evse.services.weblock, once a password is given
        self._tz = (None, None)                      # (tz setting, parsed) for local()
        Request.max_content_length = UPLOAD_MAX      # larger than BODY_MAX: streamed, never in RAM
        Request.max_body_length = BODY_MAX
        self.http = _Http()
        self._routes(self.http)
        if has_wifi(app):                            # the Wi-Fi set-up page's routes (evse.services.wifisetup)
            from .wifisetup import Setup
            Setup(app, self.http, self._check, self._ask, _body)
        self.ssl, self.https = self._tls()
        self.fw = None                               # evse.services.webfw, once it is asked for
        try:
            os.stat(self.fw_dir + FW_MARK)           # a web update waits for its confirmation
            self._updater()
        except OSError:
            pass

    def _tls(self):
        """(server TLS context or None, what the status says) for web_tls (evse.services.webtls)."""
        app = self.app
        if not (app.cfg["web_tls"] and app.cfg["web_port"]):     # the set-up page stays http://
            return None, "off"
        from . import webtls                           # only with web_tls: it costs heap
        return webtls.context(app, join(app.flash_dir, webtls.CERT), join(app.flash_dir, webtls.KEY),
                              self.port)

    def _routes(self, h):
        h.route("/")(self._index)
        h.route(API + "/status")(self._status)
        self._upgrade = with_websocket(self._listen)
        h.route(API + "/ws")(self._ws)
        h.route(API + "/login", methods=["POST"])(self._login)
        h.route(API + "/logout", methods=["POST"])(self._logout)
        h.route(API + "/settings", methods=["GET", "PUT"])(self._settings)
        h.route(API + "/log")(self._log)
        h.route(API + "/sessions")(self._sessions)
        h.route(API + "/history")(self._history)
        h.route(API + "/firmware", methods=["GET", "POST"])(self._firmware)
        h.route(API + "/<cmd>", methods=["POST"])(self._command)
        h.options_handler = self._options
        h.before_request(self._refuse_unframed_or_foreign)
        h.after_error_request(self._json_error)
        h.after_request(self._no_store)

    def _allow(self, req):
        """The methods req's path answers (RFC 9110 Allow): the commands' route only for a command."""
        allow = []
        for methods, pattern, _, _, _ in self.http.url_map:
            args = pattern.match(req.path)
            if args is not None and args.get("cmd", WRITE_CMDS[0]) in WRITE_CMDS:
                allow += methods
        if "GET" in allow:
            allow.append("HEAD")
        return allow

    def _options(self, req):
        return {"Allow": ", ".join(self._allow(req) + ["OPTIONS"])}

    def _no_route(self, req):
        """404 for a path nothing answers, 405 with its Allow for a method it does not take."""
        if req is None or not self._allow(req):
            return _error(404, "not found: " + (req.path if req else "?"))
        r = _error(405, "%s is not allowed here" % req.method)
        return r[0], r[1], self._options(req)

    async def _refuse_unframed_or_foreign(self, req):
        """The before-request hook (its head is in: no more head deadline). Refused before anything
        acts: a body without a Content-Length (Transfer-Encoding, RFC 9112 6.1: microdot would read it
        as empty; a negative one), and what a page of another site sends (its Origin,
        RFC 6454 7, is not this Host): its WebSocket would read the status from any web page the
        owner opens, its POST act with what a browser sends by itself (Basic auth it has cached)."""
        if isinstance(req.sock[0], _Reader):
            req.sock[0].t0 = None                   # its head is in: it is served
        if "Transfer-Encoding" in req.headers:
            return _error(501, "Transfer-Encoding is not supported: send the body with a Content-Length")
        if req.content_length < 0:                  # RFC 9112 6.3: no framing (_Reader read none of it)
            return _error(400, "Content-Length must be a number of bytes")
        origin = req.headers.get("Origin")
        if origin is not None and origin.partition("://")[2].lower() != (req.headers.get("Host") or "").lower():
            return _error(403, "a page from %s may not use the charger's API" % origin)
        # a change or a password only at the charger's own name (not /setup: a phone opens it under
        # its captive-portal check's name, which the set-up access point's DNS gives the charger)
        host = req.headers.get("Host")
        if host and req.path.startswith(API) and not own_name(host) and (
                req.method not in ("GET", "HEAD", "OPTIONS") or "Authorization" in req.headers):
            return _error(403, "changes and passwords are taken at the charger's address or local "
                               "name, not %s (docs/web.md)" % host)

    async def _json_error(self, req, res):
        """microdot's own error replies (a request it could not parse, no route, a body too large, a
        WebSocket without its upgrade) in the API's JSON shape (openapi.json's Error)."""
        code = res.status_code
        if code >= 400 and "Content-Type" not in res.headers:
            if code in (404, 405):
                r = self._no_route(req)
            elif code == 413:
                r = _error(413, "body over %d bytes" % UPLOAD_MAX)
            else:
                r = _error(code, res.body.decode() if isinstance(res.body, bytes) else "bad request")
            res = Response(*r)
        return await self._no_store(req, res)      # these pass no after-request hook (OPTIONS too)

    async def _no_store(self, req, res):
        """The API's answers are kept in no browser's cache (ASVS 8.2.1): the settings, the log, the
        history with its users' id tags would stay on the disk of a shared computer. A request that
        could not be parsed (no req) is answered so too."""
        if req is None or req.path.startswith(API):
            res.headers["Cache-Control"] = "no-store"
        return res

    def status(self):
        """view()'s, with the charger's clock: its local time to the minute (a WebSocket's push once
        a minute), None while it is not set, and its tz setting."""
        r = view(self.app.status(ticks_ms()))
        r["https"] = self.https
        t = utc_seconds()
        r["clock"] = self.local(t - t % 60) if t is not None else None
        r["tz"] = self.app.cfg["tz"]
        return r

    def local(self, t):
        """UTC seconds as the charger's local time (its tz setting, the planner's): ISO 8601 with
        the offset then, 2026-12-06T13:00:00+01:00. The page shows every time so, in one zone."""
        from . import history
        from . import timetable as T                 # imported once a page asks: heap only then
        tz = self.app.cfg["tz"]
        if tz != self._tz[0]:
            try:
                self._tz = (tz, T.parse_tz(tz))
            except ValueError:                       # checked when set: UTC, its +00:00 shown
                self._tz = (tz, T.parse_tz(""))
        return history.iso_local(t, T.utc_offset(self._tz[1], t))

    # --- who may change things ---
    def _password(self):
        """The web password in force; a change logs every browser out."""
        pw = self.app.cfg["web_password"]
        if pw != self._pw:
            self._pw = pw
            self.tokens = []
        return pw

    async def _check(self, req):
        """None when req may change things, else the error reply (wrong credentials: slowly)."""
        pw = self._password()
        if not pw:
            return _error(403, "no web_password is set: nothing can be changed here until one is "
                               "set on the console ({\"cmd\": \"set\", \"values\": {\"web_password\": ...}})")
        scheme, cred = _credentials(req)
        if scheme == "bearer":
            for t in self._live():
                if same(t[0], cred):
                    t[2] = ticks_ms()
                    return None
        given = None
        if scheme == "basic":
            try:
                user_pw = binascii.a2b_base64(cred).decode()
            except Exception:
                user_pw = ""
            if ":" in user_pw:                                  # RFC 7617 2: user:password
                given = user_pw[user_pw.find(":") + 1:]
        why = "log in first: POST %s/login, or HTTP Basic auth" % API
        if not req.headers.get("Authorization"):
            return _denied(why)
        return await self._guess(given, pw, req, why, scheme != "bearer")   # a token: 128 bits, not guessed

    def _live(self):
        """The tokens, those past TOKEN_IDLE_S unused or TOKEN_LIFE_S old dropped. Run every IDLE_S
        too (run()): a token unused for 2**29 ms (6.2 days, half the ticks' period) would look new."""
        now = ticks_ms()
        self.tokens = [t for t in self.tokens if 0 <= ticks_diff(now, t[2]) < TOKEN_IDLE_S * 1000
                       and ticks_diff(now, t[1]) < TOKEN_LIFE_S * 1000]
        return self.tokens

    async def _sweep(self):
        while True:
            await asyncio.sleep(IDLE_S)
            self._live()
            if self.lockout is not None:
                self.lockout.sweep(ticks_ms())

    async def _guess(self, given, pw, req, why, counted=True):
        """None when given is pw, else the reply: 401 with why, or 429 while its address (or every
        address) is locked out (evse.services.weblock), the right password too. Judged one guess at a time, a
        wrong one holding the next FAIL_DELAY_S: guesses sent in parallel are judged one a second,
        the right one among them too (its answer as late as theirs). Each address's guesses wait
        behind its own first, so that the addresses take turns: the owner's password waits for the
        guess being judged, not for an attacker's whole queue. An await: the control loop runs on."""
        peer = _peer(req.client_addr)
        lock = self.lockout
        if lock is None:                             # its code in RAM only once a password is given
            from .weblock import Lockout
            lock = self.lockout = Lockout(self.app)
        if lock.left_s(peer, ticks_ms()):
            return self._locked(peer)
        q = self.queues.get(peer) or [asyncio.Lock(), 0]
        self.queues[peer] = q
        q[1] += 1
        try:
            async with q[0]:
                async with self.guessing:
                    if lock.left_s(peer, ticks_ms()):       # locked out while it waited
                        return self._locked(peer)
                    if given is not None and same(given, pw):
                        lock.right(peer)
                        return None
                    await asyncio.sleep(FAIL_DELAY_S)
                    if counted:
                        lock.wrong(peer, ticks_ms())
        finally:
            q[1] -= 1
            if not q[1]:
                del self.queues[peer]
        return self._locked(peer) if self.lockout.left_s(peer, ticks_ms()) else _denied(why)

    def _locked(self, peer):
        s = self.lockout.left_s(peer, ticks_ms())
        return ({"ok": False, "error": "too many wrong passwords: try again in %d s" % s}, 429,
                {"Retry-After": str(s)})

    async def _login(self, req):
        pw = self._password()
        if not pw:
            return _error(403, "no web_password is set (set one on the console)")
        try:
            given = _only(_body(req), "login").get("password")
        except ValueError as e:
            return _error(400, str(e))
        if not isinstance(given, str):
            return _error(400, "password must be given as a string")
        bad = await self._guess(given, pw, req, "wrong password")
        if bad is not None:
            return bad
        tok = binascii.hexlify(os.urandom(16)).decode()
        now = ticks_ms()
        self.tokens.append([tok, now, now])
        if len(self.tokens) > TOKENS_MAX:
            self.tokens.pop(0)
        return {"ok": True, "token": tok}

    async def _logout(self, req):
        """The request's Bearer token is forgotten (Basic auth has none: the browser keeps it)."""
        denied = await self._check(req)
        if denied:
            return denied
        scheme, cred = _credentials(req)
        if scheme == "bearer":
            self.tokens = [t for t in self.tokens if not same(t[0], cred)]
        return {"ok": True}

    # --- reading ---
    async def _index(self, req):
        try:
            os.stat(self.page)
        except OSError:
            return "the page is not on flash: make flash copies www/index.html.gz", 404
        r = Response.send_file(self.page, content_type="text/html; charset=utf-8", compressed=True, max_age=0)
        r.headers.update(PAGE_HEADERS)
        return r

    async def _status(self, req):
        return self.status()

    async def _ws(self, req):
        """RFC 6455 4.2.2 and 4.4: an upgrade asking another version than 13, or none, is not taken
        (426 naming 13, or 400); a GET without an upgrade is microdot's 400."""
        hd = req.headers
        v = hd.get("Sec-WebSocket-Version")
        if v != "13" and hd.get("Upgrade"):
            if v is None:
                return _error(400, "Sec-WebSocket-Version: 13 missing")
            return {"ok": False, "error": "WebSocket version 13 only"}, 426, {"Sec-WebSocket-Version": "13"}
        return await self._upgrade(req)

    async def _listen(self, req, ws):
        r = req.sock[0]
        r.idle = None                                # a status page may listen for hours (_Reader)
        if isinstance(r, _Reader):
            r.give_back()
        await self.status_socket(req, ws)

    async def status_socket(self, req, ws):
        """Push the status whenever it differs from the last one sent (compared every WS_PERIOD_MS),
        and every WS_RESEND_MS anyway, while the client's frames are read (_hear). A client over
        WS_MAX gets the error and Close 1013, Try Again Later (IANA's WebSocket registry)."""
        if self.ws_clients >= WS_MAX:
            await ws.send(json.dumps({"ok": False, "error": "too many WebSocket clients"}))
            await _bye(ws, b"\x03\xf5")
            return
        self.ws_clients += 1
        ws.bye = None
        hear = asyncio.create_task(self._hear(ws, asyncio.current_task()))
        try:
            await self._push(ws)
        except asyncio.CancelledError:               # the client closed, or broke RFC 6455 (_hear)
            if ws.bye is not None:
                await _bye(ws, ws.bye)
        finally:
            hear.cancel()
            self.ws_clients -= 1

    async def _hear(self, ws, push):
        """The client's frames (_ws_hear): a Close, a frame against RFC 6455 (answered with the
        Close code of 7.4.1: 1002, 1007, 1009), or the socket's end stops the push at once, its
        slot freed."""
        try:
            ws.bye = await _ws_hear(ws)
        except _Refuse as e:
            ws.bye = e.args[0].to_bytes(2, "big")
        except Exception:                            # the socket ended: no Close to send
            ws.closed = True
        push.cancel()

    async def _push(self, ws):
        last = None
        sent = ticks_ms()
        while True:
            st = self.status()
            t = st.pop("t")
            gap = st.pop("tick_gap_ms")
            text = json.dumps(st)
            if text != last or ticks_diff(t, sent) >= WS_RESEND_MS:
                last = text
                sent = t
                st["t"] = t
                st["tick_gap_ms"] = gap
                try:                                 # a client that reads nothing (gone out of
                    await asyncio.wait_for(ws.send(json.dumps(st)), WS_RESEND_MS / 1000)   # range)
                except asyncio.TimeoutError:         # frees its slot: no Close would get through
                    ws.closed = True
                    return
            await asyncio.sleep(WS_PERIOD_MS / 1000)

    # --- the console's commands, behind the password ---
    def _ask(self, req_obj, code=400):
        r = self.console.answer(req_obj, ticks_ms(), V.SRC_REST)
        return (r, 200) if r.get("ok") else (r, code)

    async def _command(self, req, cmd):
        if cmd not in WRITE_CMDS:
            return self._no_route(req)
        bad = await self._check(req)
        if bad is not None:
            return bad
        try:
            obj = _only(_body(req), cmd)
        except ValueError as e:
            return _error(400, str(e))
        obj["cmd"] = cmd
        return self._ask(obj)

    async def _settings(self, req):
        bad = await self._check(req)
        if bad is not None:
            return bad
        if req.method == "GET":         # each password "(set)" or "" (the console's; "(set)" sent back keeps it)
            return self._ask({"cmd": SETTINGS_CMD, "schema": True})
        try:
            values = _only(_body(req), "set").get("values")
        except ValueError as e:
            return _error(400, str(e))
        return self._ask({"cmd": "set", "values": values})

    async def _log(self, req):
        """The console's `log`, with "causes": the plain words of each fault named in it."""
        ans = await self._read(req, "log")
        r = ans[0]
        if isinstance(r, dict) and r.get("ok"):
            names = set(x[1] for x in r["records"]) | set(r["counters"])
            if r["latched"]:
                names.add(r["latched"])
            r["causes"] = dict((k, words.fault(k)) for k in names)
            from .history import epoch
            r["local"] = dict((x[3], self.local(epoch(x[3]))) for x in r["records"] if x[3])
        return ans

    async def _sessions(self, req):
        return await self._read(req, "sessions")

    async def _read(self, req, cmd):
        bad = await self._check(req)
        if bad is not None:
            return bad
        q = {"cmd": cmd}
        n = req.args.get("n")
        if n is not None:
            try:
                q["n"] = int(n)
            except ValueError:
                return _error(400, "n must be a whole number")
        return self._ask(q)

    async def _history(self, req):
        """The charging history as CSV (the console's `history`, every record): text/csv; its times
        UTC, or with ?times=local the charger's local times (local())."""
        bad = await self._check(req)
        if bad is not None:
            return bad
        from . import history
        local = req.args.get("times") == "local"      # the page's: the charger's local times
        return history.csv(self.app.sessions(), self.local if local else None), 200, {
            "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": 'attachment; filename="evse-history.csv"'}

    # --- firmware update (evse.services.webfw: imported only when used) ---
    def _updater(self):
        if self.fw is None:
            from . import webfw
            self.fw = webfw.Updater(self.app, self.console, self.fw_dir)
        return self.fw

    async def _firmware(self, req):
        bad = await self._check(req)
        if bad is not None:
            return bad
        if req.method == "GET":
            return self._updater().status()
        return await self._updater().upload(req)

    async def run(self):
        asyncio.create_task(self._sweep())
        if self.fw is not None:                      # the first boot after a web update
            asyncio.create_task(self.fw.after_boot())
        if self.ssl is not None:
            from . import webtls
            asyncio.create_task(webtls.redirects(self.app, self.port))
        await self.http.start_server(host="0.0.0.0", port=self.port, ssl=self.ssl)


def attach(app):
    """Wire the web service in (main, after the console: its command checks are reused)."""
    con = getattr(app, "console", None)
    if con is None:
        from .console import Console
        con = Console(app, None)
    app.web = Web(app, con)
    return app.web
