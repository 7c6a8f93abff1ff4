"""Home Assistant MQTT discovery, field by field against Home Assistant's documented rules
(home-assistant.io/integrations/mqtt "MQTT Discovery", and the pages sensor.mqtt, binary_sensor.mqtt,
number.mqtt, switch.mqtt, button.mqtt, sensor "device class" and "state class"), written down here
as tables, so a payload that Home Assistant would refuse or misread fails here first; and the order
in which the charger says its states and `online` through a real broker (mosquitto)."""
import asyncio
import json
import re

import pytest

from evse.services import console as C, ha, mqtt as M
from mqtt_broker import Broker, Proxy, Subscriber, need_mosquitto
from test_console import MemStream
from test_mqtt_bench import Bench, P, run
from tools.sim import mock_machine as mm
from evse.services import settings

# Discovery topic: <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, the ids of
# [a-zA-Z0-9_-] (MQTT Discovery, "Discovery topic").
TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor|number|switch|button)/"
                   r"([a-zA-Z0-9_-]+)/([a-zA-Z0-9_-]+)/config$")
COMMON = {"~", "name", "unique_id", "default_entity_id", "object_id", "availability_topic",
          "availability", "availability_mode", "payload_available", "payload_not_available",
          "device", "origin", "icon", "entity_category", "enabled_by_default", "qos", "encoding",
          "json_attributes_topic", "json_attributes_template", "platform"}
# Per component: the fields it takes besides COMMON, and those it cannot work without.
FIELDS = {
    "sensor": ({"state_topic", "device_class", "state_class", "unit_of_measurement", "value_template",
                "expire_after", "force_update", "suggested_display_precision", "options"},
               {"state_topic"}),
    "binary_sensor": ({"state_topic", "device_class", "payload_on", "payload_off", "value_template",
                       "off_delay", "expire_after", "force_update"}, {"state_topic"}),
    "number": ({"command_topic", "command_template", "state_topic", "value_template", "min", "max",
                "step", "mode", "unit_of_measurement", "device_class", "optimistic", "retain",
                "payload_reset"}, {"command_topic"}),
    "switch": ({"command_topic", "state_topic", "payload_on", "payload_off", "state_on", "state_off",
                "value_template", "device_class", "optimistic", "retain"}, {"command_topic"}),
    "button": ({"command_topic", "command_template", "payload_press", "device_class", "retain"},
               {"command_topic"}),
}
DEVICE_FIELDS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id",
                 "sw_version", "hw_version", "serial_number", "configuration_url", "suggested_area",
                 "via_device"}
# Sensor device classes and the units Home Assistant accepts for them; the state classes they allow.
UNITS = {"energy": {"Wh", "kWh", "MWh", "GWh", "J", "kJ", "MJ", "GJ"}, "power": {"W", "kW", "MW"},
         "current": {"A", "mA"}, "temperature": {"°C", "°F", "K"}}
STATE_CLASSES = {"energy": {"total", "total_increasing"}, "power": {"measurement"},
                 "current": {"measurement"}, "temperature": {"measurement"}}
BINARY_CLASSES = {"power", "plug", "running", "problem", "battery_charging"}

CFG = dict(settings.defaults(), max_current=32.0, meter="ct", serial="SN-42", vendor="ACME",
           model="Wallbox 1")
PREFIX = "Garage/EVSE-1"


def _expand(c):
    """The '~' abbreviation, as Home Assistant expands it: in every *_topic value, at either end."""
    base = c.get("~")
    out = {}
    for k, v in c.items():
        if k.endswith("_topic") and isinstance(v, str) and base is not None:
            v = base + v[1:] if v.startswith("~") else v[:-1] + base if v.endswith("~") else v
        out[k] = v
    return out


def announced_max(sub):
    """The current limit's max in the last number config the subscriber saw (None: none yet)."""
    c = sub.last("homeassistant/number/garage_evse/current_limit/config")
    return c and json.loads(c)["max"]


def configs():
    return [(t, json.loads(p)) for t, p in ha.configs(PREFIX, CFG)]


def test_each_config_sits_on_its_documented_discovery_topic():
    seen = set()
    for topic, c in configs():
        m = TOPIC.match(topic)
        assert m, topic
        component, node, obj = m.groups()
        assert node == "Garage_EVSE-1" and (component, obj) not in seen
        seen.add((component, obj))
    assert {c for c, _ in seen} == set(FIELDS)


