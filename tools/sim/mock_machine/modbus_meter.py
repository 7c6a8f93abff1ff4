"""A Modbus RTU energy meter on a UART of the virtual bench: it answers read requests (function 3
and 4) from its register table with well-formed, CRC-correct replies, whatever the values are.
Runs under CPython and the MicroPython unix port.

    sdm = ModbusMeter(unit=1)
    sdm.set_float(0x0006, 32.0)             # SDM120 current register
    sdm.set_raw(0x0006, 0xFFFF, 0xFFFF)     # the same register answering NaN
    sdm.attach(machine_uart)                # mock UART: requests in, replies fed back at once
"""
import struct


def crc16(buf):
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF), bitwise: independent of the firmware's table."""
    crc = 0xFFFF
    for b in buf:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class ModbusMeter:
    def __init__(self, unit=1):
        self.unit = unit
        self.regs = {}              # register -> 16-bit word (input and holding share the table)
        self.requests = 0
        self.uart = None

    def set_float(self, reg, value):
        """float32, high word first (Eastron)."""
        b = struct.pack(">f", value)
        self.regs[reg] = (b[0] << 8) | b[1]
        self.regs[reg + 1] = (b[2] << 8) | b[3]

    def set_raw(self, reg, *words):
        for i, w in enumerate(words):
            self.regs[reg + i] = w & 0xFFFF

    def answer(self, req):
        """The reply frame to an 8-byte read request (None: not for this unit, or not a read)."""
        if len(req) < 8 or req[0] != self.unit or req[1] not in (3, 4):
            return None
        reg = (req[2] << 8) | req[3]
        count = (req[4] << 8) | req[5]
        out = bytearray((self.unit, req[1], 2 * count))
        for r in range(reg, reg + count):
            w = self.regs.get(r, 0)
            out.append(w >> 8)
            out.append(w & 0xFF)
        c = crc16(out)
        out.append(c & 0xFF)
        out.append(c >> 8)
        self.requests += 1
        return bytes(out)

    def attach(self, uart):
        """Answer every request written to a mock machine UART (tools.sim.mock_machine.UART)."""
        self.uart = uart
        uart.peer = self._on_write

    def _on_write(self, data):
        r = self.answer(data)
        if r is not None:
            self.uart.feed(r)


def attach_bus(uart, *meters):
    """Several meters, each its own unit, on one RS-485 bus behind a mock UART: every request
    reaches all of them and only the unit addressed answers (a meter taken off the bus: detach it
    by attaching the bus again without it)."""
    for m in meters:
        m.uart = uart

    def on_write(data):
        for m in meters:
            m._on_write(data)
    uart.peer = on_write
