"""The web page over HTTPS (web_tls) on CPython, with real sockets: a browser that trusts the test CA
(host_tests/pki.py, PyPI `cryptography`) reads the status over https://, needs the password for a
change as over http://, and a bare http:// address is sent on to https://. A missing or damaged
certificate or key is said in the status and the log, and the page is then served over plain http://
rather than not at all. The unix port's run of the same: host_tests/upy_live/web_https.py, below."""
import asyncio
import base64
import http.client
import json
import os
import ssl
import subprocess
import sys

import pytest

import pki
import upytest
from tools.waiting import free_port

PW = "bench-password-0123"


def make_certs(flash, ca_dir):
    """certs/web_cert.pem and web_key.pem on the flash (a server certificate for 127.0.0.1 from a
    fresh root); the root, which the browser trusts, in ca_dir/ca.pem."""
    root_key = pki.key("ec")
    root = pki.cert(root_key, "Home CA", ca=True)
    srv, srv_key = pki.server_cert(root_key, root)
    os.makedirs(os.path.join(flash, "certs"), exist_ok=True)
    with open(os.path.join(flash, "certs", "web_cert.pem"), "w") as f:
        f.write(pki.pem(srv))
    pki.write_key(srv_key, os.path.join(flash, "certs", "web_key.pem"))
    ca = os.path.join(ca_dir, "ca.pem")
    with open(ca, "w") as f:
        f.write(pki.pem(root))
    return ca


def fetch(port, path, ca=None, method="GET", body=None, auth=False):
    """(status, headers, body) of one request; https:// when ca is given (checked against it)."""
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": "application/json"}
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(("admin:" + PW).encode()).decode()
    try:
        c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


class Board:
    """The App on the Rig with its console and web service serving on real sockets, the control
    loop run one tick per loop iteration beside it."""

    def __init__(self, flash, **settings):
        from tools.sim import mock_machine
        mock_machine.install()
        from tools.sim.rig import Rig
        from evse.services import console as C
        from evse.services import web as W
        self.port = free_port()
        cfg = {"max_current": 32, "web_port": self.port, "web_password": PW}
        cfg.update(settings)
        self.rig = Rig(config=cfg, flash_dir=str(flash))
        self.app = self.rig.app

        C.attach(self.app, upytest.NullConsole())
        self.web = W.attach(self.app)

    async def serve(self, check):
        """Run the service while check() (a blocking client, in a thread) runs; its result."""
        tasks = [asyncio.create_task(self.web.run()), asyncio.create_task(self._ticks())]
        try:
            # listening, and the charger past its boot checks: on a loaded machine both take a while
            while self.web.http.server is None or self.app.charger.state == "boot":
                if tasks[0].done():
                    tasks[0].result()                # the service failed to start: say why
                await asyncio.sleep(0.01)
            return await asyncio.to_thread(check)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.web.http.shutdown()

    async def _ticks(self):
        while True:
            self.rig.run(0.01)
            await asyncio.sleep(0.005)


@pytest.fixture
def redirect_port(monkeypatch):
    from evse.services import webtls
    port = free_port()
    monkeypatch.setattr(webtls, "REDIRECT_PORT", port)      # 80 needs root
    return port


def test_the_status_over_https_and_changes_still_need_the_password(tmp_path, redirect_port):
    flash = tmp_path / "flash"
    flash.mkdir()
    ca = make_certs(str(flash), str(tmp_path))
    b = Board(flash, web_tls=True)

    def browser():
        code, _, body = fetch(b.port, "/api/v1/status", ca)
        st = json.loads(body)
        assert code == 200 and st["state"] == "A1" and st["https"] == "on"
        assert fetch(b.port, "/api/v1/limit", ca, "POST", {"amps": 10})[0] == 401
        assert fetch(b.port, "/api/v1/limit", ca, "POST", {"amps": 10}, auth=True)[0] == 200
        with pytest.raises(ssl.SSLError):             # a browser that does not trust the CA
            _untrusted(b.port)
        code, headers, _ = fetch(redirect_port, "/api/v1/status?x=1")
        assert code == 302 and headers["Location"] == "https://127.0.0.1:%d/api/v1/status?x=1" % b.port
        assert fetch(redirect_port, "/api/v1/limit", None, "POST", {"amps": 32}, auth=True)[0] == 405
        return True
    assert asyncio.run(b.serve(browser))
    assert b.app.status(0)["limit"] == 10                     # the change made over https:// holds


