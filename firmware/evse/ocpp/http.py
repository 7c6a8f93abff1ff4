"""A small HTTP/1.1 client over asyncio streams for file transfers (firmware download, diagnostics
upload): http:// and https:// (the server checked against `ca_file` as for wss://), one request
per connection, bodies streamed in chunks so that RAM stays small. Imported only by the firmware
and diagnostics modules, themselves loaded on their first message."""
import asyncio
from evse.ocpp.websocket import parse_url
from evse.shell.tls import make_tls_context

CHUNK = 512
MAX_HEADER_LINES = 64


class HttpError(Exception):
    pass


async def _open(url, ca_file):
    if not (url.startswith("http://") or url.startswith("https://")):
        raise HttpError("url must start with http:// or https://")
    secure, host, port, path = parse_url("ws" + url[4:])  # the same authority rules as ws(s)://
    if secure:
        reader, writer = await asyncio.open_connection(host, port, ssl=make_tls_context(ca_file))
    else:
        reader, writer = await asyncio.open_connection(host, port)
    hosthdr = host if port == (443 if secure else 80) else "%s:%d" % (host, port)
    return reader, writer, path, hosthdr


async def _answer(reader):
    """Status line and headers -> (status code, {lower-case name: value})."""
    status = (await reader.readline()).decode().split(" ", 2)
    if len(status) < 2 or not status[0].startswith("HTTP/"):
        raise HttpError("not an HTTP answer")
    headers = {}
    for _ in range(MAX_HEADER_LINES):
        line = (await reader.readline()).decode().strip()
        if not line:
            return int(status[1]), headers
        i = line.find(":")
        if i > 0:
            headers[line[:i].strip().lower()] = line[i + 1:].strip()
    raise HttpError("header too long")


async def download(url, path, max_bytes, ca_file=None, h=None):
    """GET url into the file `path` -> bytes written; `h` (a hashlib object) is fed the body.
    HttpError unless 200 with the whole body (Content-Length when given), at most max_bytes; no
    chunked transfer encoding."""
    reader, writer, rpath, host = await _open(url, ca_file)
    try:
        writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (rpath, host)).encode())
        await writer.drain()
        code, headers = await _answer(reader)
        if code != 200:
            raise HttpError("GET answered %d" % code)
        if "chunked" in headers.get("transfer-encoding", ""):
            raise HttpError("chunked transfer encoding not supported")
        want = int(headers["content-length"]) if "content-length" in headers else None
        if want is not None and want > max_bytes:
            raise HttpError("too large: %d bytes" % want)
        n = 0
        with open(path, "wb") as out:
            while want is None or n < want:
                buf = await reader.read(CHUNK if want is None else min(CHUNK, want - n))
                if not buf:
                    break
                n += len(buf)
                if n > max_bytes:
                    raise HttpError("too large")
                out.write(buf)
                if h is not None:
                    h.update(buf)
        if want is not None and n != want:
            raise HttpError("body truncated: %d of %d bytes" % (n, want))
        return n
    finally:
        writer.close()


async def upload(url, parts, ca_file=None, method="PUT", content_type="text/plain"):
    """Send the byte strings `parts` (an iterable, read once) as one body -> the status code.
    HttpError unless the server answers 2xx."""
    parts = list(parts)
    size = 0
    for p in parts:
        size += len(p)
    reader, writer, rpath, host = await _open(url, ca_file)
    try:
        writer.write(("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n" % (method, rpath, host, content_type, size)).encode())
        for p in parts:
            writer.write(p)
            await writer.drain()
        code, _ = await _answer(reader)
        if not 200 <= code < 300:
            raise HttpError("%s answered %d" % (method, code))
        return code
    finally:
        writer.close()
