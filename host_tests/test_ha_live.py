"""Home Assistant itself against the charger: PyPI homeassistant 2024.3.3 (the last release for Python
3.11), or any later one EVSE_HA_HASS names (2026.2.3 ran here on Python 3.13, docs/mqtt.md), with its
MQTT integration, connected to mosquitto on a free port, the charger on the virtual
bench publishing to the same broker. With no YAML for the charger, Home Assistant makes its twelve
entities from discovery alone (device classes, units, state classes as the energy dashboard wants
them); its recorder follows a session (A1, B2, C2, then paused in C1), the energy grows, the current
limit's number shows the 0 A of a pause; its own automations drive the charger through its entities
(the number to 10 A while charging, the switch off once paused, then the stop button), as Home
Assistant publishes them ("10", "OFF", "PRESS"); and its log has no error from the MQTT integration.

`make test-ha` installs Home Assistant into build/ha-venv (about 400 MB and 4 minutes) and runs this;
elsewhere it is skipped with its reason. Its tables (test_mqtt_ha.py) run in every `make test`."""
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from mqtt_broker import Subscriber
from test_mqtt_bench import Bench, eventually
from tools.sim import mock_machine as mm

HASS = os.environ.get("EVSE_HA_HASS")
pytestmark = pytest.mark.skipif(not HASS, reason="Home Assistant not installed here: make test-ha")
P = "garage/evse/"
UP_S = 300                # the first start installs the http component's own requirements from PyPI
CONFIG = """homeassistant:
  name: Garage
  latitude: 52.5
  longitude: 13.4
  elevation: 30
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
logger:
  default: warning
recorder:
  db_url: sqlite:///%(conf)s/home-assistant_v2.db
  commit_interval: 1
automation:
  - alias: a lower limit while charging
    trigger:
      - platform: state
        entity_id: %(state)s
        to: C2
    action:
      - service: number.set_value
        target:
          entity_id: %(limit)s
        data:
          value: 10
  - alias: charging off once paused
    trigger:
      - platform: state
        entity_id: %(state)s
        to: C1
    action:
      - service: switch.turn_off
        target:
          entity_id: %(enabled)s
  - alias: stop once charging is off
    trigger:
      - platform: state
        entity_id: %(enabled)s
        to: "off"
    action:
      - service: button.press
        target:
          entity_id: %(stop)s
"""
# Each entity by its component and discovery object id: the entity id's part that releases before
# 2025.10 make from the device's and its own name, then (device class, unit, state class).
ENTITIES = {
    "sensor.state": ("ev_charger_sn42_state", None, None, None),
    "sensor.fault": ("ev_charger_sn42_fault", None, None, None),
    "sensor.offered_current": ("ev_charger_sn42_offered_current", "current", "A", "measurement"),
    "sensor.current": ("ev_charger_sn42_current", "current", "A", "measurement"),
    "sensor.power": ("ev_charger_sn42_power", "power", "W", "measurement"),
    "sensor.session_energy": ("ev_charger_sn42_session_energy", "energy", "Wh", "total_increasing"),
    "sensor.total_energy": ("ev_charger_sn42_total_energy", "energy", "Wh", "total_increasing"),
    "sensor.temperature": ("ev_charger_sn42_temperature", "temperature", "°C", "measurement"),
    "binary_sensor.contactor": ("ev_charger_sn42_contactor", "power", None, None),
    "number.current_limit": ("ev_charger_sn42_current_limit", "current", "A", None),
    "switch.enabled": ("ev_charger_sn42_charging_enabled", None, None, None),
    "button.stop": ("ev_charger_sn42_stop_charging", None, None, None),
}