def _untrusted(port):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(), timeout=10)
    try:
        c.request("GET", "/api/v1/status")
    finally:
        c.close()


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_missing_or_damaged_certificate_is_said_and_the_page_stays_on_plain_http(tmp_path, damage, redirect_port):
    flash = tmp_path / "flash"
    flash.mkdir()
    make_certs(str(flash), str(tmp_path))
    cert = flash / "certs" / "web_cert.pem"
    if damage == "missing":
        cert.unlink()
    else:
        cert.write_text(cert.read_text()[:200] + "junk\n-----END CERTIFICATE-----\n")
    b = Board(flash, web_tls=True)
    assert b.web.https.startswith("failed: certs/web_cert.pem and certs/web_key.pem missing or damaged")
    assert "plain http:// on port %d" % b.port in b.web.https
    assert [e for e in b.app.errors if e[0] == "web" and "https failed" in e[1]]

    def browser():
        code, _, body = fetch(b.port, "/api/v1/status")
        assert code == 200 and json.loads(body)["https"] == b.web.https
        assert fetch(b.port, "/api/v1/limit", None, "POST", {"amps": 10})[0] == 401
        return True
    assert asyncio.run(b.serve(browser))


def test_an_rsa_key_on_the_rp2040_is_said_and_the_page_stays_on_plain_http(tmp_path, monkeypatch, redirect_port):
    """Its signature holds the RP2040 about 4.2 s in one call (the emulated chip), past the
    watchdog: every page load would reset the board (test_tls_keys_upy.py)."""
    from evse.shell import tls
    monkeypatch.setattr(tls, "machine_name", lambda: "Raspberry Pi Pico W with RP2040")
    flash = tmp_path / "flash"
    flash.mkdir()
    make_certs(str(flash), str(tmp_path))
    pki.write_key(pki.key("rsa"), str(flash / "certs" / "web_key.pem"))
    b = Board(flash, web_tls=True)
    assert b.web.https.startswith("failed: certs/web_key.pem is an RSA key"), b.web.https
    assert "RP2040" in b.web.https and "EC P-256" in b.web.https
    assert "plain http:// on port %d" % b.port in b.web.https

    def browser():
        code, _, body = fetch(b.port, "/api/v1/status")
        return code == 200 and json.loads(body)["https"] == b.web.https
    assert asyncio.run(b.serve(browser))


def test_the_same_on_the_micropython_unix_port(tmp_path):
    """microdot's ssl= on the port's own asyncio and mbedtls: the status over https://, the password
    for a change, the redirect; what HTTPS costs the heap, and the longest gap between two control
    ticks while new connections are served over http:// and over https:// (printed)."""
    import threading
    import time
    from tools.toolchain import upy_tests as U
    assert not U.precompile()
    flash = tmp_path / "flash"
    flash.mkdir()
    ca = make_certs(str(flash), str(tmp_path))
    port, redirect = free_port(), free_port()
    p = subprocess.Popen([U.micropython(), "-X", "heapsize=512k",
                          os.path.join(os.path.dirname(__file__), "upy_live", "web_https.py"),
                          str(port), str(flash), str(redirect)], env=U.upy_env(), cwd=U.ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []                   # (time read, line)
    threading.Thread(target=lambda: [lines.append((time.monotonic(), x)) for x in p.stdout], daemon=True).start()

    def said(word):
        return [x for _, x in lines if x.startswith(word)]
    try:
        t0 = time.monotonic()
        while not said("READY") and p.poll() is None and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        assert said("HTTPS on"), "".join(x for _, x in lines)
        code, _, body = fetch(port, "/api/v1/status", ca)
        assert code == 200 and json.loads(body)["https"] == "on"
        assert fetch(port, "/api/v1/limit", ca, "POST", {"amps": 10})[0] == 401
        code, _, body = fetch(port, "/api/v1/limit", ca, "POST", {"amps": 10}, auth=True)
        assert code == 200 and json.loads(body)["limit"] == 10
        code, headers, _ = fetch(redirect, "/")
        assert code == 302 and headers["Location"] == "https://127.0.0.1:%d/" % port
        gaps = {}
        for scheme, target, cafile in (("http", redirect, None), ("https", port, ca)):
            time.sleep(0.5)
            t0 = time.monotonic()
            for _ in range(5):                  # a new connection each
                fetch(target, "/", cafile)
            time.sleep(0.5)
            gaps[scheme] = max(int(x.split()[1]) for t, x in lines if t0 < t and x.startswith("GAP"))
    finally:
        p.kill()
        p.wait()
    print("".join(said("HEAP")))
    print("longest tick gap over 5 new connections: http %(http)d us, https %(https)d us" % gaps)


def test_web_tls_is_checked_like_every_setting():
    from evse.services import settings
    cfg, errors = settings.validate({"max_current": 16, "web_tls": "yes"})
    assert cfg["web_tls"] is False and errors == ["web_tls: must be true or false (using the default False)"]
    assert settings.validate({"max_current": 16, "web_tls": True}) == (dict(cfg, web_tls=True), [])


def test_the_redirect_keeps_the_host_and_the_path():
    from evse.services.webtls import https_url
    assert https_url("evse.local", 443, "/api/v1/status?n=2") == "https://evse.local/api/v1/status?n=2"
    assert https_url("192.168.1.20:80", 8443, "/") == "https://192.168.1.20:8443/"
    assert https_url("[fe80::1]:80", 443, "/") == "https://[fe80::1]/"
    assert https_url("[fe80::1]", 443, "/") == "https://[fe80::1]/"
    assert https_url(None, 443, "/") is None and https_url("", 443, "/") is None
