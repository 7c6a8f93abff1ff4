# upy-heap: 384k
# Wi-Fi set-up on first boot (issue 14, "network without fear"), on both interpreters: a Pico W with no
# network opens its WPA2 set-up access point and its web service (started for it, web_port 0) serves
# the set-up page; a phone on the access point posts the home network's name and password, checked
# and saved by the console's own `set`; the charger joins at once and the set-up is then gone (404).
import asyncio
import gc
import struct
import sys

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.drive import Drive
from tools.sim.rig import load_board
from tools.sim.mock_machine import network
from evse.app import attach_services

import upytest

HOME, HOME_KEY = "home", "correct horse battery"
PW = "bench-password-0123"


class Phone:
    """A first boot: the charger with its console and web service, and a phone on its access point."""

    def __init__(self, **cfg):
        from microdot.test_client import TestClient
        gc.collect()
        self.d = Drive(config=dict({"max_current": 32}, **cfg), board=load_board("rpi_pico_w"))
        self.app = self.d.app
        attach_services(self.app, upytest.NullConsole())
        network.access_points[HOME] = HOME_KEY
        self.client = TestClient(self.app.web.http, host="192.168.4.1") if self.app.web is not None else None
        self.d.run(1)

    def ask(self, method, path, body=None, auth=None):
        h = {"Authorization": auth} if auth else {}
        r = asyncio.run(self.client.request(method, path, headers=h, body=body))
        self.d.run(0.1)
        return r.status_code, r.json if r.json is not None else r.text

    def net(self):
        return self.app.status(0)["net"]

    def saved(self):
        """The settings on flash, as the next boot reads them."""
        from evse.services import settings
        return settings.load(self.app.settings_path)[0]


def test_a_new_board_serves_the_set_up_page_on_its_access_point():
    p = Phone()
    assert p.net()["wifi"] == "access point" and p.app.web is not None and p.app.web.port == 80
    code, page = p.ask("GET", "/setup")
    assert code == 200 and "Network name" in page and "password" in page
    code, r = p.ask("GET", "/generate_204")          # a phone's captive-portal check: led to the page
    assert code == 302


def test_the_network_entered_is_saved_and_joined_at_once_then_set_up_is_gone():
    p = Phone()
    p.d.run(0.5).charge()
    code, r = p.ask("POST", "/setup", {"ssid": HOME, "password": HOME_KEY})
    assert code == 200 and r["ok"] and HOME in r["next"], r
    cfg = p.saved()
    assert cfg["wifi_ssid"] == HOME and cfg["wifi_password"] == HOME_KEY
    code, n = p.ask("GET", "/setup/net")
    assert code == 200 and n["wifi"] == "connecting" and n["ssid"] == HOME
    p.d.run(3.5)                                      # the mock access point lets it in after 3 s
    code, n = p.ask("GET", "/setup/net")
    assert n["wifi"] == "connected" and n["ip"] == "192.168.1.50", n
    assert p.d.coil                                   # the car charged on throughout
    code, r = p.ask("POST", "/setup", {"ssid": "neighbours", "password": "12345678"})
    assert code == 404 and p.app.cfg["wifi_ssid"] == HOME
    assert p.ask("GET", "/setup")[0] == 404
    p.d.run(61)                                       # the access point closes a minute after joining
    assert "setup_ap" not in p.net() and not network.WLAN(network.AP_IF).active()
    assert p.ask("GET", "/setup/net")[0] == 404


def test_bad_input_is_refused_with_the_reason_and_nothing_is_saved():
    p = Phone()
    before = p.saved()
    for body, words in (({"ssid": "", "password": HOME_KEY}, "network's name"),
                        ({"password": HOME_KEY}, "network's name"),
                        ({"ssid": HOME, "password": "abc"}, "8-63 characters"),
                        ({"ssid": HOME, "password": "x" * 70}, "at most 64"),
                        ({"ssid": HOME, "password": 12345678}, "must be text"),
                        ({"ssid": 42, "password": HOME_KEY}, "wifi_ssid: must be text"),
                        ({"ssid": "x" * 33, "password": HOME_KEY}, "wifi_ssid"),
                        ([HOME, HOME_KEY], "not a JSON object")):
        code, r = p.ask("POST", "/setup", body)
        assert code == 400 and not r["ok"] and words in r["error"], (body, r)
    assert p.saved() == before and p.app.cfg["wifi_ssid"] == "" and p.net()["wifi"] == "access point"


def test_with_a_web_password_set_nothing_changes_without_it():
    p = Phone(web_password=PW)
    before = p.saved()
    code, r = p.ask("POST", "/setup", {"ssid": HOME, "password": HOME_KEY})
    assert code == 401 and p.saved() == before and p.app.cfg["wifi_ssid"] == ""
    code, r = p.ask("POST", "/setup", {"ssid": HOME, "password": HOME_KEY}, auth="Basic d2ViOndyb25n")
    assert code == 401 and p.saved() == before                       # web:wrong
    import binascii
    auth = "Basic " + binascii.b2a_base64(("web:" + PW).encode()).decode().strip()
    code, r = p.ask("POST", "/setup", {"ssid": HOME, "password": HOME_KEY}, auth=auth)
    assert code == 200 and p.app.cfg["wifi_ssid"] == HOME


