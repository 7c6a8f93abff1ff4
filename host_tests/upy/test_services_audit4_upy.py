# upy-heap: 384k
# (not a board budget: the connects below run with the collector off, so that no finaliser closes a
# socket behind the firmware's back; the heap a board holds is test_boot_heap_upy's)
# The fourth services audit's board behaviour, on both interpreters: a host that never answers the
# connection (a broker or central system switched off behind a router that drops its packets: a
# black hole) is given up at each connect timeout, and each try closes its socket. On MicroPython's
# unix port every MQTT connect cut off by its timeout left one file descriptor open (10 tries: 10
# more, gc.collect() closed none): asyncio.open_connection keeps its socket to itself, and a cancel
# while TCP was under way dropped it unclosed. A board (lwIP, a handful of sockets) waits for the
# garbage collector at best. OCPP's WebSocket and HTTP client open theirs the same way.
import asyncio
import gc
import json
import os
import socket

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.ocpp import http, websocket
from evse.services import mqtt as M
from evse.services import settings as S

import upytest

TRIES = 5
TIMEOUT_S = 0.3


def open_files():
    return len(os.listdir("/proc/self/fd"))


def black_hole():
    """A port on 127.0.0.1 whose listening socket's queue is full: the kernel drops the SYNs after
    it, so a connection there stays under way until the caller gives up (a host that never answers).
    (port, sockets to close)."""
    for port in range(47311, 47411):
        srv = socket.socket()
        try:
            srv.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        except OSError:
            srv.close()
            continue
        srv.listen(0)
        held = [srv]
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            except OSError:
                pass
            held.append(c)
        return port, held
    raise OSError("no free port")


def leaked(setup):
    """Files still open after TRIES connects to a black hole, each given up (an exception);
    setup(port) -> the connect's coroutine function."""
    port, held = black_hole()
    connect = setup(port)

    async def main():
        for _ in range(TRIES):
            try:
                await connect()
                assert False, "connected to a black hole"
            except AssertionError:
                raise
            except Exception:
                pass
    gc.collect()
    before = open_files()
    gc.disable()                        # no finaliser closes them behind the firmware's back
    try:
        asyncio.run(main())
        return open_files() - before
    finally:
        gc.enable()
        for s in held:
            s.close()


def test_mqtt_connects_cut_by_their_timeout_leave_no_socket_open():
    M.CONNECT_TIMEOUT_S = TIMEOUT_S

    def setup(port):
        svc = Rig(config={"max_current": 32, "mqtt_url": "mqtt://127.0.0.1:%d" % port}).app.mqtt

        async def connect():          # one try of the service's own loop, stopped in its pause
            svc.running, svc.last_error = True, None
            task = asyncio.create_task(svc.run())
            while not svc.status()["error"]:
                await asyncio.sleep(0.02)
            svc.stop()
            task.cancel()
            raise OSError(svc.status()["error"])
        return connect
    n = leaked(setup)
    assert n == 0, "%d sockets left open" % n


def test_ocpp_websocket_connects_cut_by_their_timeout_leave_no_socket_open():
    websocket.CONNECT_TIMEOUT_S = TIMEOUT_S
    n = leaked(lambda port: lambda: websocket.connect("ws://127.0.0.1:%d/ocpp/cp1" % port))
    assert n == 0, "%d sockets left open" % n


def test_downloads_cut_by_their_timeout_leave_no_socket_open():
    http.TIMEOUT_S = TIMEOUT_S
    n = leaked(lambda port: lambda: http.download("http://127.0.0.1:%d/fw.bin" % port, "/tmp/evse-fw-hole.bin", 100))
    assert n == 0, "%d sockets left open" % n



# --- a console request with \uD800-\uDFFF escapes ---------------------------------------------------
# Python's json.dumps (evsectl's, a script's) writes each character above U+FFFF as a pair of
# escapes, "\ud83d\ude00"; a lone one is half a character. MicroPython's json turned each half into
# three bytes that are no UTF-8 (ED A0 80 ...): the reply's id, an id tag or a saved serial came back
# so, and a host's JSON could not read the reply (evsectl then said "no reply", exit 3).

def _replies(rig, s, lines):
    s.rx += b"".join(x + b"\n" for x in lines)
    rig.run(0.5)
    out = [x for x in s.tx.split(b"\n") if x.strip() and b'"ev"' not in x]
    s.tx = b""
    for x in out:      # UTF-8 has no ED A0..BF (a UTF-16 half's code point); MicroPython's decode lets it by
        assert all(x[i + 1] < 0xA0 for i in range(len(x) - 1) if x[i] == 0xED), x
    return [json.loads(x.decode()) for x in out]


def test_half_characters_are_refused_and_every_reply_is_utf8():
    rig, s = upytest.console_rig()
    r = _replies(rig, s, [b'{"cmd": "help", "id": "\\ud800"}',
                          b'{"id": 2, "cmd": "authorize", "id_tag": "\\udc00tag"}',
                          b'{"id": 3, "cmd": "set", "values": {"serial": "SN\\ud83d\\ude00"}}'])
    assert [(x.get("id"), x["ok"]) for x in r] == [(None, False), (2, False), (3, True)], r
    assert all("UTF-8" in x["error"] for x in r[:2]), r
    assert r[2]["saved"] == {"serial": "SN\U0001f600"}, r       # a whole pair is the character (RFC 8259 7)
    assert S.load(rig.app.settings_path)[0]["serial"] == "SN\U0001f600" and rig.app.console.id_tag is None
    # the character itself, as UTF-8 (evsectl sends it so), and an escaped backslash before "ud800"
    r = _replies(rig, s, [b'{"id": 4, "cmd": "set", "values": {"serial": "SN\xf0\x9f\x98\x80", "model": "a\\\\ud800"}}'])
    assert r[0]["ok"] and r[0]["saved"] == {"serial": "SN\U0001f600", "model": "a\\ud800"}, r



def test_the_rest_api_refuses_half_characters_too():
    from test_web_upy import Bench
    web = Bench()
    web.login()
    code, r = web.call("PUT", "settings", b'{"values": {"serial": "SN\\ude00\\ud83d"}}')   # halves out of order
    assert code == 400 and "UTF-8" in r["error"], (code, r)
    assert S.load(web.rig.app.settings_path)[0]["serial"] == ""
    code, r = web.call("PUT", "settings", b'{"values": {"serial": "SN\\ud83d\\ude00"}}')   # Python's json.dumps
    assert code == 200 and r["saved"] == {"serial": "SN\U0001f600"}, (code, r)
    assert S.load(web.rig.app.settings_path)[0]["serial"] == "SN\U0001f600"


if __name__ == "__main__":
    upytest.run(globals())
