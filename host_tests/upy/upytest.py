"""A tiny test harness for the MicroPython unix port, which has no unittest.

A test file under host_tests/upy/ defines plain `test_*` functions using `assert`; pytest collects
them on CPython, and under MicroPython the file ends with:

    if __name__ == "__main__":
        upytest.run(globals())
"""
import sys


def run(namespace):
    names = sorted(k for k in namespace if k.startswith("test_") and callable(namespace[k]))
    passed = failed = 0
    for name in names:
        try:
            namespace[name]()
            passed += 1
        except Exception as e:  # report every failure, keep going
            failed += 1
            print("FAIL", name, type(e).__name__, e)
            sys.print_exception(e) if hasattr(sys, "print_exception") else None
    print("%d passed, %d failed" % (passed, failed))
    if failed:
        sys.exit(1)


class NullConsole:
    """The console's stream when no one types on it: reads nothing, takes every write."""

    def read(self, n):
        return None

    def write(self, data):
        return len(data)


class Console:
    """The console's stream as a bench types on it: rx what comes in, tx what went out."""

    def __init__(self):
        self.rx = b""
        self.tx = b""

    def read(self, n):
        if not self.rx:
            return None
        d, self.rx = self.rx[:n], self.rx[n:]
        return d

    def write(self, data):
        self.tx += bytes(data)
        return len(data)

    def lines(self):
        """Every JSON line written since the last call."""
        import json
        out = [json.loads(x) for x in self.tx.decode().split("\n") if x.strip()]
        self.tx = b""
        return out

    def replies(self):
        """The replies among them (no events)."""
        return [x for x in self.lines() if "ev" not in x]


def heap_lock():
    """micropython.heap_lock() on the MicroPython port; nothing on CPython."""
    if sys.implementation.name == "micropython":
        import micropython
        micropython.heap_lock()


def heap_unlock():
    if sys.implementation.name == "micropython":
        import micropython
        micropython.heap_unlock()


def console_rig(**config):
    """A Rig (max_current 32 unless said) with the console service on a Console, one second on,
    the console's first lines cleared: (rig, stream). The mock machine must be installed."""
    from tools.sim.rig import Rig
    from evse.services import console
    cfg = {"max_current": 32}
    cfg.update(config)
    rig = Rig(config=cfg)
    s = Console()
    console.attach(rig.app, s)
    rig.run(1.0)
    s.tx = b""
    return rig, s


def modbus_reply(unit, fc, count):
    """A meter's reply to a read of count registers, 230.0 in every float32 (0x43660000)."""
    from evse.metering import modbus
    data = bytearray([unit, fc, 2 * count])
    for i in range(count):
        data.append(0x43 if i % 2 == 0 else 0)
        data.append(0x66 if i % 2 == 0 else 0)
    c = modbus.crc16(data)
    data.append(c & 0xFF)
    data.append(c >> 8)
    return data


class CoreLink:
    """The charger's verbs as the OCPP service calls them (ocpp/corelink.py), recorded: `calls`
    (enable, authorize, stop), `limits` (set_limit); every other source's limit is 32 A."""
    state = "A1"
    fault = None

    def __init__(self, app=None):
        self.app = app
        self.calls = []
        self.limits = []

    def set_limit(self, s, a):
        self.limits.append((s, a))

    def limit_without(self, s):
        return 32.0

    def enable(self, f):
        self.calls.append(("enable", f))

    def authorize(self, f, id_tag=None):
        self.calls.append(("authorize", f))

    def stop(self, r):
        self.calls.append(("stop", r))

    def clock_from_ntp(self):
        nc = getattr(self.app, "netclock", None)          # an app with an NTP client, or none
        return nc is not None and nc.synced is not None
