# upy-heap: 384k
# (not a board budget: the connects below run with the collector off, as in test_services_audit4_upy)
# The FTP client (evse/ocpp/ftp.py) against hosts that never answer, on both interpreters: a server
# behind a black hole (its control connection never set up) and a server whose passive port is one
# (the data connection never set up) are given up at each TIMEOUT_S, and each try closes every socket
# it opened: a board (lwIP, a handful of sockets) cannot wait for the garbage collector. The real
# transfers against a real server: host_tests/test_ftp_audit10.py.
import asyncio
import gc
import os

from evse.ocpp import ftp
from test_services_audit4_upy import TIMEOUT_S, TRIES, black_hole, leaked, open_files

PORT = 19000 + int.from_bytes(os.urandom(1), "big") * 8
PASSIVE_TRIES = 3         # each holds its replies' bytes until the end: the collector is off


def test_an_ftp_server_behind_a_black_hole_is_given_up_with_no_socket_left_open():
    ftp.TIMEOUT_S = TIMEOUT_S
    n = leaked(lambda port: lambda: ftp.download("ftp://127.0.0.1:%d/fw.bin" % port, "/tmp/evse-ftp-hole.bin", 100))
    assert n == 0, "%d sockets left open" % n


def test_a_passive_port_that_never_answers_is_given_up_with_no_socket_left_open():
    """The server greets, logs in and names a passive port where nothing ever answers the SYN."""
    ftp.TIMEOUT_S = TIMEOUT_S
    hole, held = black_hole()
    replies = {"USER": "331 password please", "PASS": "230 in", "TYPE": "200 binary",
               "EPSV": "229 Entering Extended Passive Mode (|||%d|)" % hole, "SIZE": "213 10"}
    errors = []

    async def serve(r, w):
        w.write(b"220 ready\r\n")
        while True:
            line = await r.readline()
            if not line:
                break
            w.write((replies.get(line[:4].decode(), "502 no") + "\r\n").encode())
            await w.drain()
        w.close()
        await w.wait_closed()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", PORT)
        await asyncio.sleep(0.05)
        gc.collect()
        mem_free = getattr(gc, "mem_free", lambda: 0)     # (MicroPython's)
        free = mem_free()
        before = open_files()
        gc.disable()                   # no finaliser closes them behind the firmware's back
        try:
            for _ in range(PASSIVE_TRIES):
                try:
                    await ftp.upload("ftp://u:p@127.0.0.1:%d/diag/x.txt" % PORT, [b"x"])
                except Exception as e:
                    errors.append(e)
            await asyncio.sleep(0.2)   # the server's side closes too
            print("heap used by %d tries, collector off: %d bytes" % (PASSIVE_TRIES, free - mem_free()))
            return open_files() - before
        finally:
            gc.enable()
            server.close()
            await server.wait_closed()   # (MicroPython: else the next test's loop closes it)
    try:
        n = asyncio.run(main())
    finally:
        for s in held:
            s.close()
    assert len(errors) == PASSIVE_TRIES and all(isinstance(e, asyncio.TimeoutError) for e in errors), errors
    assert n == 0, "%d sockets left open" % n


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
