"""A fifth audit of the charger in Home Assistant and its MQTT face (docs/mqtt.md).

1. The total energy on MQTT never goes back across a power cut. Home Assistant's recorder takes a
   `total_increasing` sensor that falls by less than 10 % for a dip (that hour's sum goes down:
   a negative bar in the energy dashboard, and a warning "not strictly increasing") and one that
   falls by more for a new meter cycle (the value after the fall counted again as new energy):
   homeassistant/components/sensor/recorder.py, reset_detected and compile_statistics. The
   energy count comes back at boot from its last checkpoint (every 50 Wh or 60 s): the total
   published before the cut was up to 50 Wh above it.

2. Against Home Assistant itself: what stop 38 changed (the limit's number ends at the board's
   rating; a new mqtt_prefix takes the old device away; clearing mqtt_url removes the charger),
   and the charger available again after the broker restarts without persistence.

The scenarios against Home Assistant itself skip without it (`make test-ha` names its `hass` in
EVSE_HA_HASS), as test_ha_live.py does."""
import asyncio
import json
import os
import signal
import time

import pytest

from mqtt_broker import Broker, Subscriber, need_mosquitto
from test_console import MemStream
import test_ha_live as live
import test_mqtt_bench
from test_mqtt_bench import Bench
from evse.services import console as C
from tools.sim.drive import Drive

CFG = {"max_current": 32, "meter": "ct", "serial": "SN42", "mqtt_url": "mqtt://127.0.0.1:9",
       "mqtt_prefix": "garage/evse"}


def published_totals(d, seconds):
    """The total_wh the MQTT service would publish, read once a second of the bench's time."""
    out = []
    for _ in range(seconds):
        d.run(1.0)
        out.append(int(d.app.mqtt.topics["total_wh"]))
    return out


def test_the_total_energy_on_mqtt_never_goes_back_across_a_power_cut(tmp_path):
    """A car charges at 32 A (7.4 kW) for 45 s: 92 Wh counted, the last checkpoint at 50 Wh.
    The power is cut (the next boot reads the same flash). Home Assistant already holds the last
    total published; the first one after the boot must not be below it, and the energy charged
    after the boot is counted on top."""
    d = Drive(config=CFG, flash_dir=str(tmp_path))
    d.run(2.0)
    d.plug()
    d.charge(32)
    before = published_totals(d, 45)
    assert before == sorted(before) and before[-1] >= 50
    assert d.app.meter.wh_total > 90                  # the count itself, ahead of the flash
    d2 = Drive(config=CFG, flash_dir=str(tmp_path))   # power cut: a boot on the same flash
    after = published_totals(d2, 3)
    assert after[0] >= before[-1], (before[-5:], after)
    d2.plug()
    d2.charge(32)
    after += published_totals(d2, 70)
    assert after == sorted(after) and after[-1] > before[-1] + 50, after


# -- Home Assistant itself (skipped without it: make test-ha) --------------------------------------

class HomeAssistant:
    """mosquitto and Home Assistant (test_ha_live's, without its automations) in tmp_path."""

    def __init__(self, tmp_path, monkeypatch):
        if not live.HASS:
            pytest.skip("Home Assistant not installed here: make test-ha")
        need_mosquitto()
        monkeypatch.setattr(live, "CONFIG", live.CONFIG.split("automation:")[0])
        self.broker = Broker(tmp_path).start()
        self.conf = str(tmp_path / "ha")
        self.ids = live.entity_ids()
        self.proc = live.start_ha(self.conf, self.broker.port, self.ids)

    async def up(self):
        sub = await Subscriber(self.broker.port).start()
        t0 = time.time()
        while sub.last("homeassistant/status") != "online":        # its birth message
            assert time.time() - t0 < live.UP_S and self.proc.poll() is None, "Home Assistant did not start"
            await asyncio.sleep(0.5)
        return sub

    async def recorded(self, key, pred, seconds=60):
        """Until Home Assistant's recorder holds states of entity `key` for which pred is true."""
        t0 = time.time()
        eid = self.ids.get(key, key)
        while not pred(live.recorded(self.conf).get(eid, [])):
            assert time.time() - t0 < seconds, (eid, live.recorded(self.conf).get(eid))
            await asyncio.sleep(0.5)

    async def registry(self, name="entity_registry"):
        """The registry as Home Assistant saves it (10 s after a change)."""
        t0 = time.time()
        while True:
            try:
                with open(os.path.join(self.conf, ".storage", "core." + name)) as f:
                    return json.load(f)["data"]
            except (OSError, ValueError):
                assert time.time() - t0 < 60, "no %s saved" % name
                await asyncio.sleep(1)

    def run(self, coro, seconds=300):
        """coro, then Home Assistant stopped: its log's lines from the MQTT integration."""
        try:
            asyncio.run(asyncio.wait_for(coro, live.UP_S + seconds))
        finally:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
            self.broker.stop()
        print("Home Assistant", live.hass_version())
        with open(os.path.join(self.conf, "home-assistant.log")) as f:
            return [x for x in f.read().splitlines() if "mqtt" in x]


