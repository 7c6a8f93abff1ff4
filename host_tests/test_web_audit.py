"""The web service and page against what an audit found (docs/web.md, docs/openapi.json): each test
a bench scenario that failed on the service before its fix. The page's cases run in Debian's chromium
driven by playwright-core (tools/webtest/input_test.mjs; skipped, saying why, without them)."""
import json
import os
import subprocess

import pytest

from test_web_upy import Bench
from vboard_helpers import no_browser
from tools import webfiles

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEBTEST = os.path.join(ROOT, "tools", "webtest")
XSS = "'autofocus onfocus='window.x=1"
SSID = "Bob's iPhone <b>&amp;\""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """What the page showed and sent, given settings saved on a real bench with quotes in them."""
    why = no_browser()
    if why:
        pytest.skip("browser test skipped: " + why)
    b = Bench()
    b.login()
    code, r = b.call("PUT", "settings", {"values": {"wifi_ssid": SSID, "ocpp_id": XSS}})
    assert code == 200, r
    code, r = b.call("GET", "settings")
    assert code == 200 and r["settings"]["wifi_ssid"] == SSID
    r["settings"]["ocpp_id"] = XSS                 # saved above, shown so after the reboot it needs
    path = str(tmp_path_factory.mktemp("inputs") / "settings.json")
    with open(path, "w") as f:
        json.dump(r, f)
    p = subprocess.run(["node", "input_test.mjs", webfiles.PAGE_SRC, path], cwd=WEBTEST,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert p.returncode == 0, p.stdout
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["settings"] = r["settings"]
    return out


def test_a_setting_with_quotes_shows_as_stored_and_never_runs_script(page):
    assert page["script_ran"] is False
    assert page["fields"]["ocpp_id"] == XSS and page["fields"]["wifi_ssid"] == SSID
    for k, v in page["settings"].items():          # every text field shows what the charger holds
        if isinstance(v, str) and k in page["fields"]:
            assert page["fields"][k] == v, k


def test_saving_the_settings_unedited_changes_nothing(page):
    assert page["save_msg"] == "nothing changed"
    assert not [s for s in page["sent"] if s[1] == "/api/v1/settings"]


def test_an_invalid_or_empty_limit_is_refused_on_the_page_and_never_lifts_the_limit(page):
    for case in page["limits"][:3]:                # "1e", nothing, "-": the field holds no number
        assert case["sent"] == [] and case["bad"], case
    ten = page["limits"][3]
    assert [json.loads(s[2]) for s in ten["sent"]] == [{"amps": 10}], ten
    assert [json.loads(s[2]) for s in page["remove"]] == [{"amps": None}]   # only the explicit removal


def test_a_limit_set_over_rest_is_the_rest_apis_and_falls_back_when_it_goes_silent():
    """A load balancer that sets 16 A over REST, then loses its link: after fallback_timeout_s the
    current falls to fallback_current_a (docs/mqtt.md, Fallback), as for MQTT."""
    b = Bench(config={"fallback_timeout_s": 30, "fallback_current_a": 6})
    b.plug(2740)
    b.login()
    code, r = b.call("POST", "limit", {"amps": 16})
    assert code == 200 and r["limit"] == 16
    s = b.status()
    assert s["limit_by"] == "rest" and s["limit_a"] == 16 and s["offered_a"] == 16
    b.rig.run(20.0)
    assert b.call("POST", "limit", {"amps": 16})[0] == 200        # it speaks again: watched afresh
    b.rig.run(20.0)
    assert b.status()["limit_by"] == "rest"
    b.rig.run(15.0)                                               # 35 s of silence
    s = b.status()
    assert s["limit_by"] == "fallback" and s["limit_a"] == 6 and s["offered_a"] == 6
    assert b.call("POST", "limit", {"amps": 16})[0] == 200        # its next limit ends the fallback
    b.rig.run(6.0)
    assert b.status()["limit_by"] == "rest"


def _timed(b, *auths):
    """(seconds, status codes) of POST /api/v1/disable sent at once with each Authorization."""
    import asyncio
    import time

    async def go():
        return await asyncio.gather(*[b.client.request("POST", "/api/v1/disable", headers={"Authorization": a})
                                      for a in auths])
    t0 = time.monotonic()
    rs = asyncio.run(go())
    return time.monotonic() - t0, [r.status_code for r in rs]


def test_a_wrong_basic_or_bearer_password_is_answered_slowly_even_when_guessed_in_parallel():
    import binascii
    from evse.services import web as W
    from evse.services import weblock as L
    b = Bench()
    W.FAIL_DELAY_S = 0.3                       # the board's 1 s, shortened for the bench
    L.FAILS_FREE = 100                         # the delay alone (the lockout: test_web_audit10)
    try:
        wrong = "Basic " + binascii.b2a_base64(b"admin:wrong-password-12345").decode().strip()
        dt, codes = _timed(b, wrong)
        assert codes == [401] and dt >= 0.3, dt
        dt, codes = _timed(b, "Bearer 0123456789abcdef0123456789abcdef")
        assert codes == [401] and dt >= 0.3, dt
        dt, codes = _timed(b, wrong, wrong, wrong, wrong)     # four guesses at once: one a delay
        assert codes == [401] * 4 and dt >= 1.2, dt
        assert b.app.charger.enabled
        right = "Basic " + binascii.b2a_base64(("admin:" + b.web.app.cfg["web_password"]).encode()).decode().strip()
        dt, codes = _timed(b, right)
        assert codes == [200] and dt < 0.3, dt                # the right one is never slowed
    finally:
        W.FAIL_DELAY_S = 0
        L.FAILS_FREE = 5


def test_a_bundle_with_a_deeply_nested_manifest_is_refused_and_the_next_upload_is_taken():
    """A manifest the JSON parser cannot hold (RecursionError here, MemoryError on a board) used to
    leave the updater 'checking the bundle' until a reboot, refusing every later upload (409)."""
    from test_web_fw_upy import VERSION_NEW, call_raw, fast, make_bundle
    b = fast(Bench())
    b.login()
    r = call_raw(b, "POST", "firmware", b"[" * 16000 + b"]" * 300 + b"\n")
    assert r.status_code == 400 and r.json["ok"] is False and r.json["error"].startswith("firmware: "), r.json
    st = call_raw(b, "GET", "firmware").json
    assert st["update"] == "idle" and st["error"] == r.json["error"], st
    r = call_raw(b, "POST", "firmware", make_bundle(VERSION_NEW))
    assert r.status_code == 200 and r.json["version"] == VERSION_NEW, r.json


def serve(b, client):
    """Run the bench's web service on a real port while client(port) (blocking, in a thread) runs."""
    import asyncio
    from tools.waiting import free_port
    port = free_port()

    async def go():
        server = asyncio.create_task(b.web.http.start_server(host="127.0.0.1", port=port))
        try:
            await asyncio.sleep(0.2)
            return await asyncio.to_thread(client, port)
        finally:
            b.web.http.shutdown()
            await asyncio.gather(server, return_exceptions=True)
    return asyncio.run(go())


def ws_connect(port):
    import base64
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def ws_frame(op, payload=b""):
    """A client's frame: masked, as RFC 6455 5.3 requires."""
    m = os.urandom(4)
    return bytes([0x80 | op, 0x80 | len(payload)]) + m + bytes(c ^ m[i % 4] for i, c in enumerate(payload))


def ws_read(s):
    """(opcode, payload) of the next frame from the server; (None, b'') at the end of the stream."""
    def rx(n):
        d = b""
        while len(d) < n:
            c = s.recv(n - len(d))
            if not c:
                raise EOFError
            d += c
        return d
    try:
        h = rx(2)
    except EOFError:
        return None, b""
    n = h[1] & 127
    if n == 126:
        n = int.from_bytes(rx(2), "big")
    return h[0] & 15, rx(n)


def ws_until(s, op):
    """Frames read until one with opcode op (status pushes skipped): its payload, or None at the end."""
    while True:
        got, payload = ws_read(s)
        if got == op:
            return payload
        if got is None:
            return None


def test_the_status_websocket_answers_ping_and_close_and_frees_its_slot_at_once():
    """RFC 6455 5.5.2 and 5.5.1: a Ping gets its Pong, a Close gets a Close; a page reloaded twice
    gets its status, not 'too many WebSocket clients' from slots kept by sockets already closed."""
    import time
    b = Bench()

    def browser(port):
        s = ws_connect(port)
        assert json.loads(ws_until(s, 1))["state"] == "A1"
        s.sendall(ws_frame(9, b"hello"))
        assert ws_until(s, 10) == b"hello"
        t0 = time.monotonic()
        s.sendall(ws_frame(8, (1000).to_bytes(2, "big")))
        assert ws_until(s, 8) is not None and time.monotonic() - t0 < 1.0
        assert ws_read(s)[0] is None                      # and the connection ends
        s.close()
        time.sleep(0.1)
        later = [ws_connect(port) for _ in range(2)]      # the page reloaded: both slots free again
        firsts = [json.loads(ws_until(w, 1)) for w in later]
        for w in later:
            w.sendall(ws_frame(8, (1000).to_bytes(2, "big")))
            w.close()
        return firsts
    firsts = serve(b, browser)
    assert [f.get("state") for f in firsts] == ["A1", "A1"], firsts
    time.sleep(0.1)
    assert b.web.ws_clients == 0


def raw(port, data):
    """(status, headers with lower-case names, body) of the answer to the raw request bytes."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    out = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except ConnectionResetError:
        pass
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (x.partition(":") for x in lines[1:]))
    return int(lines[0].split()[1]), headers, body


def http(method, path, body=b"", auth=None, extra=""):
    h = "Host: x\r\n" + ("Authorization: %s\r\n" % auth if auth else "") + extra
    if body or method in ("POST", "PUT"):
        h += "Content-Length: %d\r\n" % len(body)
    return ("%s %s HTTP/1.1\r\n%s\r\n" % (method, path, h)).encode() + body


def basic(text):
    import binascii
    return "Basic " + binascii.b2a_base64(text.encode()).decode().strip()


def test_methods_paths_and_credentials_are_answered_as_http_says():
    """RFC 9110: 405 names what is allowed, an unknown path is 404 whatever the method, a 401 says
    how to authenticate, the scheme's name is case-insensitive; RFC 7617: Basic is user:password."""
    from test_web_upy import PW
    b = Bench()

    def client(port):
        out = {}
        out["get_limit"] = raw(port, http("GET", "/api/v1/limit", auth=basic("u:" + PW)))
        out["post_status"] = raw(port, http("POST", "/api/v1/status", auth=basic("u:" + PW)))
        out["get_nothing"] = raw(port, http("GET", "/api/v1/nothing-here"))
        out["post_nothing"] = raw(port, http("POST", "/api/v1/nothing-here", auth=basic("u:" + PW)))
        out["options_status"] = raw(port, http("OPTIONS", "/api/v1/status"))
        out["no_auth"] = raw(port, http("POST", "/api/v1/disable"))
        out["wrong_login"] = raw(port, http("POST", "/api/v1/login", b'{"password": "not-the-password-1"}'))
        out["no_colon"] = raw(port, http("POST", "/api/v1/disable", auth=basic(PW)))
        out["lower_case"] = raw(port, http("POST", "/api/v1/enable", auth="basic " + basic("u:" + PW)[6:]))
        return out
    out = serve(b, client)
    code, h, body = out["get_limit"]
    assert code == 405 and h["allow"] == "POST, OPTIONS" and json.loads(body)["ok"] is False, out["get_limit"]
    code, h, body = out["post_status"]
    assert code == 405 and h["allow"] == "GET, HEAD, OPTIONS" and json.loads(body)["ok"] is False, out["post_status"]
    assert out["options_status"][1]["allow"] == "GET, HEAD, OPTIONS", out["options_status"]
    for k in ("get_nothing", "post_nothing"):
        code, h, body = out[k]
        assert code == 404 and json.loads(body)["ok"] is False, (k, out[k])
    for k in ("no_auth", "wrong_login", "no_colon"):
        code, h, body = out[k]
        assert code == 401 and h["www-authenticate"].startswith("Bearer realm="), (k, out[k])
    assert b.app.charger.enabled is True                   # the password alone, with no user: refused
    assert out["lower_case"][0] == 200


def test_a_chunked_body_is_refused_before_the_command_runs():
    """RFC 9112 6.1: microdot reads no chunked body; the command used to run with an empty one."""
    from test_web_upy import PW
    b = Bench()

    def client(port):
        return raw(port, ("POST /api/v1/disable HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" % basic("u:" + PW)).encode())
    code, h, body = serve(b, client)
    assert code == 501 and json.loads(body)["ok"] is False, (code, body)
    assert b.app.charger.enabled is True


def test_microdots_own_errors_come_in_the_documented_json_shape():
    """A query string it cannot decode, a WebSocket address opened without the upgrade, a body too
    large: each answered with openapi.json's Error, its status documented."""
    from test_web_upy import PW
    b = Bench()

    def client(port):
        return [raw(port, http("GET", "/api/v1/log?n=%zz", auth=basic("u:" + PW))),
                raw(port, http("GET", "/api/v1/ws")),
                raw(port, b"POST /api/v1/limit HTTP/1.1\r\nHost: x\r\nContent-Length: 600000\r\n\r\n")]
    got = serve(b, client)
    assert [g[0] for g in got] == [400, 400, 413], got
    for code, h, body in got:
        assert h["content-type"].startswith("application/json") and json.loads(body)["ok"] is False, body
    doc = json.load(open(os.path.join(ROOT, "docs", "openapi.json")))
    assert "413" in doc["paths"]["/api/v1/limit"]["post"]["responses"]
    assert "413" in doc["paths"]["/api/v1/firmware"]["post"]["responses"]


def test_the_password_comparison_reads_every_supplied_character_whatever_its_length():
    """Its time must not tell the password's length: the old comparison returned at once when the
    lengths differed, reading nothing."""
    from evse.services import web as W
    reads = []

    class Guess(str):
        def __getitem__(self, i):
            reads.append(i)
            return str.__getitem__(self, i)
    for guess in ("short", "x" * 19, "bench-password-0123", "y" * 60):
        del reads[:]
        assert W.same(Guess(guess), "bench-password-0123") is (guess == "bench-password-0123")
        assert sorted(reads) == list(range(len(guess))), (guess, reads)


def test_a_grid_reading_posted_over_rest_reaches_the_planner_only_when_rest_is_the_grid_source():
    """docs/planner.md lists rest as a grid_source: the API had no route for it (404), so solar mode
    fed from REST never got a reading. A reading from a source the settings did not choose is refused."""
    b = Bench(config={"solar_mode": "solar", "grid_source": "rest"})
    b.login()
    code, r = b.call("POST", "grid", {"watts": -3000})
    assert code == 200 and r["grid_w"] == -3000, r
    assert b.app.planner.surplus.grid_w == -3000
    for bad in ({"watts": "lots"}, {"watts": float("nan")}, {}):
        code, r = b.call("POST", "grid", bad)
        assert code == 400 and b.app.planner.surplus.grid_w == -3000, (bad, r)
    other = Bench(config={"solar_mode": "solar", "grid_source": "mqtt"})
    other.login()
    code, r = other.call("POST", "grid", {"watts": -3000})
    assert code == 400 and "mqtt" in r["error"] and other.app.planner.surplus.grid_w is None, r
