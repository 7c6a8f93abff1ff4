"""The status WebSocket (/api/v1/ws) as RFC 6455 clients see it: PyPI's `websockets` (the client a
Home Assistant or evcc-like integration uses) and raw frames for what no library sends. Each failed
on microdot's own frame reader: a frame against the RFC was taken, or the connection closed with no
code (1005 to the client), where section 7.4.1 names one."""
import asyncio
import json
import os
import socket

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from test_web_upy import Bench
from test_web_audit import serve, ws_connect, ws_until


def _frame(b0, payload, masked=True, length=None):
    """A client's frame with first byte b0; masked unless told, its length field as given."""
    n = len(payload) if length is None else length
    m = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    k = os.urandom(4)
    return head + k + bytes(c ^ k[i % 4] for i, c in enumerate(payload))


def _code(payload):
    return int.from_bytes(payload[:2], "big") if payload else None


BAD = [   # (what, bytes sent, the Close code RFC 6455 wants back)
    ("unmasked frame (5.1)", _frame(0x81, b"hi", masked=False), 1002),
    ("RSV1 without an extension (5.2)", _frame(0xC1, b"x"), 1002),
    ("reserved opcode 3 (5.2)", _frame(0x83, b"x"), 1002),
    ("reserved control opcode 0xB (5.2)", _frame(0x8B, b""), 1002),
    ("Ping of 126 bytes (5.5)", _frame(0x89, b"a" * 126), 1002),
    ("fragmented Ping (5.5)", _frame(0x09, b"a"), 1002),
    ("continuation of nothing (5.4)", _frame(0x80, b"x"), 1002),
    ("new message inside a fragmented one (5.4)", _frame(0x01, b"a") + _frame(0x81, b"b"), 1002),
    ("text not UTF-8 (8.1)", _frame(0x81, b"\xff\xfe"), 1007),
    ("text whose UTF-8 is split over fragments, then broken", _frame(0x01, b"\xc3") + _frame(0x80, b"("), 1007),
    ("a 1 TB message (7.4.1)", _frame(0x82, b"", length=1 << 40)[:10], 1009),
    ("Close with one byte (5.5.1)", _frame(0x88, b"\x03"), 1002),
    ("Close with code 999 (7.4)", _frame(0x88, (999).to_bytes(2, "big")), 1002),
    ("Close with code 1005, never sent (7.4.1)", _frame(0x88, (1005).to_bytes(2, "big")), 1002),
    ("Close whose reason is not UTF-8", _frame(0x88, (1000).to_bytes(2, "big") + b"\xff"), 1007),
]


def test_frames_against_rfc_6455_fail_the_connection_with_the_code_it_names():
    def client(port):
        got = []
        for what, data, _ in BAD:
            s = ws_connect(port)
            s.settimeout(3)
            assert json.loads(ws_until(s, 1))["state"] == "A1"
            s.sendall(data)
            try:
                got.append((what, _code(ws_until(s, 8))))
            except socket.timeout:
                got.append((what, "no Close"))
            s.close()
        return got
    b = Bench()
    got = serve(b, client)
    assert got == [(what, code) for what, _, code in BAD]


def test_a_websockets_client_sends_fragmented_binary_and_text_and_gets_its_close_code_echoed():
    """Messages (fragmented too, RFC 6455 5.4) are read and dropped; the status keeps coming; the
    client's Close 1001 (a page going away) is echoed (5.5.1), and the slot is free again."""
    b = Bench()

    def client(port):
        async def go():
            url = "ws://127.0.0.1:%d/api/v1/ws" % port
            async with connect(url, origin="http://127.0.0.1:%d" % port) as ws:
                assert json.loads(await ws.recv())["state"] == "A1"
                await ws.send(["frag", "mented ", "é" * 100])              # three frames, one message
                await ws.send([b"\x00\x01", b"\xff" * 300])
                await ws.send(b"\x00" * 1000)
                pong = await ws.ping(b"still there?")
                await asyncio.wait_for(pong, 3)
                await ws.close(1001, "page hidden")
                return ws.close_code, ws.close_reason
        return asyncio.run(go())
    assert serve(b, client) == (1001, "")
    assert b.web.ws_clients == 0


def test_a_client_over_the_limit_gets_the_error_and_close_1013_try_again_later():
    """Before, its Close had no code: `websockets` reports 1005 (no status), which says nothing."""
    b = Bench()

    def client(port):
        async def go():
            url = "ws://127.0.0.1:%d/api/v1/ws" % port
            async with connect(url) as a, connect(url) as c:
                await a.recv()
                await c.recv()
                async with connect(url) as over:
                    msg = json.loads(await over.recv())
                    try:
                        await asyncio.wait_for(over.recv(), 3)
                    except ConnectionClosed as e:
                        return msg, e.rcvd.code
        return asyncio.run(go())
    msg, code = serve(b, client)
    assert msg == {"ok": False, "error": "too many WebSocket clients"}
    assert code == 1013


def test_an_upgrade_for_another_websocket_version_gets_426_naming_13_and_none_gets_400():
    """RFC 6455 4.2.2 item 4 and 4.4: microdot upgraded whatever Sec-WebSocket-Version said (8, or
    none): a client speaking another version went on with frames it reads otherwise."""
    from test_web_audit import raw

    def req(version):
        return ("GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n" % version).encode()

    def client(port):
        return [raw(port, req(v)) for v in ("Sec-WebSocket-Version: 8\r\n", "")]
    b = Bench()
    (s8, h8, body8), (s0, _, body0) = serve(b, client)
    assert s8 == 426 and h8.get("sec-websocket-version") == "13", (s8, h8)
    assert json.loads(body8) == {"ok": False, "error": "WebSocket version 13 only"}
    assert s0 == 400 and json.loads(body0)["ok"] is False
