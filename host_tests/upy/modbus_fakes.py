"""A Modbus meter on the master's serial line, in virtual time, for host_tests/upy's metering tests
on both interpreters (MicroPython finds this folder on its path, pytest through conftest.py): one
whose bytes arrive in time (its reply to a read is upytest.modbus_reply), and a uart to a simulated
meter that answers at once."""


class TimedBus:
    """The master's serial port (write, any, readinto) at virtual time `now` (ms, set by the test):
    a subclass's write() has the meter answer, its bytes arriving one by one; a request written
    while an answer still arrives is a collision."""

    def __init__(self, now=0):
        self.now = now
        self.arrivals = []
        self.rx = bytearray()
        self.collisions = 0

    def answer(self, data, delay_ms, byte_ms):
        """data from the meter: its first byte delay_ms + byte_ms after now, then one every byte_ms."""
        if self.arrivals:
            self.collisions += 1
        t = self.now + delay_ms
        for x in data:
            t += byte_ms
            self.arrivals.append((t, x))

    def any(self):
        while self.arrivals and self.arrivals[0][0] <= self.now:
            self.rx.append(self.arrivals.pop(0)[1])
        return len(self.rx)

    def readinto(self, buf, n):
        self.any()
        n = min(n, len(self.rx))
        for i in range(n):
            buf[i] = self.rx[i]
        self.rx = self.rx[n:]
        return n


class SimUart:
    """A uart whose far end is a simulated Modbus meter (tools.sim.mock_machine.modbus_meter): its
    reply is there as soon as the request is."""

    def __init__(self, sim):
        self.sim = sim
        self.rx = bytearray()

    def write(self, b):
        r = self.sim.answer(bytes(b))
        if r:
            self.rx += r
        return len(b)

    def any(self):
        return len(self.rx)

    def readinto(self, buf, k=None):
        k = min(len(self.rx), len(buf) if k is None else k)
        buf[:k] = self.rx[:k]
        self.rx = self.rx[k:]
        return k
