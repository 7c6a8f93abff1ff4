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
