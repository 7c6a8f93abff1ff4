# upy-heap: 448k
# The web service (evse/services/web.py) on both interpreters, against a real App on the Rig:
# microdot's own test client sends the requests a browser would (no sockets, virtual time).
# Its heap: microdot loaded as .mpy into RAM costs about 55 KB on this 64-bit port (the figure in
# test_web_heap_upy.py); frozen into a board image its bytecode stays in flash.
import asyncio
import json
import sys

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.services import console as C
from evse.core import vocab as V
import upytest

PW = "bench-password-0123"
CAR_B = 2740            # ohms: a vehicle connected, not asking (state B)
CAR_C = 882             # ohms: a vehicle asking for power (state C)


class Bench:
    """A charger with its console and web service, and a browser that talks to it."""

    def __init__(self, password=PW, config=None, flash_dir=None, board="sim"):
        from evse.services import web as W
        from microdot.test_client import TestClient
        import gc
        gc.collect()                     # the last test's charger, gone before this one is built
        cfg = {"max_current": 32, "web_port": 8080, "web_password": password}
        cfg.update(config or {})
        self.rig = Rig(board=board, config=cfg, flash_dir=flash_dir)
        self.app = self.rig.app
        C.attach(self.app, upytest.NullConsole())
        W.FAIL_DELAY_S = 0               # the test's wrong passwords need not wait
        self.web = W.attach(self.app)
        self.client = TestClient(self.web.http, host="192.168.1.50")   # its own (microdot: example.com)
        self.auth = None
        self.rig.run(1.0)

    def plug(self, ohms):
        w = self.rig.world
        w.plugged = True
        w.ev_ohms = ohms
        w.recompute()
        self.rig.run(2.0)

    def call(self, method, path, body=None, auth=True):
        headers = {"Authorization": self.auth} if auth and self.auth else {}
        r = asyncio.run(self.client.request(method, "/api/v1/" + path, headers=headers, body=body))
        self.rig.run(0.1)                 # the control loop runs on: the change reaches the pilot
        return r.status_code, r.json

    def login(self, password=PW):
        code, r = self.call("POST", "login", {"password": password}, auth=False)
        if code == 200:
            self.auth = "Bearer " + r["token"]
        return code, r

    def status(self):
        return self.call("GET", "status")[1]


def test_status_answers_without_a_password_and_says_it_in_words():
    b = Bench()
    code, s = b.call("GET", "status", auth=False)
    assert code == 200
    for k in ("state", "contactor", "offered_a", "fault", "session_wh", "total_wh", "iec_state",
              "state_text", "current_a", "power_w", "temp_c", "fault_text", "cp_high_v", "cp_low_v",
              "pp_ohms", "diode", "tick_gap_ms"):
        assert k in s, k
    assert s["state"] == "A1" and s["iec_state"] == "A" and s["state_text"] == "no vehicle connected"
    assert s["contactor"] is False and s["offered_a"] == 0 and s["fault"] is None
    assert 11.0 < s["cp_high_v"] < 13.0           # no car: +12 V on the pilot


def test_nothing_changes_without_the_password():
    b = Bench()
    limits = dict(b.app.charger.limits)
    with open(b.app.flash_dir + "/settings.a", "rb") as f:
        before = f.read()
    for verb, path, body in (("POST", "limit", {"amps": 6}), ("POST", "disable", None),
                             ("POST", "stop", None), ("POST", "authorize", {"id_tag": "x"}),
                             ("PUT", "settings", {"values": {"max_current": 80}}),
                             ("GET", "settings", None)):
        code, r = b.call(verb, path, body)
        assert code == 401 and r["ok"] is False and "log in" in r["error"], (path, code, r)
    b.auth = "Bearer 0123456789abcdef0123456789abcdef"          # a token never issued
    assert b.call("POST", "disable")[0] == 401
    b.auth = "Basic " + "YWRtaW46d3Jvbmctd3Jvbmctd3Jvbmc="       # admin:wrong-wrong-wrong
    assert b.call("POST", "disable")[0] == 401
    assert b.app.charger.enabled and b.app.charger.limits == limits
    with open(b.app.flash_dir + "/settings.a", "rb") as f:
        assert f.read() == before


