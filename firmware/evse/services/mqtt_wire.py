# MQTT 3.1.1 packets (OASIS MQTT Version 3.1.1, 2014): the few the charger sends and reads.
# QoS 0 only (section 4.3.1): state topics are retained and republished on change, commands are
# idempotent (a limit, a switch), so a lost message costs nothing a later one does not repair.
# Pure byte work, no sockets: the service (evse.services.mqtt) does the I/O.

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
SUBSCRIBE = 0x82          # reserved flags 0010 (section 3.8.1)
SUBACK = 0x90
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"   # section 3.14: a clean end, the will discarded
MAX_REMAINING = 268435455  # section 2.2.3: four bytes of remaining length

# CONNACK return codes, section 3.2.2.3
CONNACK_REASONS = ("accepted", "unacceptable protocol version", "identifier rejected",
                   "server unavailable", "bad user name or password", "not authorized")


def remaining_length(n):
    """The variable-length encoding of n (section 2.2.3)."""
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError("packet too long")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def utf8(s):
    """A UTF-8 string with its two-byte length (section 1.5.3)."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    if len(b) > 0xFFFF:
        raise ValueError("string too long")
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def _packet(first, body):
    return bytes((first,)) + remaining_length(len(body)) + body


def connect(client_id, keepalive_s, user=None, password=None, will_topic=None, will_payload="",
            will_retain=True):
    """CONNECT with a clean session (section 3.1); the will is QoS 0."""
    flags = 0x02                                    # clean session
    payload = utf8(client_id)
    if will_topic:
        flags |= 0x04 | (0x20 if will_retain else 0)
        payload += utf8(will_topic) + utf8(will_payload)
    if user:
        flags |= 0x80
        payload += utf8(user)
        if password:
            flags |= 0x40
            payload += utf8(password)
    head = utf8("MQTT") + bytes((4, flags, keepalive_s >> 8, keepalive_s & 0xFF))
    return _packet(CONNECT, head + payload)


def publish(topic, payload, retain=False):
    if isinstance(payload, str):
        payload = payload.encode()
    return _packet(PUBLISH | (1 if retain else 0), utf8(topic) + payload)


def subscribe(packet_id, topics):
    """SUBSCRIBE to topic filters at QoS 0 (section 3.8)."""
    body = bytes((packet_id >> 8, packet_id & 0xFF))
    for t in topics:
        body += utf8(t) + b"\x00"
    return _packet(SUBSCRIBE, body)


def connack_error(body):
    """None when the CONNACK accepts the connection, else why not."""
    if len(body) != 2:
        return "malformed CONNACK"
    rc = body[1]
    if rc == 0:
        return None
    return CONNACK_REASONS[rc] if rc < len(CONNACK_REASONS) else "refused (%d)" % rc


def parse_publish(first, body):
    """(topic, payload bytes) of a PUBLISH body; the packet id of QoS 1/2 is skipped. ValueError
    (the session then closes the connection) for QoS bits 11 (section 3.3.1.2) or a short body."""
    if len(body) < 2 or first & 0x06 == 0x06:
        raise ValueError("malformed PUBLISH")
    n = (body[0] << 8) | body[1]
    if 2 + n > len(body):
        raise ValueError("malformed PUBLISH")
    topic = body[2:2 + n].decode()
    i = 2 + n + (2 if first & 0x06 else 0)
    return topic, body[i:]


async def read_packet(reader, max_body):
    """(first byte, body) of the next packet; a body longer than max_body is read and dropped
    (body None) so one oversized message never costs more heap than max_body."""
    first = (await reader.readexactly(1))[0]
    n = 0
    shift = 0
    while True:
        b = (await reader.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 21:
            raise ValueError("malformed remaining length")
    if n <= max_body:
        return first, (await reader.readexactly(n)) if n else b""
    while n > 0:
        k = n if n < max_body else max_body
        await reader.readexactly(k)
        n -= k
    return first, None
