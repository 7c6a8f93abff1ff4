"""The third MQTT audit's findings as bench scenarios (MQTT 3.1.1, OASIS 2014; Home Assistant's MQTT
discovery pages): each failed on the service as it was. A real broker (Debian's mosquitto) watched
by a subscriber written from the standard's text (host_tests/mqtt_broker.py)."""
import asyncio

from mqtt_broker import Proxy, Subscriber
from test_mqtt_bench import P, Bench, run
from evse.services import ha


def test_a_new_prefix_removes_the_old_one_from_home_assistant_and_the_broker(tmp_path, mosquitto):
    """The installer moves the charger from mqtt_prefix garage/evse to house/charger and reboots.
    Home Assistant's MQTT discovery: an empty retained config removes an entity. Before, the old
    node's twelve configs stayed retained: Home Assistant kept a second device "EV charger SN42"
    whose entities were unavailable for ever (its status topic held the will's offline), beside
    the new one. Now the charger remembers on flash the prefix it announced and, at the first
    connection with another one, clears the old configs, states and status."""
    broker = mosquitto()
    old = "garage/evse"
    old_configs = [ha.config(old, {}, e)[0] for e in ha.ENTITIES if e[0] not in ha.WITH_LOCK]   # (no lock)
    old_states = [old + "/" + e[3] for e in ha.ENTITIES if e[3]] + [old + "/status"]

    async def main():
        sub = await Subscriber(broker.port).start()
        a = await Bench(broker.port, tmp_path, mqtt_prefix=old).start()
        await a.until(lambda: all(sub.last(t) for t in old_configs + old_states), 100,
                      "the old prefix announced")
        await a.stop()
        await sub.close()
        b = await Bench(broker.port, tmp_path, mqtt_prefix="house/charger").start()   # rebooted
        try:
            await b.until(lambda: b.svc.connects == 1 and not b.svc.wake.is_set() and b.svc.sent, 100,
                          "connected, all sent")
            late = await Subscriber(broker.port).start()                   # Home Assistant starting
            await b.until(lambda: late.last("house/charger/state"), 100, "retained states")
            await asyncio.sleep(0.5)
            left = [(t, late.last(t)) for t in old_configs + old_states if late.last(t)]
            assert not left, left
            assert late.last("homeassistant/number/house_charger/current_limit/config")
            assert late.last("house/charger/status") == "online"
            await late.close()
        finally:
            await b.stop()
        # the same prefix again: nothing of it is cleared
        c = await Bench(broker.port, tmp_path, mqtt_prefix="house/charger").start()
        try:
            await c.until(lambda: c.svc.connects == 1 and not c.svc.wake.is_set() and c.svc.sent, 100,
                          "connected again")
            late = await Subscriber(broker.port).start()
            await c.until(lambda: late.last("house/charger/state"), 100, "retained states")
            await asyncio.sleep(0.5)
            assert all(late.last(ha.config("house/charger", {}, e)[0]) for e in ha.ENTITIES
                       if e[0] not in ha.WITH_LOCK)
            await late.close()
        finally:
            await c.stop()

    run(main())


def test_a_new_prefix_with_the_same_node_id_keeps_the_configs_it_replaces():
    """home/evse and home_evse give one node_id: the new configs sit on the old topics and replace
    them, so only the old states and status are cleared (an empty config after the new one, or
    before it on the same topic, would remove the entity Home Assistant has just made)."""
    same = list(ha.forgotten("home/evse", "home_evse"))
    assert "home/evse/status" in same and "home/evse/total_wh" in same
    assert not any(t.endswith("/config") for t in same)
    other = list(ha.forgotten("garage/evse", "house/charger"))
    assert {t for t in other if t.endswith("/config")} == {ha.config("garage/evse", {}, e)[0]
                                                           for e in ha.ENTITIES}


def test_chargers_that_lost_the_broker_together_do_not_dial_it_again_in_step(tmp_path):
    """Reconnect with exponential backoff *and jitter*: a broker restarting (CONNACK 3, server
    unavailable, section 3.2.2.3) refuses every charger of a car park at once. Each pause was
    exactly 1 s, 2 s, 4 s...: all of them dialled it again at the same instants, each with its
    twelve discovery payloads. Now each pause is the doubling one plus up to a quarter of it, drawn
    from the hardware's randomness: never shorter than before, and not the same twice."""
    from test_mqtt_audit import ScriptedBroker, _read_packet

    async def unavailable(n, r, w):
        await _read_packet(r)                                  # CONNECT
        w.write(b"\x20\x02\x00\x03")                           # CONNACK: server unavailable
        await w.drain()

    broker = ScriptedBroker(unavailable)

    async def main():
        await broker.start()
        b = await Bench(broker.port, tmp_path).start()
        try:
            await b.until(lambda: len(broker.times) == 4, 600, "four attempts")
            assert "server unavailable" in b.svc.status()["error"]
            gaps = [y - x for x, y in zip(broker.times, broker.times[1:])]
            beyond = [g - d for g, d in zip(gaps, (1.0, 2.0, 4.0))]
            assert all(-0.05 <= x <= d / 4 + 0.5 for x, d in zip(beyond, (1.0, 2.0, 4.0))), gaps
            assert max(beyond) > 0.03, ("the pauses are the bare doubling ones", gaps)
        finally:
            await b.stop()
            broker.close()

    run(main())


