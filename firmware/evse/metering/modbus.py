"""Modbus RTU master: function codes 3 (holding) and 4 (input registers), non-blocking.

`ModbusMaster(uart)` owns a uart-like object (`write(buf)`, `any()`, `readinto(buf, n)` or
`read(n)`). `start(unit, fc, reg, count, now_ms)` sends a request; later `poll(now_ms)` calls
collect the reply without ever waiting: they return BUSY until the frame is complete, then DONE
(registers in `data[0:2*count]`, big-endian bytes as on the wire) or FAILED (`error` says why).
Every request, a retry or the next block's, goes out once the bus has been quiet QUIET_MS (frames
are separated by 3.5 characters of silence, and never sent over a meter still sending: Modbus over
serial line V1.02, 2.5.1.1). Timeouts and CRC errors are retried `retries` times, and so are the
exceptions ACKNOWLEDGE (5) and SERVER DEVICE BUSY (6), which ask for the request again later; other
exception responses are not retried (the meter answered). Noise before a reply is skipped.
A reply carries no request number: one that comes after its request timed out reads like the reply
to the unit's next request of its length (another register). So the master counts the replies a
unit owes (requests sent, frames come back); a request to that unit for other registers goes once
none is owed (a late reply drained as it comes), or (retries + 1 + LATE_TRIES) timeouts after the
bus's last send or byte: a meter that answers after its timeout is read slowly or not at all,
never with one value taken for another's. Buffers are preallocated; a poll allocates nothing on
the way to BUSY/DONE.
"""
import struct
from ..core.modbus_maps import FC_READ_HOLDING, FC_READ_INPUT, T_FLOAT32, T_INT16, T_INT32, T_UINT16, T_UINT32
from ..core.ticks import ticks_diff

MAX_REGISTERS = 125                 # Modbus limit for one read
RX_BYTES = 5 + 2 * MAX_REGISTERS    # addr, fc, count, data, crc
TIMEOUT_MS = 200                    # reply must have begun this long after the request (one still
                                    # arriving, at 1200 baud, is waited for while its bytes keep coming)
RETRIES = 2
READ_CHUNK = 32                     # bytes taken from the UART per readinto
QUIET_MS = 40                       # a retry waits for this much silence on the bus: the meter may
                                    # still be sending the rest of a bad frame (3.5 chars at 1200 baud: 29 ms)
LATE_TRIES = 2                      # a reply still owed is waited for (retries + 1 + this) timeouts
                                    # after the bus's last send or byte, then taken as lost

IDLE = 0
BUSY = 1
DONE = 2
FAILED = 3


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t.append(c)
    return tuple(t)


CRC_TABLE = _crc_table()


