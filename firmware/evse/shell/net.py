"""Wi-Fi in steps, never waiting: WLAN.connect() returns at once and each poll only asks the
interface how it is doing, so a slow access point or a lost link never delays the control tick.
With a network configured (wifi_ssid) it connects, and after a loss or a failed attempt tries again
after 5 s, doubling up to 5 min. Without one it opens a set-up access point (evse-XXXXXX, WPA2 with
wifi_ap_password, or 'evse-' and the board's id when that is empty) where the web page takes the
network's name and password (docs/network.md)."""
import binascii

import machine
import network

CONNECT_MS = 20000                # an attempt that has not connected in this time failed
RETRY_MIN_MS = 5000
RETRY_MAX_MS = 300000

_OFF, _AP, _CONNECTING, _UP, _WAIT = 0, 1, 2, 3, 4
_NAMES = ("off", "access point", "connecting", "connected", "waiting to retry")


def board_id():
    return binascii.hexlify(machine.unique_id()).decode()[-6:]


class Net:
    def __init__(self, cfg, diff, add):
        self.ssid = cfg["wifi_ssid"]
        self.key = cfg["wifi_password"]
        self.ap_key = cfg["wifi_ap_password"] or "evse-" + binascii.hexlify(machine.unique_id()).decode()[-8:]
        self.ap_ssid = "evse-" + board_id()
        self.diff, self.add = diff, add
        self.sta = network.WLAN(network.STA_IF)
        self.phase = _OFF
        self.since = None
        self.backoff = RETRY_MIN_MS
        self.attempts = 0
        self.losses = 0

    def _connect(self, now):
        self.sta.active(True)
        self.sta.connect(self.ssid, self.key)
        self.phase, self.since = _CONNECTING, now
        self.attempts += 1

    def _open_ap(self):
        ap = network.WLAN(network.AP_IF)
        ap.active(True)
        sec = getattr(network.WLAN, "SEC_WPA2", None)     # each port's own value (ESP32 3, CYW43 other)
        if sec is None:
            ap.config(ssid=self.ap_ssid, key=self.ap_key)
        else:
            ap.config(ssid=self.ap_ssid, key=self.ap_key, security=sec)
        self.phase = _AP

    def _retry(self, now):
        self.sta.disconnect()
        self.phase, self.since = _WAIT, now

    def poll(self, now):
        p = self.phase
        if p == _OFF:
            if self.ssid:
                self._connect(now)
            else:
                self._open_ap()
        elif p == _CONNECTING:
            if self.sta.isconnected():
                self.phase, self.backoff = _UP, RETRY_MIN_MS
            elif self.diff(now, self.since) > CONNECT_MS:
                self._retry(now)
        elif p == _UP:
            if not self.sta.isconnected():
                self.losses += 1
                self._retry(now)
        elif p == _WAIT and self.diff(now, self.since) >= self.backoff:
            self.backoff = min(self.backoff * 2, RETRY_MAX_MS)
            self._connect(now)

    def dns_server(self):
        """The DNS server the access point gave, or None while not connected."""
        return self.sta.ifconfig()[3] if self.phase == _UP else None

    def status(self):
        r = {"wifi": _NAMES[self.phase], "ssid": self.ssid, "attempts": self.attempts, "losses": self.losses}
        if self.phase == _UP:
            r["ip"] = self.sta.ifconfig()[0]
        elif self.phase == _AP:
            r["setup_ap"] = self.ap_ssid
        return r
