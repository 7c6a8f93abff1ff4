# The fourth services audit's board behaviour, on both interpreters: a host that never answers the
# connection (a broker or central system switched off behind a router that drops its packets: a
# black hole) is given up at each connect timeout, and each try closes its socket. On MicroPython's
# unix port every MQTT connect cut off by its timeout left one file descriptor open (10 tries: 10
# more, gc.collect() closed none): asyncio.open_connection keeps its socket to itself, and a cancel
# while TCP was under way dropped it unclosed. A board (lwIP, a handful of sockets) waits for the
# garbage collector at best. OCPP's WebSocket and HTTP client open theirs the same way.
import asyncio
import gc
import os
import socket

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.ocpp import http, websocket
from evse.services import mqtt as M

import upytest

TRIES = 5
TIMEOUT_S = 0.3


def open_files():
    return len(os.listdir("/proc/self/fd"))


def black_hole():
    """A port on 127.0.0.1 whose listening socket's queue is full: the kernel drops the SYNs after
    it, so a connection there stays under way until the caller gives up (a host that never answers).
    (port, sockets to close)."""
    for port in range(47311, 47411):
        srv = socket.socket()
        try:
            srv.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        except OSError:
            srv.close()
            continue
        srv.listen(0)
        held = [srv]
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            except OSError:
                pass
            held.append(c)
        return port, held
    raise OSError("no free port")


def leaked(setup):
    """Files still open after TRIES connects to a black hole, each given up (an exception);
    setup(port) -> the connect's coroutine function."""
    port, held = black_hole()
    connect = setup(port)

    async def main():
        for _ in range(TRIES):
            try:
                await connect()
                assert False, "connected to a black hole"
            except AssertionError:
                raise
            except Exception:
                pass
    gc.collect()
    before = open_files()
    gc.disable()                        # no finaliser closes them behind the firmware's back
    try:
        asyncio.run(main())
        return open_files() - before
    finally:
        gc.enable()
        for s in held:
            s.close()


def test_mqtt_connects_cut_by_their_timeout_leave_no_socket_open():
    M.CONNECT_TIMEOUT_S = TIMEOUT_S

    def setup(port):
        svc = Rig(config={"max_current": 32, "mqtt_url": "mqtt://127.0.0.1:%d" % port}).app.mqtt

        async def connect():          # one try of the service's own loop, stopped in its pause
            svc.running, svc.last_error = True, None
            task = asyncio.create_task(svc.run())
            while not svc.status()["error"]:
                await asyncio.sleep(0.02)
            svc.stop()
            task.cancel()
            raise OSError(svc.status()["error"])
        return connect
    n = leaked(setup)
    assert n == 0, "%d sockets left open" % n


def test_ocpp_websocket_connects_cut_by_their_timeout_leave_no_socket_open():
    websocket.CONNECT_TIMEOUT_S = TIMEOUT_S
    n = leaked(lambda port: lambda: websocket.connect("ws://127.0.0.1:%d/ocpp/cp1" % port))
    assert n == 0, "%d sockets left open" % n


def test_downloads_cut_by_their_timeout_leave_no_socket_open():
    http.TIMEOUT_S = TIMEOUT_S
    n = leaked(lambda port: lambda: http.download("http://127.0.0.1:%d/fw.bin" % port, "/tmp/evse-fw-hole.bin", 100))
    assert n == 0, "%d sockets left open" % n


if __name__ == "__main__":
    upytest.run(globals())
