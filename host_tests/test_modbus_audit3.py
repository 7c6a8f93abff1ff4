"""Third audit of the Modbus RTU meters, on a bus with wire time: every byte takes 10 bit times at
the configured baud, and the meter (pymodbus's RTU framer builds its replies and checks the requests'
CRC: an independent implementation) answers some milliseconds after the request's last byte. The
master is polled every 10 ms, as the app polls the meter after each control tick.

Modbus over serial line V1.02, 2.5.1.1: frames are separated by at least 3.5 character times of
silence (1.75 ms above 19200 baud), and the bus is half duplex: a master that talks while the meter
is still answering destroys both frames."""
import struct

import pytest
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadInputRegistersResponse

from evse.core.modbus_maps import SDM120, SDM630
from evse.metering import modbus
from evse.metering.grid import power_reads
from evse.metering.meter import ModbusSource


def float_regs(values):
    regs = {}
    for addr, v in values.items():
        b = struct.pack(">f", v)
        regs[addr] = (b[0] << 8) | b[1]
        regs[addr + 1] = (b[2] << 8) | b[3]
    return regs


# an Eastron meter charging at 32 A on one phase (SDM120) or three (SDM630: 32/31/30 A)
METER = float_regs({0: 230.0, 2: 231.0, 4: 229.0, 6: 32.0, 8: 31.0, 10: 30.0, 0x0C: 7360.0,
                    0x34: 21000.0, 0x46: 50.0, 0x48: 1234.5})


class WireBus:
    """RS-485 with wire time. units: {unit: register table}; a request is answered by its unit
    latency_ms after its last byte, byte by byte. Counts requests written while a meter is still
    sending (collisions: both frames lost) and the silences before each request."""

    def __init__(self, baud, units, latency_ms=20.0):
        self.t = 0.0
        self.char_ms = 10000.0 / baud                                 # 8N1: 10 bits a character
        self.t35_ms = 3.5 * self.char_ms if baud <= 19200 else 1.75
        self.units = units
        self.latency_ms = latency_ms
        self.sched = []                  # (arrival ms, byte) of the reply on the wire
        self.rx = bytearray()
        self.collisions = 0
        self.gaps = []                   # ms of silence between a reply's last byte and the next request
        self.last_rx = None
        self.requests = 0
        self._req = FramerRTU(DecodePDU(True))
        self._rep = FramerRTU(DecodePDU(False))

    def write(self, data):
        data = bytes(data)
        if self.sched:
            self.collisions += 1
            self.sched = []
            return len(data)
        if self.last_rx is not None:
            self.gaps.append(self.t - self.last_rx)
        _, pdu = self._req.handleFrame(data, 0, 0)
        if pdu is None or pdu.dev_id not in self.units:
            return len(data)
        self.requests += 1
        regs = self.units[pdu.dev_id]
        words = [regs.get(a, 0) for a in range(pdu.address, pdu.address + pdu.count)]
        reply = self._rep.buildFrame(ReadInputRegistersResponse(registers=words, dev_id=pdu.dev_id))
        t0 = self.t + len(data) * self.char_ms + self.latency_ms
        self.sched = [(t0 + (i + 1) * self.char_ms, b) for i, b in enumerate(reply)]
        return len(data)

    def drive(self, master, limit_ms):
        """Polls the master every 10 ms of bus time from 0 while it is busy, at most limit_ms:
        the time it ended."""
        t = 0
        while master.poll(t) == modbus.BUSY and t < limit_ms:
            t += 10
            self.t = t
        return t

    def any(self):
        while self.sched and self.sched[0][0] <= self.t:
            at, b = self.sched.pop(0)
            self.rx.append(b)
            self.last_rx = at
        return len(self.rx)

    def readinto(self, buf, n=-1):
        n = min(len(self.rx), len(buf) if n < 0 else n)
        buf[:n] = self.rx[:n]
        del self.rx[:n]
        return n


def run(bus, sources, seconds):
    """Poll every source every 10 ms (the app's cycle); the number of good readings of each."""
    good = [0] * len(sources)
    for k in range(int(seconds * 100)):
        bus.t = k * 10.0
        for i, src in enumerate(sources):
            if src.poll(k * 10) and src.ok:
                good[i] += 1
    return good


@pytest.mark.parametrize("regmap, amps", [(SDM120, [32.0]), (SDM630, [32.0, 31.0, 30.0])])
def test_a_meter_at_1200_baud_is_read_with_the_default_timeout_and_never_talked_over(regmap, amps):
    # 1200 baud is one of the SDM120/SDM630's own rates and meter_baud's lowest. The SDM120's first
    # block (14 registers: a 33-byte reply) takes 275 ms on the wire after the 67 ms request: it is
    # still arriving when the 300 ms default timeout runs out. Before: "short reply", and the retry
    # was sent at once over the meter's answer (10 collisions in 5 s), never one reading.
    bus = WireBus(1200, {1: METER})
    src = ModbusSource(modbus.ModbusMaster(bus, timeout_ms=300, retries=2), regmap, 1, interval_ms=1000)
    good = run(bus, [src], 5)
    assert bus.collisions == 0
    assert good == [5] and src.ok and src.error is None
    assert src.amps == amps and src.kwh == 1234.5


