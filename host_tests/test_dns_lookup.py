"""Name lookups in steps (evse/shell/dns.py): a broker's or a central system's name is asked of the
Wi-Fi network's DNS server over real UDP while a 10 ms control tick keeps running; MicroPython's
getaddrinfo would stop every task for as long as the server takes."""
import asyncio
import time

import pytest

from evse.shell import dns
from host_tests.netfakes import DnsNtpServer

TICK_S = 0.010


async def _with_ticks(coro):
    """Run coro beside a 10 ms tick; (its result or exception, the longest gap between ticks)."""
    gaps, done = [0.0], asyncio.Event()

    async def tick():
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            gaps[0] = max(gaps[0], now - last)
            last = now
    t = asyncio.create_task(tick())
    try:
        result = await coro
    except OSError as e:
        result = e
    done.set()
    await t
    return result, gaps[0]


def test_a_name_is_looked_up_while_the_tick_keeps_its_period():
    srv = DnsNtpServer(0, delay_s=0.3)             # a DNS server that takes 300 ms to answer
    try:
        ip, gap = asyncio.run(_with_ticks(dns.lookup("broker.example.net", "127.0.0.1", srv.dns_port)))
        assert ip == "127.0.0.1" and srv.queries == ["dns"]
        assert gap < 0.1, gap            # never the 300 ms of the answer (a loaded machine adds ms)
    finally:
        srv.close()


def test_a_silent_server_is_a_clear_error_after_the_lookup_time_and_asked_twice():
    srv = DnsNtpServer(0, delay_s=10)              # answers far too late
    try:
        t0 = time.monotonic()
        err, gap = asyncio.run(_with_ticks(dns.lookup("cs.example.net", "127.0.0.1", srv.dns_port)))
        assert isinstance(err, OSError) and "no address for cs.example.net" in str(err)
        assert time.monotonic() - t0 >= dns.LOOKUP_MS / 1000
        assert gap < 0.1, gap
    finally:
        srv.close()


def test_an_address_needs_no_lookup_and_no_server():
    assert asyncio.run(dns.lookup("192.168.1.20", None)) == "192.168.1.20"


def test_without_a_dns_server_the_lookup_says_so():
    with pytest.raises(OSError, match="no DNS server"):
        asyncio.run(dns.lookup("cs.example.net", None))


def test_a_connection_by_name_on_a_board_with_wi_fi_is_looked_up_in_steps_then_made(monkeypatch):
    """What OCPP, MQTT and the firmware download call: the central system's name asked of the
    network's DNS server (300 ms to answer) while the tick runs, then TCP to the answer."""
    srv = DnsNtpServer(0, delay_s=0.3)
    monkeypatch.setattr(dns, "DNS_PORT", srv.dns_port)
    accepted = []

    async def main():
        server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        (reader, writer), gap = await _with_ticks(dns.open_stream("cs.example.net", port, None, lambda: "127.0.0.1"))
        writer.close()
        server.close()
        return gap
    try:
        gap = asyncio.run(main())
        assert srv.queries == ["dns"] and len(accepted) == 1
        assert gap < 0.1, gap
    finally:
        srv.close()


def test_boards_with_wi_fi_hand_ocpp_and_mqtt_the_network_s_dns_server_and_others_none(tmp_path):
    from host_tests.test_network import _wifi_board
    from tools.sim.drive import Drive
    from tools.sim.mock_machine import network
    cfg = {"max_current": 32, "ocpp_url": "ws://cs.example.net/ocpp", "mqtt_url": "mqtt://broker.example.net",
           "wifi_ssid": "home", "wifi_password": "correct horse"}
    (tmp_path / "wifi").mkdir()
    (tmp_path / "pc").mkdir()
    d = Drive(board=_wifi_board(), config=cfg, flash_dir=str(tmp_path / "wifi"))
    network.access_points["home"] = "correct horse"       # (the bench's power-on resets the radio world)
    ocpp, mqtt = d.app.ocpp.dns_server, d.app.mqtt.dns_server
    assert ocpp() is None and mqtt() is None            # not joined yet: no lookup, a clear error
    d.run(5)
    assert d.app.status(0)["net"]["wifi"] == "connected"
    assert ocpp() == mqtt() == network.dns_server
    d = Drive(config=cfg, flash_dir=str(tmp_path / "pc"))        # the virtual board: the host's resolver
    assert d.app.ocpp.dns_server is None and d.app.mqtt.dns_server is None
