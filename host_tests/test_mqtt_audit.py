"""The MQTT audit's findings as bench scenarios (MQTT 3.1.1, OASIS 2014, section numbers below): each
failed on the service as it was. A real broker (mosquitto) where its behaviour matters, else a
scripted broker written from the standard's text (a refusal no mosquitto set-up gives at will)."""
import asyncio
import struct
import time

from mqtt_broker import Proxy, Subscriber
from test_mqtt_bench import P, Bench, run
from evse.services import ha
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive


def _packet(first, body):
    """A packet as section 2.2.3 frames it (bodies here are under 128 bytes: one length byte)."""
    assert len(body) < 128
    return bytes([first, len(body)]) + body


def _s(text):
    b = text.encode()
    return struct.pack("!H", len(b)) + b


async def _read_packet(r):
    first = (await r.readexactly(1))[0]
    n, mul = 0, 1
    while True:
        b = (await r.readexactly(1))[0]
        n += (b & 127) * mul
        mul *= 128
        if not b & 128:
            break
    return first, await r.readexactly(n)


class ScriptedBroker:
    """127.0.0.1:port; handler(n, reader, writer) plays connection n (0, 1, ...); the real time each
    connection came in is kept."""

    def __init__(self, handler):
        self.handler = handler
        self.times = []
        self.published = []       # (topic, payload) of every PUBLISH the charger sent

    async def start(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _conn(self, r, w):
        self.times.append(time.monotonic())
        try:
            await self.handler(len(self.times) - 1, r, w)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            w.close()

    async def serve(self, r, w):
        """Read packets until the charger goes: PUBLISHes kept, PINGREQ answered."""
        while True:
            first, body = await _read_packet(r)
            if first >> 4 == 3:
                n = struct.unpack("!H", body[:2])[0]
                self.published.append((body[2:2 + n].decode(), body[2 + n:].decode()))
            elif first == 0xC0:
                w.write(b"\xd0\x00")

    def close(self):
        self.server.close()


def drive(tmp_path, **settings):
    cfg = {"max_current": 32, "meter": "ct", "mqtt_url": "mqtt://127.0.0.1:9",
           "mqtt_prefix": "garage/evse", "serial": "SN42"}
    cfg.update(settings)
    d = Drive(config=cfg, flash_dir=str(tmp_path))
    d.run(1.0)
    return d


def test_a_refused_subscription_is_said_not_taken_for_a_working_link(tmp_path):
    """Section 3.9.3: SUBACK return code 0x80 is a refusal (a broker's ACL, typically). The commands
    are then never heard: the status, the log and <prefix>/error say so, not a healthy link."""
    async def refuse(n, r, w):
        await _read_packet(r)                                  # CONNECT
        w.write(_packet(0x20, b"\x00\x00"))
        first, body = await _read_packet(r)                    # SUBSCRIBE: two filters
        assert first == 0x82
        w.write(_packet(0x90, body[:2] + b"\x80\x00"))         # the command filter refused
        await broker.serve(r, w)

    broker = ScriptedBroker(refuse)

    async def main():
        await broker.start()
        b = await Bench(broker.port, tmp_path).start()
        try:
            await b.until(lambda: b.svc.status()["error"], 200, "the refusal said")
            st = b.app.status(0)["mqtt"]
            assert st["connected"] and "refused" in st["error"] and P + "+/set" in st["error"]
            assert any(w == "mqtt" and "refused" in m for w, m in b.app.errors), b.app.errors
            await b.until(lambda: any(t == P + "error" and "refused" in p for t, p in broker.published),
                          200, "said on the error topic")
        finally:
            await b.stop()
            broker.close()

    run(main())


def test_a_broker_that_accepts_then_drops_is_retried_with_growing_pauses_and_a_lasting_session_resets_them(tmp_path):
    """docs/mqtt.md: reconnect with exponential backoff from 1 s. A broker that accepts the CONNECT
    and drops the link at once (a client id taken over, an ACL, a broker kicking) was dialled every
    second for ever: each CONNACK reset the pause. Now only a session that lasted longer than the
    keep-alive resets it."""
    hold = asyncio.Event()
    dropped = []

    async def accept_then_drop(n, r, w):
        await _read_packet(r)
        w.write(_packet(0x20, b"\x00\x00"))
        first, body = await _read_packet(r)
        w.write(_packet(0x90, body[:2] + b"\x00\x00"))
        await w.drain()
        if n == 3:                    # the fourth session lasts (until the test lets it go)
            await hold.wait()
        dropped.append(time.monotonic())

    broker = ScriptedBroker(accept_then_drop)

    async def main():
        await broker.start()
        b = await Bench(broker.port, tmp_path).start()
        try:
            await b.until(lambda: len(broker.times) == 4, 600, "four sessions")
            gaps = [y - x for x, y in zip(broker.times, broker.times[1:])]
            assert gaps[0] >= 0.9 and gaps[1] >= 1.8 and gaps[2] >= 3.6, gaps     # 1 s, 2 s, 4 s
            since = mm.clock.us
            await b.until(lambda: mm.clock.us - since > 70e6, 200, "a session past the keep-alive")
            assert b.svc.connected
            hold.set()
            await b.until(lambda: len(broker.times) == 5, 600, "the fifth session")
            assert broker.times[4] - dropped[-1] < 1.8          # after a lasting session: 1 s again
        finally:
            hold.set()
            await b.stop()
            broker.close()

    run(main())


def test_client_ids_differ_for_every_serial_and_stay_within_the_23_characters_every_broker_takes():
    """Section 3.1.3.1: 1-23 characters of 0-9a-zA-Z. Dropping the other characters and cutting at 23
    gave SN-1 and SN1, or two long serials differing at the end, one id: the broker lets only one
    of two such chargers on (section 3.1.4: the newer connection takes the session over)."""
    import re
    from evse.services.mqtt import MqttService
    from evse.shell import hal
    serials = ["SN-1", "SN1", "SN_1", "sn1", "EVSE-2024-000000000000001", "EVSE-2024-000000000000002",
               "\u00e91", "1", "", "x" * 64]
    ids = [MqttService(None, {"mqtt_url": "mqtt://h", "mqtt_prefix": "evse", "serial": s}, hal).client_id()
           for s in serials]
    assert len(set(ids)) == len(ids), ids
    assert all(re.match("^[0-9a-zA-Z]{1,23}$", i) for i in ids), ids
    assert ids[0].startswith("evseSN1") and ids[4].startswith("evseEVSE2024")    # still readable


def test_two_chargers_whose_serials_differ_only_by_a_dash_both_stay_on_the_broker(tmp_path, mosquitto):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    broker = mosquitto()

    async def main():
        sub = await Subscriber(broker.port).start()
        a = await Bench(broker.port, tmp_path / "a", mqtt_prefix="garage/evse1", serial="SN-1").start()
        b = await Bench(broker.port, tmp_path / "b", mqtt_prefix="garage/evse2", serial="SN1").start()
        try:
            for x in ("evse1", "evse2"):
                await a.until(lambda: sub.last("garage/%s/status" % x) == "online", 100, x + " online")
            await asyncio.sleep(4)           # the broker would have dropped one by now
            assert a.svc.connected and b.svc.connected and a.svc.connects == b.svc.connects == 1
            assert sub.values("garage/evse1/status") == ["online"] == sub.values("garage/evse2/status")
        finally:
            await a.stop()
            await b.stop()
            await sub.close()

    run(main())


def test_an_empty_or_null_limit_payload_is_refused_and_keeps_the_limit_and_the_fallback_watch(tmp_path):
    """An empty retained publish (how a topic is cleared) or a template that renders empty removed
    MQTT's limit: the current rose to the maximum and the fallback stopped watching. Only the
    documented `none` removes it; anything else not a number 0..80 is refused, nothing changed."""
    d = drive(tmp_path, fallback_timeout_s=30)
    svc, ch = d.app.mqtt, d.app.charger
    svc.on_message(P + "limit/set", b"10")
    assert ch.limits["mqtt"] == 100 and d.app.fallback.source == "mqtt"
    for bad in (b"", b"   ", b"null", b"NULL", b"\n"):
        svc.errors.clear()
        svc.on_message(P + "limit/set", bad)
        assert ch.limits.get("mqtt") == 100 and d.app.fallback.source == "mqtt", bad
        assert svc.errors and svc.errors[0].startswith("limit: "), (bad, svc.errors)
    d.run(31)
    assert d.app.fallback.active                  # still watched: silent for 30 s, the cap comes
    svc.on_message(P + "limit/set", b"none")
    assert "mqtt" not in ch.limits and d.app.fallback.source is None


def test_mqtt_removing_its_limit_leaves_the_fallback_watching_a_silent_rest_controller(tmp_path):
    """core/fallback.py: one source watched, the last that set a limit. MQTT's `none` (its own
    limit removed) stopped the watch on the REST controller's 32 A: it could go silent for ever."""
    d = drive(tmp_path, fallback_timeout_s=30, fallback_current_a=6.0)
    d.app.command("limit", 32, d.app.mqtt.clock.ticks_ms(), "rest")
    d.run(10)
    d.app.mqtt.on_message(P + "limit/set", b"none")
    assert d.app.fallback.source == "rest"
    d.run(25)
    assert d.app.fallback.active and d.app.charger.limits["fallback"] == 60
    d.app.command("limit", None, d.app.mqtt.clock.ticks_ms(), "rest")    # its own removal: unwatched
    assert d.app.fallback.source is None and not d.app.fallback.active


def test_a_bad_mqtt_setting_in_the_settings_file_keeps_mqtt_off_and_says_so(tmp_path):
    """docs/mqtt.md: a bad MQTT value in a settings file is reported and MQTT stays off. A bad prefix,
    user or password was replaced by its default and MQTT started all the same: under the default
    prefix `evse` (another charger's topics, perhaps), or with no user against a broker that wants one."""
    from evse.services import settings as S
    for i, (key, bad) in enumerate((("mqtt_prefix", "a/+/b"), ("mqtt_prefix", "evse/"), ("mqtt_prefix", "ev se"),
                                    ("mqtt_prefix", "$SYS/evse"), ("mqtt_user", "a b"),
                                    ("mqtt_password", "p\u00e4ss"))):
        (tmp_path / str(i)).mkdir()
        d = Drive(config={"max_current": 32, "mqtt_url": "mqtt://127.0.0.1:9", "mqtt_user": "u",
                          "mqtt_password": "p", key: bad}, flash_dir=str(tmp_path / str(i)))
        assert d.app.mqtt is None, (key, bad)
        said = [m for w, m in d.app.errors if m.startswith(key + ": ")]
        assert said and "MQTT stays off" in said[0], (key, bad, d.app.errors)
        assert d.app.charger.fault is None                 # MQTT never decides whether it charges
        cfg, errs, blocked = S.check({"max_current": 16, "mqtt_url": "mqtt://b", key: bad})
        assert cfg["mqtt_url"] == "" and len(errs) == 1 and not blocked    # a save keeps it off


def test_entities_no_longer_announced_are_removed_from_home_assistant_and_the_broker(tmp_path, mosquitto):
    """The meter removed (meter none): its four entities' discovery configs and states stayed
    retained, so Home Assistant kept showing a power and energy that no longer exist. An empty
    retained payload on each config topic (Home Assistant removes the entity) and state topic
    (the broker forgets it) clears them."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    broker = mosquitto()
    metered = [ha.config("garage/evse", {}, e)[0] for e in ha.ENTITIES if e[0] in ha.METERED]
    gone = metered + [P + s for s in ("power_w", "current_a", "session_wh", "total_wh")]

    async def main():
        sub = await Subscriber(broker.port).start()
        a = await Bench(broker.port, tmp_path / "a").start()
        await a.until(lambda: all(sub.last(t) for t in gone), 100, "the meter's entities and states")
        await a.stop()
        await sub.close()
        b = await Bench(broker.port, tmp_path / "b", meter="none").start()    # the same charger
        try:
            await b.until(lambda: b.svc.connects == 1 and not b.svc.wake.is_set() and b.svc.sent, 100,
                          "connected, all sent")
            late = await Subscriber(broker.port).start()                        # Home Assistant starting
            await b.until(lambda: late.last(P + "state"), 100, "retained states")
            await asyncio.sleep(0.5)
            assert len(metered) == 4 and not any(late.last(t) for t in gone), [
                (t, late.last(t)) for t in gone if late.last(t)]
            assert late.last("homeassistant/number/garage_evse/current_limit/config")
            await late.close()
        finally:
            await b.stop()

    run(main())


def test_a_retained_stop_is_not_carried_out_again_at_each_reconnection(tmp_path, mosquitto):
    """Section 3.3.1.3: a retained message is delivered again, RETAIN set, to every new subscription.
    A stop/set published retained once (a button with retain on) stopped the session at each
    reconnection, a Wi-Fi blip ending a charge. One-shot commands (stop, authorize) that come
    retained are ignored and said on <prefix>/error; a live one still acts."""
    broker = mosquitto()

    async def main():
        sub = await Subscriber(broker.port).start()
        await sub.publish(P + "stop/set", "PRESS", retain=True)
        await sub.publish(P + "authorize/set", "card1", retain=True)
        proxy = await Proxy(broker.port).start()
        b = await Bench(proxy.port, tmp_path).start()
        d = b.d
        try:
            await b.until(lambda: len(sub.values(P + "error")) >= 2, 100, "retained ones refused")
            assert all("retain" in e for e in sub.values(P + "error")), sub.values(P + "error")
            d.plug()
            d.ev("C")
            d.world.draw_amps = 16
            await b.until(lambda: d.coil, 10, "charging")
            proxy.cut()
            proxy.allow()                                   # a Wi-Fi blip
            await b.until(lambda: b.svc.connects == 2 and b.svc.connected, 300, "reconnected")
            await b.until(lambda: len(sub.values(P + "error")) >= 4, 100, "refused again")
            assert d.coil and d.state == "C2"
            await sub.publish(P + "stop/set", "PRESS")      # pressed now: acts
            await b.until(lambda: not d.coil, 10, "stopped")
        finally:
            await b.stop()
            await proxy.close()
            await sub.close()

    run(main())


def test_a_publish_with_qos_bits_11_closes_the_connection_and_is_not_obeyed(tmp_path):
    """Section 3.3.1.2: QoS bits 11 are malformed; the receiver MUST close the network connection."""
    closed = []

    async def qos3(n, r, w):
        await _read_packet(r)
        w.write(_packet(0x20, b"\x00\x00"))
        first, body = await _read_packet(r)
        w.write(_packet(0x90, body[:2] + b"\x00\x00"))
        if n == 0:
            w.write(_packet(0x36, _s(P + "limit/set") + b"\x00\x07" + b"10"))
        await w.drain()
        try:
            await broker.serve(r, w)
        except asyncio.IncompleteReadError:
            closed.append(n)

    broker = ScriptedBroker(qos3)

    async def main():
        await broker.start()
        b = await Bench(broker.port, tmp_path).start()
        try:
            await b.until(lambda: closed == [0], 100, "the charger closed the connection")
            assert "mqtt" not in b.app.charger.limits
        finally:
            await b.stop()
            broker.close()

    run(main())