def test_home_assistant_follows_a_rating_a_new_prefix_and_an_mqtt_url_cleared(tmp_path, monkeypatch):
    """On a Pico (MAX_CURRENT_A 32) with max_current 40, Home Assistant's number ends at 32 A.
    The prefix changes (a reboot with mqtt_prefix home/evse2): the old device's entities leave
    Home Assistant and the new ones come (before 2025.10 under the same entity ids, made from the
    device's name: the history goes on). Then mqtt_url is cleared: every entity and the device
    leave Home Assistant; its log has no MQTT warning or error."""
    ha = HomeAssistant(tmp_path, monkeypatch)
    monkeypatch.setattr(test_mqtt_bench, "Drive", lambda **kw: Drive(board="rpi_pico", **kw))
    flash = tmp_path / "flash"
    flash.mkdir()
    out = {}

    async def main():
        sub = await ha.up()
        b = await Bench(ha.broker.port, flash, max_current=40).start()
        try:
            await ha.recorded("number.current_limit", lambda s: "32.0" in s)
        finally:
            await b.stop()
        await ha.recorded("number.current_limit", lambda s: s[-1:] == ["unavailable"])
        out["limit"] = [e["capabilities"] for e in (await ha.registry())["entities"]
                        if e["entity_id"] == ha.ids["number.current_limit"]]
        b = await Bench(ha.broker.port, flash, max_current=40, mqtt_prefix="home/evse2").start()
        try:
            if live.hass_version() < (2025, 10):       # ids from the device's and the entity's names
                await ha.recorded("sensor.state", lambda s: s.count("A1") == 2, 30)
            else:                                       # from default_entity_id: the new node id
                await ha.recorded("sensor.home_evse2_state", lambda s: "A1" in s, 30)
            r = C.attach(b.app, MemStream()).answer({"cmd": "set", "values": {"mqtt_url": ""}}, 0)
            assert r["saved"] == {"mqtt_url": ""}, r
            await b.until(lambda: not b.svc.running, what="MQTT off")
            await asyncio.sleep(12)              # the registries saved
        finally:
            await b.stop()
        out["entities"] = [e for e in (await ha.registry())["entities"] if e["platform"] == "mqtt"]
        out["devices"] = [d for d in (await ha.registry("device_registry"))["devices"]
                          if any(i[0] == "mqtt" for i in d["identifiers"])]
        await sub.close()

    log = ha.run(main())
    assert out["limit"] == [{"max": 32, "min": 0, "mode": "slider", "step": 1}], out["limit"]
    assert out["entities"] == [] and out["devices"] == [], out
    assert [x for x in log if "ERROR" in x or "WARNING" in x] == []


def test_home_assistant_has_the_charger_again_after_the_broker_restarts(tmp_path, monkeypatch):
    """mosquitto restarts without persistence while a car charges: it forgot every retained
    config, state and the availability. Home Assistant reconnects and says `online` again on
    homeassistant/status, the charger reconnects with its backoff and publishes everything again:
    Home Assistant shows the charger available and charging again."""
    ha = HomeAssistant(tmp_path, monkeypatch)
    out = {}

    async def main():
        await (await ha.up()).close()
        b = await Bench(ha.broker.port, tmp_path).start()
        try:
            await b.until(lambda: b.svc.topics.get("state") == "A1", what="A1")
            await asyncio.sleep(2)
            b.d.plug()
            await b.until(lambda: b.svc.topics.get("state") == "B2", what="B2")
            b.d.charge(16)
            await ha.recorded("sensor.state", lambda s: s[-1:] == ["C2"])
            ha.broker.stop()
            await b.until(lambda: not b.svc.connected, 10, "broker gone")
            await asyncio.sleep(1)
            ha.broker.start()
            await ha.recorded("sensor.state", lambda s: s[-2:] == ["unavailable", "C2"], 120)
            out["connects"] = b.svc.connects
        finally:
            await b.stop()

    log = ha.run(main())
    assert out["connects"] == 2
    assert [x for x in log if "ERROR" in x] == [], log
