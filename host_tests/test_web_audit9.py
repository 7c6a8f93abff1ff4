"""The ninth audit: the web service against hostile and careless clients on the home network, as an
ESP32 without PSRAM meets them (about 112 KB of heap, docs/flashing.md; measured here on the
MicroPython unix port's 384 KB heap, 64-bit, about 130 KB free with the web service): many
connections at once, slow ones, oversize ones, another site's page, and password guessing."""
import asyncio
import base64
import json
import socket
import time

import pytest

from test_web_upy import PW, Bench
from test_websec_audit5 import _get, _upy_board, own_gaps

# Bytes free on the 384 KB unix-port heap with the web service: measured 136-138 KB in stop 44;
# 129.2 KB in stop 50's CI clone (a deep path: each module's __file__ holds it) and 131.8 KB in a
# short one, the firmware's growth since (stop 49's code read 0.8 KB more), so the budget is lowered.
BOARD_FREE = 126000
CONN_BUDGET = 64000      # what every hostile client at once may take of it (about half: the board's
                         # 32-bit heap holds the same bytes in fewer, smaller objects)
IEC_GAP_US = 100000      # IEC 61851-1 Table A.6 seq 8.1, as test_web_vboard


def _basic(pw=PW):
    return "Basic " + base64.b64encode(("admin:" + pw).encode()).decode()


