"""What the OCPP service (evse/ocpp/chargepoint.py) is given, for host_tests/upy's tests on both
interpreters (MicroPython finds this folder on its path, pytest through conftest.py): the charger's
verbs, a hand-set tick clock, the meter's figures and a fresh folder for its flash."""
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
