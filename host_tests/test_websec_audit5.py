"""The web face against an attacker on the home LAN, a malicious page in the owner's browser, or one
that rebinds its own name to the charger (OWASP ASVS 4.0; docs/web.md, "Who may do what"): each test
a bench scenario that failed on the service before its fix."""
import asyncio

from test_web_upy import PW, Bench


def test_the_wifi_set_up_page_is_framed_by_no_other_site_nor_kept_in_a_cache():
    """ASVS 4.0 14.4.7 (clickjacking), 8.2.1: the set-up page, whose form takes the home network's
    password and the web password, came with only its Content-Type: any site could frame it (and lay
    its own inputs over it) and a browser could keep it. It now has the main page's headers, and
    no-store."""
    from test_wifi_setup_upy import Phone
    p = Phone()
    r = asyncio.run(p.client.request("GET", "/setup"))
    assert r.status_code == 200 and "Network name" in r.text
    h = r.headers
    assert h.get("Content-Security-Policy") == "frame-ancestors 'none'", h
    assert h.get("X-Frame-Options") == "DENY" and h.get("X-Content-Type-Options") == "nosniff", h
    assert h.get("Cache-Control") == "no-store", h


def _open_heads(port, n):
    """n clients that each start a request and send the rest of its head a byte at a time."""
    import socket
    out = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        out.append(s)
    return out


def _closed(socks):
    """Which of the clients the charger has closed, or answered (400) and closed (a trickle byte
    sent to each first)."""
    import socket
    r = []
    for s in socks:
        try:
            s.sendall(b"a")
            s.settimeout(0.05)
            s.recv(64)                  # its end, or the 400 before it
            r.append(True)
        except socket.timeout:
            r.append(False)
        except OSError:
            r.append(True)
    return r


def _get(port, path="/api/v1/status"):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def test_a_request_head_must_come_whole_within_the_idle_limit(tmp_path, monkeypatch):
    """A client that keeps sending a byte of its head every 0.3 s (the idle limit, shortened to 1 s
    here, is never reached) was read for ever; its head must now come whole within that limit of
    the connection."""
    import time
    from evse.services import web as W
    from test_web_https import Board
    monkeypatch.setattr(W, "IDLE_S", 1)
    b = Board(tmp_path)

    def client():
        socks = _open_heads(b.port, 2)
        seen = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5 and not all(seen[-1:] or [False]):
            time.sleep(0.3)
            seen.append(all(_closed(socks)))
        for s in socks:
            s.close()
        return time.monotonic() - t0, seen[-1], _get(b.port)
    took, closed, status = asyncio.run(b.serve(client))
    print("both closed after %.1f s" % took)
    assert closed and took < 4, (took, closed)
    assert status == 200


