"""Metering audit 2 on the MicroPython unix port (the board's integers and ticks arithmetic): the
S0 interrupt after a long idle gap, under heap_lock (the handler allocates nothing), and a Modbus
retry that waits for a quiet bus. Also collected by pytest on CPython (heap_lock skipped there)."""
import sys

from evse.metering import modbus
from evse.metering.s0 import S0Meter
from modbus_fakes import TimedBus
from upytest import modbus_reply

IS_UPY = sys.implementation.name == "micropython"
MASK = 0x3FFFFFFF


def test_s0_pulses_after_600_s_idle_counted_under_heap_lock():
    s = S0Meter(1000)
    s.on_pulse(0)
    s.poll(0)
    s.take_mwh()
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        t = 600000000                    # 600 s without a pulse, then 7.2 kW: one every 0.5 s
        for k in range(20):
            s.on_pulse((t + k * 500000) & MASK)
    finally:
        if IS_UPY:
            import micropython
            micropython.heap_unlock()
    s.poll(610000)
    assert s.count == 21 and s.bounces == 0
    assert s.take_mwh() == 20000


class GlitchBus(TimedBus):
    """A first reply whose byte count is spoilt (its CRC fails 2 bytes before the meter is done: a
    leading glitch byte did that until the master learned to skip it, edge audit 4), its bytes
    arriving 1 ms apart; writes made while the meter still sends are collisions."""

    def __init__(self):
        TimedBus.__init__(self)
        self.writes = 0
        self.glitch = True

    def write(self, b):
        self.writes += 1
        data = modbus_reply(b[0], b[1], 2)
        if self.glitch:
            data[2] = 2
            self.glitch = False
        self.answer(data, 15, 1)
        return 8


def test_modbus_retry_waits_for_a_quiet_bus():
    bus = GlitchBus()
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    m.start(1, 4, 0, 2, 0)
    st = modbus.BUSY
    while st == modbus.BUSY and bus.now < 2000:
        bus.now += 1
        st = m.poll(bus.now)
    assert st == modbus.DONE and bus.writes == 2 and bus.collisions == 0
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.0


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
