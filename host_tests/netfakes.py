"""A DNS server and an NTP server as the firmware meets them: answers built from the RFC layouts,
served on real UDP sockets (DnsNtpServer) or through a socket module stand-in for the virtual
bench (FakeUdp), with ways to answer wrongly."""
import socket
import struct
import threading
import time

NTP_DELTA = 2208988800


def dns_reply(query, ip, rcode=0):
    qid = struct.unpack(">H", query[:2])[0]
    q_end = query.index(b"\x00", 12) + 5
    head = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 0 if rcode else 1, 0, 0)
    body = query[12:q_end]
    if rcode:
        return head + body
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(int(x) for x in ip.split("."))
    return head + body + ans


def ntp_reply(request, utc, li=0, stratum=2, echo=True):
    b = bytearray(48)
    b[0] = (li << 6) | (4 << 3) | 4
    b[1] = stratum
    if echo:
        b[24:32] = request[40:48]
    b[40:44] = struct.pack(">I", utc + NTP_DELTA)
    return bytes(b)


class DnsNtpServer:
    """Two UDP servers on 127.0.0.1 (random ports) in a thread: DNS answers every A query with
    127.0.0.1, NTP answers with `utc` (or `ntp` called with the request)."""

    def __init__(self, utc, delay_s=0.0):
        self.utc = utc
        self.delay_s = delay_s          # a slow server: a client that waited would show it
        self.ntp = lambda req: ntp_reply(req, self.utc)
        self.socks = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.1)
            self.socks.append(s)
        self.dns_port, self.ntp_port = (s.getsockname()[1] for s in self.socks)
        self.queries = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            for i, s in enumerate(self.socks):
                try:
                    data, addr = s.recvfrom(512)
                except (socket.timeout, OSError):
                    continue
                self.queries.append(("dns", "ntp")[i])
                time.sleep(self.delay_s)
                s.sendto(dns_reply(data, "127.0.0.1") if i == 0 else self.ntp(data), addr)

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


class FakeUdp:
    """The `socket` module for the firmware on the virtual bench: a datagram sent is answered at
    once, in the receive queue (DNS: `ip` for any name; NTP: the time `utc()` gives)."""
    AF_INET = socket.AF_INET
    SOCK_DGRAM = socket.SOCK_DGRAM

    def __init__(self, utc, ip="10.0.0.123"):
        self.utc, self.ip = utc, ip
        self.sent = []
        self.queue = []
        self.silent = False

    def getaddrinfo(self, host, port):
        return [(self.AF_INET, self.SOCK_DGRAM, 0, "", (host, port))]

    def socket(self, *a):
        return self

    def setblocking(self, flag):
        assert flag is False

    def sendto(self, data, addr):
        self.sent.append(addr)
        if self.silent:
            return
        self.queue.append(dns_reply(data, self.ip) if addr[1] == 53 else ntp_reply(data, self.utc()))

    def recv(self, n):
        if not self.queue:
            raise OSError(11)     # EAGAIN
        return self.queue.pop(0)