@pytest.mark.parametrize("topic,c", configs())
def test_fields_are_the_documented_ones_with_the_required_ones_present(topic, c):
    component = TOPIC.match(topic).group(1)
    allowed, required = FIELDS[component]
    assert set(c) <= COMMON | allowed, set(c) - COMMON - allowed
    assert required <= set(c)
    assert not ("availability" in c and "availability_topic" in c)   # "must not be used together"
    e = _expand(c)
    for k, v in e.items():
        if k.endswith("_topic"):
            assert v.startswith(PREFIX + "/") and "+" not in v and "#" not in v and "~" not in v, (k, v)
    assert e["availability_topic"] == PREFIX + "/status"
    assert c.get("payload_available", "online") == "online"
    assert c.get("payload_not_available", "offline") == "offline"
    if "command_topic" in e:        # one the service subscribes to (<prefix>/+/set)
        assert re.match("^" + re.escape(PREFIX) + r"/[a-z_]+/set$", e["command_topic"])
    assert c.get("entity_category") in (None, "diagnostic")   # sensors cannot be 'config'


@pytest.mark.parametrize("topic,c", configs())
def test_ids_device_and_origin(topic, c):
    component = TOPIC.match(topic).group(1)
    obj = TOPIC.match(topic).group(3)
    assert c["unique_id"] == "Garage_EVSE-1_" + obj
    # default_entity_id (object_id until 2025.10): <domain>.<object id>, lower case a-z 0-9 _
    assert re.match(r"^%s\.[a-z0-9_]+$" % component, c["default_entity_id"]), c["default_entity_id"]
    dev = c["device"]
    assert set(dev) <= DEVICE_FIELDS
    assert isinstance(dev["identifiers"], list) and dev["identifiers"] == ["Garage_EVSE-1"]
    assert dev["manufacturer"] == "ACME" and dev["model"] == "Wallbox 1" and dev["serial_number"] == "SN-42"
    assert isinstance(c["name"], str) and c["name"]
    assert set(c["origin"]) <= {"name", "sw_version", "support_url"} and c["origin"]["name"]


def test_ids_are_unique_and_one_device_holds_every_entity():
    cs = [c for _, c in configs()]
    assert len({c["unique_id"] for c in cs}) == len(cs)
    assert len({c["default_entity_id"] for c in cs}) == len(cs)
    assert len({json.dumps(c["device"], sort_keys=True) for c in cs}) == 1


def test_sensor_classes_units_and_state_classes():
    for topic, c in configs():
        component = TOPIC.match(topic).group(1)
        dc = c.get("device_class")
        if component == "sensor" and dc is not None:
            assert c["unit_of_measurement"] in UNITS[dc], c
            assert c["state_class"] in STATE_CLASSES[dc], c
        if component == "binary_sensor":
            assert dc in BINARY_CLASSES
            assert c.get("payload_on", "ON") == M.ON and c.get("payload_off", "OFF") == M.OFF


def test_energy_joins_the_energy_dashboard():
    """Total and session energy: device_class energy, state_class total_increasing, in Wh."""
    cs = dict((_expand(c)["state_topic"], c) for t, c in configs() if "state_topic" in c)
    for suffix in ("total_wh", "session_wh"):
        c = cs[PREFIX + "/" + suffix]
        assert (c["device_class"], c["state_class"], c["unit_of_measurement"]) == (
            "energy", "total_increasing", "Wh")


