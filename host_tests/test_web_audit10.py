"""The tenth audit: the web page and API against one greedy client on the home network and a
password guesser, and the times the page shows. Two source addresses on the loopback (127.0.0.1,
127.0.0.2: Linux answers all of 127/8) stand for the owner's phone and another machine."""
import asyncio
import socket
import time

from test_web_audit9 import answer as said
from test_websec_audit5 import _get, _upy_board
from tools.waiting import wait_for

OWNER = "127.0.0.1"          # the owner's phone
GREEDY = "127.0.0.2"         # a machine on the LAN that opens every connection it can


def _from(addr, port, first=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(addr, 0))
    if first:
        s.sendall(first)
    return s


def _flood(port, addr, n):
    """n silent connections from addr (what a stuck script or a scanner holds open)."""
    socks = []
    for _ in range(n):
        try:
            socks.append(_from(addr, port))
        except OSError:
            break
    return socks


def test_one_address_holding_every_connection_leaves_the_owners_phone_served(tmp_path):
    """Stop 44 capped the connections at CONN_MAX (16), the next answered 503: one machine holding
    16 silent connections then kept the owner's phone from opening the page to stop a charge (503
    for as long as it held them, re-opened every IDLE_S). Now, all held, the owner's request closes
    the greedy machine's oldest silent connection and is served; the greedy one's next are 503."""
    from evse.services import web as W
    from test_web_https import Board
    b = Board(tmp_path)

    def clients():
        greedy = _flood(b.port, GREEDY, W.CONN_MAX + 4)
        time.sleep(0.3)
        held = b.web.http.conns
        answers = [said(s, 0.05) for s in greedy]
        owner = _get(b.port)
        first = said(greedy[0], 0.5)
        for s in greedy:
            s.close()
        return held, answers, owner, first
    held, answers, owner, first = asyncio.run(b.serve(clients))
    busy = [a for a in answers if a.startswith("HTTP/1.0 503")]
    assert owner == 200
    assert held == W.CONN_MAX and len(busy) == 4, answers
    assert first == "closed"                  # the greedy one's oldest: closed for the owner
    assert b.web.http.conns == 0 and not b.web.http.peers


def test_three_addresses_filling_the_cap_give_way_to_a_fourth(tmp_path):
    """Three machines holding silent connections (6, 6 and 4) fill CONN_MAX together: the next
    address is served, the oldest silent connection of the address holding most closed for it."""
    from evse.services import web as W
    from test_web_https import Board
    b = Board(tmp_path)

    def clients():
        socks = []
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            socks += _flood(b.port, a, 6)
            time.sleep(0.2)
        held = b.web.http.conns
        owner = _get(b.port)
        first = said(socks[0], 0.5)
        for s in socks:
            s.close()
        return held, owner, first
    held, owner, first = asyncio.run(b.serve(clients))
    assert held == W.CONN_MAX
    assert owner == 200
    assert first == "closed"                  # the oldest of 127.0.0.2's: closed for the owner
    assert b.web.http.conns == 0 and not b.web.http.peers


def test_on_the_micropython_port_a_greedy_address_leaves_the_owner_served_within_the_heap(tmp_path):
    """The board's case, on the unix port's sockets and 384 KB heap: one address opens 50 connections
    and sends nothing; the owner's phone gets the status meanwhile, and the heap stays within the
    budget of test_web_audit9."""
    from test_web_audit9 import BOARD_FREE, CONN_BUDGET
    p, out, port = _upy_board(tmp_path)
    try:
        wait_for("the board's first GAP line", lambda: any(x.startswith("GAP") for x in out), 60)
        base = int([x for x in out if x.startswith("GAP")][-1].split()[3])
        mark = len(out)
        greedy = _flood(port, GREEDY, 50)
        time.sleep(1.0)
        owner = _get(port)
        answers = [said(s, 0.05) for s in greedy]
        for s in greedy:
            s.close()
        wait_for("a GAP line after the flood", lambda: any(x.startswith("GAP") for x in out[mark:]), 60)
        free = min(int(x.split()[3]) for x in out[mark:] if x.startswith("GAP"))
    finally:
        p.kill()
        p.wait()
    text = "".join(out)
    busy = [a for a in answers if a.startswith("HTTP/1.0 503") or a == "closed"]
    print("free heap %d B before, least %d B with 50 connections from one address; owner %s" % (base, free, owner))
    assert "Traceback" not in text, text[-2000:]
    assert owner == 200
    assert base > BOARD_FREE and base - free < CONN_BUDGET
    assert len(busy) >= 50 - 16, answers


