# upy-heap: 304k
"""Metering under MicroPython: the pure parts, the hot paths under heap_lock (no allocation),
and energy checkpoints on a real littlefs (VfsLfs2 on a RAM block device), as on the boards.
Also collected by pytest on CPython (the littlefs and heap_lock parts are skipped there)."""
import math
import os
import struct
import sys
from array import array

from evse.metering import modbus
from evse.metering.ct import ADC_SHIFT, CtMeter, amps_per_count, channel_sums, sample_burst
from evse.metering.energy import Energy
from evse.metering.meter import make_meter
from evse.core.meter_maps import parse_generic_map
from evse.metering.s0 import S0Meter
from evse.shell.ring import Ring
from evse.shell.store import read_json, write_json_atomic
from modbus_fakes import SimUart

IS_UPY = sys.implementation.name == "micropython"
APC = amps_per_count(2000, 22.0, 3.3)


class Clock:
    def __init__(self):
        self.t = 1000

    def ticks_us(self):
        self.t += 2
        return self.t & 0x3FFFFFFF

    def sleep_us(self, us):
        self.t += us


class TableAdc:
    """Plays back one precomputed cycle: integer only, so it works under heap_lock."""

    def __init__(self, clock, table, period_us):
        self.clock = clock
        self.table = table
        self.n = len(table)
        self.period = period_us

    def read_u16(self):
        c = self.clock
        i = ((c.t % self.period) * self.n) // self.period
        c.t += 10
        return self.table[i]


def cycle_table(amps, n=2000, harm=0.0, bias=2048):
    t = array("H", bytes(2 * n))
    for i in range(n):
        x = 2 * math.pi * i / n
        v = bias + amps * math.sqrt(2) * (math.sin(x) + harm * math.sin(3 * x + 0.5)) / APC
        t[i] = max(0, min(4095, int(v + 0.5))) << ADC_SHIFT
    return t


def close(a, b, rel):
    return abs(a - b) <= rel * abs(b)


