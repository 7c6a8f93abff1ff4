"""The board's clock from the network: SNTP (RFC 4330) after a DNS lookup (RFC 1035, one A
record), both as single UDP datagrams on a non-blocking socket, stepped from the control loop's
service poll: no call here ever waits (MicroPython's getaddrinfo and ntptime.settime() block for up
to seconds, the control tick must not). An answer that does not match the question, or a server
that says it is not synchronised, is not believed; a time before CLOCK_MIN_YEAR neither. A datagram
that does not carry this question's id or nonce (a late answer to the one before) is dropped unread.
Where an OCPP central system has said the time (`second`), it decides an answer far off the clock
(or the first one): believed at once when it agrees, never while it does not (a server that repeats
a wrong time is believed on its second answer only where nothing else says the time). Sources that
disagree leave the time in doubt: utc() is then None, the planner's "clock not set" (windows closed)."""
import os
import socket
import struct

from ..core.calendar import days_from_civil
from ..shell.dns import dns_answer, dns_query, is_ipv4, new_id

NTP_DELTA = 2208988800            # seconds from 1900-01-01 (NTP) to 1970-01-01
CLOCK_MIN_UTC = days_from_civil(2025, 1, 1) * 86400   # an answer before this is wrong
SYNC_EVERY_MS = 3600000           # once an hour: a board's RTC drifts seconds a day
ANSWER_MS = 2000                  # a datagram not answered in this time is lost
RETRY_MIN_MS = 5000               # then again after 5 s, doubling up to 5 min
RETRY_MAX_MS = 300000
STEP_DOUBT_S = 60                 # an answer this far off the clock the last one set (and the board's
TRUST_MS = 86400000               # timer since, for up to a day: a crystal drifts seconds) is asked again
KOD_DENY_MS = 86400000            # a kiss-o'-death DENY or RSTR (RFC 4330 section 8): that server
                                  # is not asked again for a day (RATE: at once the longest wait)

_IDLE, _DNS, _NTP = 0, 1, 2


def ntp_request(nonce):
    """Client mode, version 4; the transmit timestamp is a nonce the server must echo."""
    return b"\x23" + bytes(39) + nonce


def ntp_answer(b, nonce):
    """UTC seconds since 1970 from a server's reply to our request, or None. The 32-bit seconds wrap
    on 2036-02-07: with the top bit clear they count from then (RFC 4330 section 3); 0 is no time."""
    if len(b) < 48:
        return None
    li, mode, stratum = b[0] >> 6, b[0] & 7, b[1]
    if li == 3 or mode != 4 or not 1 <= stratum <= 15 or b[24:32] != nonce:
        return None
    s = struct.unpack(">I", b[40:44])[0]
    t = s - NTP_DELTA + (0 if s >> 31 else 1 << 32)
    return t if s and t >= CLOCK_MIN_UTC else None