def _login(port, pw, addr=OWNER):
    """(status, Retry-After, body) of a login from addr."""
    import http.client
    import json
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(addr, 0))
    try:
        c.request("POST", "/api/v1/login", body=json.dumps({"password": pw}))
        r = c.getresponse()
        return r.status, r.getheader("Retry-After"), json.loads(r.read() or b"{}")
    finally:
        c.close()


def _board_sleep(b, seconds):
    """Until the bench board's clock (its ticks, which the lockout counts in) moved on by seconds:
    on a loaded machine it runs slower than the wall clock."""
    t0 = b.rig.now_s
    wait_for("the board's clock %.1f s on" % seconds, lambda: b.rig.now_s - t0 >= seconds, 60)


def _lockout_lines(flash):
    try:
        with open(flash / "log.txt") as f:
            return [x for x in f if "wrong passwords" in x]
    except OSError:
        return []


def test_an_address_guessing_is_locked_out_with_429_and_the_right_password_is_taken_after(tmp_path, monkeypatch):
    """Only one guess a second was judged, without end: 86,400 a day from one machine. Now the
    FAILS_FREE-th wrong password locks its address out (LOCK_S, 1 s here): every password it sends,
    the right one too, is answered 429 with Retry-After, at once; the owner's phone, another
    address, logs in meanwhile. Once the lockout ends the right password is taken; one wrong one
    after a lockout doubles the next. One line in the log a lockout, none a guess."""
    from evse.services import web as W
    from evse.services import weblock as L
    from test_web_https import Board
    from test_web_upy import PW
    monkeypatch.setattr(W, "FAIL_DELAY_S", 0.05)
    monkeypatch.setattr(L, "LOCK_S", 1)
    b = Board(tmp_path)

    def clients():
        first = [_login(b.port, "guess%d" % i, GREEDY) for i in range(L.FAILS_FREE)]
        more = [_login(b.port, "guess", GREEDY) for _ in range(10)]
        right_locked = _login(b.port, PW, GREEDY)
        owner = _login(b.port, PW, OWNER)
        _board_sleep(b, 1.1)
        wrong_after = _login(b.port, "guess", GREEDY)         # the lockout doubled: 2 s
        _board_sleep(b, 2.1)
        right_after = _login(b.port, PW, GREEDY)
        wait_for("two lockout lines", lambda: len(_lockout_lines(tmp_path)) >= 2, 60)   # the log's flash write
        return first, more, right_locked, owner, wrong_after, right_after
    first, more, right_locked, owner, wrong_after, right_after = asyncio.run(b.serve(clients))
    assert [x[0] for x in first] == [401] * (L.FAILS_FREE - 1) + [429], first
    assert all(x[0] == 429 and x[1] == "1" for x in more), more
    assert "too many wrong passwords" in more[0][2]["error"]
    assert right_locked[0] == 429
    assert owner[0] == 200
    assert wrong_after[0] == 429 and wrong_after[1] == "2", wrong_after
    assert right_after[0] == 200
    assert len(_lockout_lines(tmp_path)) == 2, _lockout_lines(tmp_path)     # 16 guesses: 2 lockouts


