"""A scripted OCPP 1.6 central system for tests: the PyPI `ocpp` library's v16 ChargePoint on a
`websockets` server at 127.0.0.1 (random free port, optional TLS and HTTP Basic auth).

Everything a charge point sends is recorded in arrival order (`cs.calls`: (action, payload) with
the payload exactly as sent); the library validates every payload against the OCPP 1.6 JSON
schemas both ways, so a malformed message from the firmware fails the test."""
import asyncio
import base64
import json
import time
import uuid
from datetime import datetime, timezone

from ocpp.routing import on
from ocpp.v16 import ChargePoint as _LibChargePoint
from ocpp.v16 import call, call_result
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from evse.core import ticks as _ticks
from tools.cs import Notifications


class HostClock:
    """Real tick clock for the OCPP service under CPython: monotonic ms wrapping like the ports'
    ticks_ms. Tests pass it explicitly, so a virtual clock that other tests registered in `time`
    (tools.sim.mock_machine.install) is never picked up."""

    ticks_diff = staticmethod(_ticks.ticks_diff)
    ticks_add = staticmethod(_ticks.ticks_add)

    def __init__(self):
        self._t0 = time.monotonic()

    def ticks_ms(self):
        return int((time.monotonic() - self._t0) * 1000) & ((1 << 30) - 1)


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _CP(Notifications, _LibChargePoint):
    """The central system's view of one connected charge point."""

    def __init__(self, cs, cp_id, connection):
        super().__init__(cp_id, connection, response_timeout=10)
        self.cs = cs

    async def route_message(self, raw_msg):
        self.cs.raw_in.append(raw_msg)
        try:
            msg = json.loads(raw_msg)
        except ValueError:
            msg = None
        if isinstance(msg, list) and len(msg) >= 3 and isinstance(msg[1], str):
            if msg[0] == 2:
                self.cs.calls.append((msg[2], msg[3] if len(msg) > 3 else None))
            elif msg[1] in self.cs.raw_waiters:  # answer to a raw frame sent by a test
                self.cs.raw_waiters.pop(msg[1]).set_result(msg)
                return
        self.cs.changed.set()
        await super().route_message(raw_msg)

    # Every CALL a charge point may send; answers come from cs.respond().
    @on("BootNotification")
    def _boot(self, **kw):
        return self.cs.respond("BootNotification", kw)

    @on("Heartbeat")
    def _heartbeat(self, **kw):
        return self.cs.respond("Heartbeat", kw)

    @on("StatusNotification")
    def _status(self, **kw):
        return self.cs.respond("StatusNotification", kw)

    @on("Authorize")
    def _authorize(self, **kw):
        return self.cs.respond("Authorize", kw)

    @on("StartTransaction")
    def _start(self, **kw):
        return self.cs.respond("StartTransaction", kw)

    @on("StopTransaction")
    def _stop(self, **kw):
        return self.cs.respond("StopTransaction", kw)

    @on("MeterValues")
    def _meter(self, **kw):
        return self.cs.respond("MeterValues", kw)

    @on("SignCertificate")
    async def _sign_certificate(self, **kw):
        hold = self.cs.holds.get("SignCertificate")
        if hold:        # the answer waits; meanwhile this connection reads nothing (as the library does)
            await hold.wait()
        return self.cs.respond("SignCertificate", kw)


