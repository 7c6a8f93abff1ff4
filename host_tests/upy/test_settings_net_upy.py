# The network settings on both interpreters: mqtt_url validated when set (an unusable one turns MQTT
# off and says why), the prefix, user and password rules, and fallback_timeout_s guarded (a damaged
# value never silently stops the watch on a remote limit: nothing is offered until it is set).
import json

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.services import console as C
from evse.services import settings as S
from evse.services.mqtt_cfg import mqtt_url_parts

import upytest


def test_mqtt_url_forms():
    assert mqtt_url_parts("mqtt://10.0.0.2") == (False, "10.0.0.2", 1883)
    assert mqtt_url_parts("mqtts://broker.lan") == (True, "broker.lan", 8883)
    assert mqtt_url_parts("mqtt://broker.lan:1884/") == (False, "broker.lan", 1884)
    for bad in ("http://x", "mqtt://", "mqtt://a b", "mqtt://h:0", "mqtt://h:65536", "mqtt://h:x",
                "mqtt://user:pw@host", "ws://h", "mqtt:///x"):
        try:
            mqtt_url_parts(bad)
            assert False, bad
        except ValueError:
            pass


def test_a_bad_mqtt_setting_is_said_and_turns_mqtt_off_not_the_charger():
    for key, bad in (("mqtt_url", "http://broker"), ("mqtt_prefix", "home/#"), ("mqtt_prefix", "/evse"),
                     ("mqtt_prefix", "a//b"), ("mqtt_password", "pass word"), ("mqtt_user", "\u00e9")):
        cfg, errs, blocked = S.check({"max_current": 16, key: bad})
        assert cfg[key] == S.SCHEMA[key][1] and not blocked, (key, bad)
        assert len(errs) == 1 and errs[0].startswith(key + ": "), errs
    cfg, errs, blocked = S.check({"max_current": 16, "mqtt_url": "mqtts://b.lan:8884",
                                  "mqtt_prefix": "home/garage/evse", "mqtt_user": "evse",
                                  "mqtt_password": "s3cret!"})
    assert not errs and not blocked and cfg["mqtt_url"] == "mqtts://b.lan:8884"


def test_fallback_settings():
    cfg, errs, blocked = S.check({"max_current": 16})
    assert cfg["fallback_timeout_s"] == 0 and cfg["fallback_current_a"] == 6.0 and not blocked
    for bad in (-1, 86401, "60", 1.5, None):
        cfg, errs, blocked = S.check({"max_current": 16, "fallback_timeout_s": bad})
        assert list(blocked) == ["fallback_timeout_s"], (bad, blocked)
    cfg, errs, blocked = S.check({"max_current": 16, "fallback_current_a": 99})
    assert cfg["fallback_current_a"] == 6.0 and not blocked      # a lost one falls to 6 A: lower


def test_console_set_validates_mqtt_like_every_setting():
    rig = Rig(config={"max_current": 32})
    con = C.Console(rig.app, None)
    sent = []
    con.send = lambda obj, reply=False: sent.append(obj)
    con.handle(json.dumps({"cmd": "set", "values": {"mqtt_url": "mqtt//x"}}), 0)
    assert sent[-1]["ok"] is False and "mqtt_url: must start with mqtt://" in sent[-1]["error"]
    con.handle(json.dumps({"cmd": "set", "values": {"mqtt_url": "mqtt://10.0.0.2",
                                                    "fallback_timeout_s": 60}}), 0)
    assert sent[-1]["ok"] and sorted(sent[-1]["reboot"]) == ["fallback_timeout_s", "mqtt_url"]
    cfg, errs, blocked = S.load(rig.app.settings_path)
    assert cfg["mqtt_url"] == "mqtt://10.0.0.2" and cfg["fallback_timeout_s"] == 60


if __name__ == "__main__":
    upytest.run(globals())
