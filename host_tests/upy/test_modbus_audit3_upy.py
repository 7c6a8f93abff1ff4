"""Modbus audit 3 on the MicroPython unix port (the board's integers and ticks arithmetic, across
the ticks' wrap): a reply still arriving at 1200 baud when the timeout runs out is waited for, never
talked over, and the next request waits for 40 ms of silence with polls that allocate nothing
(under heap_lock). Also collected by pytest on CPython (heap_lock skipped there)."""

from evse.metering import modbus
from modbus_fakes import TimedBus
from upytest import modbus_reply

import upytest

MASK = 0x3FFFFFFF


class SlowBus(TimedBus):
    """A meter at 1200 baud: its reply (count registers) starts 80 ms after the request is written,
    one byte every 9 ms; a write while it still sends is a collision. Times unwrapped here, the
    master sees them masked as ticks_ms."""

    def __init__(self, now):
        TimedBus.__init__(self, now)
        self.writes = []

    def write(self, b):
        self.writes.append(self.now)
        self.answer(modbus_reply(b[0], b[1], b[5]), 80, 9)
        return 8


def test_a_slow_reply_across_the_ticks_wrap_is_read_then_the_bus_is_left_quiet():
    start = MASK - 150
    bus = SlowBus(start)
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    m.start(1, 4, 0, 14, start & MASK)             # 33 bytes: the last at 80 + 297 ms
    st = modbus.BUSY
    while st == modbus.BUSY and bus.now < start + 2000:
        bus.now += 10
        st = m.poll(bus.now & MASK)
    assert st == modbus.DONE and len(bus.writes) == 1 and bus.collisions == 0
    assert bus.now - start >= 377 and m.timeouts == 0
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.0
    done_at = bus.now
    m.start(1, 4, 0x46, 4, bus.now & MASK)          # the next block, at once: it waits
    waits = 0
    upytest.heap_lock()                                          # the polls that wait allocate nothing
    try:
        while bus.now + 10 < done_at + 40:
            bus.now += 10
            if m.poll(bus.now & MASK) == modbus.BUSY and len(bus.writes) == 1:
                waits += 1
    finally:
        upytest.heap_unlock()
    while len(bus.writes) == 1 and bus.now < done_at + 200:
        bus.now += 10
        m.poll(bus.now & MASK)
    assert waits == 3 and len(bus.writes) == 2 and bus.writes[1] - done_at == 40


if __name__ == "__main__":
    upytest.run(globals())