def _connect(port, first=b"", addr="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(addr, 0))
    if first:
        s.sendall(first)
    return s


def answer(s, wait=0.3):
    """What the charger sent back on s so far ("" for nothing yet, "closed" for a reset)."""
    s.settimeout(wait)
    try:
        return s.recv(4096).decode(errors="replace") or "closed"
    except socket.timeout:
        return ""
    except OSError:
        return "closed"


SLOW_HEAD = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
WS_UPGRADE = (b"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
BIG_HEAD = SLOW_HEAD + b"a\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 180) for i in range(20))   # 3.8 KB, unfinished


MACHINES = ["127.0.0.%d" % i for i in range(2, 6)]   # 4 source addresses on the loopback


def _attack(port, out, n, first, hold_s=2.0):
    """n clients on MACHINES in turn that each open a connection and send `first` (nothing, or a
    head never finished); (least free heap while they are held, their answers, the status's code
    meanwhile)."""
    mark = len(out)
    socks = []
    for i in range(n):
        try:
            socks.append(_connect(port, first, MACHINES[i % len(MACHINES)]))
        except OSError:
            break
    time.sleep(hold_s)
    try:
        status = _get(port)
    except OSError:
        status = None
    answers = [answer(s, 0.05) for s in socks]
    for s in socks:
        s.close()
    free = [int(x.split()[3]) for x in out[mark:] if x.startswith("GAP")]
    return min(free or [0]), answers, status        # none: the board stopped


def test_fifty_clients_at_once_are_answered_503_beyond_the_cap_and_the_heap_and_the_ticks_hold(tmp_path):
    """microdot serves every connection it accepts. On the unix port 20 silent connections took
    2.6 KB of heap each, 50 ran it out (MemoryError in the response of a request being served);
    ten clients each holding an unfinished 3.8 KB head (under HEAD_MAX) took 11 KB each and ran it
    out at ten. An ESP32 has less than that heap in all. Now at most CONN_MAX are served, the
    next answered 503 at once, and the heads held together are bounded (HELD_MAX): the heap stays
    within the budget, and once the clients go the status is served again; the control ticks
    keep their period throughout. WebSockets that never read hold WS_MAX slots and one message
    each (a push waits at most 10 s to be written) and stall no other client."""
    from evse.services import web as W
    p, out, port = _upy_board(tmp_path)
    try:
        while not any(x.startswith("GAP") for x in out) and p.poll() is None:
            time.sleep(0.05)
        base = int([x for x in out if x.startswith("GAP")][-1].split()[3])
        mark = len(out)
        silent = _attack(port, out, 50, b"")
        big = _attack(port, out, 50, BIG_HEAD)
        ws = _attack(port, out, 20, WS_UPGRADE)     # WebSockets that never read what is pushed
        time.sleep(0.5)
        after = _get(port)
        gaps = own_gaps(out, p.waited, mark)
    finally:
        p.kill()
        p.wait()
    said = "".join(out)
    busy = [a for a in silent[1] if a.startswith("HTTP/1.0 503")]
    print("free heap %d B before; least with 50 silent clients %d B (%d answered 503), with 50 unfinished "
          "3.8 KB heads %d B, with 20 WebSockets never read %d B; status meanwhile %s/%s/%s, after %s; "
          "longest tick gap %d us" % (base, silent[0], len(busy), big[0], ws[0], silent[2], big[2], ws[2],
                                      after, max(gaps)))
    assert "MemoryError" not in said and "Traceback" not in said, said[-2000:]
    assert base > BOARD_FREE
    assert base - min(silent[0], big[0], ws[0]) < CONN_BUDGET, (base, silent[0], big[0], ws[0])
    assert ws[2] == 200                             # 2 sockets pushed to, 18 closed 1013: others served
    assert len(busy) == 50 - W.CONN_MAX, silent[1]
    assert '"too many connections' in busy[0]
    assert after == 200
    assert max(gaps) < IEC_GAP_US


def test_on_cpython_the_cap_answers_503_the_held_slots_free_after_the_idle_limit(tmp_path, monkeypatch):
    """20 connections that send nothing from 4 addresses in turn (the status asked from the first,
    which holds as many as each other one): CONN_MAX are held, the rest answered 503 with Retry-After at
    once (a browser's request then read, up to BUSY_WAIT_S: closed unread, the connection would be
    reset before the 503 is read); the held ones are closed after IDLE_S (3 s here) and every
    count goes back to nothing."""
    from evse.services import web as W
    from test_web_https import Board
    monkeypatch.setattr(W, "IDLE_S", 3)
    b = Board(tmp_path)

    def clients():
        socks = [_connect(b.port, addr="127.0.0.%d" % (1 + i % 4)) for i in range(20)]
        time.sleep(0.3)
        held = b.web.http.conns
        first = [answer(s, 0.05) for s in socks]
        time.sleep(W.BUSY_WAIT_S)
        busy_status = _get(b.port)
        time.sleep(2.5)
        later = [answer(s, 0.5) for s in socks]
        for s in socks:
            s.close()
        return held, first, busy_status, later, _get(b.port)
    held, first, busy_status, later, status = asyncio.run(b.serve(clients))
    assert held == W.CONN_MAX
    busy = [a for a in first if a.startswith("HTTP/1.0 503")]
    assert len(busy) == 20 - W.CONN_MAX and "Retry-After: 1" in busy[0], first
    assert busy_status == 503
    assert all(a for a in later), later            # each answered 400 and closed, or reset
    assert status == 200
    assert b.web.http.conns == 0 and b.web.http.held == 0


def _raw(port, data, shut=False, wait=3.0):
    s = _connect(port, data)
    if shut:
        s.shutdown(socket.SHUT_WR)                 # half-closed: it sends no more, still reads
    try:
        return answer(s, wait)
    finally:
        s.close()


HUGE = [
    ("a 3 KB URL", b"GET /api/v1/status?" + b"a" * 3000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "400"),
    ("600 headers, 5 KB", b"GET /api/v1/status HTTP/1.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(600)) + b"\r\n", "400"),
    ("a 100 KB JSON body", b"POST /api/v1/limit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 102400\r\n"
     b"Authorization: " + _basic().encode() + b"\r\n\r\n" + b" " * 1000, "400"),
    ("a 10 MB body", b"POST /api/v1/limit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000000\r\n\r\n", "413"),
    ("a chunked body", b"POST /api/v1/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
     b"Authorization: " + _basic().encode() + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "501"),
    ("a head half-closed", b"GET /api/v1/status HTTP/1.1\r\nHost: 1", "400"),
    ("a disable half-closed", b"POST /api/v1/disable HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
     + _basic().encode() + b"\r\n", "400"),
]


def test_oversize_and_half_closed_requests_are_refused_and_give_back_what_they_held(tmp_path):
    """Each is answered with its refusal (docs/web.md) and nothing acts: the limit stays, and the
    connections and held bytes go back to none (no count leaks, so no slot is lost for ever)."""
    from test_web_https import Board
    b = Board(tmp_path)
    before = b.app.status(0)["limit"]

    def clients():
        got = [(why, _raw(b.port, data, shut=why.endswith("half-closed"))) for why, data, _ in HUGE]
        time.sleep(0.3)
        return got
    got = asyncio.run(b.serve(clients))
    for (why, _, want), (_, answer) in zip(HUGE, got):
        assert answer.startswith("HTTP/1.0 " + want) or want == "400" and answer == "closed", (why, answer[:200])
    assert b.app.status(0)["limit"] == before and b.app.status(0)["enabled"]
    assert b.web.http.conns == 0 and b.web.http.held == 0


def test_the_https_redirect_port_drops_a_silent_client_and_an_endless_head(tmp_path, monkeypatch):
    """With web_tls, plain http:// on port 80 only redirects; it ran on microdot bare: a connection
    that sent nothing was held for ever, and a head of any number of headers was kept whole. It is
    bounded as the page's port now (IDLE_S, 1 s here, HEAD_MAX, CONN_MAX)."""
    from evse.services import web as W
    from evse.services import webtls
    from test_web_https import Board, make_certs
    from tools.waiting import free_port
    redirect = free_port()
    monkeypatch.setattr(webtls, "REDIRECT_PORT", redirect)
    monkeypatch.setattr(W, "IDLE_S", 1)
    flash = tmp_path / "flash"
    flash.mkdir()
    make_certs(str(flash), str(tmp_path))
    b = Board(flash, web_tls=True)

    def clients():
        s = _connect(redirect)
        t0 = time.monotonic()
        silent = answer(s, 3.0)
        took = time.monotonic() - t0
        s.close()
        head = _raw(redirect, b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 100) for i in range(100)))
        moved = _raw(redirect, b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return silent, took, head, moved
    silent, took, head, moved = asyncio.run(b.serve(clients))
    assert silent and took < 2.5, (silent, took)
    assert head.startswith("HTTP/1.0 400") or head == "closed", head[:200]
    assert moved.startswith("HTTP/1.0 302"), moved


def test_another_sites_page_changes_nothing_with_a_form_or_text_plain_post(tmp_path):
    """What a page of another site can send without a preflight (a form, enctype text/plain, whose
    name and value make JSON: {"id_tag": "x=y"}; an empty form for stop). The password travels in
    the Authorization header only: a token the page keeps in sessionStorage, which no other site's
    request carries, or Basic auth a browser may have cached and adds by itself; no cookie is ever
    set. The browser's Origin on such a POST is refused (403), and so is its WebSocket's."""
    b = Bench()
    c = b.client
    form = '{"id_tag": "x=y"}'
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    for path, body in (("/api/v1/authorize", form), ("/api/v1/stop", ""), ("/api/v1/disable", "")):
        r = asyncio.run(c.request("POST", path, headers=dict(evil, Authorization=_basic()), body=body))
        assert r.status_code == 403, (path, r.json)
        r = asyncio.run(c.request("POST", path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body))
        assert r.status_code == 401, (path, r.json)      # no Origin (an old browser), no credentials
    ws = asyncio.run(c.request("GET", "/api/v1/ws", headers={
        "Origin": "http://evil.example", "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}))
    assert ws.status_code == 403
    login = asyncio.run(c.request("POST", "/api/v1/login", body={"password": PW}))
    assert login.status_code == 200 and not any(k.lower() == "set-cookie" for k in login.headers)
    st = b.app.status(0)
    assert st["enabled"] and not st["authorized"], st


def test_fifty_password_guesses_at_once_hold_at_most_the_cap_and_are_judged_one_at_a_time(tmp_path, monkeypatch):
    """Password guessing: one wrong guess judged at a time, FAIL_DELAY_S apart (0.1 s here). 50
    guesses sent at once from one machine: CONN_MAX wait, the rest are answered 503 at once, so
    what the queue holds is bounded; FAILS_FREE are judged, the machine is then locked out and the
    guesses still waiting are answered 429 without being judged (test_web_audit10); then the
    owner's password is taken from the owner's phone."""
    from evse.services import web as W
    from evse.services import weblock as L
    from test_web_https import Board
    monkeypatch.setattr(W, "FAIL_DELAY_S", 0.1)
    b = Board(tmp_path)
    body = json.dumps({"password": "guess"}).encode()
    req = b"POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    def clients():
        socks = [_connect(b.port, req, "127.0.0.2") for _ in range(50)]
        time.sleep(0.3)
        q = b.web.queues.get("127.0.0.2")
        waiting = q[1] if q else 0
        answers = [answer(s, 3.0) for s in socks]
        for s in socks:
            s.close()
        c = __import__("http.client").client.HTTPConnection("127.0.0.1", b.port, timeout=5)
        c.request("POST", "/api/v1/login", body=json.dumps({"password": PW}))
        ok = c.getresponse().status
        c.close()
        return waiting, answers, ok
    waiting, answers, ok = asyncio.run(b.serve(clients))
    wrong = [a for a in answers if a.startswith("HTTP/1.0 401")]
    locked = [a for a in answers if a.startswith("HTTP/1.0 429")]
    busy = [a for a in answers if a.startswith("HTTP/1.0 503") or a == "closed"]
    assert 0 < waiting <= W.CONN_MAX
    assert len(wrong) == L.FAILS_FREE - 1 and len(wrong) + len(locked) == W.CONN_MAX, answers
    assert len(busy) == 50 - W.CONN_MAX, answers
    assert ok == 200
    assert b.web.queues == {} and b.web.http.conns == 0


def test_two_websockets_with_large_heads_leave_the_head_budget_to_the_other_clients(tmp_path):
    """The heads held together (HELD_MAX) are counted until their connection ends; a WebSocket lives
    for hours. Two that each sent a head just under HEAD_MAX would hold the budget for as long
    as they listen, and every browser's request after them was refused (400). A WebSocket's head
    is given back once it is upgraded (its slots are WS_MAX anyway)."""
    from evse.services import web as W
    from test_web_https import Board
    b = Board(tmp_path)
    pad = b"".join(b"X-%d: %s\r\n" % (i, b"a" * 150) for i in range(22))      # 3.6 KB
    upgrade = WS_UPGRADE[:-2] + pad + b"\r\n"
    browser = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"M" * 900 + b"\r\n\r\n"

    def clients():
        socks = [_connect(b.port, upgrade) for _ in range(W.WS_MAX)]
        opened = [answer(s, 1.0)[:12] for s in socks]
        got = _raw(b.port, browser)
        for s in socks:
            s.close()
        return opened, got
    opened, got = asyncio.run(b.serve(clients))
    assert opened == ["HTTP/1.1 101"] * W.WS_MAX, opened
    assert got.startswith("HTTP/1.0 200"), got[:200]


def _ws_open(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(WS_UPGRADE)
    return s


def test_a_websocket_that_never_reads_is_dropped_and_the_other_keeps_its_pushes(tmp_path, monkeypatch):
    """A phone gone out of range: its socket fills and a push waits. The push is awaited with a
    deadline (WS_RESEND_MS; shortened here with the push period, so that the socket fills in
    seconds): the stuck client is dropped, its slot freed, what is buffered for it bounded by the
    socket; the other client's pushes never wait for it."""
    from evse.services import web as W
    from test_web_https import Board
    monkeypatch.setattr(W, "WS_PERIOD_MS", 5)
    monkeypatch.setattr(W, "WS_RESEND_MS", 20)
    b = Board(tmp_path)
    serve = b.web.http.handle_request

    async def small_buffers(reader, writer):             # as small as a board's lwIP (ESP-IDF: about 5.7 KB)
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        writer.transport.set_write_buffer_limits(high=4096)
        await serve(reader, writer)
    b.web.http.handle_request = small_buffers

    def clients():
        stuck = _ws_open(b.port, rcvbuf=4096)
        good = _ws_open(b.port)
        while b.web.ws_clients < 2:
            time.sleep(0.01)
        got = 0
        longest = 0.0
        t0 = last = time.monotonic()
        while time.monotonic() - t0 < 8 and b.web.ws_clients > 1:
            got += len(good.recv(65536))
            now = time.monotonic()
            longest = max(longest, now - last)
            last = now
        left = b.web.ws_clients
        stuck.close()
        good.close()
        return time.monotonic() - t0, left, got, longest
    took, left, got, longest = asyncio.run(b.serve(clients))
    print("the stuck WebSocket dropped after %.1f s; the other got %d KB, its longest wait %.2f s"
          % (took, got // 1024, longest))
    assert left == 1 and took < 8, (took, left, got)
    assert got > 10000 and longest < 1.0


MALFORMED = [
    b"GET\r\n\r\n",                                                    # no path, no version
    b"GET /api/v1/status HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"POST /api/v1/stop HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
    b"GET /api/v1/status HTTP/1.1\r\nX-Bad: \xff\xfe\r\n\r\n",           # no UTF-8
    b"GET /api/v1/status?" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n",        # a line over microdot's 2 KB
]


def test_a_malformed_request_is_refused_without_a_traceback_on_the_console(tmp_path, capfd):
    """microdot prints the traceback of every request it cannot parse (sys.print_exception: on a
    board, the console's serial line, written while the loop waits: MicroPython's 170 bytes take a
    UART at 115200 baud about 15 ms, and ten such requests ready at once hold the control loop that
    long each, one after the other). They are refused (400) as before, and nothing is printed."""
    from test_web_https import Board
    b = Board(tmp_path)

    def clients():
        return [_raw(b.port, m) for m in MALFORMED]
    got = asyncio.run(b.serve(clients))
    printed = capfd.readouterr()
    for m, a in zip(MALFORMED, got):
        assert a.startswith("HTTP/1.0 400") or a == "closed", (m[:40], a[:100])
    assert "Traceback" not in printed.err + printed.out, (printed.err + printed.out)[-1500:]
    assert b.app.status(0)["enabled"]
