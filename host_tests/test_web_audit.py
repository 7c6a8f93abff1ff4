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
    b = Bench()
    W.FAIL_DELAY_S = 0.3                       # the board's 1 s, shortened for the bench
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
