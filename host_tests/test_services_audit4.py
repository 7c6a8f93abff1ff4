"""The fourth audit of the services (the console, the settings as they are shown, MQTT and Home
Assistant) as bench scenarios: each failed on the firmware as it was."""
import asyncio
import io
import json

from mqtt_broker import Subscriber
from test_mqtt_bench import Bench, run
from host_tests.test_console import MemStream, ask, make
from host_tests.test_evsectl import RigPort
from tools.evsectl import __main__ as ctl
from tools.sim.drive import Drive
from tools.sim.rig import Rig
from evse.services import console as C
from evse.services import ha
from evse.services import settings as S

SECRETS = {"web_password": "another-password-42", "mqtt_password": "topsecret-42",
           "wifi_password": "wifikey-123456", "ocpp_password": "ocpp-password-4242"}


# --- 1. the console's `settings` showed every password in clear -------------------------------------
# docs/web.md: passwords are write-only (GET /api/v1/settings reads "(set)"). The console's
# `settings` (and `set`'s reply, and `pending`) sent them in clear: anyone at the USB port, or a log
# of the session (evsectl settings > file), read the Wi-Fi key and the web, MQTT and OCPP passwords.

def test_the_console_never_shows_a_password_and_a_read_then_write_back_keeps_them(tmp_path):
    rig, s, con = make({"max_current": 32, "wifi_password": SECRETS["wifi_password"]}, tmp_path)
    rig.run(1.0)
    s.lines()
    r = ask(rig, s, {"cmd": "set", "id": 1, "values": {k: v for k, v in SECRETS.items()
                                                        if k != "wifi_password"}}, run=1.0)[0]
    assert r["ok"] and r["saved"] == {"web_password": "(set)", "mqtt_password": "(set)",
                                      "ocpp_password": "(set)"}, r
    r = ask(rig, s, {"cmd": "settings", "id": 2}, run=1.0)[0]
    text = json.dumps(r)
    assert not [v for v in SECRETS.values() if v in text], text
    assert r["settings"]["web_password"] == r["settings"]["wifi_password"] == "(set)"
    assert r["settings"]["wifi_ap_password"] == ""          # none set: empty, as on the web
    assert r["pending"]["mqtt_password"] == "(set)"          # saved for the next boot
    # the integrator's script: read the settings, change one value, write the ones it read back
    # (a whole settings object is over the console's 512-byte line: some of them)
    values = dict((k, v) for k, v in r["settings"].items() if k.endswith("_password") or k[:4] == "mqtt")
    values.update(r["pending"])          # what is saved for the next boot, as the page shows it
    values["wakeup_after_s"] = 60
    w = ask(rig, s, {"cmd": "set", "id": 3, "values": values}, run=1.0)[0]
    assert w["ok"], w
    stored, errors, _ = S.load(rig.app.settings_path)
    assert {k: stored[k] for k in SECRETS} == SECRETS and stored["wakeup_after_s"] == 60, errors
    assert rig.app.cfg["web_password"] == SECRETS["web_password"]


def test_evsectl_settings_prints_no_password(tmp_path):
    rig = Rig(config={"max_current": 20, "web_password": SECRETS["web_password"]}, flash_dir=str(tmp_path))
    rig.run(1.0)
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "2", "settings"], out=out, stream=RigPort(rig))
    assert rc == ctl.EXIT_OK and SECRETS["web_password"] not in out.getvalue()
    assert 'web_password     "(set)"' in out.getvalue()


# --- 5. text above U+FFFF from evsectl ----------------------------------------------------------------
# Python's json.dumps writes "😀" as "\ud83d\ude00"; MicroPython's json never joins the pair and saved
# bytes that are no UTF-8, sent back in a reply the host could not read (upy/test_services_audit4_upy.py).
# The console refuses such escapes now; evsectl sends the character itself, as UTF-8.

def test_evsectl_sets_text_above_u_ffff_as_utf8(tmp_path):
    rig = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    rig.run(1.0)
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "2", "set", "serial=SN\U0001f600"], out=out, stream=RigPort(rig))
    assert rc == ctl.EXIT_OK, out.getvalue()
    assert S.load(rig.app.settings_path)[0]["serial"] == "SN\U0001f600"


# --- 2. MQTT switched off: the charger stayed in Home Assistant for ever ----------------------------
# Home Assistant's MQTT discovery: an empty (retained) payload on an entity's config topic removes it.
# Clearing mqtt_url (for the next boot) left the twelve configs retained: after the reboot nothing of
# MQTT runs, and Home Assistant showed the device unavailable (the will's "offline") for ever, its
# last states kept by the broker. ESPurna and EMS-ESP clear their configs when the installer turns
# Home Assistant off; so does the charger now, while it is still connected, then ends with DISCONNECT.

def test_mqtt_switched_off_removes_the_charger_from_home_assistant(tmp_path, mosquitto):
    broker = mosquitto()
    prefix = "garage/evse"
    configs = [ha.config(prefix, {}, e)[0] for e in ha.ENTITIES]

    async def main():
        a = await Bench(broker.port, tmp_path, mqtt_prefix=prefix).start()
        try:
            await a.until(lambda: a.svc.connects == 1 and a.svc.sent and not a.svc.wake.is_set(), 100,
                          "connected, all announced")
            con = C.Console(a.app, MemStream())
            r = con.answer({"cmd": "set", "values": {"mqtt_url": ""}}, 0)
            assert r["ok"] and r["reboot"] == ["mqtt_url"], r
            await a.until(lambda: not a.svc.running and not a.svc.connected, 100, "MQTT ended")
        finally:
            await a.stop()
        late = await Subscriber(broker.port).start()          # Home Assistant restarting
        await asyncio.sleep(1.0)
        held = [(t, p) for t, p, retained in late.msgs if t.startswith(prefix + "/") or t in configs]
        await late.close()
        assert not held, held         # no config (no entity), no state, no "offline" status

    run(main())


# --- 6. the limit's number ran past the board's rating --------------------------------------------------
# max_current 40 on a 32 A board (boards/esp32_devkitc.py, MAX_CURRENT_A 32): the number was announced
# 0-40 A; Home Assistant's slider took 33-40 A, the charger offered 32 and the slider jumped back.

def test_the_limits_number_ends_at_the_boards_rating(tmp_path, mosquitto):
    broker = mosquitto()
    topic = ha.config("garage/evse", {}, [e for e in ha.ENTITIES if e[0] == "current_limit"][0])[0]

    async def main():
        sub = await Subscriber(broker.port).start()
        a = Bench(broker.port, tmp_path)
        a.d = Drive(config={"max_current": 40, "mqtt_url": "mqtt://127.0.0.1:%d" % broker.port,
                            "mqtt_prefix": "garage/evse"}, board="esp32_devkitc", flash_dir=str(tmp_path))
        a.app, a.svc, a.world = a.d.app, a.d.app.mqtt, a.d.world
        await a.start()
        try:
            await a.until(lambda: sub.last(topic), 100, "the number announced")
            assert json.loads(sub.last(topic))["max"] == 32
        finally:
            await a.stop()
            await sub.close()

    run(main())
