"""The CT's active power (one phase and the voltage channel: the mean of v x i in small ints) on
the MicroPython unix port, the board's integers: within 1 % at the power factors IEC 62053-21
tests (1, 0.5 inductive, 0.8 capacitive), a burst and a sliced window computed under heap_lock;
S0 pulses of IEC 62053-31's shortest width with a bouncing trailing edge, under heap_lock; a Modbus
meter whose replies come after the timeout, never one register's reply taken for another's. Also collected by pytest on CPython (heap_lock skipped there)."""
import math
from array import array

from evse.metering.ct import ADC_SHIFT, CtMeter
from evse.metering import modbus
from evse.metering.s0 import S0Meter
from modbus_fakes import TimedBus
from test_meter_upy import APC, IS_UPY, Clock

VPC = 0.25
N = 2000                                # table points per 50 Hz cycle (10 us each)


class TableAdc:
    """One precomputed cycle played back on the clock: integers only, so it works under heap_lock."""

    def __init__(self, clock, table):
        self.clock = clock
        self.table = table

    def read_u16(self):
        c = self.clock
        i = (c.t % 20000) * N // 20000
        c.t += 10
        return self.table[i]


def table(rms, per_count, phase=0.0):
    t = array("H", bytes(2 * N))
    for i in range(N):
        x = 2048 + rms * math.sqrt(2) * math.sin(2 * math.pi * i / N + phase) / per_count
        t[i] = max(0, min(4095, int(x + 0.5))) << ADC_SHIFT
    return t


def run(pf_phase, sliced):
    c = Clock()
    m = CtMeter([TableAdc(c, table(16.0, APC, pf_phase))], c.ticks_us, [APC], vadc=TableAdc(c, table(230.0, VPC)),
                volts_per_count=VPC, mains_hz=50, slice_us=8000 if sliced else 0,
                sleep_us=c.sleep_us if sliced else None, interval_ms=100)
    got = 0
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        while c.t < 400000:             # polls back to back for 400 ms, a window every 100 ms
            if m.poll(c.t // 1000):
                got = m.power_mw
            c.t += 100
    finally:
        if IS_UPY:
            import micropython
            micropython.heap_unlock()
    return got


def test_active_power_at_the_standards_power_factors_allocates_nothing():
    for pf in (1.0, 0.5, 0.8):
        phase = -math.acos(pf) if pf == 0.5 else math.acos(pf)     # 0.5 lags, 0.8 leads
        want = 230.0 * 16.0 * pf * 1000
        for sliced in (False, True):
            got = run(phase, sliced)
            assert abs(got - want) <= 0.01 * want, (pf, sliced, got, want)



def test_s0_bouncing_trailing_edges_count_nothing_under_heap_lock():
    """1000 imp/kWh at 50 kW (a pulse every 72 ms), each 30 ms long with rising edges 30.2, 31.5
    and 34.8 ms in (its trailing edge bouncing): 100 pulses, 100 Wh, nothing allocated."""
    s = S0Meter(1000)
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        t = 0x3FFFFFFF - 1000000          # the us counter wraps during the train
        for k in range(100):
            p = t + k * 72000
            s.on_pulse(p & 0x3FFFFFFF)
            for b in (30200, 31500, 34800):
                s.on_pulse((p + b) & 0x3FFFFFFF)
    finally:
        if IS_UPY:
            import micropython
            micropython.heap_unlock()
    s.poll(8000)
    assert s.count == 100 and s.bounces == 300 and s.take_mwh() == 100000



class LateMeter(TimedBus):
    """Unit 1 answers every read 450 ms after it (the master's timeout: 300 ms), unit 2 after 10 ms
    (a grid meter on the same bus), the register number in the reply's first word: whose reply it
    is can be told."""

    def write(self, b):
        reg = (b[2] << 8) | b[3]
        data = bytearray((b[0], b[1], 4, reg >> 8, reg & 0xFF, 0, 0))
        c = modbus.crc16(data)
        data.append(c & 0xFF)
        data.append(c >> 8)
        at = self.now + (450 if b[0] == 1 else 10)
        for x in data:                  # the frame's bytes at once
            self.arrivals.append((at, x))
        self.arrivals.sort(key=lambda a: a[0])
        return 8


def test_a_late_reply_is_not_taken_for_the_next_registers():
    bus = LateMeter()
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    got = []
    t = 0
    for unit, reg in ((1, 0), (1, 6), (1, 12), (1, 0), (2, 0), (1, 6), (2, 0), (1, 12), (1, 0)):
        m.start(unit, 4, reg, 2, t)     # a map of one value a request: 2 registers each
        st = modbus.BUSY
        while st == modbus.BUSY and t < 60000:
            t += 10
            bus.now = t
            st = m.poll(t)
        got.append((reg, (m.data[0] << 8) | m.data[1]) if st == modbus.DONE else (reg, None))
        bus.now = t = t + 1
    for reg, seen in got:
        assert seen is None or seen == reg, got


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
