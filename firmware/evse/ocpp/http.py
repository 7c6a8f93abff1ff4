"""A small HTTP/1.1 client over asyncio streams for file transfers (firmware download, diagnostics
upload): http:// and https:// (the server checked against `ca_file` as for wss://), one request
per connection, bodies streamed in chunks so that RAM stays small. Imported only by the firmware
and diagnostics modules, themselves loaded on their first message."""
import asyncio
from .websocket import parse_url, read_headers, read_line
from ..shell.dns import close_stream, open_stream
from ..shell.tls import make_tls_context

CHUNK = 512
TIMEOUT_S = 30           # connect, TLS handshake, request and answer; then each chunk of the body


class HttpError(Exception):
    pass


async def _open(url, ca_file, head, parts=(), dns_server=None):
    """Connect, send the request (head: (method, content type or None, body size)) and its body
    parts, read the answer's status and headers -> (reader, writer, code, headers), within
    TIMEOUT_S (asyncio.TimeoutError): on MicroPython the TLS handshake runs while the request is
    written, so a server that never answers it is given up here too."""
    if not (url.startswith("http://") or url.startswith("https://")):
        raise HttpError("url must start with http:// or https://")
    secure, host, port, path = parse_url("ws" + url[4:])  # the same authority rules as ws(s)://
    ctx = make_tls_context(ca_file) if secure else None
    hosthdr = host if port == (443 if secure else 80) else "%s:%d" % (host, port)
    return await asyncio.wait_for(_request(host, port, ctx, head, parts, (path, hosthdr), dns_server),
                                  TIMEOUT_S)


async def _request(host, port, ctx, head, parts, where, dns_server):
    path, hosthdr = where
    reader, writer = await open_stream(host, port, ctx, dns_server)
    try:
        method, ctype, size = head
        lines = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, hosthdr)
        if ctype is not None:
            lines += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, size)
        writer.write((lines + "Connection: close\r\n\r\n").encode())
        await writer.drain()
        for p in parts:
            writer.write(p)
            await writer.drain()
        code, headers = await _answer(reader)
    except BaseException:            # the timeout's cancellation too: the socket is closed
        await close_stream(writer)
        raise
    return reader, writer, code, headers


async def _answer(reader):
    """Status line and headers -> (status code, {lower-case name: value})."""
    status = (await read_line(reader)).split(" ", 2)
    if len(status) < 2 or not status[0].startswith("HTTP/"):
        raise HttpError("not an HTTP answer")
    return int(status[1]), await read_headers(reader, HttpError)


async def copy_body(reader, path, max_bytes, h, want, error, timeout_s):
    """Stream `reader` into the file `path` in CHUNKs until its end (or `want` bytes when known)
    -> bytes written; `h` (a hashlib object or None) is fed each chunk. More than max_bytes:
    error("too large"), raised before the chunk that crosses it is written. A peer silent for
    timeout_s: asyncio.TimeoutError. Shared by http.download and ftp.download."""
    n = 0
    with open(path, "wb") as out:
        while want is None or n < want:
            buf = await asyncio.wait_for(reader.read(CHUNK if want is None else min(CHUNK, want - n)),
                                         timeout_s)
            if not buf:
                break
            n += len(buf)
            if n > max_bytes:
                raise error("too large")
            out.write(buf)
            if h is not None:
                h.update(buf)
    return n


async def download(url, path, max_bytes, ca_file=None, h=None, dns_server=None):
    """GET url into the file `path` -> bytes written; `h` (a hashlib object) is fed the body.
    HttpError unless 200 with the whole body (Content-Length when given), at most max_bytes; no
    chunked transfer encoding. A server silent for TIMEOUT_S: asyncio.TimeoutError. dns_server:
    the Wi-Fi network's DNS server (shell/dns.py: the name looked up in steps)."""
    reader, writer, code, headers = await _open(url, ca_file, ("GET", None, 0), (), dns_server)
    try:
        if code != 200:
            raise HttpError("GET answered %d" % code)
        if "chunked" in headers.get("transfer-encoding", ""):
            raise HttpError("chunked transfer encoding not supported")
        want = int(headers["content-length"]) if "content-length" in headers else None
        if want is not None and want > max_bytes:
            raise HttpError("too large: %d bytes" % want)
        n = await copy_body(reader, path, max_bytes, h, want, HttpError, TIMEOUT_S)
        if want is not None and n != want:
            raise HttpError("body truncated: %d of %d bytes" % (n, want))
        return n
    finally:
        await close_stream(writer)


async def upload(url, parts, ca_file=None, method="PUT", content_type="text/plain", dns_server=None):
    """Send the byte strings `parts` (an iterable, read once) as one body -> the status code.
    HttpError unless the server answers 2xx."""
    parts = list(parts)
    size = 0
    for p in parts:
        size += len(p)
    _, writer, code, _ = await _open(url, ca_file, (method, content_type, size), parts, dns_server)
    await close_stream(writer)
    if not 200 <= code < 300:
        raise HttpError("%s answered %d" % (method, code))
    return code