def test_ct_accuracy():
    for hz in (50, 60):
        for amps in (6.0, 16.0, 32.0, 80.0):
            for harm in (0.0, 0.2):
                c = Clock()
                adc = TableAdc(c, cycle_table(amps, harm=harm), 1000000 // hz)
                m = CtMeter([adc], c.ticks_us, [APC], mains_hz=hz)
                m.poll(0)
                m.poll(1000)
                want = amps * math.sqrt(1 + harm * harm)
                assert close(m.amps[0], want, 0.01), (hz, amps, harm, m.amps[0])


def test_ct_hot_path_allocates_nothing():
    c = Clock()
    adcs = [TableAdc(c, cycle_table(a), 20000) for a in (10.0, 20.0, 30.0)]
    buf = array("H", bytes(2 * 40 * 3))
    out = [0, 0]
    sums = [0, 0, 0, 0]
    ticks_us = c.ticks_us          # a bound method is an object: make it before locking the heap
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        n = sample_burst(adcs, buf, 40, 20000, ticks_us)
        channel_sums(buf, 3, 2, 40, 2048, sums)
        out[0] = n
    finally:
        if IS_UPY:
            micropython.heap_unlock()
    assert out[0] == 120 and sums[1] > 0 and sums[2] < 2048 < sums[3]


def test_s0_interrupt_allocates_nothing():
    s = S0Meter(1000)
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        for t in (0, 500, 500000, 1000000, 1000100):
            s.on_pulse(t)
    finally:
        if IS_UPY:
            micropython.heap_unlock()
    assert s.count == 3 and s.bounces == 2
    s.poll(1000)
    assert s.take_mwh() == 3000 and close(s.power_w, 7200.0, 0.001)


def frame(data):
    b = bytearray(data)
    c = modbus.crc16(b)
    return bytes(b) + bytes((c & 0xFF, c >> 8))


class Uart:
    def __init__(self, replies):
        self.replies = list(replies)
        self.rx = bytearray(300)
        self.n = 0

    def write(self, b):
        r = self.replies.pop(0) if self.replies else None
        if r:
            self.rx[self.n:self.n + len(r)] = r
            self.n += len(r)

    def any(self):
        return self.n

    def readinto(self, buf, k=None):
        k = min(self.n, len(buf) if k is None else k)
        for i in range(k):
            buf[i] = self.rx[i]
        for i in range(self.n - k):
            self.rx[i] = self.rx[i + k]
        self.n -= k
        return k


def test_modbus_crc_and_master():
    assert frame([1, 3, 0, 0, 0, 10])[-2:] == bytes((0xC5, 0xCD))
    reply = frame([1, 4, 4] + list(struct.pack(">f", 230.5)))
    bad = bytearray(reply)
    bad[4] ^= 0x10
    m = modbus.ModbusMaster(Uart([bytes(bad), None, reply]), timeout_ms=100, retries=2)
    m.start(1, 4, 0, 2, 0)
    t = 0
    while m.poll(t) == modbus.BUSY and t < 1000:
        t += 10
    assert m.state == modbus.DONE and m.crc_errors == 1 and m.timeouts == 1
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.5


def test_modbus_poll_allocates_nothing():
    reply = frame([1, 4, 4, 0x43, 0x66, 0, 0])
    u = Uart([reply])
    m = modbus.ModbusMaster(u)
    m.start(1, 4, 0, 2, 0)
    st = [0]
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        st[0] = m.poll(5)
    finally:
        if IS_UPY:
            micropython.heap_unlock()
    assert st[0] == modbus.DONE


def test_generic_map():
    g = parse_generic_map("i1=4:6:float32, kwh=3:0x10:uint32:0.001:le")
    assert g["reads"][1][:3] == (3, 16, 2)
    try:
        parse_generic_map("i1=4:6")
        assert False
    except ValueError:
        pass


# --- flash: littlefs on a RAM block device under MicroPython, a temp dir on CPython -----------
from ramblocks import RamBlocks


_flash = [None]
# 48 KiB of 512-byte blocks, taken while the test heap is still whole: one block of that size
# found no room after the other tests had run when the checkout's path was a few bytes longer
# (each module's __file__ holds it)
_RAM = RamBlocks(96, 512) if IS_UPY else None


def flash_dir():
    if _flash[0] is None:
        if IS_UPY:
            bd = _RAM
            os.VfsLfs2.mkfs(bd)
            os.mount(os.VfsLfs2(bd), "/mtr")
            _flash[0] = "/mtr"
        else:
            import tempfile
            _flash[0] = tempfile.mkdtemp()
    return _flash[0]


def fresh(name):
    d = flash_dir() + "/" + name
    try:
        os.mkdir(d)
    except OSError:
        pass
    return d


def test_store_on_flash():
    d = fresh("store")
    write_json_atomic(d + "/a.json", {"x": 1})
    assert read_json(d + "/a.json") == {"x": 1}
    with open(d + "/b.json", "w") as f:
        f.write('{"x": ')
    assert read_json(d + "/b.json", 7) == 7
    r = Ring(d + "/r.ring", 3)
    for i in range(5):
        r.append({"i": i})
    assert [x["i"] for x in Ring(d + "/r.ring", 3).records()] == [2, 3, 4]


def test_energy_power_cut_on_flash():
    d = fresh("energy")
    e = Energy(d)
    e.session_start(0)
    for k in range(1, 301):
        e.add_mwh(777, k * 1000)
        e.note_current_ma(16000)
    saved = e.writes
    e2 = Energy(d)                              # power cut: a new object on the same flash
    assert e2.wh_total <= e.wh_total < e2.wh_total + 50
    rec = e2.sessions()[-1]
    assert rec["reason"] == "power_loss" and rec["max_a"] == 16.0 and saved >= 5
    with open(d + "/energy/energy.a", "w") as f:    # a torn checkpoint: the other copy still counts
        f.write("{")
    e3 = Energy(d)
    assert e3.wh_total <= e2.wh_total and len(e3.sessions()) == 1


def test_meter_service_ct():
    class Hw:
        pass
    hw = Hw()
    c = Clock()
    hw.ct_adcs = [TableAdc(c, cycle_table(32.0), 20000)]
    hw.ticks_us = c.ticks_us
    m = make_meter({"meter": "ct"}, hw, data_dir=fresh("svc"))
    m.poll(0)
    assert m.ok and close(m.current_a, 32.0, 0.01)
    m.on_event(("session", "start", None))
    for k in range(1, 121):
        m.poll(k * 500)
    m.on_event(("session", "end", "unplug"))
    rec = m.sessions()[-1]
    assert rec["reason"] == "unplug" and close(rec["wh"], 230 * 32 / 60.0, 0.02)


# --- a meter answering nonsense (issue 9, item 3): NaN and infinities behave as on CPython -------
def sdm120(amps=32.0, volts=230.0):
    from tools.sim.mock_machine.modbus_meter import ModbusMeter
    sim = ModbusMeter()
    for reg, val in ((0, volts), (6, amps), (0x0C, volts * amps), (0x46, 50.0), (0x48, 100.0)):
        sim.set_float(reg, val)
    return sim


def modbus_meter(sim, name, **cfg):
    class Hw:
        pass
    hw = Hw()
    hw.uart = SimUart(sim)
    c = {"meter": "sdm120", "meter_interval_ms": 1000}
    c.update(cfg)
    return make_meter(c, hw, data_dir=fresh(name))


def poll_for(m, t, seconds, step=10):
    for _ in range(int(seconds * 1000) // step):
        t += step
        m.poll(t)
    return t


def test_nan_and_inf_compare_false():
    from evse.metering.meter import plausible
    nan = modbus.decode(bytearray(b"\xff\xff\xff\xff"), 0, modbus.T_FLOAT32)
    inf = modbus.decode(bytearray(b"\x7f\x80\x00\x00"), 0, modbus.T_FLOAT32)
    assert nan != nan and inf > 1e38
    for bad in (nan, inf, -inf):
        assert not plausible(bad, 0, 400) and not plausible(-bad, 0, 400)
    assert plausible(16.0, 0, 400) and plausible(0, 0, 400)


def test_nan_current_is_blind_not_zero():
    sim = sdm120()
    m = modbus_meter(sim, "nan_i")
    t = poll_for(m, 0, 2.0)
    assert m.ok and close(m.current_a, 32.0, 1e-6)
    sim.set_raw(6, 0xFFFF, 0xFFFF)
    t = poll_for(m, t, 1.5)
    assert m.current_a == -1.0 and not m.ok and m.error.startswith("implausible i1=nan")
    sim.set_float(6, 16.0)
    poll_for(m, t, 1.5)
    assert m.ok and m.current_a == 16.0 and m.error is None


def test_nan_power_without_energy_register_keeps_counting():
    sim = sdm120(amps=40.0)                    # 9.2 kW: 255.6 Wh in 100 s, +-2.6 Wh (one reading)
    m = modbus_meter(sim, "nan_p", meter="modbus", meter_map="v1=4:0:float32, i1=4:6:float32, p=4:0x0C:float32")
    t = poll_for(m, 0, 1.5)
    m.session_start(t)
    t = poll_for(m, t, 30.0, 50)
    sim.set_raw(0x0C, 0xFFFF, 0xFFFF)
    t = poll_for(m, t, 1.0, 50)
    assert not m.ok
    sim.set_float(0x0C, 9200.0)
    poll_for(m, t, 69.0, 50)
    assert m.ok and abs(m.wh_session - 9200 * 100 / 3600.0) <= 2.6, m.wh_session


def test_meter_poll_between_readings_allocates_nothing():
    """A poll with nothing due (every control tick but one a second) stays allocation-free, the
    plausibility check included."""
    m = modbus_meter(sdm120(), "alloc")
    t = poll_for(m, 0, 1.5)
    assert m.ok
    done = [0]
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        for k in range(20):
            m.poll(t + 10 * k + 10)
            done[0] += 1
    finally:
        if IS_UPY:
            micropython.heap_unlock()
    assert done[0] == 20 and m.ok


def test_s0_meter_polls_allocate_nothing_while_pulses_come():
    """Every control cycle polls the S0 source: pulses counted, energy added, the power and
    current estimates (small ints) and the plausibility check, under heap_lock for 3 s at 7.2 kW."""
    from evse.metering.meter import Meter
    src = S0Meter(1000)
    m = Meter(src, Energy(fresh("s0alloc")), "s0")
    for t in (0, 500000, 1000000):
        src.on_pulse(t)
    m.poll(1000)
    polls = [0]
    if IS_UPY:
        import micropython
        micropython.heap_lock()
    try:
        for k in range(1, 301):
            now = 1000 + 10 * k
            if now % 500 == 0:
                src.on_pulse(now * 1000)    # the pin interrupt, between two cycles
            m.poll(now)
            polls[0] += 1
    finally:
        if IS_UPY:
            micropython.heap_unlock()
    assert polls[0] == 300 and m.ok and m.error is None
    assert m.current_ma == 31304 and m.power_w == 7200.0      # 7.2 kW / 230 V
    assert m.wh_total == 9.0                                  # 9 pulses of 1 Wh


class ReplayUart:
    """Plays back recorded replies in request order from preallocated buffers: the far end of the
    line allocates nothing, so what the heap shows is the firmware's own."""

    def __init__(self, replies):
        self.replies = [bytearray(r) for r in replies]
        self.i = 0
        self.n = 0
        self.cur = self.replies[0]

    def write(self, b):
        self.cur = self.replies[self.i]
        self.i = (self.i + 1) % len(self.replies)
        self.n = len(self.cur)
        return len(b)

    def any(self):
        return self.n

    def readinto(self, buf, k=None):
        k = min(self.n, len(buf) if k is None else k)
        off = len(self.cur) - self.n
        for j in range(k):
            buf[j] = self.cur[off + j]
        self.n -= k
        return k


def test_modbus_reading_allocates_only_its_float_registers():
    """A steady-state Modbus reading (SDM120: every block requested, its reply parsed, the figures
    published and counted) allocates only the float registers it decodes and the float math on
    them (power, energy): measured per reading on MicroPython; polls in between allocate nothing."""
    sim = sdm120()
    recorded = []
    u = SimUart(sim)
    write = u.write

    def rec(b):
        n = write(b)
        recorded.append(bytes(u.rx))
        return n
    u.write = rec
    class Hw:
        pass
    hw = Hw()
    hw.uart = u
    m = make_meter({"meter": "sdm120", "meter_interval_ms": 1000}, hw, data_dir=fresh("replay"))
    t = poll_for(m, 0, 1.5)
    assert m.ok and len(recorded) >= 1
    blocks = len(m.source.map["reads"])
    hw2 = Hw()
    hw2.uart = ReplayUart(recorded[:blocks])
    m = make_meter({"meter": "sdm120", "meter_interval_ms": 1000}, hw2, data_dir=fresh("replay2"))
    t = poll_for(m, 0, 2.5)
    assert m.ok and m.source.cycles >= 2
    if not IS_UPY:
        return
    import gc
    grew = []
    cycles = m.source.cycles
    for k in range(500):                    # 5 s: 5 readings
        gc.collect()
        before = gc.mem_alloc()
        m.poll(t + 10 * k + 10)
        grew.append(gc.mem_alloc() - before)
    readings = m.source.cycles - cycles
    per = sum(grew) // readings
    print("modbus sdm120: %d readings, %d bytes per reading (%d polls allocated)" % (
        readings, per, sum(1 for g in grew if g)))
    assert m.ok and readings == 5 and per <= 2048


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
