# upy-heap: 160k
# A name looked up in steps on both interpreters (evse/shell/dns.py): real UDP to a DNS
# server on 127.0.0.1 that takes 300 ms to answer, while a 10 ms tick task keeps its period.
import asyncio
import os
import socket
import struct
import time

from evse.shell import dns

ANSWER_DELAY_MS = 300


def _ms():
    """Wall ms on both interpreters (the test runs under CPython too)."""
    return time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.monotonic() * 1000)


def _reply(query, ip):
    end = query.index(b"\x00", 12) + 5
    return (query[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + query[12:end]
            + b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(int(x) for x in ip.split(".")))


def _server():
    """A UDP socket on a port whose TCP twin is free too (one test serves both on one number). Below
    Linux's ephemeral range (32768-60999): no outgoing connection of another test holds it."""
    for _ in range(40):
        port = 20000 + struct.unpack(">H", os.urandom(2))[0] % 12000
        addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(addr)
            t.bind(addr)
        except OSError:
            s.close()
            continue
        finally:
            t.close()
        s.setblocking(False)
        return s, port
    raise OSError("no free UDP port")


async def _serve(s, answered, delay_ms, ip="10.1.2.3"):
    while True:
        try:
            query, peer = s.recvfrom(512)
        except OSError:
            await asyncio.sleep(0.005)
            continue
        await asyncio.sleep(delay_ms / 1000)
        s.sendto(_reply(query, ip), peer)
        answered.append(1)


async def _lookup_beside_a_tick(name, delay_ms):
    srv, dport = _server()
    answered, gaps = [], [0]
    server = asyncio.create_task(_serve(srv, answered, delay_ms))
    stop = []

    async def tick():
        last = _ms()
        while not stop:
            await asyncio.sleep(0.01)
            now = _ms()
            gaps[0] = max(gaps[0], now - last)
            last = now
    t = asyncio.create_task(tick())
    try:
        result = await dns.lookup(name, "127.0.0.1", dport)
    except OSError as e:
        result = e
    stop.append(1)
    await t
    server.cancel()
    srv.close()
    return result, gaps[0], answered


def test_a_name_is_looked_up_while_the_tick_keeps_its_period():
    ip, gap, answered = asyncio.run(_lookup_beside_a_tick("broker.example.net", ANSWER_DELAY_MS))
    assert ip == "10.1.2.3", ip
    assert answered == [1]
    assert gap < 100, gap          # never the 300 ms the server takes


def test_a_connection_by_name_is_looked_up_in_steps_then_made():
    srv, dport = _server()
    answered, accepted = [], []

    async def main():
        server_task = asyncio.create_task(_serve(srv, answered, ANSWER_DELAY_MS, "127.0.0.1"))
        tcp = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", dport)
        dns.DNS_PORT = dport                       # the UDP and TCP ports may be the same number
        try:
            reader, writer = await dns.open_stream("cs.example.net", dport, None, lambda: "127.0.0.1")
            for _ in range(50):
                if accepted:
                    break
                await asyncio.sleep(0.01)
            writer.close()
        finally:
            dns.DNS_PORT = 53
            tcp.close()
            server_task.cancel()
            srv.close()
    asyncio.run(main())
    assert answered == [1] and len(accepted) == 1


def test_an_address_needs_no_lookup():
    assert asyncio.run(dns.lookup("192.168.1.20", None)) == "192.168.1.20"


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