def test_a_dead_controllers_retained_limit_redelivered_at_a_reconnection_keeps_the_fallback(tmp_path, mosquitto):
    """docs/mqtt.md "network without fear": a controller that set a limit and says nothing for
    fallback_timeout_s falls back to fallback_current_a. A load balancer publishes limit/set 32
    with retain (docs: a retained limit is applied again at each connection), then dies. The
    fallback caps at 6 A; then the charger's own link drops (Wi-Fi, a broker restart) and the
    broker delivers its stored 32 again at the reconnection. That copy was taken for the controller
    speaking: the fallback ended and 32 A were offered for another whole timeout, at each
    reconnection. The stored copy is still applied as MQTT's limit, but it is no sign of life."""
    broker = mosquitto()

    async def main():
        proxy = await Proxy(broker.port).start()
        sub = await Subscriber(broker.port).start()
        b = await Bench(proxy.port, tmp_path, fallback_timeout_s=60, fallback_current_a=6).start()
        d = b.d
        try:
            await b.until(lambda: sub.last(P + "status") == "online", 100, "online")
            d.plug()
            d.ev("C")
            await sub.publish(P + "limit/set", "32", retain=True)           # then the controller dies
            await b.until(lambda: b.app.charger.limits.get("mqtt") == 320, 100, "its limit")
            await b.until(lambda: b.app.fallback.active, 200, "the fallback after 60 s of silence")
            await b.until(lambda: b.app.charger.out.amps_x10 == 60, 10, "6 A offered")
            connects = b.svc.connects
            proxy.cut()                                                      # the charger's link drops
            await b.until(lambda: not b.svc.connected, 10, "link lost")
            proxy.allow()
            await b.until(lambda: b.svc.connects == connects + 1 and not b.svc.wake.is_set(), 600,
                          "reconnected, the retained limit delivered again")
            await asyncio.sleep(0.5)
            assert b.app.charger.limits.get("mqtt") == 320        # the broker's copy is the value
            assert b.app.fallback.active and b.app.charger.out.amps_x10 == 60, (
                b.app.charger.limits, b.app.charger.out.amps_x10)
            # the controller speaks again (retained too: to an established subscription the broker
            # delivers it with RETAIN 0, section 3.3.1.3): its next limit ends the fallback
            await sub.publish(P + "limit/set", "20", retain=True)
            await b.until(lambda: not b.app.fallback.active and b.app.charger.out.amps_x10 == 200, 100,
                          "the controller's next limit")
        finally:
            await b.stop()
            await proxy.close()
            await sub.close()

    run(main())


def test_a_rating_raised_without_a_reboot_widens_the_limits_number_in_home_assistant(tmp_path, mosquitto):
    """max_current is a live setting (the console's and the page's `set`, no reboot). Home
    Assistant's MQTT number refuses a state outside its min..max (it logs "Invalid value" and keeps
    showing the last one: docs/mqtt.md, the fault test_ha_live found for 0 A). The number's max was
    announced once per connection: the installer raised the rating from 16 A to 32 A, the limit in
    force (the number's state) became 32 A while Home Assistant still held max 16 until the next
    reconnection. Now a changed rating announces the number again within a second."""
    import json
    from test_console import MemStream
    from test_mqtt_ha import announced_max
    number = "homeassistant/number/garage_evse/current_limit/config"
    from evse.services import console as C
    broker = mosquitto()

    async def main():
        sub = await Subscriber(broker.port).start()
        b = await Bench(broker.port, tmp_path, max_current=16).start()
        con = C.attach(b.app, MemStream())
        try:
            await b.until(lambda: announced_max(sub) == 16 and sub.last(P + "limit_a") == "16.0", 100, "max 16")
            r = con.answer({"cmd": "set", "values": {"max_current": 32}}, 0)
            assert r.get("reboot") == [], r
            await b.until(lambda: sub.last(P + "limit_a") == "32.0", 10, "the limit in force 32 A")
            await b.until(lambda: announced_max(sub) == 32, 10, "the number's max follows")
            assert b.svc.connects == 1
            # announced before the state that needs it
            seen = [(t, p) for t, p, _ in sub.msgs if t in (number, P + "limit_a")]
            wider = next(i for i, (t, p) in enumerate(seen) if t == number and json.loads(p)["max"] == 32)
            assert wider < seen.index((P + "limit_a", "32.0")), seen
        finally:
            await b.stop()
            await sub.close()

    run(main())
