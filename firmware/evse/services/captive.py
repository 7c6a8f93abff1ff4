"""Captive-portal DNS on the set-up access point: every A question is answered with the board's own
address (RFC 1035 4.1), so a phone that joins the access point finds that it leads to a page and opens
the set-up page by itself. One non-blocking UDP socket, read on the control loop's service poll like
the clock's (netclock.py): at most READS_PER_POLL datagrams a poll, no call ever waits. The socket is
open only while `address()` gives one (the set-up access point up and no network joined)."""
import select
import socket
import struct

PORT = 53
READS_PER_POLL = 4                # bounded work per poll; a phone asks a few names at a time
TTL_S = 10                        # short: once the charger has joined, phones ask the real DNS again


def _question_end(q):
    """Where the first question of query q ends (its name, type and class), or None."""
    i = 12
    while i < len(q):
        n = q[i]
        if n == 0:
            return i + 5 if i + 5 <= len(q) else None
        if n >= 0xC0:                       # no pointer belongs in a question
            return None
        i += n + 1
    return None


def _refusal(q, rcode):
    """A header alone, the query's id, opcode and RD echoed: NOTIMP (4) for an opcode other than a
    standard query, FORMERR (1) for a question that cannot be read (RFC 1035 4.1.1); never longer
    than the query, so no one can use it to amplify."""
    return q[:2] + struct.pack(">HHHHH", 0x8000 | (q[2] & 0x79) << 8 | rcode, 0, 0, 0, 0)


def reply(q, ip):
    """The answer to DNS query q: ip for an A question, no record for any other, NOTIMP or FORMERR
    for what it cannot answer; None for a reply or less than a header (never answered: no loops)."""
    if len(q) < 12 or q[2] & 0x80:
        return None
    if q[2] & 0x78:                         # OPCODE: only QUERY (0) is implemented
        return _refusal(q, 4)
    end = _question_end(q) if struct.unpack(">H", q[4:6])[0] == 1 else None
    if end is None:
        return _refusal(q, 1)
    flags = 0x8400 | (q[2] & 1) << 8        # a response, authoritative, RD echoed
    is_a = q[end - 4:end] == b"\x00\x01\x00\x01"
    head = q[:2] + struct.pack(">HHHHH", flags, 1, 1 if is_a else 0, 0, 0)
    if not is_a:
        return head + q[12:end]
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, TTL_S, 4) + bytes([int(p) for p in ip.split(".")])
    return head + q[12:end] + ans


class CaptiveDns:
    def __init__(self, address, sock_mod=socket, port=PORT):
        self.address, self.sock_mod, self.port = address, sock_mod, port
        self.sock = None
        self._waiting = None             # the socket's poll, while it is open
        self.answered = 0
        self.error = None

    def status(self):
        return {"answered": self.answered, "error": self.error}

    def _open(self, ip):
        """Listen on the access point's own address only: never a DNS server on the home network."""
        m = self.sock_mod
        s = m.socket(m.AF_INET, m.SOCK_DGRAM)
        try:
            s.setblocking(False)
            s.bind(m.getaddrinfo(ip, self.port)[0][-1])        # a literal address: no lookup
        except OSError as e:                # said in the status; the set-up page still answers
            s.close()
            self.error = "cannot listen on %s:%d: %r" % (ip, self.port, e)
            return
        self.sock = s
        p = select.poll()
        p.register(s, select.POLLIN)
        self._waiting = getattr(p, "ipoll", p.poll)   # ipoll allocates nothing (MicroPython)

    def _readable(self):
        waiting = self._waiting
        if waiting is not None:
            for _ in waiting(0):
                return True
        return False

    def poll(self, now):
        ip = self.address()
        sock = self.sock
        if ip is None:
            if sock is not None:
                sock.close()
                self.sock = None
            return
        if sock is None:
            if self.error is None:
                self._open(ip)
            return                          # read from the next poll on
        for _ in range(READS_PER_POLL):
            if not self._readable():        # an EAGAIN exception would allocate on every poll
                return
            try:
                q, peer = sock.recvfrom(512)
            except OSError:                 # EAGAIN: nothing waiting
                return
            r = reply(q, ip)
            if r is not None:
                try:
                    sock.sendto(r, peer)
                    self.answered += 1
                except OSError:             # no room to send: the phone asks again
                    pass
