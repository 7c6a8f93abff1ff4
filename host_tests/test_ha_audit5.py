"""A fifth audit of the charger in Home Assistant and its MQTT face (docs/mqtt.md).

1. The total energy on MQTT never goes back across a power cut. Home Assistant's recorder takes a
   `total_increasing` sensor that falls by less than 10 % for a dip (that hour's sum goes down:
   a negative bar in the energy dashboard, and a warning "not strictly increasing") and one that
   falls by more for a new meter cycle (the value after the fall counted again as new energy):
   homeassistant/components/sensor/recorder.py, reset_detected and compile_statistics. The
   energy count comes back at boot from its last checkpoint (every 50 Wh or 60 s): the total
   published before the cut was up to 50 Wh above it.

The scenarios against Home Assistant itself skip without it (`make test-ha` names its `hass` in
EVSE_HA_HASS), as test_ha_live.py does."""
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
