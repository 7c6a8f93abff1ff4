"""A small FTP client (RFC 959) for the ftp:// locations of GetDiagnostics, GetLog and UpdateFirmware
(many central systems give such locations: SteVe's form suggests ftp://user:password@host/path).
Passive mode only (EPSV, RFC 2428, and PASV when the server does not know it), TYPE I, one
file per connection, streamed by http.copy_body; no FTPS. Imported only when an ftp://
location is used (firmware.transfer), so nothing of it is in RAM otherwise."""
import asyncio
from .http import copy_body
from .websocket import read_line
from ..shell.dns import close_stream, open_stream, resolve

TIMEOUT_S = 30            # as http.py: a connection, a reply, a chunk of data
MAX_REPLY_LINES = 32      # a multi-line reply longer than this is no FTP server's
ANONYMOUS = ("anonymous", "anonymous@")   # no user in the location (RFC 1738 3.2.1)


class FtpError(Exception):
    pass


def unquote(s):
    """Percent-decoding (RFC 3986 2.1) of a location's user, password or path."""
    parts = s.split("%")
    out = bytearray(parts[0].encode())
    for p in parts[1:]:
        if len(p) < 2:
            raise FtpError("bad percent-encoding")
        out.append(int(p[:2], 16))
        out.extend(p[2:].encode())
    return bytes(out).decode()


def parse_url(url):
    """'ftp://[user[:password]@]host[:port]/path' -> (user, password, host, port, path): user and
    password percent-decoded (anonymous without them), the path decoded and relative to the login
    directory (RFC 1738 3.2.2: %2F at its start makes it absolute), a ;type= suffix dropped."""
    if not url.startswith("ftp://"):
        raise FtpError("url must start with ftp://")
    rest = url[6:]
    i = rest.find("/")
    if i < 0:
        raise FtpError("url has no file")
    auth, path = rest[:i], unquote(rest[i + 1:].split(";type=")[0])
    user, pw = ANONYMOUS
    i = auth.rfind("@")
    if i >= 0:
        cred, auth = auth[:i], auth[i + 1:]
        i = cred.find(":")
        user, pw = (unquote(cred), "") if i < 0 else (unquote(cred[:i]), unquote(cred[i + 1:]))
    port = 21
    i = auth.rfind(":")
    if i > auth.rfind("]"):
        auth, port = auth[:i], int(auth[i + 1:])
    host = auth.strip("[]")
    if not host or not path:
        raise FtpError("url has no host or no file")
    return user, pw, host, port, path


async def _reply(r):
    """One reply -> (code, its last line); a multi-line one (ddd-... ddd text) read to its end."""
    line = await asyncio.wait_for(read_line(r), TIMEOUT_S)
    code = line[:3]
    if not code.isdigit():
        raise FtpError("no FTP reply" if line else "connection closed")
    if line[3:4] == "-":
        for _ in range(MAX_REPLY_LINES):
            line = await asyncio.wait_for(read_line(r), TIMEOUT_S)
            if not line:
                raise FtpError("connection closed")
            if line[:3] == code and line[3:4] != "-":
                return int(code), line
        raise FtpError("reply too long")
    return int(code), line


async def _send(r, w, cmd):
    """A command -> (code, line). A CR or LF in it (a decoded %0D%0A) would start another command."""
    if "\r" in cmd or "\n" in cmd:
        raise FtpError("CR or LF in a command")
    w.write(cmd.encode() + b"\r\n")
    await asyncio.wait_for(w.drain(), TIMEOUT_S)
    return await _reply(r)


async def _cmd(r, w, cmd, ok):
    """_send, FtpError unless the reply's first digit is in `ok`. The error names the verb only:
    a password never goes into last_error or the log."""
    code, line = await _send(r, w, cmd) if cmd else await _reply(r)
    if str(code)[0] not in ok:
        raise FtpError("%s answered %d" % ((cmd or "server").split(" ")[0], code))
    return code, line


