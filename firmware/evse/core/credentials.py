# The OCPP Basic auth password and security profile rules (OCPP 1.6 security whitepaper) and the
# Wi-Fi name and password rules, apart from limits.py: only a URL, a password or a Wi-Fi value that
# is set needs them (settings, OCPP, the web's password), so a charger with none never loads them.
# And what the console's `settings` shows of the passwords, and the text it takes: loaded when asked.
from micropython import const

# --- OCPP Basic auth password (OCPP 1.6 security whitepaper, profiles 1 and 2) ---
_PASSWORD_MIN = const(16)
_PASSWORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-_=:+|@."


def security_profile_error(url, profile, password, cpid="evse"):
    """Why an OCPP security profile cannot be met with this URL and Basic auth password, or None
    (the settings' check and the SecurityProfile key's); the settings' also with the charge point
    identity (ocpp_id), which goes into the URL's path as it is and is the Basic auth user name: a
    space or a character outside printable ASCII is no request-target (RFC 9112 3.2, RFC 3986),
    / ? # would make another path or a query, a colon an invalid user-id (RFC 7617 2), none names
    no charge point."""
    if not cpid or [c for c in cpid if not " " < c <= "~" or c in "/?#:"]:
        return "ocpp_id must be 1-48 characters of printable ASCII, without spaces or / ? # :"
    if profile >= 2 and not url.startswith("wss://"):
        return "ocpp_security_profile %d needs a wss:// ocpp_url" % profile
    if profile in (1, 2) and not password:
        return "ocpp_security_profile %d needs an ocpp_password" % profile
    return None


def url_error(v):
    """Why v is no OCPP URL, ws://host[:port][/path] or wss://..., or None. No user:password@ (the
    connection cannot use it, and its error would show the password in the status), a port 1-65535
    when one is given (an IPv6 literal's colons are inside [])."""
    rest = v[6:] if v.startswith("wss://") else v[5:] if v.startswith("ws://") else None
    if rest is None:
        return "must start with ws:// or wss://"
    hostport = rest.split("/")[0]
    i = hostport.rfind(":")
    if i <= hostport.rfind("]"):                 # no port
        i = len(hostport)
    port = hostport[i + 1:] if i < len(hostport) else "80"
    if not hostport[:i] or " " in v or "@" in hostport or not (port.isdigit() and 0 < int(port) < 65536):
        return "must name a host and a port 1-65535 if any (ws://host:port/path)"
    return None


def password_error(v):
    """Why v is no Basic auth password (ocpp_password, web_password), or None."""
    if not _PASSWORD_MIN <= len(v) <= 40 or any(c not in _PASSWORD_CHARS for c in v):
        return "must be %d-40 characters of a-z A-Z 0-9 %s" % (_PASSWORD_MIN, _PASSWORD_CHARS[62:])
    return None


# --- Wi-Fi (IEEE 802.11-2016): an SSID is 0-32 octets (9.4.2.2); a WPA2 pass-phrase is 8-63 ASCII
# characters, each 32-126 (Annex J.4.1), or the PSK itself as 64 hex digits
def wifi_error(key, v):
    """Why v cannot be the setting `key` (wifi_ssid, wifi_password, wifi_ap_password), or None."""
    if key == "wifi_ssid":
        return "a network name has at most 32 bytes (UTF-8)" if len(v.encode()) > 32 else None
    if key == "wifi_password" and len(v) == 64 and not [c for c in v if c not in "0123456789abcdefABCDEF"]:
        return None
    if not 8 <= len(v) <= 63 or [c for c in v if not " " <= c <= "~"]:
        return "a WPA2 password has 8-63 characters, each ASCII space to ~"
    return None


def masked(cfg, sent=False):
    """The settings with each password (a *_password key) as "(set)" or "": they are write-only,
    as on the web (a session's log, a screen at the USB port). sent: the values of a `set`, without
    each password sent as "(set)" (as `settings` shows it: kept as it is)."""
    if sent:
        return dict((k, v) for k, v in cfg.items() if not (k.endswith("_password") and v == "(set)"))
    return dict((k, ("(set)" if v else "") if k.endswith("_password") else v) for k, v in cfg.items())


def _hex(b):
    return len(b) == 4 and not [c for c in b if c not in b"0123456789abcdef"]


def pairs(raw):
    """JSON text (bytes) with each escaped UTF-16 pair ("\\ud83d\\ude00": Python's json.dumps writes
    one for each character above U+FFFF, RFC 8259 7) written as that character's UTF-8, which
    MicroPython's json reads; a half alone is left for surrogate() to refuse."""
    low = raw.lower()
    out = None
    done = 0
    i = low.find(b"\\ud")
    while i >= 0:
        j = i
        while j and low[j - 1] == 92:     # an escaped backslash before it: text, no escape
            j -= 1
        h, l = low[i + 2:i + 6], low[i + 8:i + 12]
        if (i - j) % 2 == 0 and low[i + 6:i + 8] == b"\\u" and _hex(h) and _hex(l) \
                and h[1:2] in b"89ab" and l[:1] == b"d" and l[1:2] in b"cdef":
            c = 0x10000 + ((int(h, 16) - 0xD800) << 10) + int(l, 16) - 0xDC00
            out = out or bytearray()
            out += raw[done:i]
            out += bytes((0xF0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63))
            done = i + 12
        i = low.find(b"\\ud", max(i + 3, done))
    if out is None:
        return raw
    out += raw[done:]
    return bytes(out)


def surrogate(raw):
    """Why the console refuses JSON text (bytes) holding a \\uD800-\\uDFFF escape, or None. One is
    half of a UTF-16 pair (Python's json.dumps writes two for each character above U+FFFF), and
    MicroPython's json never joins a pair: each half became three bytes that are no UTF-8, saved so
    and sent back so to hosts (the reply's id too) whose JSON cannot read them."""
    low = raw.lower()
    i = low.find(b"\\ud")
    while i >= 0:
        j = i
        while j and low[j - 1] == 92:     # an escaped backslash before it: text, no escape
            j -= 1
        c = low[i + 3:i + 4]
        if (i - j) % 2 == 0 and c and c in b"89abcdef":
            return "a \\uD800-\\uDFFF escape is half a character: send the text as UTF-8"
        i = low.find(b"\\ud", i + 3)
    return None