def test_a_reply_that_stops_half_way_still_times_out_and_is_retried_once_the_bus_is_quiet():
    # the meter stops after 10 of the reply's 13 bytes: a short reply, retried only once the bus is
    # quiet, then FAILED with the reason; a reply still arriving is no endless wait
    class Truncating(WireBus):
        def write(self, data):
            n = super().write(data)
            self.sched = self.sched[:10]
            return n

    bus = Truncating(9600, {1: METER})
    m = modbus.ModbusMaster(bus, timeout_ms=100, retries=2)
    m.start(1, 4, 0, 4, 0)
    t = bus.drive(m, 2000)
    assert m.state == modbus.FAILED and m.error == "short reply" and m.timeouts == 3
    assert bus.requests == 3 and bus.collisions == 0 and t <= 400


@pytest.mark.parametrize("baud", [2400, 9600, 19200])
def test_every_request_leaves_3_5_characters_of_silence_after_the_last_reply(baud):
    # The charger's SDM120 (unit 1, 2 blocks) and the grid's SDM630 (unit 2) on one bus, one master.
    # Before: the next block's request (or the grid meter's) went out in the poll that saw the
    # reply end, whatever time was left: 0.17 ms after the last byte at 2400 baud (3.5 characters:
    # 14.6 ms), 0.12 ms at 9600 (3.6 ms), 0.06 ms at 19200 (1.8 ms), over these latencies.
    # Meters answering 20-29 ms after a request: the replies end anywhere between two polls.
    for latency_ms in range(20, 30):
        bus = WireBus(baud, {1: METER, 2: METER}, latency_ms=latency_ms)
        m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
        car = ModbusSource(m, SDM120, 1, interval_ms=1000)
        grid = ModbusSource(m, power_reads("sdm630"), 2, interval_ms=1000)
        good = run(bus, [car, grid], 3)
        assert bus.collisions == 0 and good == [3, 3]
        assert min(bus.gaps) >= bus.t35_ms, "%.2f ms of silence, 3.5 characters are %.2f ms (latency %d ms)" % (
            min(bus.gaps), bus.t35_ms, latency_ms)
        assert car.amps == [32.0] and grid.power_w == 21000.0


def test_a_request_waits_for_the_tail_of_another_units_reply():
    # a late reply (another unit, or the end of one given up) is still arriving when a read is due:
    # the request waits until the bus has been quiet, its bytes thrown away, then reads normally
    bus = WireBus(9600, {1: METER})
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=0)
    bus.sched = [(5.0 * k - 20, 0x55) for k in range(11)]     # stray bytes from -20 to 30 ms, 5 ms apart
    m.start(1, 4, 0, 2, 0)
    assert m.state == modbus.BUSY and bus.requests == 0
    bus.drive(m, 1000)
    assert m.state == modbus.DONE and bus.requests == 1 and bus.collisions == 0
    assert bus.gaps[0] >= bus.t35_ms and modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.0


@pytest.mark.parametrize("scale", ["0", "0.0", "-0", "nan", "inf", "-inf", "1e-30", "1e9"])
def test_a_generic_map_whose_scale_cannot_be_a_meters_is_refused(tmp_path, scale):
    # "i1=4:6:float32:0" (a slip for 0.001) was accepted: the meter's 32 A read as 0.0 A with
    # ok=True, the over-current protection silently blind. Refused now: the meter reports a
    # config error and is blind loudly (current -1).
    from evse.metering.meter import make_meter
    from evse.core.meter_maps import parse_generic_map

    with pytest.raises(ValueError, match="scale"):
        parse_generic_map("i1=4:6:float32:%s" % scale)

    class Hw:
        uart = WireBus(9600, {1: METER})

    m = make_meter({"meter": "modbus", "meter_map": "i1=4:6:float32:%s, v1=4:0:float32" % scale}, Hw, data_dir=str(tmp_path))
    for k in range(300):
        Hw.uart.t = k * 10
        m.poll(k * 10)
    assert not m.ok and "scale" in m.error and m.current_ma == -1 and m.current_a == -1.0


def test_generic_map_scales_of_real_meters_still_read():
    from evse.core.meter_maps import parse_generic_map

    g = parse_generic_map("i1=4:6:uint32:0.001, v1=4:0:uint16:0.1, p=4:12:int32:-1, kwh=3:100:uint32:1e-6:le")
    assert [r[3][0][3] for r in g["reads"]] == [0.001, 0.1, -1.0, 1e-6]


def test_a_bus_that_never_goes_quiet_makes_the_meter_lost_not_stuck_on_its_last_reading():
    # Noise (or a second master) on the line, a byte every 5 ms from 2 s on: a request waiting for
    # silence must not wait for ever, or the meter would keep its last good reading (32 A, ok) as
    # if it were live. The wait ends at meter_timeout_ms; the request goes out and fails as a read.
    bus = WireBus(9600, {1: METER})
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    src = ModbusSource(m, SDM120, 1, interval_ms=1000)
    for k in range(200):
        bus.t = k * 10.0
        src.poll(k * 10)
    assert src.ok and src.amps == [32.0]

    class Noise(WireBus):
        def write(self, data):
            self.requests += 1
            return len(data)

        def any(self):
            while self.noise_at <= self.t:
                self.rx.append(0x5A)
                self.noise_at += 5.0
            return len(self.rx)

    bus.__class__ = Noise
    bus.noise_at = 2000.0
    lost_at = None
    for k in range(200, 800):
        bus.t = k * 10.0
        src.poll(k * 10)
        if not src.ok and lost_at is None:
            lost_at = k * 10
    assert lost_at is not None and lost_at <= 2000 + 1000 + 4 * 300, lost_at
    assert bus.requests >= 3 and src.error.startswith(("timeout", "crc error", "short reply", "unexpected reply"))
