# The MQTT settings' own rules (evse.services.settings calls check() for a non-empty mqtt_* value):
# apart, so that a charger without MQTT never loads them.


def mqtt_url_parts(v):
    """(tls, host, port) of mqtt://host[:port] or mqtts://host[:port]; ValueError saying why not."""
    rest = v[8:] if v.startswith("mqtts://") else v[7:] if v.startswith("mqtt://") else None
    if rest is None:
        raise ValueError("must start with mqtt:// or mqtts://")
    tls = v.startswith("mqtts://")
    host, _, port = rest.rstrip("/").partition(":")
    if not host or " " in v or "/" in host or "@" in host:
        raise ValueError("must name a host (mqtt://host:port)")
    if not port:
        return tls, host, 8883 if tls else 1883
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("port must be 1..65535")
    return tls, host, int(port)


def _printable(v):
    """MQTT user names and passwords: printable ASCII (what an installer can type on the console)."""
    if any(not " " < c <= "~" for c in v):
        raise ValueError("must be printable ASCII without spaces")


def _prefix(v):
    """A topic prefix: no wildcards (MQTT 3.1.1 section 4.7.1), no empty level at either end, no
    leading $ (section 4.7.2: the broker's own topics, $SYS)."""
    _printable(v)
    if "+" in v or "#" in v or v[0] in "/$" or v.endswith("/") or "//" in v:
        raise ValueError("must be topic levels like evse or home/garage/evse (no + # $ or empty level)")


def check(key, value):
    """ValueError saying why value is no valid setting `key` (mqtt_url, mqtt_prefix, ...)."""
    if key == "mqtt_url":
        mqtt_url_parts(value)
    elif key == "mqtt_prefix":
        _prefix(value)
    elif key in ("mqtt_user", "mqtt_password"):
        _printable(value)