def test_no_web_password_set_means_read_only():
    b = Bench(password="")
    assert b.login("")[0] == 403
    code, r = b.call("POST", "disable")
    assert code == 403 and "web_password" in r["error"] and b.app.charger.enabled
    assert b.call("GET", "status")[0] == 200


def test_wrong_password_is_refused():
    b = Bench()
    code, r = b.login("bench-password-0124")
    assert code == 401 and r["error"] == "wrong password" and b.auth is None
    assert b.login(None)[0] == 400


def test_login_then_limit_changes_the_duty_on_the_bench():
    b = Bench()
    b.plug(CAR_B)
    s = b.status()
    assert s["state"] == "B2" and s["offered_a"] == 32 and abs(s["duty"] - 53.3) < 0.1
    assert b.login()[0] == 200
    code, r = b.call("POST", "limit", {"amps": 10})
    assert code == 200 and r["ok"] and r["limit"] == 10
    s = b.status()
    assert s["offered_a"] == 10 and abs(s["duty"] - 16.7) < 0.1 and s["limit_by"] == "rest"
    assert b.call("POST", "limit", {"amps": None})[0] == 200       # removed: the rating again,
    b.rig.run(5.0)                                                 # raised 5 s after the last change
    assert b.status()["offered_a"] == 32


def test_http_basic_auth_works_too():
    b = Bench()
    import binascii
    b.auth = "Basic " + binascii.b2a_base64(("admin:" + PW).encode()).decode().strip()
    assert b.call("POST", "disable")[0] == 200
    assert b.status()["state"] == "disabled" and not b.app.charger.enabled
    assert b.call("POST", "enable")[0] == 200 and b.app.charger.enabled


def test_bad_input_gets_the_consoles_answer_and_changes_nothing():
    b = Bench()
    b.login()
    con = C.Console(b.app, upytest.NullConsole())
    for body in ('{"amps": "16"}', '{"amps": true}', '{"amps": 1e999}', '{"amps": 200}'):
        code, r = b.call("POST", "limit", body)
        req = json.loads(body)
        req["cmd"] = "limit"
        want = con.answer(req, 0)
        assert code == 400 and r == want, (body, r, want)
    assert "rest" not in b.app.charger.limits
    b.call("POST", "limit", {"amps": 8})
    for body in ({}, {"amp": 6}):          # a missing or misspelt amps never lifts the limit
        code, r = b.call("POST", "limit", body)
        assert code == 400 and ("amps must be given" in r["error"] or "unknown field" in r["error"]), r
        assert con.answer(dict(body, cmd="limit"), 0)["ok"] is False      # the console alike
    assert b.app.charger.limits["rest"] == 80
    code, r = b.call("POST", "authorize", {})
    assert code == 400 and "id_tag" in r["error"] and not b.app.charger.authorized
    assert b.call("POST", "reboot")[0] == 404 and b.call("POST", "set")[0] == 404
    h = {"Authorization": b.auth}
    r = asyncio.run(b.client.post("/api/v1/limit", headers=h, body=b"{not json"))
    assert r.status_code == 400 and r.json["error"] == "not JSON"


def test_settings_validated_and_saved_like_the_console():
    b = Bench()
    b.login()
    code, r = b.call("GET", "settings")
    assert code == 200 and r["settings"]["web_password"] == "(set)"       # write-only
    assert r["settings"]["ocpp_password"] == "" and "max_current" in r["schema"]
    code, r = b.call("PUT", "settings", {"values": {"max_current": 200}})
    assert code == 400 and "max_current" in r["error"] and b.app.cfg["max_current"] == 32
    code, r = b.call("PUT", "settings", {"values": {"no_such_key": 1}})
    assert code == 400 and "unknown key" in r["error"]
    code, r = b.call("PUT", "settings", {"values": {"max_current": 16, "phases": 3}})   # on J1772
    assert code == 400 and "connector, phases: j1772 carries one phase" in r["error"], r
    assert b.app.cfg["max_current"] == 32                                 # refused: nothing changed
    code, r = b.call("PUT", "settings", {"values": {"max_current": 16, "connector": "type2-tethered", "phases": 3}})
    assert code == 200 and r["reboot"] == ["connector", "phases"] and b.app.cfg["max_current"] == 16
    from evse.services import settings as S
    stored, _, _ = S.load(b.app.settings_path)
    assert stored["max_current"] == 16 and stored["phases"] == 3
    # read back (a page opened again): the running value, and the saved one waiting for a reboot
    code, r = b.call("GET", "settings")
    assert r["settings"]["phases"] == 1 and r["pending"] == {"connector": "type2-tethered", "phases": 3}
    b.call("PUT", "settings", {"values": {"ocpp_password": "a-new-secret-0123"}})
    assert b.call("GET", "settings")[1]["pending"] == {"connector": "type2-tethered", "phases": 3,
                                                       "ocpp_password": "(set)"}