async def _login(url, dns_server):
    """Connected, logged in, TYPE I -> (reader, writer, server address, path)."""
    user, pw, host, port, path = parse_url(url)
    addr = host if ":" in host else await resolve(host, port, dns_server)   # once for both connections
    r, w = await asyncio.wait_for(open_stream(addr, port), TIMEOUT_S)
    try:
        await _cmd(r, w, None, "2")                    # 220 greeting
        code, _ = await _cmd(r, w, "USER " + user, "23")
        if code != 230:                                # 331: the password is wanted
            await _cmd(r, w, "PASS " + pw, "2")
        await _cmd(r, w, "TYPE I", "2")
    except BaseException:     # the timeout's cancellation too: the socket is closed
        await close_stream(w)
        raise
    return r, w, addr, path


async def _passive(r, w, addr):
    """The data connection: EPSV (|||port|), PASV (h1,h2,h3,h4,p1,p2) when the server does not know
    EPSV. Always to the control connection's address: PASV's own is ignored (a server behind NAT
    gives its private one, and no server sends the charger to a third host)."""
    code, line = await _send(r, w, "EPSV")
    if code == 229:
        s = line[line.find("(") + 1:]
        port = int(s.split(s[0])[3])
    else:
        _, line = await _cmd(r, w, "PASV", "2")
        nums = "".join(c if c.isdigit() or c == "," else " " for c in line[4:]).split()
        a = [int(x) for x in [t for t in nums if t.count(",") == 5][0].split(",")]
        port = a[4] * 256 + a[5]
    if not 0 < port < 65536:
        raise FtpError("bad passive port")
    return await asyncio.wait_for(open_stream(addr, port), TIMEOUT_S)


async def _quit(w):
    """QUIT, its 221 not waited for: the file is already confirmed."""
    try:
        w.write(b"QUIT\r\n")
        await asyncio.wait_for(w.drain(), TIMEOUT_S)
    except Exception:
        pass


async def _close(d, w):
    """The data connection (when open) and the control connection closed."""
    if d is not None:
        await close_stream(d)
    await close_stream(w)


async def download(url, path, max_bytes, ca_file=None, h=None, dns_server=None):
    """RETR into the file `path` -> bytes written; `h` (a hashlib object) is fed the data. SIZE first
    when the server knows it (a larger file than max_bytes is refused before any byte moves), at
    most max_bytes in any case; FtpError unless the server confirms the whole file (226 after the
    data connection's end, and SIZE's count when it gave one). ca_file: unused (no FTPS)."""
    r, w, addr, name = await _login(url, dns_server)
    d = None
    try:
        code, line = await _send(r, w, "SIZE " + name)
        want = int(line[4:]) if code == 213 else None
        if want is not None and want > max_bytes:
            raise FtpError("too large: %d bytes" % want)
        dr, d = await _passive(r, w, addr)
        await _cmd(r, w, "RETR " + name, "1")
        n = await copy_body(dr, path, max_bytes, h, None, FtpError, TIMEOUT_S)
        await _cmd(r, w, None, "2")                    # 226: the whole file went
        if want is not None and n != want:
            raise FtpError("file truncated: %d of %d bytes" % (n, want))
        await _quit(w)
        return n
    finally:
        await _close(d, w)


async def upload(url, parts, ca_file=None, dns_server=None):
    """STOR the byte strings `parts` as the location's file -> the final reply's code; FtpError
    unless the server confirms it (226/250 once the data connection is closed)."""
    r, w, addr, name = await _login(url, dns_server)
    d = None
    try:
        _, d = await _passive(r, w, addr)
        await _cmd(r, w, "STOR " + name, "1")
        for p in parts:
            d.write(p)
            await asyncio.wait_for(d.drain(), TIMEOUT_S)
        await close_stream(d)                          # the end of the file (stream mode)
        d = None
        code, _ = await _cmd(r, w, None, "2")
        await _quit(w)
        return code
    finally:
        await _close(d, w)
