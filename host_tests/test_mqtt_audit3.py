"""The third MQTT audit's findings as bench scenarios (MQTT 3.1.1, OASIS 2014; Home Assistant's MQTT
discovery pages): each failed on the service as it was. A real broker (Debian's mosquitto) watched
by a subscriber written from the standard's text (host_tests/mqtt_broker.py)."""
import asyncio

from mqtt_broker import Broker, Subscriber, need_mosquitto
from test_mqtt_bench import Bench, run
from evse.services import ha


def test_a_new_prefix_removes_the_old_one_from_home_assistant_and_the_broker(tmp_path):
    """The installer moves the charger from mqtt_prefix garage/evse to house/charger and reboots.
    Home Assistant's MQTT discovery: an empty retained config removes an entity. Before, the old
    node's twelve configs stayed retained: Home Assistant kept a second device "EV charger SN42"
    whose entities were unavailable for ever (its status topic held the will's offline), beside
    the new one. Now the charger remembers on flash the prefix it announced and, at the first
    connection with another one, clears the old configs, states and status."""
    need_mosquitto()
    broker = Broker(tmp_path).start()
    old = "garage/evse"
    old_configs = [ha.config(old, {}, e)[0] for e in ha.ENTITIES]
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
            assert all(late.last(ha.config("house/charger", {}, e)[0]) for e in ha.ENTITIES)
            await late.close()
        finally:
            await c.stop()

    try:
        run(main())
    finally:
        broker.stop()


def test_chargers_that_lost_the_broker_together_do_not_dial_it_again_in_step(tmp_path):
    """Reconnect with exponential backoff *and jitter*: a broker restarting (CONNACK 3, server
    unavailable, section 3.2.2.3) refuses every charger of a car park at once. Each pause was
    exactly 1 s, 2 s, 4 s...: all of them dialled it again at the same instants, each with its
    twelve discovery payloads. Now each pause is the doubling one plus up to a quarter of it, drawn
    from the hardware's randomness: never shorter than before, and not the same twice."""
    from test_mqtt_audit import ScriptedBroker, _packet, _read_packet

    async def unavailable(n, r, w):
        await _read_packet(r)                                  # CONNECT
        w.write(_packet(0x20, b"\x00\x03"))                    # server unavailable
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