def test_a_new_password_logs_everyone_out():
    b = Bench()
    b.login()
    code, r = b.call("PUT", "settings", {"values": {"web_password": "another-password-42"}})
    assert code == 200 and r["reboot"] == []
    assert b.call("POST", "disable")[0] == 401 and b.app.charger.enabled
    assert b.login()[0] == 401 and b.login("another-password-42")[0] == 200
    code, r = b.call("PUT", "settings", {"values": {"web_password": "short"}})
    assert code == 400 and "16-40" in r["error"]


def test_logging_out_forgets_that_token_only():
    b = Bench()
    b.login()
    phone = b.auth
    b.login()                                          # the same owner on a laptop
    assert b.call("POST", "logout") == (200, {"ok": True})
    assert b.call("POST", "disable")[0] == 401 and b.app.charger.enabled     # the laptop's token is gone
    assert b.call("POST", "logout")[0] == 401
    b.auth = phone
    assert b.call("POST", "disable")[0] == 200 and not b.app.charger.enabled


def test_pilot_diagnostics_show_the_car_and_its_diode():
    b = Bench()
    b.plug(CAR_C)
    s = b.status()
    assert s["state"] == "C2" and s["contactor"] is True and s["iec_state"] == "C"
    assert 5.0 < s["cp_high_v"] < 7.0 and -13.0 < s["cp_low_v"] < -11.0
    assert s["diode"] == "ok" and s["fault"] is None


def test_every_state_and_fault_has_plain_words():
    from evse.services import words
    names = [getattr(V, k) for k in dir(V) if k.startswith("ST_")]
    faults = [getattr(V, k) for k in dir(V) if k.startswith("FAULT_")]
    assert sorted(words.STATES) == sorted(names)
    assert sorted(words.FAULTS) == sorted(faults)
    assert words.state("nonsense")[0] == "?"


def test_a_websocket_pushes_the_status_when_it_changes():
    b = Bench()
    from evse.services import web as W
    sent = []

    class Silent:
        async def readexactly(self, n):      # a browser that sends nothing
            await asyncio.sleep(60)

    class Req:
        sock = (Silent(), None)

    class WS:
        request = Req()

        async def send(self, text):
            sent.append(json.loads(text))
            if len(sent) == 2:
                raise OSError(32)            # the browser went away

    async def go():
        task = asyncio.create_task(b.web.status_socket(None, WS()))
        await asyncio.sleep(W.WS_PERIOD_MS * 2 / 1000)
        b.app.charger.enable(False)
        b.rig.run(0.1)
        for _ in range(10):
            await asyncio.sleep(W.WS_PERIOD_MS / 1000)
        try:
            await task
        except OSError:
            pass
    asyncio.run(go())
    assert [s["state"] for s in sent] == ["A1", "disabled"]      # once each: only changes go out
    assert b.web.ws_clients == 0


def test_a_websocket_client_that_reads_nothing_frees_its_slot():
    """A push not written within WS_RESEND_MS (the socket's buffer full: a phone gone out of range)
    ends that client; before, its send waited for ever and held the slot."""
    b = Bench()
    from evse.services import web as W

    class Silent:
        async def readexactly(self, n):
            await asyncio.sleep(60)

    class Req:
        sock = (Silent(), None)

    class Stuck:
        request = Req()
        closed = False

        async def send(self, data, opcode=None):
            await asyncio.sleep(60)              # never written

    ws = Stuck()
    keep = W.WS_RESEND_MS
    W.WS_RESEND_MS = 300
    try:
        asyncio.run(asyncio.wait_for(b.web.status_socket(None, ws), 5))
    finally:
        W.WS_RESEND_MS = keep
    assert ws.closed and b.web.ws_clients == 0


if __name__ == "__main__":
    upytest.run(globals())
