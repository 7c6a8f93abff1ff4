"""A central system's side of the OCPP-J WebSocket, as bytes in memory, for the client's tests
(evse/ocpp/websocket.py) on both interpreters: host_tests/upy/test_ocpprpc_audit3_upy.py on the
MicroPython unix port (which finds this folder on its path) and host_tests/test_ocpprpc_audit3.py
under pytest (conftest.py puts it on the path)."""


class Wire:
    """A server's bytes as the client reads them; what the client writes is kept in `out`."""

    def __init__(self, data):
        self.data = bytes(data)
        self.at = 0
        self.out = bytearray()

    async def readexactly(self, n):
        if len(self.data) - self.at < n:
            raise EOFError("the server closed")
        self.at += n
        return self.data[self.at - n:self.at]

    def write(self, b):
        self.out += b

    async def drain(self):
        pass

    def close(self):
        pass

    async def wait_closed(self):
        pass


def server_frame(op, payload, fin=True, mask=None):
    """A frame as a server sends it: unmasked (RFC 6455 5.1), unless `mask` is given."""
    n = len(payload)
    head = bytearray([(0x80 if fin else 0) | op])
    m = 0x80 if mask else 0
    if n < 126:
        head.append(m | n)
    else:
        head.append(m | 126)
        head.extend(n.to_bytes(2, "big"))
    if mask:
        head.extend(mask)
        body = bytearray(payload)
        for i in range(n):
            body[i] ^= mask[i & 3]
        payload = bytes(body)
    return bytes(head) + payload


def close_code(wire):
    """The status code of the (masked) Close frame the client wrote on wire, else None."""
    out = bytes(wire.out)
    if len(out) < 8 or out[0] != 0x88:
        return None
    mask = out[2:6]
    return ((out[6] ^ mask[0]) << 8) | (out[7] ^ mask[1])


class Answer:
    """An HTTP answer as a stream gives it: read(n) and, as MicroPython's readline(), a line of
    any length (CPython's StreamReader stops at 64 KiB with an error; MicroPython's keeps it all)."""

    def __init__(self, data):
        self.data = data
        self.at = 0

    async def read(self, n):
        chunk = self.data[self.at:self.at + n]
        self.at += len(chunk)
        return chunk

    async def readline(self):
        end = self.data.find(b"\n", self.at)
        end = len(self.data) if end < 0 else end + 1
        chunk = self.data[self.at:end]
        self.at = end
        return chunk
