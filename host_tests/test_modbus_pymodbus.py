"""The Modbus master and the SDM maps against a real peer: a pymodbus server (RTU framing over
TCP on 127.0.0.1) simulating Eastron SDM120 / SDM630 register contents. A uart-like adapter
around the socket stands in for the MAX485 on the board's UART; it can corrupt replies in transit
and the server can be stopped and restarted to make the meter vanish mid-session."""
import asyncio
import errno
import logging
import socket
import struct
import threading
import time

import pytest

pymodbus = pytest.importorskip("pymodbus")
from pymodbus import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from evse.metering import modbus
from evse.metering.meter import ModbusSource, make_meter
from evse.core.modbus_maps import SDM120, SDM630
from evse.core.meter_maps import parse_generic_map

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

REGS = 0x0200  # simulated input/holding register space

SDM120_VALUES = {0x0000: 231.5, 0x0006: 15.25, 0x000C: 3530.0, 0x0046: 50.01, 0x0048: 1234.5,
                 0x0156: 1240.25}
SDM630_VALUES = {0x0000: 229.0, 0x0002: 231.0, 0x0004: 233.0, 0x0006: 16.0, 0x0008: 15.5,
                 0x000A: 31.75, 0x000C: 3664.0, 0x000E: 3580.5, 0x0010: 7397.75, 0x0034: 14642.25,
                 0x0046: 59.98, 0x0048: 98765.5, 0x0156: 98800.0}


def float_regs(values, size=REGS):
    regs = [0] * size
    for addr, v in values.items():
        hi, lo = struct.unpack(">HH", struct.pack(">f", v))
        regs[addr], regs[addr + 1] = hi, lo
    return regs