def test_a_board_with_its_network_has_no_set_up_and_a_new_one_set_on_the_console_is_joined_at_once():
    p = Phone(wifi_ssid=HOME, wifi_password=HOME_KEY, web_port=8080)
    p.d.run(4)
    assert p.net()["wifi"] == "connected" and "setup_ap" not in p.net()
    assert p.ask("GET", "/setup")[0] == 404
    assert p.ask("POST", "/setup", {"ssid": "x", "password": "12345678"})[0] == 404
    network.access_points["office"] = "office-key-2026"
    r = p.app.console.answer({"cmd": "set", "values": {"wifi_ssid": "office",
                                                       "wifi_password": "office-key-2026"}}, 0)
    assert r["ok"] and r["reboot"] == [], r
    p.d.run(0.1)
    assert p.net()["wifi"] == "connecting" and p.net()["ssid"] == "office"
    p.d.run(3.5)
    assert p.net()["wifi"] == "connected" and "setup_ap" not in p.net()
    assert Phone(wifi_ssid=HOME, wifi_password=HOME_KEY).app.web is None     # web_port 0: no web at all


def _query(qid, name, qtype=1):
    q = bytearray(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0))
    for label in name.split("."):
        q.append(len(label))
        q.extend(label.encode())
    return bytes(q) + b"\x00" + struct.pack(">HH", qtype, 1)


def test_every_name_leads_a_phone_to_the_charger_over_real_udp_while_set_up_is_open():
    """The captive-portal DNS on 127.0.0.1 (a free port): an A question is answered with the board's
    address, any other with no record; a question cut short is a format error and another opcode
    not implemented (RFC 1035 4.1.1); a reply or less than a header is not answered; once joined,
    it is closed."""
    import os
    import socket
    from evse.services import captive
    port = 20000 + int.from_bytes(os.urandom(2), "big") % 20000
    addr = ["127.0.0.1"]
    dns = captive.CaptiveDns(lambda: addr[0], port=port)
    dns.poll(0)                                       # opens its socket; nothing waits
    assert dns.sock is not None and dns.error is None, dns.error
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.settimeout(2) if hasattr(phone, "settimeout") else None
    to = socket.getaddrinfo("127.0.0.1", port)[0][-1]
    try:
        for q in (b"\x12\x34\x81\x80" + b"\x00" * 8, b"\x00\x01"):
            phone.sendto(q, to)                       # a reply, too short: no answer
        phone.sendto(_query(7, "x")[:14], to)         # cut in the name
        status = bytearray(_query(8, "x"))
        status[2] |= 2 << 3                           # OPCODE 2, STATUS
        phone.sendto(bytes(status), to)
        phone.sendto(_query(0xBEEF, "connectivitycheck.gstatic.com"), to)
        phone.sendto(_query(0xCAFE, "captive.apple.com", qtype=28), to)      # AAAA
        for _ in range(3):
            dns.poll(0)
        r = phone.recv(512)
        assert r == struct.pack(">HHHHHH", 7, 0x8101, 0, 0, 0, 0)          # FORMERR, RD echoed
        r = phone.recv(512)
        assert r == struct.pack(">HHHHHH", 8, 0x9104, 0, 0, 0, 0)          # NOTIMP, opcode echoed
        a = phone.recv(512)
        assert a[:2] == b"\xbe\xef" and a[2] & 0x80 and struct.unpack(">HH", a[4:8]) == (1, 1)
        assert a[-4:] == bytes([127, 0, 0, 1])
        b = phone.recv(512)
        assert b[:2] == b"\xca\xfe" and struct.unpack(">HH", b[4:8]) == (1, 0)
        assert dns.answered == 4
    finally:
        phone.close()
    addr[0] = None                                    # joined: the DNS is closed
    dns.poll(0)
    assert dns.sock is None


def test_on_the_bench_the_dns_says_why_it_cannot_listen_and_the_charger_carries_on():
    p = Phone()
    st = p.net()["captive_dns"]
    assert "cannot listen on 192.168.1.50:53" in st["error"] and p.app.errors == [], (st, p.app.errors)


def _free():
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else 0


def test_0_the_set_up_costs_this_much_heap():
    """Printed by the MicroPython run (first in the file: nothing of the web imported yet)."""
    dns0 = _free()
    from evse.services import captive
    dns = _free()
    d = Drive(config={"max_current": 32}, board=load_board("rpi_pico_w"))
    from evse.services import console
    console.attach(d.app, upytest.NullConsole())
    d.run(0.5)
    free0 = _free()
    from evse.services import wifisetup
    free1 = _free()
    from evse.services import web
    web.attach(d.app)
    free2 = _free()
    if sys.implementation.name == "micropython":
        print("wifi set-up heap: captive DNS module %d bytes, wifisetup module %d bytes, web service "
              "with it %d bytes, free %d" % (dns0 - dns, free0 - free1, free0 - free2, free2))
    assert [r for r in d.app.web.http.url_map if r[1].url_pattern == wifisetup.PATH] and captive.PORT == 53


if __name__ == "__main__":
    upytest.run(globals())
