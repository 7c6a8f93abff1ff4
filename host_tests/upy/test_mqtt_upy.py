# MQTT on both interpreters: the packets against the MQTT 3.1.1 text's own examples, and the service's
# commands and state topics against a real App on the Rig (no socket: the broker tests are in
# host_tests/test_mqtt_bench.py).
import asyncio

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.services import mqtt_wire as W
from evse.services import mqtt as M

import upytest


class Reader:
    """An asyncio stream's readexactly over bytes (what the service reads from the socket)."""

    def __init__(self, data):
        self.data = data

    async def readexactly(self, n):
        if len(self.data) < n:
            raise EOFError("short")
        d, self.data = self.data[:n], self.data[n:]
        return d


def test_remaining_length_as_in_the_standards_table():
    # MQTT 3.1.1 section 2.2.3, Table 2.4: the limits of 1 to 4 bytes
    cases = ((0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16383, b"\xff\x7f"),
             (16384, b"\x80\x80\x01"), (2097151, b"\xff\xff\x7f"), (2097152, b"\x80\x80\x80\x01"),
             (268435455, b"\xff\xff\xff\x7f"))
    for n, enc in cases:
        assert W.remaining_length(n) == enc, n
        if n <= 128:          # read back; above 8 bytes the body is read and dropped
            first, body = asyncio.run(W.read_packet(Reader(b"\x30" + enc + b"x" * n), 8))
            assert first == 0x30 and (body == b"x" * n if n <= 8 else body is None), n
    try:
        W.remaining_length(268435456)
        assert False
    except ValueError:
        pass


def test_connect_with_will_user_and_password():
    p = W.connect("evseSN42", 60, "user", "pw", "garage/evse/status", "offline")
    assert p[0] == 0x10 and p[1] == len(p) - 2
    assert p[2:9] == b"\x00\x04MQTT\x04"     # protocol name, level 4 (3.1.1)
    assert p[9] == 0x80 | 0x40 | 0x20 | 0x04 | 0x02   # user, password, will retain, will, clean
    assert p[10:12] == b"\x00\x3c"             # keep-alive 60 s
    assert p[12:22] == b"\x00\x08evseSN42"
    assert b"\x00\x12garage/evse/status\x00\x07offline\x00\x04user\x00\x02pw" == p[22:]
    bare = W.connect("c", 30)
    assert bare[9] == 0x02 and bare.endswith(b"\x00\x01c")


def test_publish_subscribe_and_connack():
    assert W.publish("a/b", "ON", True) == b"\x31\x07\x00\x03a/bON"
    assert W.publish("a/b", b"") == b"\x30\x05\x00\x03a/b"
    assert W.subscribe(1, ("p/+/set",)) == b"\x82\x0c\x00\x01\x00\x07p/+/set\x00"
    assert W.connack_error(b"\x00\x00") is None
    assert W.connack_error(b"\x00\x05") == "not authorized"
    assert W.connack_error(b"\x00\x04") == "bad user name or password"
    assert W.connack_error(b"\x00") == "malformed CONNACK"
    assert W.parse_publish(0x30, b"\x00\x03a/b16") == ("a/b", b"16")
    assert W.parse_publish(0x32, b"\x00\x03a/b\x00\x0716") == ("a/b", b"16")   # QoS 1: id skipped
    for bad in (b"\x00", b"\x00\x09a/b"):
        try:
            W.parse_publish(0x30, bad)
            assert False
        except ValueError:
            pass


def test_limit_payloads():
    assert M.parse_limit(b"16") == 16.0 and M.parse_limit(b" 6.5 ") == 6.5
    assert M.parse_limit(b"none") is None and M.parse_limit(b" None ") is None
    # only `none` removes the limit: an empty payload (a retained topic cleared) is refused
    for bad in (b"ten", b"81", b"-1", b"nan", b"inf", b"1e999", b"", b"  ", b"null"):
        try:
            M.parse_limit(bad)
            assert False, bad
        except ValueError:
            pass


