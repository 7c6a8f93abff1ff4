"""Modbus RTU framing, CRC, parsing and the master's state machine against a scripted UART."""
import struct

import pytest

from evse.metering import modbus
from evse.core.meter_maps import parse_generic_map


def frame(*data):
    b = bytearray(data)
    c = modbus.crc16(b)
    return bytes(b + bytes((c & 0xFF, c >> 8)))


def test_crc_known_vectors():
    assert frame(0x01, 0x03, 0x00, 0x00, 0x00, 0x0A)[-2:] == bytes((0xC5, 0xCD))
    assert frame(0x01, 0x04, 0x00, 0x00, 0x00, 0x02)[-2:] == bytes((0x71, 0xCB))
    whole = frame(0x11, 0x04, 0x02, 0x12, 0x34)
    assert modbus.crc16(whole) == 0          # CRC over a frame with its CRC is zero


def test_build_request():
    b = bytearray(8)
    assert modbus.build_request(b, 1, 4, 0x0156, 2) == 8
    assert bytes(b) == frame(0x01, 0x04, 0x01, 0x56, 0x00, 0x02)


def test_parse_results():
    ok = bytearray(frame(1, 4, 4, 0x43, 0x66, 0, 0))
    assert modbus.parse_response(ok, len(ok), 1, 4, 2) == modbus.OK
    assert modbus.parse_response(ok, 5, 1, 4, 2) == modbus.INCOMPLETE
    assert modbus.parse_response(ok, len(ok), 2, 4, 2) == modbus.MISMATCH
    assert modbus.parse_response(ok, len(ok), 1, 3, 2) == modbus.MISMATCH
    assert modbus.parse_response(ok, len(ok), 1, 4, 4) == modbus.MISMATCH
    bad = bytearray(ok)
    bad[4] ^= 1
    assert modbus.parse_response(bad, len(bad), 1, 4, 2) == modbus.BAD_CRC
    exc = bytearray(frame(1, 0x84, 2))
    assert modbus.parse_response(exc, len(exc), 1, 4, 2) == modbus.EXCEPTION


def test_decode_types_and_word_order():
    b = bytearray(struct.pack(">f", 230.25) + struct.pack(">h", -5) + struct.pack(">i", -70000))
    assert modbus.decode(b, 0, modbus.T_FLOAT32) == 230.25
    assert modbus.decode(b, 4, modbus.T_INT16) == -5
    assert modbus.decode(b, 4, modbus.T_UINT16) == 0xFFFB
    assert modbus.decode(b, 6, modbus.T_INT32) == -70000
    sw = bytearray(b[2:4] + b[0:2])
    assert modbus.decode(sw, 0, modbus.T_FLOAT32, swap_words=True) == 230.25


class ScriptedUart:
    """Replies from a script: each write pops the next reply (bytes, or None for silence)."""

    def __init__(self, replies, chunk=3, readinto=True):
        self.replies = list(replies)
        self.rx = bytearray()
        self.chunk = chunk          # bytes that "arrive" per any() call: replies come in pieces
        self.pending = bytearray()
        self.writes = []
        if not readinto:
            self.readinto = None

    def write(self, b):
        self.writes.append(bytes(b))
        r = self.replies.pop(0) if self.replies else None
        if r:
            self.pending += r

    def any(self):
        take = self.pending[: self.chunk]
        del self.pending[: self.chunk]
        self.rx += take
        return len(self.rx)

    def readinto(self, buf, n=None):
        n = min(len(self.rx), len(buf) if n is None else n)
        buf[:n] = self.rx[:n]
        del self.rx[:n]
        return n

    def read(self, n):
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out or None

    def __getattribute__(self, name):
        if name == "readinto" and object.__getattribute__(self, "__dict__").get("readinto", 1) is None:
            raise AttributeError(name)
        return object.__getattribute__(self, name)


def drive(m, t0=0, step=5, limit=5000):
    t = t0
    while t < t0 + limit:
        st = m.poll(t)
        if st != modbus.BUSY:
            return st, t
        t += step
    return None, t


