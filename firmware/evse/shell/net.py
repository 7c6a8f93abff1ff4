"""Wi-Fi in steps, never waiting: WLAN.connect() returns at once and each poll only asks the
interface how it is doing, so a slow access point or a lost link never delays the control tick.
With a network configured (wifi_ssid) it connects, and after a loss or a failed attempt tries again
after 5 s, doubling up to 5 min. Without one it opens a set-up access point (evse-XXXXXX, WPA2 with
wifi_ap_password, or when that is empty a random password made on the first boot and kept on
flash: ap_key()) where the web page takes the network's name and password (docs/network.md).
wifi_ssid and wifi_password are read on every poll: a network saved there is joined at once, the
access point staying up until it is joined (and then AP_LINGER_MS more, so the set-up page can show
the charger's new address). A configured network that cannot be joined (a wrong password, the
network gone) reopens the access point after limits.WIFI_RESCUE_MS without a link, or
WIFI_REFUSED_MAX refusals of the password in a row, while the station keeps trying; the status says
why in words."""
import binascii

import machine
import network

from ..core import limits as L
from .store import join

CONNECT_MS = 20000                # an attempt that has not connected in this time failed
RETRY_MIN_MS = 5000
RETRY_MAX_MS = 300000
AP_LINGER_MS = 60000              # the set-up access point stays this long after the network is joined
AP_KEY_FILE = "ap_key.json"       # the set-up access point's own password (when wifi_ap_password is empty)
_KEY_CHARS = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 (no l, o, 0, 1): 12 of them are 60 random bits