def crc16(buf, n=None, start=0):
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF) of buf[start:n]."""
    if n is None:
        n = len(buf)
    crc = 0xFFFF
    t = CRC_TABLE
    for i in range(start, n):
        crc = (crc >> 8) ^ t[(crc ^ buf[i]) & 0xFF]
    return crc


def build_request(buf, unit, fc, reg, count):
    """Fill buf[0:8] with a read request; returns 8."""
    buf[0] = unit
    buf[1] = fc
    buf[2] = (reg >> 8) & 0xFF
    buf[3] = reg & 0xFF
    buf[4] = (count >> 8) & 0xFF
    buf[5] = count & 0xFF
    c = crc16(buf, 6)
    buf[6] = c & 0xFF          # CRC goes low byte first
    buf[7] = c >> 8
    return 8


# parse_response results
OK = 0
INCOMPLETE = 1
BAD_CRC = 2
EXCEPTION = 3
MISMATCH = 4


def expected_length(buf, n, s=0):
    """Length of the reply frame that begins at buf[s], of which buf[s:n] has come (0 while unknown)."""
    if n - s < 3:
        return 0
    if buf[s + 1] & 0x80:
        return 5
    return 5 + buf[s + 2]


def parse_response(buf, n, unit, fc, count, s=0):
    """Check a reply frame in buf[s:n]: OK (data at buf[s+3:s+3+2*count]), INCOMPLETE, BAD_CRC,
    EXCEPTION (code in buf[s+2]) or MISMATCH (wrong unit, function or byte count)."""
    want = expected_length(buf, n, s)
    if want == 0 or n - s < want:
        return INCOMPLETE
    e = s + want
    c = crc16(buf, e - 2, s)
    if buf[e - 2] != (c & 0xFF) or buf[e - 1] != (c >> 8):
        return BAD_CRC
    if buf[s] != unit:
        return MISMATCH
    if buf[s + 1] == (fc | 0x80):
        return EXCEPTION
    if buf[s + 1] != fc or buf[s + 2] != 2 * count:
        return MISMATCH
    return OK


def reply_start(buf, n, unit, fc, count):
    """Where the reply in buf[0:n] begins: 0, or after leading noise (an RS-485 transceiver's
    turn-around often leaves a 0x00 or 0xFF before it) the first start where the unit and the
    function (or its exception) come with a valid CRC; -1 while such a start waits for its bytes.
    0 when none: judged there, as without noise. Returns an int: a poll allocates nothing."""
    r = parse_response(buf, n, unit, fc, count)
    if r == OK or r == EXCEPTION:
        return 0
    wait = r == INCOMPLETE
    for s in range(1, n):
        if buf[s] != unit or (s + 1 < n and buf[s + 1] != fc and buf[s + 1] != (fc | 0x80)):
            continue
        r = parse_response(buf, n, unit, fc, count, s)
        if r == OK or r == EXCEPTION:
            return s
        wait = wait or r == INCOMPLETE
    return -1 if wait else 0


EXCEPTION_NAMES = {1: "illegal function", 2: "illegal address", 3: "illegal value", 4: "device failure",
                   5: "acknowledge", 6: "busy", 11: "gateway target failed"}


class ModbusMaster:
    def __init__(self, uart, timeout_ms=TIMEOUT_MS, retries=RETRIES, diff=ticks_diff):
        self.uart = uart
        self.timeout_ms = timeout_ms
        self.retries = retries
        self._diff = diff
        self._tx = bytearray(8)
        self._rx = bytearray(RX_BYTES + 8)     # room for a few bytes of noise before the longest reply
        self._chunk = bytearray(READ_CHUNK)
        self._n = 0
        self._sent_ms = 0
        self._rx_ms = None       # when bytes last arrived (None: never)
        self._wait = False       # a request waits for the bus to be quiet (3.5 characters between frames)
        self._why = None         # the attempt failed: retried (or FAILED) once the bus is quiet
        self._owed = 0           # requests sent to _owed_unit whose reply has not come (yet)
        self._owed_unit = -1     # (other units' replies cannot pass for its: the unit is checked)
        self._owed_req = None    # the last request sent: its own late reply is no danger to a retry
        self._tries = 0
        self._req = (0, 0, 0, 0)
        self.state = IDLE
        self.error = None
        self.exception_code = 0
        self.crc_errors = 0      # counters for the console / diagnostics
        self.timeouts = 0
        self.data = memoryview(self._rx)[3:]   # register bytes of the last DONE reply

    def start(self, unit, fc, reg, count, now_ms):
        """A read request: sent now if the bus has been quiet QUIET_MS, else by a later poll (BUSY
        meanwhile). Returns False (state FAILED) for a request that cannot be sent."""
        if fc not in (FC_READ_HOLDING, FC_READ_INPUT) or not 1 <= count <= MAX_REGISTERS:
            self.state = FAILED
            self.error = "bad request"
            return False
        self._req = (unit, fc, reg, count)
        self._tries = 0
        self._wait = True
        self._sent_ms = now_ms          # a bus that never goes quiet is waited for timeout_ms at most
        self.state = BUSY
        return self.poll(now_ms) != FAILED

    def _send(self, now_ms):
        self._came(self._drain())
        unit, fc, reg, count = self._req
        if self._owed == 0:
            self._owed_unit = unit      # (one unit's debts at a time: the one that owes first)
        if unit == self._owed_unit:
            self._owed += 1
            self._owed_req = self._req
        build_request(self._tx, unit, fc, reg, count)
        self._n = 0
        self._sent_ms = self._rx_ms = now_ms
        self._why = None
        self._wait = False
        self._tries += 1
        try:
            self.uart.write(self._tx)
        except Exception as e:
            self.state = FAILED
            self.error = "uart write: %s" % e
            return False
        self.state = BUSY
        return True

    def _drain(self):
        """Throw away stray bytes (a late reply to an earlier request) before sending; the first
        byte (a frame's unit), or -1 when there were none."""
        first = -1
        try:
            while self.uart.any():
                if not self._read_some(self._chunk, READ_CHUNK):
                    break
                if first < 0:
                    first = self._chunk[0]
        except Exception:
            pass
        return first

    def _read_some(self, buf, k):
        u = self.uart
        if hasattr(u, "readinto"):
            got = u.readinto(buf, k)
            return got or 0
        data = u.read(k)
        if not data:
            return 0
        buf[: len(data)] = data
        return len(data)

    def poll(self, now_ms):
        """Collect the reply. Returns BUSY, DONE or FAILED (IDLE before any start)."""
        if self.state != BUSY:
            return self.state
        if self._wait:
            return self._send_when_quiet(now_ms)
        try:
            avail = self.uart.any()
            while avail > 0 and self._n < len(self._rx):
                k = min(avail, READ_CHUNK, len(self._rx) - self._n)
                got = self._read_some(self._chunk, k)
                if got <= 0:
                    break
                rx = self._rx
                base = self._n
                ch = self._chunk
                for i in range(got):
                    rx[base + i] = ch[i]
                self._n = 0 if self._why else self._n + got      # a failed attempt's bytes: dropped
                self._rx_ms = now_ms
                avail = self.uart.any()
        except Exception as e:
            return self._fail_or_retry("uart read: %s" % e, now_ms)
        if self._why is None:
            self._why = self._judge(now_ms)
            if self._why is None:
                return self.state       # BUSY, DONE, or FAILED on an exception reply
        if self._diff(now_ms, self._rx_ms) < QUIET_MS and self._diff(now_ms, self._sent_ms) < self.timeout_ms:
            return BUSY                 # the rest of a bad frame may still be on the bus
        return self._fail_or_retry(self._why, now_ms)

    def _came(self, unit):
        """A frame of `unit` came back (a reply judged, or late bytes drained): one reply less
        owed, when it is the unit that owes."""
        if self._owed > 0 and unit == self._owed_unit:
            self._owed -= 1

    def _send_when_quiet(self, now_ms):
        """The request goes out once the bus has been quiet QUIET_MS: the last reply (or another
        unit's) may have ended just now, and frames are 3.5 characters apart. A bus never quiet
        (noise) is waited for timeout_ms: then the request goes and fails as a read would. While
        the unit owes a reply to other registers, it is waited for (the module docstring)."""
        first = self._drain()
        if first >= 0:
            if self._rx_ms is None or self._diff(now_ms, self._rx_ms) >= QUIET_MS:
                self._came(first)       # the first bytes after a silence: a late frame
            self._rx_ms = now_ms
        if self._owed > 0 and self._req[0] == self._owed_unit and self._req != self._owed_req:
            if self._diff(now_ms, self._rx_ms) < (self.retries + 1 + LATE_TRIES) * self.timeout_ms:
                return BUSY
            self._owed = 0              # never came: lost
        if self._rx_ms is not None and 0 <= self._diff(now_ms, self._rx_ms) < QUIET_MS \
                and self._diff(now_ms, self._sent_ms) < self.timeout_ms:
            return BUSY
        self._send(now_ms)
        return self.state

    def _judge(self, now_ms):
        """Why the attempt failed (a text: retried once the bus is quiet), or None: a reply is
        complete (state DONE, or FAILED for an exception reply) or still to come (BUSY)."""
        unit, fc, _, count = self._req
        rx = self._rx
        s = reply_start(rx, self._n, unit, fc, count)
        r = INCOMPLETE if s < 0 else parse_response(rx, self._n, unit, fc, count, s)
        if r == OK:
            self._came(unit)
            if s:                       # after noise: the frame to the front, where data reads it
                for i in range(5 + 2 * count):
                    rx[i] = rx[s + i]
            self.state = DONE
            self.error = None
            return None
        if r == EXCEPTION:
            self._came(unit)
            return self._exception(rx[s + 2])
        if r == BAD_CRC or r == MISMATCH:
            return self._bad_frame(r, now_ms)
        if self._diff(now_ms, self._sent_ms) >= self.timeout_ms:
            if self._n and self._diff(now_ms, self._rx_ms) < QUIET_MS:
                return None             # a reply still coming (slow baud): waited for, never talked over
            self.timeouts += 1
            return "timeout" if self._n == 0 else "short reply"
        return None

    def _exception(self, code):
        """An exception reply: FAILED (None), or for 5 ACKNOWLEDGE and 6 SERVER DEVICE BUSY the
        reason, to ask again once the bus is quiet ("retransmit later": Modbus application
        protocol 1.1b3, section 7)."""
        self.exception_code = code
        why = "exception %d (%s)" % (code, EXCEPTION_NAMES.get(code, "?"))
        if code == 5 or code == 6:
            return why
        self.state = FAILED
        self.error = why
        return None

    def _bad_frame(self, r, now_ms):
        """A frame that fails its CRC (or is another's): judged once the bus is quiet, so that a
        reply after it (an echo of the request, a burst of noise) is still read; None meanwhile."""
        if self._diff(now_ms, self._rx_ms) < QUIET_MS and self._n < len(self._rx) \
                and self._diff(now_ms, self._sent_ms) < self.timeout_ms:
            return None
        self._came(self._rx[0])         # a frame came (another unit's owes nothing of this one)
        if r == MISMATCH:
            return "unexpected reply"
        self.crc_errors += 1
        return "crc error"

    def _fail_or_retry(self, why, now_ms):
        self.error = why
        if self._tries <= self.retries:
            self._send(now_ms)
            return self.state
        self.state = FAILED
        return FAILED

    def cancel(self):
        self.state = IDLE


# --- register decoding (the types: core/modbus_maps.py) -------------------------------------
_scratch = bytearray(4)


def decode(buf, off, typ, swap_words=False):
    """Value of the register(s) at byte offset off of buf (register bytes big-endian, Modbus).
    swap_words: 32-bit value sent low word first (many non-Eastron meters)."""
    if typ == T_UINT16:
        return (buf[off] << 8) | buf[off + 1]
    if typ == T_INT16:
        v = (buf[off] << 8) | buf[off + 1]
        return v - 0x10000 if v & 0x8000 else v
    s = _scratch
    if swap_words:
        s[0] = buf[off + 2]
        s[1] = buf[off + 3]
        s[2] = buf[off]
        s[3] = buf[off + 1]
    else:
        s[0] = buf[off]
        s[1] = buf[off + 1]
        s[2] = buf[off + 2]
        s[3] = buf[off + 3]
    if typ == T_FLOAT32:
        return struct.unpack(">f", s)[0]
    if typ == T_UINT32:
        return struct.unpack(">I", s)[0]
    return struct.unpack(">i", s)[0]              # T_INT32