class NetClock:
    def __init__(self, host, dns_server, set_utc, diff, add, sock_mod=socket, dns_port=53, ntp_port=123,
                 second=None, read_utc=None):
        self.host = host
        self.second = second              # second(now): UTC by the central system's last word, or None
        self.read_utc = read_utc          # the board's clock (utc())
        self.doubtful = False             # NTP and the central system disagree: no time believed
        self.dns_server = dns_server      # callable: the DNS server's IP, None while offline
        self.set_utc = set_utc
        self.diff = diff                  # the port's ticks_diff and ticks_add
        self.add = add
        self.sock_mod = sock_mod
        self.ports = (dns_port, ntp_port)
        self.sock = None
        self.phase = _IDLE
        self.due = None                   # when to start the next exchange (None: at once)
        self.sent = None
        self.backoff = RETRY_MIN_MS
        self.addr = host if is_ipv4(host) else None
        self.token = b""
        self.synced = None                # UTC seconds of the last good answer
        self.synced_ms = None             # ... and the ticks then
        self.doubt = None                 # (UTC, ticks) of an answer far off, until the next one decides
        self.error = None

    def _socket(self):
        if self.sock is None:
            s = self.sock_mod.socket(self.sock_mod.AF_INET, self.sock_mod.SOCK_DGRAM)
            s.setblocking(False)
            self.sock = s
        return self.sock

    def _send(self, ip, port, data, now):
        self.token = data
        self._socket().sendto(data, self.sock_mod.getaddrinfo(ip, port)[0][-1])   # a literal IP: no lookup
        self.sent = now

    def _start(self, now):
        if self.addr is None:
            server = self.dns_server()
            if server is None:             # offline: at once when back (a `due` 2**29 ms old reads
                self.due = None            # as to come on the ports' ticks)
                return
            self._send(server, self.ports[0], dns_query(new_id(), self.host), now)
            self.phase = _DNS
        else:
            self._send(self.addr, self.ports[1], ntp_request(os.urandom(8)), now)
            self.phase = _NTP

    def _receive(self):
        sock = self.sock
        if sock is None:
            return None
        try:
            return sock.recv(512)
        except OSError:                    # EAGAIN: nothing yet
            return None

    def _failed(self, now, why):
        self.error = why
        self.phase = _IDLE
        self.due = self.add(now, self.backoff)
        self.backoff = min(self.backoff * 2, RETRY_MAX_MS)
        if self.addr is not None and not is_ipv4(self.host):
            self.addr = None               # look the name up again next time

    def poll(self, now):
        try:
            self._step(now)
        except OSError as e:               # no route, no interface: try again later
            self._failed(now, repr(e))

    def _step(self, now):
        if self.phase == _IDLE:
            if self.due is None or self.diff(now, self.due) >= 0:
                self._start(now)
            return
        data = self._receive()
        if data is not None and (data[:2] != self.token[:2] if self.phase == _DNS else data[24:32] != self.token[40:48]):
            data = None                    # not an answer to this question (a late one, a stray): wait on
        if data is None:
            if self.diff(now, self.sent) > ANSWER_MS:
                self._failed(now, "no answer from " + ("the DNS server" if self.phase == _DNS else self.host))
            return
        if self.phase == _DNS:
            self._address(now, data)
        else:
            self._time(now, data)

    def _address(self, now, data):
        try:
            self.addr = dns_answer(data, struct.unpack(">H", self.token[:2])[0])
        except Exception:              # a reply cut short (IndexError, struct's error): none
            self.addr = None
        if self.addr is None:
            self._failed(now, "no address for " + self.host)
        else:
            self._start(now)

    def _time(self, now, data):
        t = ntp_answer(data, self.token[40:48])
        if t is None:
            kiss = data[12:16] if len(data) >= 48 and data[1] == 0 else b""   # stratum 0: a kiss code
            if kiss in (b"DENY", b"RSTR", b"RATE"):
                self.backoff = max(self.backoff, KOD_DENY_MS if kiss != b"RATE" else RETRY_MAX_MS)
                self._failed(now, "%s asks us to stop (kiss-o'-death %s)" % (self.host, kiss.decode()))
            else:
                self._failed(now, "a bad time answer from " + self.host)
            return
        s = self.second(now) if self.second is not None else None
        if s is not None and self._disputed(t, s, now):
            self._failed(now, "%s says a time %+d s off the central system's (OCPP): asked again" % (self.host, t - s))
            return
        if s is None and self._far_off(t, now):
            self._failed(now, "%s says a time %d s off the clock: asked again" % (self.host, t - self._at(now)))
            return
        self.set_utc(t)
        self.synced, self.synced_ms, self.doubt, self.error, self.phase = t, now, None, None, _IDLE
        self.doubtful = False
        self.backoff = RETRY_MIN_MS
        self.due = self.add(now, SYNC_EVERY_MS)

    def _at(self, now):
        return self.synced + self.diff(now, self.synced_ms) // 1000

    def _trusted(self, now):
        """The clock NTP set is counted on by the board's timer (for up to a day)."""
        return self.synced is not None and 0 <= self.diff(now, self.synced_ms) < TRUST_MS

    def _disputed(self, t, s, now):
        """An answer far off the clock (or the first) that the central system's time s does not
        confirm; the time is in doubt unless the clock NTP set still agrees with s."""
        if abs(t - s) <= STEP_DOUBT_S or (self._trusted(now) and abs(t - self._at(now)) <= STEP_DOUBT_S):
            return False
        self.doubtful = not self._trusted(now) or abs(s - self._at(now)) > STEP_DOUBT_S
        return True

    def utc(self):
        """The board's clock (UTC seconds) for the charging windows, None while unset or in doubt."""
        read = self.read_utc
        return None if self.doubtful or read is None else read()

    def _far_off(self, t, now):
        """One answer far off the time this clock set (a bad server, a broken one of a pool) moves
        the windows and stamps the session records: believed when the next agrees with it."""
        if not self._trusted(now) or abs(t - self._at(now)) <= STEP_DOUBT_S:
            return False
        d = self.doubt
        if d is not None and 0 <= self.diff(now, d[1]) < TRUST_MS \
                and abs(t - d[0] - self.diff(now, d[1]) // 1000) <= STEP_DOUBT_S:
            return False
        self.doubt = (t, now)
        return True

    def status(self):
        return {"host": self.host, "synced": self.synced, "error": self.error, "doubt": self.doubtful}