def test_current_limit_is_a_number_from_0_a_to_the_installers_rating_and_enable_a_switch():
    """Its state is the limit in force: 0 while a schedule or the solar mode pauses, under 6 A
    with thermal derating. Home Assistant's MQTT number refuses a state outside min..max (it logs
    an error and keeps the last value), so min is 0, which `limit/set` also takes (a pause)."""
    cs = dict((TOPIC.match(t).group(3), c) for t, c in configs())
    n = cs["current_limit"]
    assert n["min"] == 0 and n["max"] == 32.0 and n["step"] > 0 and n["min"] < n["max"]
    paused = dict(state="B2", contactor=False, amps=0.0, limit=0.0, enabled=True, fault=None,
                  temp_c=None)
    assert n["min"] <= float(M.state_values(paused)["limit_a"]) <= n["max"]
    assert M.parse_limit(b"0") == 0
    assert n["mode"] in ("auto", "box", "slider") and n["unit_of_measurement"] == "A"
    assert _expand(n)["state_topic"] == PREFIX + "/limit_a"
    s = cs["enabled"]
    assert _expand(s)["command_topic"] == PREFIX + "/enabled/set"
    assert _expand(s)["state_topic"] == PREFIX + "/enabled"
    # the number shows what the service publishes, and the switch's payloads are ON / OFF
    st = {"state": "C2", "contactor": True, "amps": 16.0, "limit": 16.0, "enabled": True,
          "fault": None, "temp_c": 31.5,
          "energy": {"current_a": 15.9, "power_w": 3657.2, "wh_session": 1234.5, "wh_total": 98765.4}}
    v = M.state_values(st)
    assert v["limit_a"] == "16.0" and v["enabled"] == "ON" and v["total_wh"] == "98765"
    assert float(v["limit_a"]) <= n["max"]


def test_a_reading_there_is_not_is_published_as_unknown_never_as_an_empty_payload():
    """Home Assistant's MQTT sensor ignores an empty payload on a numeric sensor (it keeps showing
    the last value: a lost meter's current, a dead temperature sensor's reading) and sets unknown on
    `None`; the number entity resets on `None` (its payload_reset). An empty retained message would
    also clear the broker's copy."""
    st = {"state": "C2", "contactor": True, "amps": 16.0, "limit": None, "enabled": True,
          "fault": None, "temp_c": None,
          "energy": {"current_a": -1.0, "power_w": None, "wh_session": None, "wh_total": None}}
    v = M.state_values(st)
    for k in ("limit_a", "temp_c", "current_a", "power_w", "session_wh", "total_wh"):
        assert v[k] == "None", (k, v[k])
    assert "" not in v.values() and None not in v.values() and v["fault"] == "none"
    st["energy"]["current_a"] = None
    assert M.state_values(st)["current_a"] == "None"


def test_without_a_meter_no_energy_entities():
    cfg = dict(CFG, meter="none")
    objs = [TOPIC.match(t).group(3) for t, _ in ha.configs(PREFIX, cfg)]
    assert "total_energy" not in objs and "power" not in objs and "current_limit" in objs


def test_back_after_a_drop_the_charger_says_online_only_after_its_states(tmp_path):
    """Home Assistant shows each entity's last state the moment the availability topic says
    `online`. The charger charges at 16 A, its link drops (the will: unavailable) and the car is
    unplugged meanwhile. At the reconnection the charger said `online` before its states: Home
    Assistant showed it charging (C2) again for a moment, its recorder kept that, and an automation
    on `to: C2` fired for a car no longer there (2024.3.3, a power cut of the virtual board:
    test_ha_audit7.py). Each connection now publishes every state first, then `online`."""
    need_mosquitto()
    broker = Broker(tmp_path).start()

    async def main():
        proxy = await Proxy(broker.port).start()
        sub = await Subscriber(broker.port).start()
        b = await Bench(proxy.port, tmp_path).start()
        try:
            await b.until(lambda: sub.last(P + "status") == "online", what="online")
            await b.until(lambda: sub.last(P + "state") == "A1", what="A1")
            b.d.plug()
            await b.until(lambda: sub.last(P + "state") == "B2", what="B2")
            b.d.charge(16)
            await b.until(lambda: sub.last(P + "state") == "C2", 30, "charging")
            proxy.cut()
            await b.until(lambda: sub.last(P + "status") == "offline", 5, "the will")
            b.d.unplug()
            await b.until(lambda: b.d.state == "A1", 10, "unplugged")
            cut = len(sub.msgs)
            proxy.allow()
            await b.until(lambda: sub.last(P + "status") == "online", 300, "back online")
            await asyncio.sleep(0.5)
        finally:
            await b.stop()
            await proxy.close()
            await sub.close()
        back = [(t[len(P):], x) for t, x, _ in sub.msgs[cut:] if t.startswith(P)]
        online = back.index(("status", "online"))
        assert ("state", "A1") in back[:online] and ("contactor", "OFF") in back[:online], back

    try:
        run(main())
    finally:
        broker.stop()


