"""The web page and API on the virtual board, as `make vboard WEB=PORT` serves them: the MicroPython
unix port's own sockets, the firmware, microdot and the page flashed by tools/flash.py. A load test
from 127.0.0.1 while the control loop runs (the longest tick gap it reports), a WebSocket, and the
page in Debian's chromium driven by playwright-core (skipped, saying why, without them)."""
import base64
import gzip
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tools.webboard import PW, WebBoard, tick_gap_under_load
from vboard_helpers import ROOT, needs_vboard, no_browser, wait_for

SEQ_8_1_MS = 100         # IEC 61851-1 Table A.6 seq 8.1: the contactor opens within 100 ms of C->B
LOAD_S = 10              # seconds of load; the status reports the longest gap over the last 10-20 s
LOAD_CLIENTS = 8
WEBTEST = os.path.join(ROOT, "tools", "webtest")
SCREENSHOT = os.path.join(ROOT, "build", "web-page.png")

pytestmark = needs_vboard


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    b = WebBoard(str(tmp_path_factory.mktemp("webvboard")))
    yield b
    b.stop()


def test_the_page_and_the_api_are_served(board):
    code, headers, body = board.get("/", {"Accept-Encoding": "gzip"})
    assert code == 200 and headers.get("Content-Encoding") == "gzip"
    assert headers["Content-Type"].startswith("text/html")
    page = gzip.decompress(body).decode()
    assert "<title>EVSE</title>" in page
    assert not [x for x in ("http://", "https://", " src=") if x in page]      # no CDN, no other file
    assert re.findall(r"<link[^>]*>", page) == ['<link rel="icon" href="data:,">']   # the empty icon: no request
    st = board.status()
    for k in ("state", "contactor", "offered_a", "fault", "session_wh", "total_wh"):
        assert k in st
    code, r = board.post("/api/v1/disable", {}, auth=False)
    assert code == 401 and board.status()["enabled"] is True


