# upy-heap: 304k
# (not a board budget: the 64-bit unix port's TLS connect wants a 3 KB block, and at 256k one was not
# found once the firmware grew by a few hundred bytes; the heap a board holds is test_boot_heap_upy's)
# A TLS server that takes the TCP connection and never answers the hello (a captive portal, a dead
# proxy, a firewall holding the port): MQTT, OCPP's WebSocket and a firmware download each give up
# within their connect timeout, on both interpreters. On MicroPython, open_connection returns before
# the handshake, which then waits in the first write: it hung there for ever before. And a refused
# connection closes its socket.
import asyncio
import time

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.ocpp import http, websocket
from evse.services import mqtt as M

import upytest

TIMEOUT_S = 1


def now_s():
    """Real time on both (on CPython the mock machine's ticks are the virtual clock's)."""
    return time.monotonic() if hasattr(time, "monotonic") else time.ticks_ms() / 1000


async def given_up_after(connect):
    """Start a silent server, run connect(port) -> (seconds until it raised, the exception)."""
    async def hold(reader, writer):
        await reader.read(100)     # the ClientHello; nothing is ever answered
        await asyncio.sleep(30)

    port = 20000 + int(now_s() * 1000) % 20000     # MicroPython's Server does not tell a port 0's number
    for _ in range(20):
        try:
            srv = await asyncio.start_server(hold, "127.0.0.1", port)
            break
        except OSError:
            port += 1
    t0 = now_s()
    try:
        await asyncio.wait_for(connect(port), 10 * TIMEOUT_S)
        e = None
    except Exception as x:
        e = x
    srv.close()
    return now_s() - t0, e


def check(connect):
    took, e = asyncio.run(given_up_after(connect))
    assert isinstance(e, asyncio.TimeoutError), e
    assert took < 3 * TIMEOUT_S, took


def test_mqtt_gives_up_a_broker_silent_after_tcp():
    M.CONNECT_TIMEOUT_S = TIMEOUT_S

    async def connect(port):
        rig = Rig(config={"max_current": 32, "mqtt_url": "mqtts://127.0.0.1:%d" % port})
        svc = rig.app.mqtt
        task = asyncio.create_task(svc.run())
        try:
            while not svc.status()["error"]:
                await asyncio.sleep(0.02)
        finally:
            svc.stop()
            task.cancel()
        if "TimeoutError" in svc.status()["error"]:
            raise asyncio.TimeoutError(svc.status()["error"])
        raise AssertionError(svc.status()["error"])
    check(connect)


def test_ocpp_websocket_gives_up_a_silent_tls_server():
    websocket.CONNECT_TIMEOUT_S = TIMEOUT_S
    check(lambda port: websocket.connect("wss://127.0.0.1:%d/ocpp/cp1" % port))


def test_a_download_gives_up_a_silent_https_server():
    http.TIMEOUT_S = TIMEOUT_S
    check(lambda port: http.download("https://127.0.0.1:%d/fw.bin" % port, "/tmp/evse-fw-silent.bin", 100))


def test_a_refused_connection_leaves_no_socket_open():
    """OCPP retries a refused upgrade (a wrong password: 401) for as long as it is refused; each try
    must close its socket (MicroPython's Stream.close() alone does not: a board runs out of its
    lwIP sockets after a few). The process's open files, counted before and after 5 refusals."""
    import gc
    import os

    def open_files():
        return len(os.listdir("/proc/self/fd"))

    async def refuse(reader, writer):
        await reader.readline()
        writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        await writer.wait_closed()

    async def main():
        port = 20000 + int(now_s() * 1000) % 20000
        before = open_files()
        srv = await asyncio.start_server(refuse, "127.0.0.1", port)
        gc.collect()
        gc.disable()                      # no finalizer closes them behind the firmware's back
        for _ in range(5):
            try:
                await websocket.connect("ws://127.0.0.1:%d/ocpp/cp1" % port)
                assert False, "the upgrade was refused"
            except websocket.WebSocketError as e:
                assert "401" in str(e)
        await asyncio.sleep(0.5)          # the server's side closes its end
        srv.close()
        await asyncio.sleep(0.1)
        return open_files() - before
    try:
        assert asyncio.run(main()) <= 0         # none more than before
    finally:
        gc.enable()


if __name__ == "__main__":
    upytest.run(globals())