_OFF, _AP, _CONNECTING, _UP, _WAIT = 0, 1, 2, 3, 4
_NAMES = ("off", "access point", "connecting", "connected", "waiting to retry")
WRONG_PASSWORD = "wrong password"
NOT_JOINED = "not joined in %d s (no answer, or no address from the network)" % (CONNECT_MS // 1000)
# The station's status codes, each port's own values (ESP32: esp_wifi reasons; CYW43: link codes)
_WHY = (("STAT_WRONG_PASSWORD", WRONG_PASSWORD),
        ("STAT_NO_AP_FOUND", "network not found (out of range, off, or its name changed)"),
        ("STAT_HANDSHAKE_TIMEOUT", "no answer to the password (handshake timed out): check it"),
        ("STAT_CONNECT_FAIL", "the network refused the connection"))


def _failure_words():
    """{status code: words} for the codes this port has."""
    r = {}
    for name, words in _WHY:
        code = getattr(network, name, None)
        if code is not None and code not in r:
            r[code] = words
    return r


def board_id():
    return binascii.hexlify(machine.unique_id()).decode()[-6:]


def ap_key(path):
    """The set-up access point's password when wifi_ap_password is empty: 12 random characters made
    once and kept in path, unique to the board and not derivable from its id, which the network's
    name shows (ETSI EN 303 645 provision 5.1-2). The console's status shows it while the access
    point is up (evsectl status). A flash that cannot keep it: random for this boot still."""
    from .store import read_json, write_json_atomic
    k = read_json(path)
    if isinstance(k, str) and 8 <= len(k) <= 63:
        return k
    import os
    k = "".join(_KEY_CHARS[b & 31] for b in os.urandom(12))
    try:
        write_json_atomic(path, k)
    except OSError:
        pass
    return k


class Net:
    def __init__(self, cfg, diff, add, flash_dir="/"):
        self.cfg = cfg                    # the app's settings: wifi_ssid and wifi_password apply at once
        self.ssid = cfg["wifi_ssid"]
        self.key = cfg["wifi_password"]
        self.ap = None                    # the set-up access point's WLAN while it is up
        self.ap_ip = None                 # its address, read once: ifconfig() builds a tuple each call
        # read (made on the first boot) here, never when the access point reopens while a car charges
        self.ap_key = cfg["wifi_ap_password"] or ap_key(join(flash_dir, AP_KEY_FILE))
        self.ap_ssid = "evse-" + board_id()
        self.diff, self.add = diff, add
        self.sta = network.WLAN(network.STA_IF)
        self.phase = _OFF
        self.since = None
        self.backoff = RETRY_MIN_MS
        self.attempts = 0
        self.losses = 0
        self.words = _failure_words()
        self.error = None                 # why the last attempt failed or the link was lost, in words
        self.refused = 0                  # attempts in a row refused for the password
        self.down_since = None            # since when no link (the first attempt, or the loss)

    def _connect(self, now):
        self.sta.active(True)
        self.sta.connect(self.ssid, self.key)
        self.phase, self.since = _CONNECTING, now
        self.attempts += 1
        if self.down_since is None:
            self.down_since = now

    def _failed(self, now):
        """An attempt that has not connected in CONNECT_MS: why, as the station says (read before
        disconnect() clears it; a port that keeps retrying reports its latest reason)."""
        why = self.words.get(self.sta.status(), NOT_JOINED)
        self.error = why
        self.refused = self.refused + 1 if why == WRONG_PASSWORD else 0
        self._retry(now)

    def _joined(self, now):
        self.phase, self.backoff, self.since = _UP, RETRY_MIN_MS, now
        self.error, self.refused, self.down_since = None, 0, None

    def _lost(self, now):
        self.losses += 1
        self.error = "link lost"
        self.down_since = now
        self._retry(now)

    def _stuck(self, now):
        """The configured network cannot be joined: time to reopen the set-up access point."""
        if self.refused >= L.WIFI_REFUSED_MAX:
            return True
        return self.down_since is not None and self.diff(now, self.down_since) >= L.WIFI_RESCUE_MS

    def _open_ap(self):
        ap = network.WLAN(network.AP_IF)
        ap.active(True)
        self.ap = ap
        sec = getattr(network.WLAN, "SEC_WPA2", None)     # each port's own value (ESP32 3, CYW43 other)
        if sec is None:
            ap.config(ssid=self.ap_ssid, key=self.ap_key)
        else:
            ap.config(ssid=self.ap_ssid, key=self.ap_key, security=sec)

    def _retry(self, now):
        self.sta.disconnect()
        self.phase, self.since = _WAIT, now

    def _settings_changed(self, now):
        """A network saved (the set-up page, the console): join it now, the access point still up."""
        cfg = self.cfg
        self.ssid, self.key = cfg["wifi_ssid"], cfg["wifi_password"]
        if self.phase == _CONNECTING or self.phase == _UP:
            self.sta.disconnect()
        self.backoff, self.phase, self.refused = RETRY_MIN_MS, _OFF, 0

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
            self._start(now)
        elif p == _UP:
            if not self.sta.isconnected():
                self._lost(now)
            else:
                self._close_ap(now)
        elif p != _AP:
            self._trying(now)

    def _start(self, now):
        if self.ssid:
            self._connect(now)
        else:
            if self.ap is None:
                self._open_ap()
            self.phase = _AP

    def _trying(self, now):
        """Connecting or waiting to retry; the set-up access point reopened when stuck."""
        if self.phase == _CONNECTING:
            if self.sta.isconnected():
                self._joined(now)
                return
            if self.diff(now, self.since) > CONNECT_MS:
                self._failed(now)
        elif self.diff(now, self.since) >= self.backoff:
            self.backoff = min(self.backoff * 2, RETRY_MAX_MS)
            self._connect(now)
        if self.ap is None and self._stuck(now):
            self._open_ap()               # the station keeps trying beside it

    def dns_server(self):
        """The DNS server the access point gave, or None while not connected."""
        return self.sta.ifconfig()[3] if self.phase == _UP else None

    def status(self):
        r = {"wifi": _NAMES[self.phase], "ssid": self.ssid, "attempts": self.attempts, "losses": self.losses,
             "error": self.error}
        if self.phase == _UP:
            r["ip"] = self.sta.ifconfig()[0]
        if self.ap is not None:
            r["setup_ap"] = self.ap_ssid
            if not self.cfg["wifi_ap_password"]:
                r["setup_key"] = self.ap_key      # the console's (USB) status: the web's picks its keys
        return r