class CentralSystem:
    cp_class = _CP   # the view of one charge point (octt_cs validates every frame in its own)

    def __init__(self, boot_status=("Accepted",), heartbeat=300, boot_interval=1, accepted_tags=("GOOD",),
                 password=None, ssl_context=None):
        self.calls = []  # (action, payload) from charge points, in arrival order
        self.raw_in = []
        self.raw_waiters = {}
        self.boot_status = list(boot_status)  # successive answers; the last one repeats
        self.heartbeat = heartbeat
        self.boot_interval = boot_interval
        self.accepted_tags = set(accepted_tags)
        self.password = password
        self.ssl_context = ssl_context
        self.auth_headers = []
        self.rejected_logins = 0
        self.cps = {}
        self.next_txid = 100
        self.open_tx = {}
        self.overrides = {}  # action -> callable(kw) -> call_result
        self.holds = {}      # action -> asyncio.Event: its answer goes out once the event is set
        self.close_codes = []  # each ended connection's WebSocket close code (1006: no Close frame)
        self.connections = 0   # connections opened (a link that comes back sends no BootNotification)
        self.changed = asyncio.Event()
        self.server = None
        self.port = 0

    # -- answers --------------------------------------------------------------------------------
    def respond(self, action, kw):
        if action in self.overrides:
            return self.overrides[action](kw)
        if action == "BootNotification":
            st = self.boot_status.pop(0) if len(self.boot_status) > 1 else self.boot_status[0]
            return call_result.BootNotification(current_time=now_iso(),
                                                interval=self.heartbeat if st == "Accepted" else self.boot_interval,
                                                status=st)
        if action == "Heartbeat":
            return call_result.Heartbeat(current_time=now_iso())
        if action == "StatusNotification":
            return call_result.StatusNotification()
        if action == "Authorize":
            return call_result.Authorize(id_tag_info={"status": self._tag_status(kw["id_tag"])})
        if action == "StartTransaction":
            txid = self.next_txid
            self.next_txid += 1
            self.open_tx[txid] = kw
            return call_result.StartTransaction(transaction_id=txid,
                                                id_tag_info={"status": self._tag_status(kw["id_tag"])})
        if action == "StopTransaction":
            self.open_tx.pop(kw["transaction_id"], None)
            return call_result.StopTransaction()
        if action == "MeterValues":
            return call_result.MeterValues()
        if action == "SignCertificate":
            return call_result.SignCertificate(status="Accepted")
        raise KeyError(action)

    def _tag_status(self, tag):
        return "Accepted" if tag in self.accepted_tags else "Invalid"

    # -- server ---------------------------------------------------------------------------------
    def _process_request(self, connection, request):
        hdr = request.headers.get("Authorization")
        self.auth_headers.append(hdr)
        if self.password is not None:
            cp_id = request.path.rstrip("/").split("/")[-1]
            want = "Basic " + base64.b64encode(("%s:%s" % (cp_id, self.password)).encode()).decode()
            if hdr != want:
                self.rejected_logins += 1
                return Response(401, "Unauthorized", Headers([("WWW-Authenticate", 'Basic realm="ocpp"')]), b"")
        return None

    async def _handler(self, connection):
        cp_id = connection.request.path.rstrip("/").split("/")[-1]
        cp = self.cp_class(self, cp_id, connection)
        self.cps[cp_id] = cp
        self.connections += 1
        self.changed.set()
        try:
            await cp.start()
        except Exception:
            pass  # connection closed
        finally:
            self.close_codes.append(connection.close_code)
            if self.cps.get(cp_id) is cp:
                del self.cps[cp_id]

    async def start(self, port=0):
        self.server = await serve(self._handler, "127.0.0.1", port or self.port, subprotocols=["ocpp1.6"],
                                  process_request=self._process_request, ssl=self.ssl_context,
                                  max_size=2 ** 22)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self):
        """Go away: close the listening socket and every connection."""
        if self.server:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        self.cps.clear()

    def url(self):
        return "%s://127.0.0.1:%d/ocpp" % ("wss" if self.ssl_context else "ws", self.port)

    # -- scripting ------------------------------------------------------------------------------
    def actions(self, name=None):
        return [p for a, p in self.calls if a == name] if name else [a for a, _ in self.calls]

    async def wait_for(self, pred, timeout=10.0):
        """Wait until pred() is truthy (re-checked whenever a message arrives)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            r = pred()
            if r:
                return r
            left = end - loop.time()
            if left <= 0:
                raise AssertionError("timed out; calls so far: %r" % (self.actions(),))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.1))
            except asyncio.TimeoutError:
                pass

    async def wait_action(self, action, count=1, timeout=10.0):
        return await self.wait_for(lambda: len(self.actions(action)) >= count and self.actions(action), timeout)

    async def wait_connected(self, cp_id, timeout=10.0):
        return await self.wait_for(lambda: self.cps.get(cp_id), timeout)

    async def call(self, cp_id, payload):
        """A validated CALL through the library; returns its (validated) answer."""
        return await self.cps[cp_id].call(payload, suppress=False)

    async def send_raw(self, cp_id, text, uid=None, timeout=3.0):
        """Send any text frame; return the charge point's answer (a list) to `uid`, or None."""
        fut = None
        if uid is not None:
            fut = asyncio.get_running_loop().create_future()
            self.raw_waiters[uid] = fut
        await self.cps[cp_id]._connection.send(text)
        if fut is None:
            return None
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.raw_waiters.pop(uid, None)
            return None


def new_uid():
    return "fz" + uuid.uuid4().hex[:16]


__all__ = ["CentralSystem", "HostClock", "call", "call_result", "new_uid", "now_iso"]