def _upy_board(tmp_path):
    """The web service on real sockets on the MicroPython unix port (host_tests/upy_live/websec.py):
    (process, its output lines, port)."""
    import os
    import subprocess
    import threading
    import time
    from tools.toolchain import upy_tests as U
    from tools.waiting import free_port
    assert not U.precompile()
    flash = tmp_path / "flash"
    flash.mkdir()
    port = free_port()
    p = subprocess.Popen([U.micropython(), "-X", "heapsize=384k", os.path.join(U.ROOT, "host_tests", "upy_live", "websec.py"),
                          str(port), str(flash)], env=U.upy_env(), cwd=U.ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    waited = []      # as each line came: the process's time waiting for a CPU so far (us, waited_us)

    def read():
        for x in p.stdout:
            waited.append(waited_us(p.pid))
            out.append(x)
    threading.Thread(target=read, daemon=True).start()
    p.waited = waited
    t0 = time.monotonic()
    while "READY\n" not in out and p.poll() is None and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    return p, out, port


def waited_us(pid):
    """How long the process has waited for a CPU, runnable (us; /proc/PID/schedstat's run delay): on a
    loaded machine a gap between two ticks can be the host's scheduler, not the firmware. 0 if unknown."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[1]) // 1000
    except (OSError, ValueError, IndexError):
        return 0


def own_gaps(out, waited, mark):
    """The longest gap between two ticks in each GAP window after out[mark] (us), less the time the
    process waited for a CPU in that window: what the firmware held, not the host's other jobs (a
    2-core CI machine beside another test once made a 9 ms gap 103 ms)."""
    gaps, last = [], None
    for i in range(mark, len(out)):
        if out[i].startswith("GAP"):
            gap = int(out[i].split()[1])
            gaps.append(gap if last is None else max(0, gap - (waited[i] - waited[last])))
            last = i
    return gaps


def _sockets(pid):
    import os
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


def test_on_the_micropython_port_slow_clients_give_their_sockets_back_after_the_idle_limit(tmp_path):
    """The board's case, on the unix port's real sockets (a board's lwIP has about 10 for everything):
    eight clients sending a byte of their heads every 2 s held nine of the process's sockets (each
    connection and the listening one) for as long as they went on, leaving an ESP32 none for OCPP or
    MQTT. Now each is closed IDLE_S after its connection; the status is served meanwhile, and the
    control ticks stay on time."""
    import time
    p, out, port = _upy_board(tmp_path)
    try:
        time.sleep(0.5)
        idle = _sockets(p.pid)
        mark = len(out)
        socks = _open_heads(port, 8)
        time.sleep(1.0)
        held = _sockets(p.pid)
        t0 = time.monotonic()
        status = _get(port)
        took = time.monotonic() - t0
        for _ in range(6):                        # 12 s: a byte every 2 s from each
            time.sleep(2)
            for s in socks:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
        after = _sockets(p.pid)
        gaps = own_gaps(out, p.waited, mark)
        for s in socks:
            s.close()
    finally:
        p.kill()
        p.wait()
    print("sockets: %d idle, %d with 8 slow clients, %d 13 s later; status in %.3f s; longest tick gap %d us"
          % (idle, held, after, took, max(gaps)))
    assert "Traceback" not in "".join(out), "".join(out)[-2000:]
    assert held - idle == 8 and after == idle, (idle, held, after)
    assert status == 200 and took < 1.0
    assert max(gaps) < 100000                    # IEC 61851-1 Table A.6 seq 8.1, as test_web_vboard


def test_a_page_whose_name_was_rebound_to_the_charger_can_neither_guess_passwords_nor_act():
    """DNS rebinding (ASVS 4.0 14.5.x; RFC 9110 7.2, Host): a page of evil.example whose name the
    attacker's DNS then resolves to the charger is the same origin as the charger in the owner's
    browser, so the Origin check passes (Origin http://evil.example, Host evil.example). Its login
    got a token with the right password (guessing at the delay's rate from inside the home) and its
    Basic auth disabled the charger. A change or a password sent to a foreign name is now refused
    (403) before it is judged; the charger's addresses and local names are served as before."""
    import binascii
    b = Bench()
    basic = "Basic " + binascii.b2a_base64(("u:" + PW).encode()).decode().strip()

    def send(method, path, host, body=None, auth=None):
        h = {"Host": host, "Origin": "http://" + host}
        if auth:
            h["Authorization"] = auth
        r = asyncio.run(b.client.request(method, "/api/v1/" + path, headers=h, body=body))
        return r.status_code
    evil = "evil.example:8080"
    assert send("POST", "login", evil, {"password": PW}) == 403
    assert send("POST", "disable", evil, {}, basic) == 403
    assert send("GET", "settings", evil, None, basic) == 403
    assert b.app.charger.enabled
    assert send("GET", "status", evil) == 200                   # the public status, as to anyone
    for own in ("192.168.1.50", "192.168.1.50:8080", "[fe80::1]:8080", "localhost:8080", "evse",
                "evse.local", "charger.fritz.box", "evse.home.arpa.", "wallbox.lan:80"):
        assert send("POST", "login", own, {"password": PW}) == 200, own
    assert send("POST", "disable", "evse.local", {}, basic) == 200
    assert not b.app.charger.enabled


def _post(port, path, headers):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", path, body="{}", headers=headers)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def _later(rig, seconds):
    """The board's clock moves on (the virtual ticks; the control ticks between are skipped)."""
    from tools.sim import mock_machine
    mock_machine.clock.us += int(seconds * 1000000)
    rig.next_tick_us = mock_machine.clock.us


def test_a_token_ends_after_30_minutes_unused_and_12_hours_after_the_login():
    """ASVS 4.0 3.3.2 (level 2: re-authentication after 30 minutes idle or 12 hours): a token lasted
    until a reboot, a new password, its logout, or four newer logins, so a browser left logged in on
    a shared computer kept the charger's controls for weeks. Now it ends 30 minutes after its last
    use, and 12 hours after the login however much it is used."""
    b = Bench()
    assert b.login()[0] == 200
    for _ in range(3):
        _later(b.rig, 25 * 60)                               # used every 25 minutes: kept
        assert b.call("POST", "enable")[0] == 200
    _later(b.rig, 31 * 60)
    code, r = b.call("POST", "enable")
    assert code == 401, r                             # 31 minutes unused: ended
    assert b.login()[0] == 200
    for _ in range(28):                               # used every 25 minutes for 11 h 40 min
        _later(b.rig, 25 * 60)
        assert b.call("POST", "enable")[0] == 200
    _later(b.rig, 25 * 60)                                   # 12 h 5 min after its login
    assert b.call("POST", "enable")[0] == 401


def test_a_token_unused_for_the_ticks_whole_period_is_not_taken_for_a_new_one(tmp_path):
    """The board's ticks wrap every 2**30 ms (12.4 days): a token's age read from them alone would
    start again at 0. The service sweeps its tokens as time goes by: after a whole period, gone."""
    import time
    from test_web_https import Board
    b = Board(tmp_path)
    from evse.services import web as W

    def client():
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", b.port, timeout=5)
        c.request("POST", "/api/v1/login", body=json.dumps({"password": PW}),
                  headers={"Content-Type": "application/json"})
        tok = json.loads(c.getresponse().read())["token"]
        c.close()
        auth = {"Authorization": "Bearer " + tok}
        first = _post(b.port, "/api/v1/enable", auth)
        for _ in range(3):                        # 3 x 4 days, a sweep after each
            _later(b.rig, 4 * 86400)
            time.sleep(0.5)
        _later(b.rig, 2 ** 30 / 1000 - 3 * 4 * 86400)     # 2**30 ms in all: the ticks of the login
        return first, _post(b.port, "/api/v1/enable", auth)
    old = W.IDLE_S
    W.IDLE_S = 0.2                                # the sweep's pace (and the head's time), for the bench
    try:
        first, later = asyncio.run(b.serve(client))
    finally:
        W.IDLE_S = old
    assert (first, later) == (200, 401)


def _login_from(port, source, pw, t0):
    """POST /api/v1/login from the address source: (seconds from t0 to its answer, status; None
    when the connection was closed unanswered, or reset)."""
    import http.client
    import json
    import time
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    try:
        c.request("POST", "/api/v1/login", body=json.dumps({"password": pw}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return time.monotonic() - t0, r.status
    except (http.client.RemoteDisconnected, ConnectionError):
        return time.monotonic() - t0, None
    finally:
        c.close()


def test_the_owners_password_waits_behind_one_wrong_guess_not_behind_an_attackers_whole_queue(tmp_path, monkeypatch):
    """ASVS 4.0 2.2.1 without locking the owner out: guesses are judged one a second, so an attacker
    who keeps guesses queued kept the owner's right password, sent meanwhile from another address,
    waiting behind all of them (four queued from one address: the owner's token after 4.0 s; a
    longer queue, longer). Each address's guesses now wait behind its own, and the addresses take
    turns: the owner's is judged after the guess being judged, 1 s at most. Still one judgement a
    second in all
    (test_websec_audit4.py's bursts: the right one after the wrong ones before it)."""
    import threading
    import time
    from evse.services import web as W
    from test_web_https import Board
    monkeypatch.setattr(W, "FAIL_DELAY_S", 1)     # the board's (Bench sets 0)
    b = Board(tmp_path)

    def clients():
        t0 = time.monotonic()
        got = []
        ts = [threading.Thread(target=lambda: got.append(_login_from(b.port, "127.0.0.2", "wrong-password-%04d" % i, t0)))
              for i in range(4)]
        for t in ts:
            t.start()
            time.sleep(0.05)
        time.sleep(0.2)                           # the four queued, the first being judged
        owner = _login_from(b.port, "127.0.0.1", PW, t0)
        for t in ts:
            t.join()
        return owner, sorted(got)
    owner, attacker = asyncio.run(b.serve(clients))
    print("owner's token after %.2f s; the attacker's guesses answered at %s" % (owner[0], [round(a[0], 2) for a in attacker]))
    assert owner[1] == 200 and owner[0] < 1.5, owner
    assert [a[1] for a in attacker] == [401] * 4, attacker
    assert attacker[-1][0] >= 3.9                 # one judgement a second, the owner's among them
