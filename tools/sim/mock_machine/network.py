"""`network` on the virtual board: WLAN interfaces whose radio the test controls. An access point
in `access_points` (name -> password) accepts a station after `join_ms` of virtual time; `drop()`
takes the link away until `restore()`. `status()` says why a station is not joined, with the ESP32
port's codes (each port has its own values; the firmware reads them from this module)."""
from tools.sim import mock_machine as mm

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
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

    def status(self):
        st = self.st
        if not st["active"] or st["ssid"] is None:
            return STAT_IDLE
        if _down[0] or st["ssid"] not in access_points:
            return STAT_NO_AP_FOUND
        if access_points[st["ssid"]] != st["key"]:
            return STAT_WRONG_PASSWORD
        return STAT_GOT_IP if self.isconnected() else STAT_CONNECTING

    def ifconfig(self):
        return ("192.168.1.50", "255.255.255.0", "192.168.1.1", dns_server)

    def config(self, *args, **kw):
        self.st["config"].update(kw)
        return self.st["config"].get(args[0]) if args else None
