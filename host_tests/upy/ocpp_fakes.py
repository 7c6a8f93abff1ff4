"""What the OCPP service (evse/ocpp/chargepoint.py) is given, for host_tests/upy's tests on both
interpreters (MicroPython finds this folder on its path, pytest through conftest.py): a hand-set
tick clock, the meter's figures and a fresh folder for its flash; the charger's verbs are
upytest.CoreLink."""
import os

from evse.core import ticks

_n = [0]


def tmpdir(name, *subs):
    """A new folder /tmp/<name>_<n>_<random>, with the sub-folders subs ("/ocpp") made in it."""
    _n[0] += 1
    d = "/tmp/%s_%d_%d" % (name, _n[0], int.from_bytes(os.urandom(3), "big"))
    for sub in ("",) + subs:
        os.mkdir(d + sub)
    return d


class TickClock:
    """A hand-set tick clock (t in ms): the service takes its clock from the caller, never from `time`."""
    ticks_diff = staticmethod(ticks.ticks_diff)
    ticks_add = staticmethod(ticks.ticks_add)

    def __init__(self, t=0):
        self.t = t

    def ticks_ms(self):
        return self.t


class Meter:
    """The meter service's figures: 500 Wh counted, `amps` on L1 at 230 V."""
    wh_total = 500
    ok = True

    def __init__(self, amps=6.0):
        self.amps = [amps, 0.0, 0.0]
        self.power_w = int(amps * 230)
