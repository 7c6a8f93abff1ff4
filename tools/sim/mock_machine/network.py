"""`network` on the virtual board: WLAN interfaces whose radio the test controls. An access point
in `access_points` (name -> password) accepts a station after `join_ms` of virtual time; `drop()`
takes the link away until `restore()`."""
from tools.sim import mock_machine as mm

STA_IF = 0
AP_IF = 1
access_points = {}
join_ms = 3000
dns_server = "192.168.1.1"
_state = {}
_down = [False]


def reset():
    access_points.clear()
    _state.clear()
    _down[0] = False


def drop():
    _down[0] = True


def restore():
    _down[0] = False


class WLAN:
    SEC_WPA2 = 3

    def __init__(self, iface=STA_IF):
        self.st = _state.setdefault(iface, {"active": False, "ssid": None, "key": None, "since": 0,
                                            "config": {}, "connects": 0})

    def active(self, on=None):
        if on is None:
            return self.st["active"]
        self.st["active"] = bool(on)
        return None

    def connect(self, ssid, key=None):
        st = self.st
        st["ssid"], st["key"], st["since"] = ssid, key, mm.clock.us
        st["connects"] += 1

    def disconnect(self):
        self.st["ssid"] = None

    def isconnected(self):
        st = self.st
        return (st["active"] and st["ssid"] is not None and not _down[0]
                and access_points.get(st["ssid"], object()) == st["key"]
                and mm.clock.us - st["since"] >= join_ms * 1000)

    def ifconfig(self):
        return ("192.168.1.50", "255.255.255.0", "192.168.1.1", dns_server)

    def config(self, *args, **kw):
        self.st["config"].update(kw)
        return self.st["config"].get(args[0]) if args else None