REPLY = frame(1, 4, 4, *struct.pack(">f", 16.5))


@pytest.mark.parametrize("readinto", [True, False])
def test_reply_in_pieces(readinto):
    u = ScriptedUart([REPLY], chunk=2, readinto=readinto)
    m = modbus.ModbusMaster(u)
    m.start(1, 4, 6, 2, 0)
    st, _ = drive(m)
    assert st == modbus.DONE
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 16.5


def test_timeout_then_retry_succeeds():
    u = ScriptedUart([None, REPLY])
    m = modbus.ModbusMaster(u, timeout_ms=100, retries=2)
    m.start(1, 4, 6, 2, 0)
    st, t = drive(m)
    assert st == modbus.DONE and len(u.writes) == 2 and m.timeouts == 1
    assert 100 <= t <= 120


def test_timeouts_exhaust_retries():
    u = ScriptedUart([None, None, None, REPLY])
    m = modbus.ModbusMaster(u, timeout_ms=100, retries=2)
    m.start(1, 4, 6, 2, 0)
    st, t = drive(m)
    assert st == modbus.FAILED and m.error == "timeout" and len(u.writes) == 3
    assert 300 <= t <= 320


def test_short_reply_times_out():
    u = ScriptedUart([REPLY[:5]])
    m = modbus.ModbusMaster(u, timeout_ms=50, retries=0)
    m.start(1, 4, 6, 2, 0)
    st, _ = drive(m)
    assert st == modbus.FAILED and m.error == "short reply"


def test_stray_bytes_are_drained_before_a_request():
    u = ScriptedUart([REPLY])
    u.rx += b"\x99\x98"
    m = modbus.ModbusMaster(u)
    m.start(1, 4, 6, 2, 0)
    assert drive(m)[0] == modbus.DONE


def test_wrong_unit_reply_is_retried():
    other = frame(2, 4, 4, *struct.pack(">f", 1.0))
    u = ScriptedUart([other, REPLY])
    m = modbus.ModbusMaster(u, retries=1)
    m.start(1, 4, 6, 2, 0)
    assert drive(m)[0] == modbus.DONE and len(u.writes) == 2


def test_uart_errors_never_raise():
    class Broken:
        def write(self, b):
            raise OSError(5, "EIO")

        def any(self):
            raise OSError(5, "EIO")

    m = modbus.ModbusMaster(Broken(), retries=1)
    assert m.start(1, 4, 0, 2, 0) is False
    assert m.poll(10) == modbus.FAILED and "uart" in m.error


def test_tick_wrap():
    u = ScriptedUart([None, REPLY])
    m = modbus.ModbusMaster(u, timeout_ms=100, retries=1)
    t0 = (1 << 30) - 50                           # the ms counter wraps during the request
    m.start(1, 4, 6, 2, t0)
    t = t0
    for _ in range(100):
        t = (t + 5) & ((1 << 30) - 1)
        if m.poll(t) != modbus.BUSY:
            break
    assert m.state == modbus.DONE and m.timeouts == 1


def test_bad_requests():
    m = modbus.ModbusMaster(ScriptedUart([]))
    assert not m.start(1, 6, 0, 1, 0) and m.error == "bad request"
    assert not m.start(1, 3, 0, 126, 0)


def test_generic_map_parsing():
    g = parse_generic_map("i1=4:0x0006:float32, kwh=3:100:uint32:0.01:le")
    assert g["phases"] == 1
    assert g["reads"][0] == (4, 6, 2, (("i1", 0, modbus.T_FLOAT32, 1.0, False),))
    assert g["reads"][1] == (3, 100, 2, (("kwh", 0, modbus.T_UINT32, 0.01, True),))
    assert parse_generic_map("i1=4:6:int16,i3=4:8:int16")["phases"] == 3
    for bad in ("i1=4:6", "x1=4:6:float32", "i1=5:6:float32", "i1=4:6:double", "i1=4:6:int16:1:xx",
                "v1=4:0:float32", "i1=4:6:int16,i1=4:8:int16", "i1=4:70000:int16"):
        with pytest.raises(ValueError):
            parse_generic_map(bad)
