"""The control tick while OCPP connects over TLS, on the MicroPython unix port (the firmware's App and
its own tick loop, host_tests/upy_live/tls_tick.py) and on CPython: a TLS handshake waits for the
network without holding the loop, and a server that takes the TCP connection but never answers the
TLS hello is given up after the connect timeout instead of leaving OCPP waiting for ever.
Central system on PyPI `ocpp` (ocpp_cs), certificates from PyPI `cryptography` (pki)."""
import asyncio
import os
import ssl
import subprocess
import time

import pytest

import pki
from ocpp_cs import CentralSystem

TICK_MS = 10
SLOW_FLIGHT_S = 0.5      # the slow server's pause before each of its TLS flights
TIMEOUT_S = 2            # the connect timeout the tests set (20 s on a board)


def tls_context(tmp_path):
    """A server context for 127.0.0.1 under a fresh RSA root (most central systems' kind); the root
    goes to the charger's flash as ca.pem."""
    root_key = pki.key("rsa")
    root = pki.cert(root_key, "CS root", ca=True)
    srv, srv_key = pki.server_cert(root_key, root)
    (tmp_path / "srv.pem").write_text(pki.pem(srv))
    pki.write_key(srv_key, str(tmp_path / "srv_key.pem"))
    (tmp_path / "ca.pem").write_text(pki.pem(root))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp_path / "srv.pem"), str(tmp_path / "srv_key.pem"))
    return ctx


async def silent_server():
    """Accepts TCP, then says nothing: no ServerHello ever comes."""
    async def hold(reader, writer):
        await reader.read()          # until the charger gives up and closes
        writer.close()
    return await asyncio.start_server(hold, "127.0.0.1", 0)


async def slow_proxy(port):
    """Forwards to 127.0.0.1:port, pausing SLOW_FLIGHT_S before each chunk the server sends (a
    slow link or a busy server: the handshake's waits grow, its computation does not)."""
    async def pipe(r, w, pause):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                if pause:
                    await asyncio.sleep(SLOW_FLIGHT_S)
                w.write(data)
                await w.drain()
        except (OSError, asyncio.CancelledError):
            pass
        w.close()

    async def serve(cr, cw):
        sr, sw = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(cr, sw, False), pipe(sr, cw, True))
    return await asyncio.start_server(serve, "127.0.0.1", 0)


def port_of(server):
    return server.sockets[0].getsockname()[1]


async def upy_run(tmp_path, name, url, ca, seconds):
    """tls_tick.py on the unix port -> {"idle": us, "connect": us, "ms": connect time, "line": OCPP}."""
    from tools.toolchain import upy_tests as U
    flash = tmp_path / name
    flash.mkdir()
    proc = await asyncio.create_subprocess_exec(
        U.micropython(), "-X", "heapsize=512k", os.path.join(os.path.dirname(__file__), "upy_live", "tls_tick.py"),
        url, ca, str(flash), str(seconds), str(TIMEOUT_S), env=U.upy_env(), cwd=U.ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await asyncio.wait_for(proc.communicate(), seconds + 60))[0].decode()
    r = {"out": out}
    for line in out.splitlines():
        w = line.split()
        if line.startswith("GAP"):
            r[w[1]] = int(w[2])
            r[w[1] + "_ms"] = int(w[5])
        elif line.startswith(("OCPP", "HEAP")):
            r[w[0]] = line
    assert "OCPP" in r, out
    return r


@pytest.fixture(scope="module")
def upy_figures(tmp_path_factory):
    """The unix port's longest tick gaps: plain ws://, wss://, wss:// through a slow link, and a
    silent TLS server; printed for the report."""
    from tools.toolchain import upy_tests as U
    assert not U.precompile()
    tmp_path = tmp_path_factory.mktemp("tls_tick")
    ca = str(tmp_path / "ca.pem")

    async def main():
        tls = CentralSystem(ssl_context=tls_context(tmp_path))
        plain = CentralSystem()
        await tls.start()
        await plain.start()
        slow, silent = await slow_proxy(tls.port), await silent_server()
        try:
            runs = {"plain": await upy_run(tmp_path, "plain", plain.url(), "-", 8),
                    "tls": await upy_run(tmp_path, "tls", tls.url(), ca, 8),
                    "slow": await upy_run(tmp_path, "slow", "wss://127.0.0.1:%d/ocpp" % port_of(slow), ca, 15),
                    "silent": await upy_run(tmp_path, "silent", "wss://127.0.0.1:%d/ocpp" % port_of(silent),
                                            ca, TIMEOUT_S + 6)}
        finally:
            for s in (slow, silent):
                s.close()
            await tls.stop()
            await plain.stop()
        return runs
    runs = asyncio.run(main())
    for k, r in runs.items():
        print("upy %-6s idle %6d us, connect %6d us over %5d ms; %s; %s" % (
            k, r["idle"], r["connect"], r["connect_ms"], r.get("HEAP"), r["OCPP"]))
    return runs