def test_many_addresses_guessing_together_lock_every_login_out_and_a_logged_in_browser_stays(tmp_path, monkeypatch):
    """Ten machines, each below its own threshold (3 wrong passwords each), would guess ten times as
    fast. After ALL_FREE wrong ones from all together every login is refused (429), the owner's
    too, for LOCK_S; a browser already logged in keeps its token and stops the charge. What is
    counted stays bounded: ADDRS_MAX addresses."""
    import http.client
    import json
    from evse.services import web as W
    from evse.services import weblock as L
    from test_web_https import Board
    from test_web_upy import PW
    monkeypatch.setattr(W, "FAIL_DELAY_S", 0.02)
    monkeypatch.setattr(L, "LOCK_S", 2)
    b = Board(tmp_path)

    def clients():
        token = _login(b.port, PW)[2]["token"]
        answers = [_login(b.port, "guess", "127.0.0.%d" % (10 + i)) for i in range(10) for _ in range(3)]
        rows = len(b.web.lockout.rows)
        owner = _login(b.port, PW)
        c = http.client.HTTPConnection("127.0.0.1", b.port, timeout=10)
        c.request("POST", "/api/v1/stop", body="{}", headers={"Authorization": "Bearer " + token})
        stop = c.getresponse().status
        c.close()
        _board_sleep(b, 2.1)
        return answers, rows, owner, stop, _login(b.port, PW)
    answers, rows, owner, stop, later = asyncio.run(b.serve(clients))
    codes = [a[0] for a in answers]
    assert codes[:L.ALL_FREE - 1] == [401] * (L.ALL_FREE - 1) and set(codes[L.ALL_FREE - 1:]) == {429}, codes
    assert rows <= L.ADDRS_MAX
    assert owner[0] == 429 and stop == 200
    assert later[0] == 200
    assert json.dumps(answers[-1][2]).count("try again in") == 1


def test_on_the_micropython_port_a_guessing_address_is_locked_out_and_the_owner_logs_in(tmp_path):
    """The lockout on the unix port's sockets (its peer address a raw sockaddr_in, the board's 1 s
    delay): FAILS_FREE wrong passwords from one machine, the last answered 429; the owner's phone
    logs in at once; one line in the log on flash."""
    from test_web_upy import PW
    p, out, port = _upy_board(tmp_path)
    try:
        time.sleep(0.5)
        guesses = [_login(port, "guess", GREEDY) for _ in range(5)]
        owner = _login(port, PW)
        wait_for("the lockout line", lambda: _lockout_lines(tmp_path / "flash"), 60)   # the log's flash write, within 1 s of the board's time
    finally:
        p.kill()
        p.wait()
    text = "".join(out)
    assert "Traceback" not in text, text[-2000:]
    assert [g[0] for g in guesses] == [401] * 4 + [429], guesses
    assert guesses[-1][1] == "30"
    assert owner[0] == 200
    lines = _lockout_lines(tmp_path / "flash")
    assert len(lines) == 1 and "from 127.0.0.2" in lines[0], lines


CET = "CET-1CEST,M3.5.0,M10.5.0/3"    # the charger's tz: Central European, summer time from March to October
NOW_UTC = 1796558400                  # 2026-12-06T12:00:00Z: 13:00 in Berlin, 07:00 in New York
SUMMER_UTC = 1782900000               # 2026-07-01T10:00:00Z: 12:00 in Berlin (CEST), 06:00 in New York