def ws_frames(board, n, timeout=15, out=None):
    """The first n text messages of /api/v1/ws, over a plain socket (RFC 6455, unmasked from the server);
    each is appended to `out` (when given) as it comes."""
    s = socket.create_connection(("127.0.0.1", board.port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    f = s.makefile("rb")
    assert b" 101 " in f.readline()
    while f.readline() not in (b"\r\n", b""):
        pass
    out = [] if out is None else out
    while len(out) < n:
        head = f.read(2)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(f.read(2), "big")
        elif size == 127:
            size = int.from_bytes(f.read(8), "big")
        out.append(json.loads(f.read(size)))
    s.close()
    return out


def test_the_websocket_pushes_each_change(board):
    got = []
    t = threading.Thread(target=ws_frames, args=(board, 2), kwargs={"out": got})
    t.start()
    # The car comes once the WebSocket has said the state it opened on (a 2 s pause was a guess: on
    # a loaded machine the car could come first, and the first message was already B2)
    wait_for("the WebSocket's first message", lambda: got, 60)
    board.car("plug")
    t.join(30)
    assert [m["state"] for m in got] == ["A1", "B2"], got
    assert got[1]["offered_a"] == 32 and abs(got[1]["duty"] - 53.3) < 0.1
    board.car("unplug")              # the board as it was: a bundle installs only with no car
    wait_for("A1", lambda: board.status_or_none("A1"), 30)


def test_silent_connections_are_closed_and_a_listening_websocket_is_not(board):
    """A browser opens spare connections it may never use, a broken client stops mid-request: each
    held one of a board's few sockets for ever. Silent for IDLE_S, they are answered 400 and closed;
    the page answers meanwhile; a WebSocket that only listens (the status page) stays open."""
    from evse.services.web import IDLE_S
    frames = []
    t = threading.Thread(target=lambda: frames.extend(ws_frames(board, 3, timeout=3 * IDLE_S + 30)))
    t.start()
    start = time.monotonic()
    silent = [socket.create_connection(("127.0.0.1", board.port), timeout=IDLE_S + 60) for _ in range(12)]
    silent[0].sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")    # stops before the blank line
    assert board.status()["fault"] is None
    for s in silent:
        got = b""
        while True:
            part = s.recv(512)                    # socket.timeout here: the connection was kept
            if not part:
                break
            got += part
        assert got.startswith(b"HTTP/1.0 400"), got
        s.close()
    assert time.monotonic() - start > IDLE_S / 2      # a slow client is given its time
    t.join(3 * IDLE_S + 40)
    assert len(frames) == 3, frames              # sent at once, then unchanged every WS_RESEND_MS


def test_control_ticks_on_while_the_api_is_hammered(board):
    """Printed: the longest gap between two control ticks, idle and under load from 127.0.0.1. The
    load runs niced: on a board the clients are other machines, here they share its two cores."""
    idle, loaded, done = tick_gap_under_load(board, LOAD_S, LOAD_CLIENTS)
    print("\nweb load: %d requests in %d s (%.0f/s, %d failed) from %d clients: longest tick gap %d ms "
          "(idle %d ms)" % (done["requests"], LOAD_S, done["per_s"], done["failed"], LOAD_CLIENTS, loaded, idle))
    assert done["failed"] == 0 and done["requests"] > 50
    assert loaded < SEQ_8_1_MS, "the control loop stalled %d ms under web load" % loaded
    assert board.status()["fault"] is None and board.post("/api/v1/limit", {"amps": None})[0] == 200


def test_the_page_in_a_browser_logs_in_sets_the_limit_and_logs_out(board):
    why = no_browser()
    if why:
        pytest.skip("browser test skipped: " + why)
    board.car("plug")
    wait_for("B2 at 32 A", lambda: board.status_or_none("B2") and board.status()["offered_a"] == 32, 30)
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    r = subprocess.run(["node", "page_test.mjs", board.url + "/", PW, SCREENSHOT], cwd=WEBTEST,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert "duty 53.3 %" in seen["before"] and seen["controls_hidden_before_login"]
    # no failed request in the browser's console: it asked the board for /favicon.ico at each visit (404)
    assert seen["console_errors"] == [], seen["console_errors"]
    assert not seen["network_shown"] and not seen["notice_shown"]      # no Wi-Fi, https off: nothing to say
    assert seen["after"].startswith("10.0 A (duty 16.") and "limit: done" in seen["message"]
    st = board.status()                             # the pilot's PWM on the board, not the page
    assert abs(st["duty"] - 16.7) < 0.1 and st["offered_a"] == 10 and st["limit_by"] == "rest"
    assert os.path.getsize(SCREENSHOT) > 10000
    # logged out: the controls hidden, the token gone from the browser and forgotten by the board
    assert seen["controls_hidden_after_logout"] and seen["token_kept"] is None
    assert seen["old_token_answer"] == 401


BUNDLE_VERSION = "9.9.9-web"
HISTORY_SHOT = os.path.join(ROOT, "build", "web-history.png")


def vboard_bundle(tmp, version=BUNDLE_VERSION, app_source=None):
    """The firmware as the virtual board runs it (the .mpy make flash built for it), its version
    changed (and evse/app replaced by app_source), made into a bundle by `python -m tools.bundle`."""
    from tools.toolchain import mpy_build
    top = os.path.join(tmp, "bundle-src")
    shutil.copytree(os.path.join(ROOT, "build", "flash", "vboard", "evse"), os.path.join(top, "evse"))
    for name, text in (("core/version", 'VERSION = "%s"\n' % version), ("app", app_source)):
        if text is None:
            continue
        src = os.path.join(tmp, name.replace("/", "_") + ".py")
        with open(src, "w") as f:
            f.write(text)
        rc, msg = mpy_build.compile_one(src, os.path.join(top, "evse", name + ".mpy"), None, "evse/%s.py" % name)
        assert rc == 0, msg
    out = os.path.join(tmp, "evse-%s.bin" % version)
    subprocess.run([sys.executable, "-m", "tools.bundle", out, "--version", version, "--from", top],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


def page(board, *args):
    r = subprocess.run(["node", "firmware_test.mjs", board.url + "/", PW] + list(args), cwd=WEBTEST,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180)
    assert r.returncode == 0, r.stdout
    return json.loads(r.stdout.strip().splitlines()[-1])


def firmware(board):
    try:
        code, r = board.post("/api/v1/firmware", None, method="GET")
    except (OSError, ValueError, http.client.HTTPException):
        return {}                                   # rebooting (also while it answered)
    return r if code == 200 else {}


def test_the_page_installs_a_bundle_and_shows_the_history(board, tmp_path):
    """Last on this board (it reboots it). A bundle made by tools.bundle is uploaded on the page while
    a car is plugged in: it waits for the session to end, then the board reboots into it and it
    confirms itself. A metered session on the new firmware then shows in the history table."""
    why = no_browser()
    if why:
        pytest.skip("browser test skipped: " + why)
    path = vboard_bundle(str(tmp_path))
    code, r = board.post("/api/v1/settings", {"values": {"meter": "ct", "meter_phases": 1}}, method="PUT")
    assert code == 200 and "meter" in r["reboot"], r           # the history needs a meter: after the reboot
    board.car("plug")
    wait_for("B2", lambda: board.status_or_none("B2"), 30)
    seen = page(board, "upload", path)
    assert seen["firmware"].startswith("running ") and "(base install)" in seen["firmware"], seen
    assert seen["message"] == "firmware %s checked: installs when the session ends" % BUNDLE_VERSION, seen
    assert firmware(board)["update"] == "waiting for the session to end"
    board.car("unplug")
    wait_for("the board running the bundle", lambda: firmware(board).get("version") == BUNDLE_VERSION, 180)
    wait_for("its confirmation", lambda: firmware(board).get("trial") is False, 60)
    fw = firmware(board)
    assert fw["result"] == "installed " + BUNDLE_VERSION and fw["active"] in ("a", "b"), fw
    board.car("plug")
    board.car("ask")
    wait_for("charging", lambda: (board.status_or_none("C2") or {}).get("session_wh", 0) >= 5, 60)
    board.car("unplug")
    wait_for("A1", lambda: board.status_or_none("A1"), 30)
    seen = page(board, "history", HISTORY_SHOT)
    assert seen["firmware"].startswith("running %s (bundle %s)" % (BUNDLE_VERSION, fw["active"])), seen
    assert seen["header"][:5] == ["session", "start (charger's time)", "end (charger's time)", "duration_s",
                                  "energy_wh"], seen              # the page's times: the charger's zone
    assert len(seen["rows"]) == 1 and float(seen["rows"][0][4]) >= 5, seen
    assert seen["csv_name"] == "evse-history.csv" and seen["csv"].startswith("session,start_local")
    assert seen["csv"].split("\r\n")[1].split(",")[4] == seen["rows"][0][4]


def test_a_bundle_that_cannot_start_is_rolled_back_at_once(board, tmp_path):
    """After the install above: a bundle whose evse/app raises on import (a bad build) is uploaded
    and installed. main.py finds it on trial and resets the board at once, and boot.py rolls it
    back: the board runs the bundle before it again within a boot or two, not after the 10-minute
    maintenance window at the REPL."""
    path = vboard_bundle(str(tmp_path), "9.9.9-broken", 'raise RuntimeError("a bad build")\n')
    before = firmware(board)                        # the bundle above (the base install without a browser)
    assert before.get("trial") is False and before.get("failed") is None, before
    with open(path, "rb") as f:
        data = f.read()
    req = urllib.request.Request(board.url + "/api/v1/firmware", data=data, method="POST", headers={
        "Content-Type": "application/octet-stream",
        "Authorization": "Basic " + base64.b64encode(("admin:" + PW).encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        answer = e.code, json.loads(e.read())
    assert answer[0] == 200 and answer[1]["version"] == "9.9.9-broken", answer
    wait_for("the board back on the bundle before", lambda: firmware(board).get("failed") is not None, 180)
    fw = firmware(board)
    assert fw["version"] == before["version"] and fw["active"] == before["active"], fw
    assert fw["result"].startswith("rolled back"), fw