class Peer:
    """A pymodbus RTU-over-TCP server (unit 1) in a thread; stop() and start() on the same port.
    set_float() overrides a register pair; the simulator's action hook applies it on each read."""

    def __init__(self, input_regs, holding_regs=None):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.overrides = {}
        self.device = SimDevice(
            id=1,
            simdata=([SimData(0, values=False, datatype=DataType.BITS)],
                     [SimData(0, values=False, datatype=DataType.BITS)],
                     [SimData(0, values=list(holding_regs or [0] * 16), datatype=DataType.REGISTERS)],
                     [SimData(0, values=list(input_regs), datatype=DataType.REGISTERS)]),
            action=self._action)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = None
        self.start()

    async def _action(self, function_code, start_address, address, count, current_registers, set_values):
        if function_code == 4:
            for addr, val in self.overrides.items():
                i = addr - start_address
                if 0 <= i < len(current_registers) - 1:
                    current_registers[i], current_registers[i + 1] = val
        return None

    def start(self):
        async def make():
            self.server = ModbusTcpServer(self.device, address=("127.0.0.1", self.port), framer=FramerType.RTU)
            self.loop.create_task(self.server.serve_forever())
        asyncio.run_coroutine_threadsafe(make(), self.loop).result(5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("pymodbus server did not start")

    def stop(self):
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(5)
            self.server = None

    def set_float(self, addr, value):
        self.overrides[addr] = struct.unpack(">HH", struct.pack(">f", value))

    def close(self):
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class SocketUart:
    """uart-like (write, any, readinto, read) over a TCP socket. When the peer is gone, written
    bytes are lost, as on an RS-485 bus with no meter. `corrupt_next` flips one byte of the next
    `corrupt_next` replies."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = bytearray()
        self.corrupt_next = 0
        self.writes = 0

    def _connect(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
            s.setblocking(False)
            self.sock = s
        except OSError:
            self.sock = None

    def write(self, data):
        self.writes += 1
        if self.sock is None:
            self._connect()
        if self.sock is None:
            return len(data)
        try:
            self.sock.sendall(bytes(data))
        except OSError:
            self.sock.close()
            self.sock = None
        return len(data)

    def any(self):
        if self.sock is not None:
            try:
                chunk = self.sock.recv(512)
                if chunk:
                    chunk = bytearray(chunk)
                    if self.corrupt_next:
                        chunk[len(chunk) // 2] ^= 0x55
                        self.corrupt_next -= 1
                    self.buf += chunk
                else:  # peer closed
                    self.sock.close()
                    self.sock = None
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                    self.sock.close()
                    self.sock = None
        return len(self.buf)

    def readinto(self, buf, n=None):
        self.any()
        n = min(len(buf) if n is None else n, len(self.buf))
        buf[:n] = self.buf[:n]
        del self.buf[:n]
        return n

    def read(self, n=-1):
        self.any()
        n = len(self.buf) if n is None or n < 0 else min(n, len(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out or None

    def close(self):
        if self.sock is not None:
            self.sock.close()


def now_ms():
    return int(time.monotonic() * 1000)


def run_until(obj, cond, max_s=30.0, stats=None):
    """Poll obj every millisecond (real time) until cond() holds. Records the slowest poll."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        obj.poll(now_ms())
        dt = time.perf_counter() - t0
        if stats is not None:
            stats["max_poll_s"] = max(stats.get("max_poll_s", 0.0), dt)
        if cond():
            return True
        time.sleep(0.001)
    return False


@pytest.fixture(scope="module")
def sdm120_peer():
    p = Peer(float_regs(SDM120_VALUES), holding_regs=[0, 7, 0xFFFF, 0x1234, 0x5678, 0x0001, 0x86A0])
    yield p
    p.close()


@pytest.fixture(scope="module")
def sdm630_peer():
    p = Peer(float_regs(SDM630_VALUES))
    yield p
    p.close()


def master_read(master, unit, fc, reg, count, max_s=30.0):
    master.start(unit, fc, reg, count, now_ms())
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        st = master.poll(now_ms())
        if st != modbus.BUSY:
            return st
        time.sleep(0.001)
    return None


def test_master_reads_input_registers(sdm120_peer):
    u = SocketUart(sdm120_peer.port)
    m = modbus.ModbusMaster(u, timeout_ms=500)
    assert master_read(m, 1, 4, 0x0006, 2) == modbus.DONE
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == pytest.approx(15.25)
    u.close()


def test_master_reads_holding_registers_and_int_types(sdm120_peer):
    u = SocketUart(sdm120_peer.port)
    m = modbus.ModbusMaster(u, timeout_ms=500)
    assert master_read(m, 1, 3, 0, 7) == modbus.DONE
    d = m.data
    assert modbus.decode(d, 2, modbus.T_UINT16) == 7
    assert modbus.decode(d, 4, modbus.T_INT16) == -1
    assert modbus.decode(d, 6, modbus.T_UINT32) == 0x12345678
    assert modbus.decode(d, 6, modbus.T_UINT32, swap_words=True) == 0x56781234
    assert modbus.decode(d, 10, modbus.T_INT32) == 100000
    u.close()


def test_exception_response_is_reported_not_retried(sdm120_peer):
    u = SocketUart(sdm120_peer.port)
    m = modbus.ModbusMaster(u, timeout_ms=500, retries=2)
    assert master_read(m, 1, 4, 0x1000, 2) == modbus.FAILED
    assert m.error.startswith("exception 2")
    assert m.exception_code == 2
    assert u.writes == 1
    u.close()


def test_crc_error_is_retried_and_recovers(sdm120_peer):
    u = SocketUart(sdm120_peer.port)
    m = modbus.ModbusMaster(u, timeout_ms=500, retries=2)
    u.corrupt_next = 1
    assert master_read(m, 1, 4, 0x0000, 2) == modbus.DONE
    assert m.crc_errors == 1 and u.writes == 2
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == pytest.approx(231.5)
    u.corrupt_next = 5
    assert master_read(m, 1, 4, 0x0000, 2) == modbus.FAILED
    assert m.error == "crc error"
    u.close()


def test_sdm120_all_values(sdm120_peer):
    u = SocketUart(sdm120_peer.port)
    src = ModbusSource(modbus.ModbusMaster(u, timeout_ms=500), SDM120, 1, interval_ms=100)
    assert run_until(src, lambda: src.cycles >= 1)
    assert src.ok and src.error is None
    assert src.volts == [pytest.approx(231.5)]
    assert src.amps == [pytest.approx(15.25)]
    assert src.power_w == pytest.approx(3530.0)
    assert src.hz == pytest.approx(50.01, abs=1e-3)
    assert src.kwh == pytest.approx(1234.5)
    u.close()


def test_sdm630_all_values(sdm630_peer):
    u = SocketUart(sdm630_peer.port)
    src = ModbusSource(modbus.ModbusMaster(u, timeout_ms=500), SDM630, 1, interval_ms=100)
    assert run_until(src, lambda: src.cycles >= 1)
    assert src.ok
    assert src.volts == [pytest.approx(229.0), pytest.approx(231.0), pytest.approx(233.0)]
    assert src.amps == [pytest.approx(16.0), pytest.approx(15.5), pytest.approx(31.75)]
    assert src.power_w == pytest.approx(14642.25)
    assert src.hz == pytest.approx(59.98, abs=1e-3)
    assert src.kwh == pytest.approx(98765.5)
    u.close()


def test_generic_map(sdm630_peer):
    gmap = parse_generic_map("i1=4:0x0006:float32, i2=4:8:float32, i3=4:10:float32:1:be, "
                             "v1=4:0:float32, p=4:0x34:float32:0.001, kwh=4:0x156:float32")
    u = SocketUart(sdm630_peer.port)
    src = ModbusSource(modbus.ModbusMaster(u, timeout_ms=500), gmap, 1, interval_ms=100)
    assert run_until(src, lambda: src.cycles >= 1)
    assert src.amps == [pytest.approx(16.0), pytest.approx(15.5), pytest.approx(31.75)]
    assert src.power_w == pytest.approx(14.64225)
    assert src.kwh == pytest.approx(98800.0)
    u.close()


def test_poll_is_non_blocking(sdm630_peer):
    u = SocketUart(sdm630_peer.port)
    src = ModbusSource(modbus.ModbusMaster(u, timeout_ms=500), SDM630, 1, interval_ms=50)
    stats = {}
    assert run_until(src, lambda: src.cycles >= 5, stats=stats)
    assert stats["max_poll_s"] < 0.25, stats   # a poll never waits for the meter (0.5 s timeout);
                                               # the margin is for a loaded machine's preemption
    u.close()


def test_meter_vanishes_mid_session_and_comes_back(tmp_path, sdm120_peer):
    cfg = {"meter": "sdm120", "meter_timeout_ms": 100, "meter_retries": 1, "meter_interval_ms": 100}

    class Hw:
        uart = SocketUart(sdm120_peer.port)

    meter = make_meter(cfg, Hw, data_dir=str(tmp_path))
    assert meter.current_a == -1.0 and not meter.ok      # nothing read yet: blind
    assert run_until(meter, lambda: meter.ok)
    assert meter.current_a == pytest.approx(15.25)
    meter.session_start(now_ms())
    sdm120_peer.set_float(0x0048, 1234.55)                # +50 Wh while charging
    assert run_until(meter, lambda: meter.wh_session >= 49.0)
    assert meter.wh_session == pytest.approx(50.0, abs=0.2)   # float32 counter: 0.12 Wh steps

    sdm120_peer.stop()
    Hw.uart.sock and Hw.uart.sock.close()
    Hw.uart.sock = None
    assert run_until(meter, lambda: not meter.ok)
    assert meter.current_a == -1.0
    assert "timeout" in meter.error and "unit 1" in meter.error
    failures = meter.source.failures
    stats = {}
    assert run_until(meter, lambda: meter.source.failures > failures, stats=stats)  # keeps retrying
    assert not meter.ok and meter.current_a == -1.0
    assert stats["max_poll_s"] < 0.09      # never waits out the 100 ms timeout inside a poll

    sdm120_peer.set_float(0x0048, 1234.6)                 # energy the meter counted meanwhile
    sdm120_peer.start()
    assert run_until(meter, lambda: meter.ok)
    assert meter.error is None and meter.current_a == pytest.approx(15.25)
    assert run_until(meter, lambda: meter.wh_session >= 99.0)
    rec = meter.session_end(now_ms(), "unplug")
    assert rec["wh"] == pytest.approx(100.0, abs=0.2)
    assert meter.wh_total == pytest.approx(100.0, abs=0.2)
    assert rec["max_a"] == pytest.approx(15.2, abs=0.1)
    assert meter.sessions()[-1]["reason"] == "unplug"
    sdm120_peer.overrides.clear()
    Hw.uart.close()


def test_counter_jump_is_not_counted(tmp_path, sdm120_peer):
    class Hw:
        uart = SocketUart(sdm120_peer.port)

    meter = make_meter({"meter": "sdm120", "meter_interval_ms": 50}, Hw, data_dir=str(tmp_path))
    assert run_until(meter, lambda: meter.ok)
    meter.session_start(now_ms())
    sdm120_peer.set_float(0x0048, 9999.0)                 # meter swapped or reset: not energy
    assert run_until(meter, lambda: meter.source.kwh > 9000)
    assert "jumped" in meter.error
    assert meter.wh_session < 0.5             # not the jump: that interval counts from power (3.5 kW x 50 ms)
    sdm120_peer.set_float(0x0048, 9999.01)
    assert run_until(meter, lambda: meter.wh_session > 9)
    assert meter.wh_session == pytest.approx(10.0, abs=1.0)   # counting goes on from the new value
    sdm120_peer.overrides.clear()
    Hw.uart.close()