def _charger_in_cet(tmp):
    """A bench charger in Central European time, its clock set: a diode fault, then its answers:
    the status, the fault log, the history (a summer session and a December one) in UTC and local."""
    from test_web_upy import Bench
    from tools.sim import mock_machine as mm
    from evse.services import history
    tmp.mkdir(exist_ok=True)
    b = Bench(config={"tz": CET, "charge_windows": "Mon-Sun 00:00-23:59"}, flash_dir=str(tmp))   # the planner on
    mm.set_rtc(NOW_UTC)
    w = b.rig.world
    w.plugged, w.ev_ohms, w.diode_ok = True, 2740, False   # a car whose pilot diode is shorted
    w.recompute()
    b.rig.run(2.0)
    assert b.app.charger.fault == "diode"
    b.login()
    code, log = b.call("GET", "log")
    assert code == 200
    rec = dict(start=SUMMER_UTC, end=SUMMER_UTC + 7200, sid=1, dur_s=7200, wh=11000, user="web", max_a=16.0,
               reason="unplugged by the driver")
    recs = [rec, dict(rec, sid=2, start=NOW_UTC - 7200, end=NOW_UTC - 3600)]
    return {"status": b.status(), "log": log, "settings": b.call("GET", "settings")[1],
            "planner_local": b.app.status(0)["planner"]["schedule"]["local"],
            "csv_utc": history.csv(recs), "csv_local": history.csv(recs, b.web.local)}


def test_the_api_gives_the_chargers_local_times_beside_utc(tmp_path):
    """What the page needs to show every time in the charger's zone: the status's clock (to the
    minute, the planner's local time) and tz, each fault's time as the charger's local time, the history with ?times=local;
    the CSV without it stays UTC (tools and spreadsheets)."""
    c = _charger_in_cet(tmp_path)
    assert c["status"]["clock"] == "2026-12-06T13:00:00+01:00" and c["status"]["tz"] == CET, c["status"]
    assert c["planner_local"] == "Sun 13:00 +01:00"          # the zone the charging windows run on
    utc = [r[3] for r in c["log"]["records"] if r[3]]
    assert utc and all(c["log"]["local"][u].startswith("2026-12-06T13:00:0") for u in utc), c["log"]
    assert all(c["log"]["local"][u].endswith("+01:00") for u in utc)
    local = c["csv_local"].split("\r\n")
    assert local[0].startswith("session,start_local,end_local,")
    assert local[1].split(",")[1:3] == ["2026-07-01T12:00:00+02:00", "2026-07-01T14:00:00+02:00"], local
    assert local[2].split(",")[1] == "2026-12-06T11:00:00+01:00"
    assert c["csv_utc"].split("\r\n")[1].split(",")[1] == "2026-07-01T10:00:00Z"


def test_the_page_shows_every_time_in_the_chargers_zone_whatever_the_browsers(tmp_path):
    """The page showed three zones at once: the fault log in the browser's (a phone abroad, or set
    to another zone: New York's here, 07:00 for the charger's 13:00), the history in UTC as the API
    gives it, and the charging windows run on the charger's `tz`. Now every time is the charger's
    own local time, labelled with its offset (the summer session's +02:00, December's +01:00), and
    the status says the charger's clock and its tz; nothing is in New York's time."""
    from vboard_helpers import page_in_browser
    seen = page_in_browser("times_audit10_test.mjs", lambda: _charger_in_cet(tmp_path / "board"), tmp_path,
                           str(tmp_path / "times.png"))
    assert seen["browser_zone"] == "America/New_York"
    clock = [r[1] for r in seen["status"] if r[0] == "Charger's clock"]
    assert clock == ["2026-12-06 13:00 (UTC+01:00), tz " + CET], seen["status"]
    head, diode = seen["faults"][0], seen["faults"][1]
    assert head[0] == "When (charger's time)"
    assert diode[0].startswith("2026-12-06 13:00:0") and diode[0].endswith(" (UTC+01:00)"), seen["faults"]
    head, december, summer = seen["history"]
    assert head[1:3] == ["start (charger's time)", "end (charger's time)"], head
    assert summer[1:3] == ["2026-07-01 12:00:00 (UTC+02:00)", "2026-07-01 14:00:00 (UTC+02:00)"], summer
    assert december[1] == "2026-12-06 11:00:00 (UTC+01:00)", december
    assert "07:00" not in seen["text"] and "06:00" not in seen["text"] and "AM" not in seen["text"], seen["text"]