def test_a_limit_above_the_numbers_old_max_waits_for_home_assistant_to_take_the_wider_number(tmp_path):
    """The rating raised live from 16 A to 32 A: the number is announced again with max 32 and the
    limit in force becomes 32 A. Home Assistant applies the changed config in a task of its own,
    after a state of the same burst: it refused the 32 A as out of its old range (an ERROR, the
    number kept at 16 A under a max of 32: test_ha_audit7.py). The limit now follows the wider
    config by WIDER_SETTLE_MS of the charger's clock; a lower rating's limit is not held."""
    need_mosquitto()
    broker = Broker(tmp_path).start()

    async def main():
        sub = await Subscriber(broker.port).start()
        b = await Bench(broker.port, tmp_path, max_current=16).start()
        con = C.attach(b.app, MemStream())

        try:
            await b.until(lambda: announced_max(sub) == 16 and sub.last(P + "limit_a") == "16.0", 100, "max 16")
            con.answer({"cmd": "set", "values": {"max_current": 32}}, 0)
            await b.until(lambda: announced_max(sub) == 32, 10, "the wider number")
            wider_us = mm.clock.us
            await b.until(lambda: sub.last(P + "limit_a") == "32.0", 10, "32 A")
            assert mm.clock.us - wider_us >= (M.WIDER_SETTLE_MS - 20) * 1000
            con.answer({"cmd": "set", "values": {"max_current": 16}}, 0)
            await b.until(lambda: announced_max(sub) == 16, 10, "the narrower number")
            narrower_us = mm.clock.us
            await b.until(lambda: sub.last(P + "limit_a") == "16.0", 10, "16 A")
            assert mm.clock.us - narrower_us < M.WIDER_SETTLE_MS * 1000 / 2
        finally:
            await b.stop()
            await sub.close()

    try:
        run(main())
    finally:
        broker.stop()


def test_a_rating_raised_while_the_charger_was_off_waits_for_the_wider_number_too(tmp_path):
    """The installer raises the rating from 16 A to 32 A and the charger restarts (or its broker was
    away while the setting changed). The broker still holds the number's config from before, max 16:
    the charger cannot know what Home Assistant last took, so at its first connection after a boot
    the limit follows the config by WIDER_SETTLE_MS as well (it came in the same burst: Home
    Assistant refused 32 A against the old max and kept showing 16 A)."""
    need_mosquitto()
    broker = Broker(tmp_path).start()

    async def main():
        sub = await Subscriber(broker.port).start()
        try:
            b = await Bench(broker.port, tmp_path, max_current=16).start()
            try:
                await b.until(lambda: announced_max(sub) == 16 and sub.last(P + "limit_a") == "16.0", 100,
                              "max 16")
            finally:
                await b.stop()
            b = await Bench(broker.port, tmp_path, max_current=32).start()   # the restart
            try:
                await b.until(lambda: announced_max(sub) == 32, 100, "the wider number")
                wider_us = mm.clock.us
                await b.until(lambda: sub.last(P + "limit_a") == "32.0", 10, "32 A")
                assert mm.clock.us - wider_us >= (M.WIDER_SETTLE_MS - 20) * 1000
            finally:
                await b.stop()
            again = len(sub.msgs)
            b = await Bench(broker.port, tmp_path, max_current=32).start()   # the same rating
            try:
                await b.until(lambda: ("garage/evse/status", "online") in
                              [(t, x) for t, x, _ in sub.msgs[again:]], 100, "online")
            finally:
                await b.stop()
            back = [(t, x) for t, x, _ in sub.msgs[again:]]
            assert back.index((P + "limit_a", "32.0")) < back.index((P + "status", "online")), back
        finally:
            await sub.close()

    try:
        run(main())
    finally:
        broker.stop()


@pytest.mark.parametrize("saved, announced", [
    (None, (None, None)),                                   # never announced: nothing to wait for
    ({"prefix": "garage/evse", "max": 16.0}, ("garage/evse", 16.0)),
    ("garage/evse", ("garage/evse", 0)),                    # the file before stop 43: max unknown
    ({"prefix": "garage/evse", "max": "32"}, ("garage/evse", 0)),     # damaged: max unknown
    ({"prefix": "garage/evse", "max": float("nan")}, ("garage/evse", 0)),
    ({"prefix": "garage/evse", "max": True}, ("garage/evse", 0)),
])
def test_the_max_kept_on_flash_is_read_on_the_safe_side(saved, announced):
    """An unknown max makes the limit wait for the number (a second late), never go out beside it."""
    assert M.announced_before(saved) == announced
