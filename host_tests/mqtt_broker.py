"""Test helpers for MQTT: Debian's mosquitto started on a free port of 127.0.0.1, a TCP proxy that can
cut the charger's link, and a small subscriber written from the MQTT 3.1.1 text (independent of the
firmware's encoder, so the two check each other through a real broker)."""
import asyncio
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from tools.waiting import free_port

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def need_mosquitto():
    if MOSQUITTO is None:
        pytest.skip("mosquitto not installed (make debs installs it; apt-get install mosquitto)")


def make_certs(d):
    """A test CA and a server certificate for 127.0.0.1 (openssl), PEM files in d: (ca, cert, key)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = str(d)

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA")
    run("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.pem", "-days", "2", "-extfile", "ext")
    return tuple(os.path.join(d, n) for n in ("ca.pem", "srv.pem", "srv.key"))


class Broker:
    """mosquitto on a free port; with tls=(ca, cert, key) a second listener speaks TLS (tls_port)."""

    def __init__(self, tmp_path, tls=None):
        self.port = free_port()
        self.tls_port = None
        self.conf = str(tmp_path / "mosquitto.conf")
        # user root: as root, mosquitto would otherwise drop to its own user, which cannot read
        # pytest's private temporary directory (the test keys); ignored when not run as root
        text = "user root\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % self.port
        if tls:
            self.tls_port = free_port()
            text += "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n" % ((self.tls_port,) + tls)
        with open(self.conf, "w") as f:
            f.write(text)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.time() + 5
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


def _remaining(n):
    out = b""
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _s(text):
    b = text.encode()
    return struct.pack("!H", len(b)) + b


class Subscriber:
    """Subscribes to '#' and keeps every message as (topic, payload str, retained flag)."""
    count = 0

    def __init__(self, port):
        Subscriber.count += 1
        self.client_id = "test-sub-%d" % Subscriber.count     # one id per client: a broker drops the older
        self.port = port
        self.msgs = []
        self.task = None

    async def start(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        body = _s("MQTT") + bytes([4, 2]) + struct.pack("!H", 60) + _s(self.client_id)
        self.w.write(b"\x10" + _remaining(len(body)) + body)
        sub = struct.pack("!H", 1) + _s("#") + b"\x00"
        self.w.write(b"\x82" + _remaining(len(sub)) + sub)
        await self.w.drain()
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self):
        while True:
            first = (await self.r.readexactly(1))[0]
            n, mul = 0, 1
            while True:
                b = (await self.r.readexactly(1))[0]
                n += (b & 127) * mul
                mul *= 128
                if not b & 128:
                    break
            body = await self.r.readexactly(n)
            if first >> 4 == 3:
                tl = struct.unpack("!H", body[:2])[0]
                self.msgs.append((body[2:2 + tl].decode(), body[2 + tl:].decode(), bool(first & 1)))

    async def publish(self, topic, payload, retain=False):
        body = _s(topic) + payload.encode()
        self.w.write(bytes([0x30 | (1 if retain else 0)]) + _remaining(len(body)) + body)
        await self.w.drain()

    def last(self, topic):
        for t, p, _ in reversed(self.msgs):
            if t == topic:
                return p
        return None

    def values(self, topic):
        return [p for t, p, _ in self.msgs if t == topic]

    async def close(self):
        self.task.cancel()
        self.w.close()


class Proxy:
    """127.0.0.1:port -> the broker; cut() drops every link at once without a DISCONNECT (a Wi-Fi
    loss as the broker sees it), refuse() keeps new ones out until allow()."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = None
        self.links = []
        self.refusing = False

    async def start(self):
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _link(self, r, w):
        if self.refusing:
            w.close()
            return
        try:
            br, bw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.close()
            return
        self.links += [w, bw]
        await asyncio.gather(self._pipe(r, bw), self._pipe(br, w), return_exceptions=True)

    async def _pipe(self, r, w):
        try:
            while True:
                data = await r.read(4096)
                if not data:
                    break
                w.write(data)
                await w.drain()
        finally:
            w.close()

    def cut(self, refuse=True):
        self.refusing = refuse
        for w in self.links:
            w.transport.abort()
        self.links = []

    def allow(self):
        self.refusing = False

    async def close(self):
        self.cut()
        self.server.close()
