"""Edge audit 4 on the MicroPython unix port: a reply after a byte of RS-485 turn-around noise
(0x00, 0xFF) is found by its unit, function and CRC, with polls that allocate nothing (under
heap_lock) across the ticks' wrap; a SERVER DEVICE BUSY answer is asked again. The set-up access
point's own password: random, kept on flash, the same after a reboot. Also collected by
pytest on CPython (heap_lock skipped there)."""

from evse.metering import modbus
from upytest import modbus_reply

import upytest

MASK = 0x3FFFFFFF


def busy(unit, fc):
    data = bytearray([unit, fc | 0x80, 6])
    c = modbus.crc16(data)
    data.append(c & 0xFF)
    data.append(c >> 8)
    return data


class Line:
    """Each request's answer: noise then the reply, one byte more arriving per any() (a slow line)
    from a preallocated buffer: reading allocates nothing."""

    def __init__(self, noise, busy_first=0):
        self.noise = noise
        self.busy_first = busy_first
        self.buf = bytearray(300)
        self.len = 0
        self.pos = 0
        self.writes = 0

    def write(self, b):
        self.writes += 1
        frame = busy(b[0], b[1]) if self.writes <= self.busy_first else modbus_reply(b[0], b[1], b[5])
        data = self.noise + frame
        self.buf[0:len(data)] = data
        self.len = len(data)
        self.pos = 0
        self.shown = 0
        return 8

    def any(self):
        if self.shown < self.len:
            self.shown += 1
        return self.shown - self.pos

    def readinto(self, buf, n):
        k = self.shown - self.pos
        if k > n:
            k = n
        for i in range(k):
            buf[i] = self.buf[self.pos + i]
        self.pos += k
        return k


def _drive(m, now, limit):
    st = modbus.BUSY
    end = now + limit
    while st == modbus.BUSY and now < end:
        now += 10
        st = m.poll(now & MASK)
    return st, now


def test_noise_before_the_reply_across_the_ticks_wrap_allocates_nothing():
    for noise in (b"\x00", b"\xff", b"\x01\x04"):
        start = MASK - 50
        line = Line(noise)
        m = modbus.ModbusMaster(line, timeout_ms=300, retries=2)
        m.start(1, 4, 0, 14, start & MASK)       # 33 bytes after the noise
        now = start
        upytest.heap_lock()
        try:
            while now < start + 1000 and m.poll(now & MASK) == modbus.BUSY:
                now += 10
        finally:
            upytest.heap_unlock()
        assert m.state == modbus.DONE and line.writes == 1 and m.crc_errors == 0
        assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.0
        assert modbus.decode(m.data, 24, modbus.T_FLOAT32) == 230.0


def test_a_busy_answer_is_asked_again_once_the_bus_is_quiet():
    start = MASK - 100
    line = Line(b"", busy_first=1)
    m = modbus.ModbusMaster(line, timeout_ms=300, retries=2)
    m.start(1, 4, 0, 2, start & MASK)
    st, now = _drive(m, start, 2000)
    assert st == modbus.DONE and line.writes == 2 and m.exception_code == 6
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.0


def test_the_set_up_access_points_password_is_random_and_kept():
    from tools.sim.mock_machine import install
    install()
    from evse.shell import net
    from tools.sim.rig import new_flash_dir

    a, b = new_flash_dir() + "/ap_key.json", new_flash_dir() + "/ap_key.json"
    key = net.ap_key(a)
    assert len(key) == 12 and net.ap_key(a) == key and net.ap_key(b) != key
    for c in key:
        assert c in "abcdefghijkmnpqrstuvwxyz23456789"


if __name__ == "__main__":
    upytest.run(globals())