def hass_version():
    out = subprocess.run([HASS, "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in out.split()[-1].split(".")[:2])


def entity_ids():
    """{short name: entity id}: from 2025.10 on, Home Assistant takes the id from the discovery's
    default_entity_id (the node id and the object id); before, from the device's and the entity's
    names."""
    new = hass_version() >= (2025, 10)
    out = {}
    for key, (named, *_) in ENTITIES.items():
        domain, obj = key.split(".")
        out[key] = domain + "." + ("garage_evse_" + obj if new else named)
    return out


def start_ha(conf, port, ids):
    os.makedirs(os.path.join(conf, ".storage"))
    with open(os.path.join(conf, "configuration.yaml"), "w") as f:
        f.write(CONFIG % dict(conf=conf, state=ids["sensor.state"], limit=ids["number.current_limit"],
                              enabled=ids["switch.enabled"], stop=ids["button.stop"]))
    entry = {"entry_id": "mqtt01", "version": 1, "minor_version": 1, "domain": "mqtt",
             "title": "mosquitto", "data": {"broker": "127.0.0.1", "port": port, "discovery": True},
             "options": {}, "pref_disable_new_entities": False, "pref_disable_polling": False,
             "source": "user", "unique_id": None, "disabled_by": None}
    with open(os.path.join(conf, ".storage", "core.config_entries"), "w") as f:
        json.dump({"version": 1, "minor_version": 1, "key": "core.config_entries",
                   "data": {"entries": [entry]}}, f)
    return subprocess.Popen([HASS, "-c", conf], stdout=open(os.path.join(conf, "hass.out"), "w"),
                            stderr=subprocess.STDOUT)


def recorded(conf):
    """{entity id: [states in order]} from Home Assistant's recorder."""
    db = sqlite3.connect(os.path.join(conf, "home-assistant_v2.db"))
    out = {}
    for eid, st in db.execute("SELECT m.entity_id, s.state FROM states s JOIN states_meta m "
                              "ON s.metadata_id = m.metadata_id ORDER BY s.state_id"):
        out.setdefault(eid, []).append(st)
    return out


def test_home_assistant_makes_the_charger_from_discovery_and_follows_a_session(tmp_path, mosquitto):
    broker = mosquitto()
    conf = str(tmp_path / "ha")
    ids = entity_ids()
    ha = start_ha(conf, broker.port, ids)
    msgs = []

    async def session():
        sub = await Subscriber(broker.port).start()
        t0 = time.time()
        while sub.last("homeassistant/status") != "online":        # HA's birth message
            assert time.time() - t0 < UP_S and ha.poll() is None, "Home Assistant did not start"
            await asyncio.sleep(0.5)
        b = await Bench(broker.port, tmp_path).start()
        try:
            await b.until(lambda: sub.last(P + "state") == "A1", what="A1")
            await asyncio.sleep(3)
            b.d.plug()
            await b.until(lambda: sub.last(P + "state") == "B2", what="B2")
            b.d.charge(16)
            await b.until(lambda: sub.last(P + "contactor") == "ON", 30, what="charging")
            # Home Assistant's automation sets its number to 10 A once it sees C2
            await b.until(lambda: sub.last(P + "offered_a") == "10.0", 30, what="HA's 10 A")
            await asyncio.sleep(5)
            b.app.command("limit", 0, mm.clock.us // 1000, "mqtt")   # a pause: the limit in force 0
            await b.until(lambda: sub.last(P + "limit_a") == "0.0", what="limit 0")
            # paused (C1): the automations turn its switch off, then press its stop button
            await b.until(lambda: sub.last(P + "state") == "disabled", 30, what="HA's switch off")
            await asyncio.sleep(2)
        finally:
            await b.stop()
        try:
            await eventually(lambda: sub.last(P + "status") == "offline")     # the charger's will
        finally:
            await sub.close()
        msgs.extend(sub.msgs)

    try:
        asyncio.run(asyncio.wait_for(session(), UP_S + 120))
        t0 = time.time()        # Home Assistant records the will before it is stopped
        while recorded(conf)[ids["number.current_limit"]][-1] != "unavailable":
            assert time.time() - t0 < 30, "Home Assistant did not record the will"
            time.sleep(0.5)
    finally:
        ha.send_signal(signal.SIGTERM)
        ha.wait(60)
    with open(os.path.join(conf, ".storage", "core.entity_registry")) as f:
        reg = [e for e in json.load(f)["data"]["entities"] if e["platform"] == "mqtt"]
    got = dict((e["entity_id"], (e.get("original_device_class"), e.get("unit_of_measurement"),
                                 (e.get("capabilities") or {}).get("state_class"))) for e in reg)
    assert got == dict((ids[k], v[1:]) for k, v in ENTITIES.items())
    limit = [e for e in reg if e["entity_id"] == ids["number.current_limit"]][0]
    assert limit["capabilities"]["min"] == 0 and limit["capabilities"]["max"] == 32
    h = recorded(conf)
    states = [s for s in h[ids["sensor.state"]] if s not in ("unknown", "unavailable")]
    assert states == ["A1", "B2", "C2", "C1", "disabled"], states
    assert "32.0" in h[ids["sensor.current"]]
    # Home Assistant's own commands, as its number, switch and button publish them
    assert [(t[len(P):], x) for t, x, _ in msgs if t.endswith("/set")] == \
        [("limit/set", "10"), ("enabled/set", "OFF"), ("stop/set", "PRESS")]
    assert "10.0" in h[ids["sensor.offered_current"]] and "10.0" in h[ids["number.current_limit"]]
    assert h[ids["switch.enabled"]][-3:] == ["on", "off", "unavailable"]
    assert h[ids["number.current_limit"]][-2:] == ["0.0", "unavailable"]   # then the will
    energy = [float(s) for s in h[ids["sensor.total_energy"]] if s[0].isdigit()]
    assert energy[-1] > 0 and energy == sorted(energy)
    assert h[ids["binary_sensor.contactor"]][-3:] == ["on", "off", "unavailable"]
    with open(os.path.join(conf, "home-assistant.log")) as f:
        errors = [x for x in f if "ERROR" in x and "mqtt" in x]
    assert errors == []
