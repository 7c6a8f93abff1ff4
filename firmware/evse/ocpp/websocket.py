"""A small WebSocket client (RFC 6455) over asyncio streams, for OCPP-J.

Text and binary messages, fragmented messages, masking, ping/pong and close; ws:// and wss://
with the server certificate checked against a CA file; HTTP Basic auth (OCPP security profiles
1 and 2); a client certificate (profile 3). Runs on CPython's asyncio and MicroPython's asyncio alike."""
import asyncio
import binascii
import hashlib
import os

from ..shell.dns import close_stream, open_stream

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
MAX_MESSAGE = 16384  # bytes kept per message; longer ones are drained and reported truncated
MAX_HEADER_LINES = 64  # a handshake answer longer than this is not a WebSocket server
MAX_LINE = 2048  # bytes in one line of it (a stream's readline() keeps a line of any length)
CONNECT_TIMEOUT_S = 20  # TCP, the TLS handshake and the upgrade's answer: a silent server is given up


class WebSocketError(Exception):
    pass


def parse_url(url):
    """'ws://host:port/path' -> (secure, host, port, path)."""
    if url.startswith("ws://"):
        secure, rest = False, url[5:]
    elif url.startswith("wss://"):
        secure, rest = True, url[6:]
    else:
        raise WebSocketError("url must start with ws:// or wss://")
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    port = 443 if secure else 80
    if hostport.startswith("["):  # IPv6 literal
        j = hostport.find("]")
        host = hostport[1:j]
        if hostport[j + 1:j + 2] == ":":
            port = int(hostport[j + 2:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host = hostport
    if not host:
        raise WebSocketError("url has no host")
    return secure, host, port, path


def b64(data):
    return binascii.b2a_base64(data).strip().decode()


def accept_key(key):
    return b64(hashlib.sha1(key.encode() + GUID).digest())


def basic_auth(user, password):
    """RFC 7617; the password str or bytes (the AuthorizationKey's may be any bytes)."""
    pw = password if isinstance(password, bytes) else password.encode()
    return "Basic " + b64(user.encode() + b":" + pw)


def encode_frame(opcode, payload, fin=True, mask_key=None):
    """A client frame: always masked (RFC 6455 5.3)."""
    if mask_key is None:
        mask_key = os.urandom(4)
    n = len(payload)
    head = bytearray([(0x80 if fin else 0) | opcode])
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head.extend(n.to_bytes(2, "big"))
    else:
        head.append(0x80 | 127)
        head.extend(n.to_bytes(8, "big"))
    head.extend(mask_key)
    # XOR as one big integer, in C: a loop over the bytes held a Pico's control loop 49 ms for 4 KB
    body = int.from_bytes(payload, "big") ^ int.from_bytes((mask_key * (n // 4 + 1))[:n], "big")
    return bytes(head) + body.to_bytes(n, "big")


class WebSocket:
    """One open connection. `recv()` returns (opcode, data, truncated) for text/binary messages
    (a whole text message as str, anything else as bytes) and answers pings itself; it raises
    WebSocketError once the connection is closed (by a frame that breaks RFC 6455 too: then with
    a Close frame, 1002; by a text message that is not UTF-8: 1007)."""

    def __init__(self, reader, writer, max_message=MAX_MESSAGE):
        self.reader = reader
        self.writer = writer
        self.max_message = max_message
        self.closed = False
        self.pinged = None  # when the oldest Ping without a Pong went out (connection._keepalive)
        self.heard = False  # a frame came from the peer since the app last looked (the fallback's watch)
        self._lock = asyncio.Lock()  # one frame on the wire at a time

    async def _send_frame(self, opcode, payload, fin=True):
        if self.closed:
            raise WebSocketError("closed")
        async with self._lock:
            self.writer.write(encode_frame(opcode, payload, fin))
            await self.writer.drain()

    async def send_text(self, text):
        await self._send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    async def ping(self, data=b""):
        await self._send_frame(OP_PING, data)

    async def close(self, code=1000, reason=""):
        if not self.closed:
            try:
                await self._send_frame(OP_CLOSE, code.to_bytes(2, "big") + reason.encode())
            except Exception:
                pass
        self.closed = True
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except Exception:
            pass

    async def _read_frame(self, keep):
        """(fin, opcode, payload) with at most `keep` payload bytes kept (the rest drained)."""
        h = await self.reader.readexactly(2)
        fin, opcode = h[0] & 0x80, h[0] & 0x0F
        masked, n = h[1] & 0x80, h[1] & 0x7F
        if h[0] & 0x70:
            raise WebSocketError("reserved bits set")
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        if masked:  # a server never masks (RFC 6455 5.1: the client closes the connection)
            raise WebSocketError("masked frame")
        if opcode >= 8 and (n > 125 or not fin):
            raise WebSocketError("bad control frame")
        kept = await self.reader.readexactly(min(n, keep)) if n else b""
        left = n - len(kept)
        while left:  # drain what we do not keep, in small pieces (never a huge allocation)
            left -= len(await self.reader.readexactly(min(left, 512)))
        return fin, opcode, kept, n

    async def recv(self):
        try:
            return await self._recv()
        except WebSocketError:
            # a broken frame or message: failed with a Close frame, 1002 (RFC 6455 7.1.7, 7.4.1);
            # nothing more is sent on a connection already closed
            await self.close(1002)
            raise

    async def _recv(self):
        msg_op = None
        parts = []
        size = 0
        truncated = False
        while True:
            if self.closed:
                raise WebSocketError("closed")
            try:
                # Control frames between fragments carry at most 125 bytes, so one budget serves.
                fin, op, data, n = await self._read_frame(max(125, self.max_message - size))
                self.heard = True
            except (OSError, EOFError) as e:  # asyncio.IncompleteReadError is an EOFError
                self.closed = True
                raise WebSocketError("connection lost: %r" % (e,))
            if op >= 8:
                await self._control(op, data)
                continue
            if op in (OP_TEXT, OP_BINARY):
                if msg_op is not None:
                    raise WebSocketError("new message inside a fragmented one")
                msg_op = op
            elif op == OP_CONT:
                if msg_op is None:
                    raise WebSocketError("continuation without a message")
            else:
                raise WebSocketError("unknown opcode %d" % op)
            if not truncated:  # past max_message a fragment is drained, never kept
                parts.append(data)
            size += n
            if size > self.max_message:
                truncated = True
            if fin:
                return await self._message(msg_op, b"".join(parts), truncated)

    async def _control(self, op, data):
        """A control frame, between messages or their fragments: a Ping answered with its payload,
        a Pong noted (the link is alive), a Close answered (WebSocketError)."""
        if op == OP_PONG:
            self.pinged = None
        elif op == OP_PING:
            await self._send_frame(OP_PONG, data)
        elif op == OP_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1000
            await self.close(code if code in (1000, 1001) else 1000)
            raise WebSocketError("closed by peer (%d)" % code)
        else:
            raise WebSocketError("unknown opcode %d" % op)

    async def _message(self, op, msg, truncated):
        if op == OP_TEXT and not truncated:
            try:  # a text message is UTF-8, else the connection fails: 1007 (RFC 6455 8.1)
                return op, msg.decode(), False
            except UnicodeError:
                await self.close(1007)
                raise WebSocketError("text message not UTF-8")
        return op, msg, truncated


async def read_line(reader):
    """One line of an HTTP answer, stripped; ValueError past MAX_LINE bytes: read byte by byte, so a
    server that never ends its line cannot fill the heap (MicroPython's readline() has no limit)."""
    buf = bytearray()
    while len(buf) <= MAX_LINE:
        c = await reader.read(1)
        if not c or c == b"\n":
            return buf.decode().strip()
        buf.extend(c)
    raise ValueError("answer line too long")


async def read_headers(reader, error=None):
    """An HTTP answer's header lines -> {lower-case name: value}; `error` (WebSocketError by
    default) past MAX_HEADER_LINES, ValueError for a line past MAX_LINE (read_line)."""
    headers = {}
    for _ in range(MAX_HEADER_LINES):
        line = await read_line(reader)
        if not line:
            return headers
        i = line.find(":")
        if i > 0:
            headers[line[:i].strip().lower()] = line[i + 1:].strip()
    raise (error or WebSocketError)("answer too long")


async def connect(url, subprotocol="ocpp1.6", user=None, password=None, ca_file=None,
                  max_message=MAX_MESSAGE, extra_headers=None, cert_file=None, key_file=None,
                  dns_server=None):
    """Open a WebSocket: TCP (or TLS), HTTP upgrade, check Sec-WebSocket-Accept and the subprotocol;
    all within CONNECT_TIMEOUT_S (asyncio.TimeoutError). dns_server: the Wi-Fi network's DNS
    server (shell/dns.py: the name looked up in steps)."""
    secure, host, port, path = parse_url(url)
    ctx = None
    if secure:
        from ..shell.tls import make_tls_context      # only for wss://: it costs heap
        ctx = make_tls_context(ca_file, cert_file, key_file)
    head = (path, subprotocol, user, password, extra_headers)
    return await asyncio.wait_for(_upgrade(host, port, secure, ctx, head, max_message, dns_server),
                                  CONNECT_TIMEOUT_S)


async def _upgrade(host, port, secure, ctx, head, max_message, dns_server):
    """MicroPython's open_connection returns once TCP is up; the TLS handshake then runs in steps
    while the upgrade request is written, other tasks running between them."""
    path, subprotocol, user, password, extra_headers = head
    reader, writer = await open_stream(host, port, ctx, dns_server)
    try:
        key = b64(os.urandom(16))
        hosthdr = host if port == (443 if secure else 80) else "%s:%d" % (host, port)
        lines = ["GET %s HTTP/1.1" % path, "Host: " + hosthdr, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if subprotocol:
            lines.append("Sec-WebSocket-Protocol: " + subprotocol)
        if password is not None and user is not None:
            lines.append("Authorization: " + basic_auth(user, password))
        for k, v in (extra_headers or ()):
            lines.append("%s: %s" % (k, v))
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        status = await read_line(reader)
        if status.split(" ", 2)[1:2] != ["101"]:
            raise WebSocketError("upgrade refused: " + status)
        headers = await read_headers(reader)
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise WebSocketError("bad Sec-WebSocket-Accept")
        if subprotocol and headers.get("sec-websocket-protocol") != subprotocol:
            raise WebSocketError("server did not accept subprotocol " + subprotocol)
    except BaseException:            # the timeout's cancellation too: the socket is closed
        await close_stream(writer)
        raise
    return WebSocket(reader, writer, max_message)