def _svc(**cfg):
    c = {"max_current": 32, "mqtt_url": "mqtt://127.0.0.1:9", "mqtt_prefix": "evse"}
    c.update(cfg)
    rig = Rig(config=c)
    rig.run(1.0)
    return rig, rig.app.mqtt


def test_commands_go_through_the_apps_one_interface():
    rig, svc = _svc()
    svc.on_message("evse/limit/set", b"10")
    assert rig.app.charger.limits["mqtt"] == 100
    svc.on_message("evse/limit/set", b"99")           # refused, said, nothing changed
    svc.on_message("evse/enabled/set", b"maybe")
    svc.on_message("evse/nonsense/set", b"1")
    assert rig.app.charger.limits["mqtt"] == 100 and rig.app.charger.enabled
    assert len(svc.errors) == 3 and svc.errors[0].startswith("limit: ")
    svc.on_message("evse/enabled/set", b"OFF")
    rig.run(0.1)
    assert not rig.app.charger.enabled and rig.app.charger.state == "disabled"
    svc.on_message("evse/enabled/set", b"on")
    svc.on_message("evse/authorize/set", b"CARD-1")
    assert rig.app.charger.enabled and rig.app.charger.authorized and rig.app.id_tag == "CARD-1"
    svc.on_message("evse/stop/set", b"PRESS")
    svc.on_message("evse/limit/set", b"none")
    assert "mqtt" not in rig.app.charger.limits
    for _ in range(10):
        svc.on_message("evse/limit/set", b"x")        # a flood of refusals costs bounded heap
    assert len(svc.errors) == M.ERRORS_QUEUED


def test_a_payload_not_utf8_is_refused_in_words_on_the_error_topic():
    """MicroPython's UnicodeError has no text: `limit: ` alone was said on <prefix>/error."""
    rig, svc = _svc()
    svc.on_message("evse/limit/set", b"10")
    for verb in ("limit", "enabled", "authorize"):
        svc.errors.clear()
        svc.on_message("evse/%s/set" % verb, b"\xff\xfe1")
        assert svc.errors == ["%s: not UTF-8 text" % verb], svc.errors
    svc.errors.clear()
    svc.on_message("evse/grid/set", b"\xff\xfe1")
    assert svc.errors == ["grid: must be watts, import positive"], svc.errors
    assert rig.app.charger.limits["mqtt"] == 100 and rig.app.charger.enabled and not rig.app.charger.authorized
    svc.errors.clear()
    svc.on_message("evse/stop/set", b"\xff")           # stop takes anything
    assert svc.errors == []


def address_of(svc):
    return asyncio.run(svc._address())


def test_the_brokers_name_is_looked_up_once_then_kept():
    rig, svc = _svc(mqtt_url="mqtt://localhost:1883")
    assert address_of(svc) == "127.0.0.1"
    svc._ip = "10.9.9.9"                     # kept: no lookup (it would block the loop) ...
    assert address_of(svc) == "10.9.9.9"
    svc._failures = M.RESOLVE_AFTER          # ... until connecting to it failed a few times
    assert address_of(svc) == "127.0.0.1" and svc._failures == 0
    rig, svc = _svc(mqtt_url="mqtt://192.168.1.20")
    svc._ip = "10.9.9.9"
    assert address_of(svc) == "192.168.1.20"  # an address is never looked up


def test_state_topics_follow_the_status_once_a_second_or_on_an_event():
    rig, svc = _svc()
    assert svc.topics["state"] == "A1" and svc.topics["limit_a"] == "32.0"
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    rig.run(0.3)
    assert svc.topics["state"] == "B2" and svc.topics["offered_a"] == "32.0"
    rig.app.command("limit", 16, 0)          # no event of its own: seen within the second
    rig.run(1.05)
    assert svc.topics["limit_a"] == "16.0"


if __name__ == "__main__":
    upytest.run(globals())
