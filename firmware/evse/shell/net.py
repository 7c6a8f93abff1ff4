"""Wi-Fi in steps, never waiting: WLAN.connect() returns at once and each poll only asks the
interface how it is doing, so a slow access point or a lost link never delays the control tick.
With a network configured (wifi_ssid) it connects, and after a loss or a failed attempt tries again
after 5 s, doubling up to 5 min. Without one it opens a set-up access point (evse-XXXXXX, WPA2 with
wifi_ap_password, or 'evse-' and the board's id when that is empty) where the web page takes the
network's name and password (docs/network.md). wifi_ssid and wifi_password are read on every poll: a
network saved there is joined at once, the access point staying up until it is joined (and then
AP_LINGER_MS more, so the set-up page can show the charger's new address)."""
import binascii

import machine
import network

CONNECT_MS = 20000                # an attempt that has not connected in this time failed
RETRY_MIN_MS = 5000
RETRY_MAX_MS = 300000
AP_LINGER_MS = 60000              # the set-up access point stays this long after the network is joined

_OFF, _AP, _CONNECTING, _UP, _WAIT = 0, 1, 2, 3, 4
_NAMES = ("off", "access point", "connecting", "connected", "waiting to retry")


def board_id():
    return binascii.hexlify(machine.unique_id()).decode()[-6:]


class Net:
    def __init__(self, cfg, diff, add):
        self.cfg = cfg                    # the app's settings: wifi_ssid and wifi_password apply at once
        self.ssid = cfg["wifi_ssid"]
        self.key = cfg["wifi_password"]
        self.ap = None                    # the set-up access point's WLAN while it is up
        self.ap_ip = None                 # its address, read once: ifconfig() builds a tuple each call
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
        self.ap = ap
        sec = getattr(network.WLAN, "SEC_WPA2", None)     # each port's own value (ESP32 3, CYW43 other)
        if sec is None:
            ap.config(ssid=self.ap_ssid, key=self.ap_key)
        else:
            ap.config(ssid=self.ap_ssid, key=self.ap_key, security=sec)
        self.phase = _AP

    def _retry(self, now):
        self.sta.disconnect()
        self.phase, self.since = _WAIT, now

    def _settings_changed(self, now):
        """A network saved (the set-up page, the console): join it now, the access point still up."""
        cfg = self.cfg
        self.ssid, self.key = cfg["wifi_ssid"], cfg["wifi_password"]
        if self.phase == _CONNECTING or self.phase == _UP:
            self.sta.disconnect()
        self.backoff, self.phase = RETRY_MIN_MS, _OFF

    def _close_ap(self, now):
        if self.ap is not None and self.diff(now, self.since) >= AP_LINGER_MS:
            self.ap.active(False)
            self.ap = self.ap_ip = None

    def setup_address(self):
        """The board's address on the set-up access point while no network is joined, else None
        (polled every cycle by the captive DNS: it allocates nothing once read)."""
        if self.ap is None or self.phase == _UP:
            return None
        if self.ap_ip is None:
            self.ap_ip = self.ap.ifconfig()[0]
        return self.ap_ip

    def poll(self, now):
        cfg = self.cfg
        if cfg["wifi_ssid"] != self.ssid or cfg["wifi_password"] != self.key:
            self._settings_changed(now)
        p = self.phase
        if p == _OFF:
            if self.ssid:
                self._connect(now)
            elif self.ap is None:
                self._open_ap()
            else:
                self.phase = _AP
        elif p == _CONNECTING:
            if self.sta.isconnected():
                self.phase, self.backoff, self.since = _UP, RETRY_MIN_MS, now
            elif self.diff(now, self.since) > CONNECT_MS:
                self._retry(now)
        elif p == _UP:
            if not self.sta.isconnected():
                self.losses += 1
                self._retry(now)
            else:
                self._close_ap(now)
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
        if self.ap is not None:
            r["setup_ap"] = self.ap_ssid
        return r
