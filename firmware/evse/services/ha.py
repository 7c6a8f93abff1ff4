# Home Assistant MQTT discovery (home-assistant.io/integrations/mqtt, "MQTT Discovery"): one
# retained config per entity at <discovery>/<component>/<node_id>/<object_id>/config, all of one
# device, with the charger's availability topic. "~" is the documented base-topic abbreviation:
# Home Assistant expands it in every *_topic value. Built one at a time (a generator): only one
# payload is in the heap at once. Imported by evse.services.mqtt while discovery is sent.
import json

from ..core import limits as L
from ..core.version import VERSION

# object_id: (component, name, state suffix, extra fields)
_WH = {"device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "Wh"}
ENTITIES = (
    ("state", "sensor", "State", "state", {"icon": "mdi:ev-station"}),
    ("fault", "sensor", "Fault", "fault", {"entity_category": "diagnostic"}),
    ("offered_current", "sensor", "Offered current", "offered_a",
     {"device_class": "current", "state_class": "measurement", "unit_of_measurement": "A"}),
    ("current", "sensor", "Current", "current_a",
     {"device_class": "current", "state_class": "measurement", "unit_of_measurement": "A"}),
    ("power", "sensor", "Power", "power_w",
     {"device_class": "power", "state_class": "measurement", "unit_of_measurement": "W"}),
    ("session_energy", "sensor", "Session energy", "session_wh", _WH),
    ("total_energy", "sensor", "Total energy", "total_wh", _WH),
    ("temperature", "sensor", "Temperature", "temp_c",
     {"device_class": "temperature", "state_class": "measurement", "unit_of_measurement": "°C",
      "entity_category": "diagnostic"}),
    ("contactor", "binary_sensor", "Contactor", "contactor", {"device_class": "power"}),
    ("current_limit", "number", "Current limit", "limit_a", None),
    ("enabled", "switch", "Charging enabled", "enabled", {"command_topic": "~/enabled/set"}),
    ("stop", "button", "Stop charging", None, {"command_topic": "~/stop/set"}),
    ("unlock", "button", "Unlock cable", None, {"command_topic": "~/unlock/set"}),
)
METERED = ("current", "power", "session_energy", "total_energy")   # only with a meter
WITH_LOCK = ("unlock",)   # only on a Type 2 socket with a plug lock (cfg's plug_lock: mqtt.py)


def node_id(prefix):
    """The prefix as a discovery node_id: [a-zA-Z0-9_-] only."""
    return "".join(c if c.isalpha() or c.isdigit() or c in "_-" else "_" for c in prefix)


def entity_slug(text):
    """An entity id's object part: lower case a-z, 0-9 and _ (Home Assistant's entity id rule)."""
    return "".join(c if c.isdigit() or "a" <= c <= "z" else "_" for c in text.lower())


def device(cfg, node):
    d = {"identifiers": [node], "name": "EV charger " + (cfg.get("serial") or node),
         "manufacturer": cfg.get("vendor") or "evse", "model": cfg.get("model") or "evse",
         "sw_version": VERSION}
    if cfg.get("serial"):
        d["serial_number"] = cfg["serial"]
    return d


def _number(cfg):
    """The current limit: 0 A to the installer's max_current, never above the highest limit of
    any source. Its state is the limit in force, 0 while a schedule or the solar mode pauses and
    below 6 A under thermal derating: Home Assistant refuses (logs an error, keeps showing the last
    value) a state outside min..max, so min is 0, as `limit/set` takes it (under 6 A nothing is
    offered: a pause)."""
    return {"command_topic": "~/limit/set", "min": 0, "max": number_max(cfg),
            "step": 1, "mode": "slider", "unit_of_measurement": "A", "device_class": "current"}


def number_max(cfg):
    return min(cfg.get("max_current") or L.AMPS_MIN_X10 / 10, L.AMPS_MAX)


def config(prefix, cfg, entity, discovery="homeassistant"):
    """(discovery topic, JSON payload) of one entity."""
    obj, component, name, suffix, extra = entity
    node = node_id(prefix)
    c = {"~": prefix, "name": name, "unique_id": node + "_" + obj,
         "default_entity_id": component + "." + entity_slug(node + "_" + obj),
         "availability_topic": "~/status", "device": device(cfg, node),
         "origin": {"name": "evse", "sw_version": VERSION}}
    if suffix is not None:
        c["state_topic"] = "~/" + suffix
    c.update(_number(cfg) if component == "number" else extra or {})
    return _topic(discovery, component, node, obj), json.dumps(c)


def _topic(discovery, component, node, obj):
    return "%s/%s/%s/%s/config" % (discovery, component, node, obj)


def _announced(cfg, obj):
    if obj in WITH_LOCK:
        return bool(cfg.get("plug_lock")) and cfg.get("connector") == "type2-socket"
    return cfg.get("meter", "none") != "none" or obj not in METERED


def configs(prefix, cfg, discovery="homeassistant"):
    for e in ENTITIES:
        if _announced(cfg, e[0]):
            yield config(prefix, cfg, e, discovery)


def retired(prefix, cfg, discovery="homeassistant"):
    """The config and state topics of each entity this charger could announce but does not now (a
    meter removed): an empty retained payload there removes the entity from Home Assistant and the
    broker's copy of its last state."""
    for obj, component, _, suffix, _ in ENTITIES:
        if not _announced(cfg, obj):
            yield _topic(discovery, component, node_id(prefix), obj)
            if suffix is not None:
                yield prefix + "/" + suffix


def forgotten(old, prefix, discovery="homeassistant"):
    """The topics the charger held under its previous prefix `old`: its status, states and (unless
    the new prefix gives the same node_id, whose configs the new ones replace) its configs. An empty
    retained payload on each removes the old device from Home Assistant and the broker."""
    yield old + "/status"
    node = node_id(old)
    for obj, component, _, suffix, _ in ENTITIES:
        if node != node_id(prefix):
            yield _topic(discovery, component, node, obj)
        if suffix:
            yield old + "/" + suffix