def test_a_wss_connect_holds_the_tick_only_for_its_computation(upy_figures):
    """The handshake's crypto (certificate chain, ECDHE) runs in one C call of mbedtls, which no
    task can interrupt: on the unix port tens of ms (printed), on a board hundreds. What it must not
    do is hold the tick while it waits for the server: the gap stays far below one server flight."""
    r = upy_figures["tls"]
    assert "accepted=True" in r["OCPP"], r["out"]
    assert r["connect"] < SLOW_FLIGHT_S * 1e6 / 2, r["out"]


def test_a_slow_tls_server_is_waited_for_with_the_tick_running(upy_figures):
    """Each server flight comes SLOW_FLIGHT_S late: a handshake that blocked the loop would hold the
    tick at least that long; the stepped one lets it run while the network is waited for."""
    r = upy_figures["slow"]
    assert "accepted=True" in r["OCPP"], r["out"]
    assert r["connect_ms"] >= 2 * SLOW_FLIGHT_S * 1000          # the pauses did happen
    assert r["connect"] < SLOW_FLIGHT_S * 1e6 / 2, r["out"]


def test_a_tls_server_that_never_answers_the_hello_is_given_up_with_the_tick_running(upy_figures):
    r = upy_figures["silent"]
    assert "TimeoutError" in r["OCPP"], r["out"]               # before: no error, waiting for ever
    assert r["connect_ms"] <= (TIMEOUT_S + 2) * 1000, r["out"]
    # A loop held while the hello is awaited shows the whole timeout (2 s) as one gap. The bound is
    # the slow server's: a plain connect's gap plus two ticks (about 34 ms) was once exceeded on a
    # loaded machine (111 ms: the process waited for a core), which says nothing of the loop.
    assert r["connect"] < SLOW_FLIGHT_S * 1e6 / 2, r["out"]


def test_cpython_ocpp_gives_up_a_silent_tls_server_and_tries_again(tmp_path, monkeypatch):
    from evse.ocpp import connection, websocket
    from host_tests.test_ocpp_cs import Rig
    monkeypatch.setattr(websocket, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(connection, "RECONNECT_MIN_MS", 100)
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 50)
    tls_context(tmp_path)
    flash = tmp_path / "flash"
    flash.mkdir()

    async def main():
        silent = await silent_server()

        class Cs:            # what Rig needs of a central system: its URL
            def url(self):
                return "wss://127.0.0.1:%d/ocpp" % port_of(silent)
        rig = await Rig(Cs(), flash, ocpp_ca_file=str(tmp_path / "ca.pem")).start()
        t0 = time.monotonic()
        while "TimeoutError" not in (rig.svc.last_error or "") and time.monotonic() - t0 < 10:
            await asyncio.sleep(0.05)
        took = time.monotonic() - t0
        error = rig.svc.last_error
        await rig.kill()
        silent.close()
        return took, error
    took, error = asyncio.run(main())
    assert "TimeoutError" in (error or ""), error
    assert took < 3


def test_cpython_a_download_from_a_silent_https_server_is_given_up(tmp_path, monkeypatch):
    from evse.ocpp import http
    monkeypatch.setattr(http, "TIMEOUT_S", 0.5)
    tls_context(tmp_path)

    async def main():
        silent = await silent_server()
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(http.download("https://127.0.0.1:%d/fw.bin" % port_of(silent),
                                                 str(tmp_path / "fw.bin"), 1000, str(tmp_path / "ca.pem")), 10)
        except asyncio.TimeoutError:
            return time.monotonic() - t0
        finally:
            silent.close()
    took = asyncio.run(main())
    assert took is not None and took < 3, took      # before: CPython's own 60 s handshake timeout
