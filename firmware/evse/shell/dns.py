"""Name lookups that never stop the control loop: one A record (RFC 1035) asked over UDP on a
non-blocking socket, its answer awaited in steps, from the DNS server the Wi-Fi network gave.
MicroPython's getaddrinfo, and asyncio.open_connection which calls it with a name, block the whole
VM, control tick included, for as long as the lookup takes: seconds when the server is slow or gone.
Used by the clock (services/netclock.py), MQTT and OCPP, which also open and close their streams
here (open_stream, close_stream) and pause here between attempts (pause)."""
import asyncio
import os
import socket
import struct
import sys

DNS_PORT = 53
LOOKUP_MS = 4000         # no answer in this time: the lookup failed (the connection retries later)
RESEND_MS = 2000         # a datagram not answered in this time is asked again
POLL_MS = 20             # how often the socket is read while waiting (between control ticks)


def is_ipv4(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


async def pause(ms):
    """A reconnection pause of ms plus up to a quarter, from the hardware's randomness: chargers that
    lost one server together (its restart) do not all dial it again at the same instants."""
    await asyncio.sleep(ms * (1 + os.urandom(1)[0] / 1024) / 1000)


def new_id():
    return struct.unpack(">H", os.urandom(2))[0]     # unguessable: a spoofed answer must match it


def dns_query(qid, host):
    q = bytearray(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0))   # recursion desired, one question
    for label in host.split("."):
        q.append(len(label))
        q.extend(label.encode())
    q.extend(b"\x00\x00\x01\x00\x01")          # root, type A, class IN
    return bytes(q)


def _skip_name(b, i):
    while True:
        n = b[i]
        if n >= 0xC0:                            # a pointer ends the name
            return i + 2
        if n == 0:
            return i + 1
        i += n + 1


def dns_answer(b, qid):
    """The first A record of a reply to query qid, as 'a.b.c.d'; None for anything else."""
    if len(b) < 12:
        return None
    rid, flags, qd, an = struct.unpack(">HHHH", b[:8])
    if rid != qid or not flags & 0x8000 or flags & 0x000F or an == 0:
        return None
    i = 12
    for _ in range(qd):
        i = _skip_name(b, i) + 4
    for _ in range(an):
        i = _skip_name(b, i)
        typ, cls, _, n = struct.unpack(">HHIH", b[i:i + 10])
        i += 10
        if typ == 1 and cls == 1 and n == 4:
            return "%d.%d.%d.%d" % (b[i], b[i + 1], b[i + 2], b[i + 3])
        i += n
    return None


def _read(s, qid):
    try:
        return dns_answer(s.recv(512), qid)
    except (OSError, IndexError, ValueError):     # EAGAIN: nothing yet; a reply cut short
        return None


async def lookup(host, server, port=DNS_PORT, sock_mod=socket):
    """host's IPv4 address 'a.b.c.d', asked of the DNS server `server` (an IP address), awaited in
    POLL_MS steps; a literal address at once. OSError when no answer comes within LOOKUP_MS."""
    if is_ipv4(host):
        return host
    if not server:
        raise OSError("no DNS server (not connected) for " + host)
    qid = new_id()
    query = dns_query(qid, host)
    s = sock_mod.socket(sock_mod.AF_INET, sock_mod.SOCK_DGRAM)
    try:
        s.setblocking(False)
        to = sock_mod.getaddrinfo(server, port)[0][-1]       # a literal address: no lookup
        for waited in range(0, LOOKUP_MS, POLL_MS):
            if waited % RESEND_MS == 0:
                s.sendto(query, to)
            ip = _read(s, qid)
            if ip is not None:
                return ip
            await asyncio.sleep(POLL_MS / 1000)
    finally:
        s.close()
    raise OSError("no address for %s from the DNS server %s" % (host, server))



def _ip_of(sockaddr):
    """The IPv4 address of a getaddrinfo answer: ('a.b.c.d', port) on the boards (lwIP), a raw
    sockaddr_in (family, port, 4 address bytes) on the unix port."""
    if isinstance(sockaddr, tuple):
        return sockaddr[0]
    return "%d.%d.%d.%d" % tuple(sockaddr[4:8])


async def resolve(host, port, dns_server=None):
    """host's IPv4 address for a connection. On a board with Wi-Fi `dns_server` gives the network's
    DNS server (None while offline) and the name is looked up in steps; without one (the unix port,
    a PC: no Wi-Fi of the board's own) the system's getaddrinfo answers, as fast as the host's."""
    if is_ipv4(host):
        return host
    if dns_server is not None:
        return await lookup(host, dns_server(), DNS_PORT)
    af = getattr(socket, "AF_INET", 2)    # 2 on every port; the Pico stubs lack it
    return _ip_of(socket.getaddrinfo(host, port, af)[0][-1])


async def open_stream(host, port, ctx=None, dns_server=None, name=None):
    """asyncio.open_connection to host (TLS with `ctx`, the certificate checked against `name`, by
    default the host). With the Wi-Fi network's DNS server (`dns_server`, boards with Wi-Fi) a name
    is looked up in steps first: open_connection's own getaddrinfo would stop every task, control
    tick included, until the answer."""
    addr = host if dns_server is None or ":" in host else await lookup(host, dns_server(), DNS_PORT)
    if sys.implementation.name == "micropython":
        return await _stream(addr, port, ctx, name or host)
    if ctx is None:
        return await asyncio.open_connection(addr, port)
    return await asyncio.open_connection(addr, port, ssl=ctx, server_hostname=name or host)


async def _stream(addr, port, ctx, name):
    """MicroPython's open_connection, whose socket a cancel (its caller's timeout: a host that never
    answers the SYN) or a failed connect() left open, a file descriptor lost each time. Here the
    socket is closed on every failure; TCP is up when it returns (polled every POLL_MS, as
    open_connection waited for it), and its caller closes the stream when a later step fails."""
    import select
    from errno import EINPROGRESS         # the port's own number (115 on the unix port)
    ai = socket.getaddrinfo(addr, port, 0, getattr(socket, "SOCK_STREAM", 1))[0]    # the Pico stubs lack it
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != EINPROGRESS:     # the connection is under way
                raise
        p = select.poll()
        p.register(s, select.POLLOUT)
        while not p.poll(0):             # connected, or refused (said by the first write)
            await asyncio.sleep(POLL_MS / 1000)
        if ctx is not None:
            s = ctx.wrap_socket(s, server_hostname=name, do_handshake_on_connect=False)
            s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return asyncio.StreamReader(s), asyncio.StreamWriter(s)    # MicroPython's Stream, both of them


async def close_stream(writer):
    """Close a stream's socket: MicroPython's Stream.close() does not, only wait_closed()."""
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass
