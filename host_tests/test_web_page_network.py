"""What the page (firmware/www/index.html) tells a home owner about the network, in Debian's chromium
driven by playwright-core (tools/webtest/network_test.mjs; skipped, saying why, without them). The
status is a real one from the web service on the bench, with the Wi-Fi and HTTPS fields a board
would send (docs/network.md, docs/web.md), each checked against docs/openapi.json's Status first."""
import json
import os

import jsonschema
import pytest

from test_web_upy import Bench
from vboard_helpers import page_in_browser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOT = os.path.join(ROOT, "build", "web-network.png")
HTTPS_FAILED = ("failed: certs/web_cert.pem and certs/web_key.pem missing or damaged (no such file); "
                "serving plain http:// on port 443")

# (bench scenario, the fields a board sends; None: the field left out of the status altogether)
CASES = [
    ("a board without Wi-Fi, plain http", {}),
    ("an older firmware: no network fields at all", {"wifi": None, "wifi_error": None, "setup_ap": None,
                                                     "https": None}),
    ("joined the home network, HTTPS on", {"wifi": "connected", "https": "on"}),
    ("joined, the set-up access point still up for its last minute", {"wifi": "connected",
                                                                     "setup_ap": "evse-1a2b3c"}),
    ("first boot: no network configured yet", {"wifi": "access point", "setup_ap": "evse-1a2b3c"}),
    ("the router's password changed: the access point reopened",
     {"wifi": "waiting to retry", "wifi_error": "wrong password", "setup_ap": "evse-1a2b3c"}),
    ("the router is off, not yet for 3 minutes", {"wifi": "connecting", "wifi_error":
                                                  "network not found (out of range, off, or its name changed)"}),
    ("the HTTPS certificate is missing, on a board without Wi-Fi", {"https": HTTPS_FAILED}),
]


def statuses():
    """A real status from the web service (no Wi-Fi, https off), once per case with its fields."""
    base = Bench().web.status()
    assert base["wifi"] is None and base["setup_ap"] is None and base["https"] == "off", base
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        schema = dict(json.load(f)["components"]["schemas"]["Status"])
    out = []
    for _, fields in CASES:
        st = dict(base)
        st.update(fields)
        for k in [k for k, v in fields.items() if v is None]:
            del st[k]
        if "https" in st:                               # every field a board sends is documented
            jsonschema.Draft202012Validator(schema).validate(st)
        out.append(st)
    return out


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    got = page_in_browser("network_test.mjs", statuses, tmp_path_factory.mktemp("netpage"), SCREENSHOT, 120)
    assert len(got) == len(CASES)
    return dict((name, g) for (name, _), g in zip(CASES, got))


def test_nothing_about_the_network_when_all_is_well_or_there_is_no_wifi(seen):
    for name in ("a board without Wi-Fi, plain http", "an older firmware: no network fields at all"):
        assert not seen[name]["network_shown"] and not seen[name]["notice_shown"], (name, seen[name])
        assert seen[name]["network"] == [], seen[name]
    home = seen["joined the home network, HTTPS on"]
    assert home["network"] == [["Wi-Fi", "connected", "ok"]] and not home["notice_shown"], home


def test_the_set_up_access_point_is_announced_with_its_name_and_the_setup_link(seen):
    for name in ("first boot: no network configured yet", "the router's password changed: the access point reopened"):
        s = seen[name]
        assert s["notice_shown"] and "evse-1a2b3c" in s["notice"] and s["notice_link"] == ["/setup"], (name, s)
    first = seen["first boot: no network configured yet"]
    assert first["network"] == [["Wi-Fi", "access point", ""]], first
    # joined: /setup answers 404 from then on (evse/services/wifisetup.py), so no notice sends anyone there
    assert not seen["joined, the set-up access point still up for its last minute"]["notice_shown"]


def test_why_the_network_cannot_be_joined_is_said_in_words(seen):
    s = seen["the router's password changed: the access point reopened"]
    assert s["network_shown"] and s["network"] == [["Wi-Fi", "waiting to retry", "bad"],
                                                   ["Why not joined", "wrong password", "bad"]], s
    s = seen["the router is off, not yet for 3 minutes"]
    assert s["network"][1] == ["Why not joined", "network not found (out of range, off, or its name changed)",
                               "bad"] and not s["notice_shown"], s


def test_a_failed_https_is_shown_even_without_wifi(seen):
    s = seen["the HTTPS certificate is missing, on a board without Wi-Fi"]
    assert s["network_shown"] and not s["notice_shown"], s
    assert s["network"] == [["HTTPS", HTTPS_FAILED + "; the password travels unencrypted", "bad"]], s
