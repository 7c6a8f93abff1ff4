"""The third audit of the settings as one contract across every face (the console's `set`, the REST
API's PUT /api/v1/settings, `make flash SETTINGS=...`, the file on flash, OCPP): each test a bench
scenario that failed before its fix."""
import asyncio
import json
import os

import pytest

from evse.ocpp.config import Config
from evse.services import console as C
from evse.services import settings as S
from test_console import MemStream
from test_web_upy import Bench as WebBench
from tools import flash as F
from tools.sim.rig import Rig

AUTH_KEY = "00112233445566778899aabbccddeeff"      # an OCPP AuthorizationKey: a password in hex


def console(config=None):
    cfg = {"max_current": 32}
    cfg.update(config or {})
    rig = Rig(config=cfg)
    C.attach(rig.app, MemStream())
    return rig, rig.app.console


def flash_refuses(tmp_path, values, board="sim"):
    """The reason `make flash SETTINGS=...` refuses a file holding values (None: it takes it)."""
    p = tmp_path / "my-settings.json"
    p.write_text(json.dumps(dict({"max_current": 32}, **values)))
    try:
        path = F.settings_file(board, str(p))
    except F.FlashError as e:
        return str(e)
    os.remove(path)
    return None


# --- 1. ocpp_config: every value was taken as it came, checked by no face --------------------------
# OCPP 1.6 section 9.1: ClockAlignedDataInterval is an integer (seconds). The setting ocpp_config gives
# the keys their first values; "900" (text) was saved by the console, the REST API and make flash
# alike, and then the OCPP service raised TypeError on every tick once the clock was set.

@pytest.mark.parametrize("value, word", [
    ({"ClockAlignedDataInterval": "900"}, "whole number"),      # "900" is not 900
    ({"HeartbeatInterval": -5}, "whole number 1..86400"),
    ({"MeterValueSampleInterval": True}, "whole number"),
    ({"LocalPreAuthorize": 1}, "true or false"),
    ({"StopTxnSampledData": "Voltage,Bogus"}, "a list of"),
    ({"NumberOfConnectors": 2}, "read-only"),
    ({"HeartbeatIntervall": 30}, "no OCPP configuration key"),
])
def test_a_bad_ocpp_config_value_is_refused_alike_by_the_console_the_web_and_make_flash(tmp_path, value, word):
    rig, con = console()
    r = con.answer({"cmd": "set", "values": {"ocpp_config": value}}, 0)
    assert r["ok"] is False and "ocpp_config" in r["error"] and word in r["error"], r
    web = WebBench()
    web.login()
    code, r = web.call("PUT", "settings", {"values": {"ocpp_config": value}})
    assert code == 400 and word in r["error"], r
    why = flash_refuses(tmp_path, {"ocpp_config": value})
    assert why is not None and word in why, why


def test_a_damaged_ocpp_config_on_flash_is_named_and_never_breaks_the_ocpp_service(tmp_path):
    """A file written by hand or by the old firmware: the key falls back to its default ({}), said
    by name at boot (ocpp_config is no guarded key: it raises no current)."""
    p = tmp_path / "settings.json"
    p.write_text(json.dumps({"max_current": 32, "ocpp_config": {"ClockAlignedDataInterval": "900"}}))
    cfg, errors, blocked = S.load(str(p))
    assert cfg["ocpp_config"] == {} and blocked == {}
    assert errors == ["ocpp_config: ClockAlignedDataInterval: '900' is not a whole number 0..86400 "
                      "(using the default {})"]


def test_the_ocpp_service_survives_the_clock_after_a_text_interval_was_offered(tmp_path):
    """The same scenario on the OCPP bench: the charger boots at a central system with that value
    in its settings; once the clock is set no OcppService error line follows (before: one every 10 ms)."""
    from host_tests.test_ocpp_bench import Bench, statuses
    from ocpp_cs import CentralSystem

    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await Bench(cs, tmp_path, ocpp_config={"ClockAlignedDataInterval": "900",
                                                   "MeterValueSampleInterval": 0}).start()
        try:
            await b.until(lambda: b.svc.accepted and statuses(cs)[-1:] == ["Available"], what="boot")
            await b.until(lambda: b.svc.wall.now(0) is not None, what="clock")
            b.port.tx = bytearray()
            t_end = b.d.now_us + 2000000
            await b.until(lambda: b.d.now_us >= t_end, 5, what="2 s")
            lines = [x for x in b.port.tx.decode().splitlines() if "OcppService" in x]
            assert lines == [], lines[:2]
            assert any(e.startswith("ocpp_config: ClockAlignedDataInterval") for e in b.app.settings_errors)
        finally:
            await b.stop()
            await cs.stop()
    asyncio.run(main())


def test_ocpp_config_keys_in_any_letter_case_are_applied_not_dropped():
    """A CiString50 key (section 6.3): 'heartbeatinterval' is HeartbeatInterval. It was accepted by
    every face and then silently ignored by the OCPP service."""
    assert S.validate({"ocpp_config": {"meterValueSampleInterval": 30}})[1] == []
    assert Config(None, {"meterValueSampleInterval": 30}).get("MeterValueSampleInterval") == 30


# --- 2. the AuthorizationKey read back through the web ---------------------------------------------
# docs/web.md: passwords are write-only. OCPP's AuthorizationKey (the Basic auth password, in hex)
# is write-only in GetConfiguration too; in ocpp_config it was saved and sent back in GET
# /api/v1/settings ("pending" until the reboot, "settings" after it).

def test_an_authorization_key_is_never_kept_in_ocpp_config_nor_read_back_over_the_web():
    web = WebBench()
    web.login()
    code, r = web.call("PUT", "settings", {"values": {"ocpp_config": {"AuthorizationKey": AUTH_KEY}}})
    assert code == 400 and "write-only" in r["error"] and "ocpp_password" in r["error"], r
    code, r = web.call("GET", "settings")
    assert code == 200 and AUTH_KEY not in json.dumps(r)


def test_a_password_saved_over_the_web_is_not_sent_back_in_the_reply():
    """GET /api/v1/settings reads each password as "(set)"; the PUT's reply echoed it in clear,
    and the page then put it into its field (loadSettings(j.saved)) as GET never does."""
    web = WebBench()
    web.login()
    code, r = web.call("PUT", "settings", {"values": {"mqtt_password": "topsecret-42",
                                                      "web_password": "another-password-42"}})
    assert code == 200 and "topsecret-42" not in json.dumps(r) and "another-password" not in json.dumps(r), r
    assert r["saved"] == {"mqtt_password": "(set)", "web_password": "(set)"}


# --- 3. ocpp_id: docs/ocpp.md says 1-48 characters; "" and "garage 1" were saved ---------------------
# connection.py puts the id into the URL's path as it is and sends it as the Basic auth user name:
# "" connected to the central system's base path as nobody, "garage 1" sent the request line
# "GET /ocpp/garage 1 HTTP/1.1" (RFC 9112 3.2: no spaces in a request-target), "a:b" is an invalid
# Basic auth user-id (RFC 7617 2). Refused alike by every face while OCPP is on (ocpp_url set).

@pytest.mark.parametrize("cpid", ["", "garage 1", "garage/1", "cp?1", "gar:age", "Zürich-1"])
def test_an_ocpp_id_no_central_system_can_be_reached_under_is_refused_by_every_face(tmp_path, cpid):
    url = "ws://cs.example.net/ocpp"
    rig, con = console({"ocpp_url": url})
    r = con.answer({"cmd": "set", "values": {"ocpp_id": cpid}}, 0)
    assert r["ok"] is False and "ocpp_id must be 1-48 characters" in r["error"], r
    web = WebBench(config={"ocpp_url": url})
    web.login()
    code, r = web.call("PUT", "settings", {"values": {"ocpp_id": cpid}})
    assert code == 400 and "ocpp_id must be" in r["error"], r
    why = flash_refuses(tmp_path, {"ocpp_url": url, "ocpp_id": cpid})
    assert why is not None and "ocpp_id must be" in why, why


def test_a_good_ocpp_id_still_passes_and_an_empty_one_is_harmless_while_ocpp_is_off():
    assert S.validate({"max_current": 16, "ocpp_url": "wss://cs.example.net/ocpp",
                       "ocpp_id": "CP_01.garage-1@site"})[1] == []
    assert S.validate({"max_current": 16, "ocpp_id": ""})[1] == []


# --- 4. max_current is live, but solar surplus kept the value it had at boot ------------------------
# docs/console.md: max_current applies at once. services/surplus.py bounded its target by
# max_current read once at boot: a charger that booted without one (nothing offered, fault
# `settings`) and then got it by `set` stayed paused in solar mode whatever the sun gave ("below the
# car's minimum", bound 0 A); raised 16 -> 32 A it stayed at 16 A until a reboot.

def _solar_bench(max_current):
    rig = Rig(config={"solar_mode": "solar", "grid_source": "console", "solar_smoothing_s": 0,
                      "max_current": max_current})     # None: no valid rating on flash
    assert (rig.app.cfg["max_current"] is None) == (max_current is None)
    C.attach(rig.app, MemStream())
    return rig, rig.app.console


def _exporting(rig, con, watts):
    for _ in range(3):
        assert con.answer({"cmd": "grid", "watts": -watts}, 0)["ok"]
        rig.run(1.0)
    return rig.app.status(0)["limits"]["surplus"]


def test_solar_charges_from_the_max_current_set_after_a_boot_without_one():
    rig, con = _solar_bench(None)
    assert con.answer({"cmd": "set", "values": {"max_current": 16}}, 0)["reboot"] == []
    assert _exporting(rig, con, 3000) == pytest.approx(13.0, abs=0.1)    # 3 kW / 230 V: 13 A, not 0


def test_solar_follows_a_max_current_raised_live():
    rig, con = _solar_bench(16)
    assert _exporting(rig, con, 6900) == 16.0                             # 30 A of sun, 16 A rating
    assert con.answer({"cmd": "set", "values": {"max_current": 32}}, 0)["reboot"] == []
    assert _exporting(rig, con, 6900) == pytest.approx(30.0, abs=0.1)


# --- 5. a save the next boot cannot read --------------------------------------------------------------
# settings.py reads a copy of at most MAX_FILE_BYTES (4096) and calls a larger one "too large", but
# save() wrote whatever it was given. Every value valid, long texts (an OCPP and an MQTT URL, a
# generic meter map, charging windows, OCPP keys): the console's `set` said saved, the change ran
# live, and at the next boot the copy was refused and the one before it came back - with it the
# max_current that the same `set` had lowered (16 -> 32 A after a reboot).

LONG = {"max_current": 32, "meter": "modbus",
        "meter_map": ", ".join("%s=4:0x%04X:float32:1.0000000000:be" % (n, i * 2)
                               for i, n in enumerate(("i1", "i2", "i3", "v1", "v2", "v3", "p", "kwh", "hz"))),
        "ocpp_url": "wss://" + "h" * 189 + "/ocpp", "ocpp_id": "c" * 48, "ocpp_password": "p" * 40,
        "ocpp_security_profile": 2, "ocpp_ca_file": "/" + "c" * 63, "ocpp_free_id_tag": "t" * 20,
        "vendor": "v" * 20, "model": "m" * 20, "serial": "s" * 25, "ntp_host": "n" * 64,
        "wifi_ssid": "w" * 32, "wifi_password": "p" * 63, "wifi_ap_password": "a" * 63,
        "tz": "CET-1CEST,M3.5.0,M10.5.0/3",
        "charge_windows": "; ".join(["Mon-Fri 22:00-06:30"] * 9),
        "offpeak_windows": "; ".join(["Mon-Fri 22:00-06:30"] * 9),
        "mqtt_url": "mqtts://" + "h" * 186 + ":8883", "mqtt_user": "u" * 64, "mqtt_password": "p" * 64,
        "mqtt_prefix": "e" * 64, "mqtt_ca_file": "/" + "c" * 63, "web_password": "w" * 40}
MANY_KEYS = {"AllowOfflineTxForUnknownId": False, "AuthorizationCacheEnabled": True,
             "AuthorizeRemoteTxRequests": False, "LocalAuthListEnabled": True, "LocalAuthorizeOffline": True,
             "LocalPreAuthorize": False, "StopTransactionOnEVSideDisconnect": True,
             "StopTransactionOnInvalidId": True, "UnlockConnectorOnEVSideDisconnect": True,
             "CpoName": "C" * 100, "ConnectorPhaseRotation": "0.RST,1.RST",
             "MeterValuesSampledData": "Energy.Active.Import.Register,Current.Import,Power.Active.Import",
             "StopTxnSampledData": "Energy.Active.Import.Register,Current.Import,Power.Active.Import",
             "MeterValuesAlignedData": "Energy.Active.Import.Register,Current.Import,Power.Active.Import",
             "StopTxnAlignedData": "Energy.Active.Import.Register,Current.Import,Power.Active.Import",
             "ClockAlignedDataInterval": 900, "ConnectionTimeOut": 60, "HeartbeatInterval": 300,
             "MeterValueSampleInterval": 60, "TransactionMessageRetryInterval": 20}


def test_a_set_too_large_for_the_file_is_refused_and_never_undone_by_a_reboot():
    rig, con = console(LONG)
    assert rig.app.settings_errors == [] and rig.app.cfg["max_current"] == 32.0
    values = {"max_current": 16, "ocpp_config": MANY_KEYS}
    assert S.validate(dict(LONG, **values))[1] == []          # every value valid
    r = con.answer({"cmd": "set", "values": values}, 0)
    cfg, errors, _ = S.load(rig.app.settings_path)             # what the next boot reads
    if r["ok"]:                                                # saved: the next boot must read it back
        assert errors == [] and cfg["max_current"] == 16.0, (errors, cfg["max_current"])
    else:                                                      # refused: said, and nothing changed
        assert "bytes" in r["error"] and rig.app.cfg["max_current"] == 32.0, r
        assert errors == [] and cfg["max_current"] == 32.0 and cfg["ocpp_config"] == {}
    r = con.answer({"cmd": "set", "values": {"max_current": 16}}, 0)
    assert r["ok"] and S.load(rig.app.settings_path)[0]["max_current"] == 16.0


def test_make_flash_refuses_a_settings_file_the_board_could_not_read(tmp_path):
    why = flash_refuses(tmp_path, dict(LONG, ocpp_config=MANY_KEYS))
    assert why is not None and "bytes" in why, why


# --- 6. tz "" was saved by every face, and then the planner could not start --------------------------
# The settings check a tz rule only when the text is not empty; the planner read "" as a bad rule
# (ValueError at boot: "evse: planner: ..."), offered nothing (schedule 0 A) with no fault and no
# settings error to say why. POSIX systems read an empty TZ as UTC: so does the planner now.

def test_an_empty_tz_is_utc_and_the_planner_runs_on_it():
    rig, con = console({"charge_windows": "Mon-Sun 00:00-24:00"})
    r = con.answer({"cmd": "set", "values": {"tz": ""}}, 0)
    assert r["ok"] and r["reboot"] == ["tz"], r
    views = []
    for tz in ("", "UTC0"):                       # the one saved, after the reboot; and UTC0
        rig = Rig(config={"max_current": 32, "charge_windows": "Mon-Sun 00:00-24:00", "tz": tz})
        rig.run(1.0)
        assert rig.app.planner is not None and rig.app.settings_errors == []
        views.append(rig.app.status(0).get("planner"))
    assert views[0] == views[1] and views[0] is not None, views


# --- 7. meter_map: a guarded key no face checked -------------------------------------------------------
# docs/flashing.md: meter_map is guarded ("what the over-current protection measures with": no
# default stands in, nothing is offered until a valid one is set). The map's text was parsed only by
# the meter service at boot: "garbage" (or no map) with meter modbus was saved by every face, and the
# charger then charged with the over-current protection blind (overcurrent_blind, no fault).

@pytest.mark.parametrize("mmap", ["garbage", "", "v1=4:0:float32"])
def test_a_meter_map_that_cannot_be_read_is_refused_by_every_face(tmp_path, mmap):
    values = {"meter": "modbus", "meter_map": mmap}
    rig, con = console()
    r = con.answer({"cmd": "set", "values": values}, 0)
    assert r["ok"] is False and "meter_map" in r["error"], r
    web = WebBench()
    web.login()
    code, r = web.call("PUT", "settings", {"values": values})
    assert code == 400 and "meter_map" in r["error"], r
    why = flash_refuses(tmp_path, values)
    assert why is not None and "meter_map" in why, why


def test_a_damaged_meter_map_on_flash_offers_nothing_instead_of_charging_blind():
    from tools.sim.drive import Drive
    d = Drive(config={"max_current": 32, "meter": "modbus", "meter_map": "garbage"})
    d.run(1.0)
    d.plug()
    d.run(0.5)
    d.ev("C")
    d.run(2.0)
    assert not d.coil and d.fault == "settings", (d.state, d.fault)
    assert "meter_map entry 'garbage'" in d.app.status(0)["fault_reason"]
    good = "i1=4:0x0006:float32"
    assert S.check({"max_current": 32, "meter": "modbus", "meter_map": good})[1:] == ([], {})


def test_a_security_profile_in_ocpp_config_cannot_go_round_its_own_settings_check():
    """ocpp_security_profile 2 with a ws:// URL is refused ("needs a wss:// ocpp_url"); the same
    profile as ocpp_config's SecurityProfile was saved and used (connection.security_profile takes
    the higher of the two): Basic auth over ws:// with no password."""
    rig, con = console({"ocpp_url": "ws://cs.example.net/ocpp"})
    r = con.answer({"cmd": "set", "values": {"ocpp_security_profile": 2}}, 0)
    assert r["ok"] is False and "wss://" in r["error"], r
    r = con.answer({"cmd": "set", "values": {"ocpp_config": {"SecurityProfile": 2}}}, 0)
    assert r["ok"] is False and "ocpp_security_profile" in r["error"], r


# --- 8. ocpp_url: "anything else is refused when set" (docs/ocpp.md), but a bad port and a
# user:password@ passed: the connection then failed at every try, and with a password in the URL
# the error in the console's status read 'connect: ValueError("invalid literal for int() with
# base 10: 's3cretpassword@cs.example.net'")'.

@pytest.mark.parametrize("url", ["ws://garage:s3cretpassword@cs.example.net/ocpp",
                                 "ws://cs.example.net:abc/ocpp", "ws://cs.example.net:99999/ocpp",
                                 "ws://cs.example.net:/ocpp", "wss://cs.example.net:0/ocpp"])
def test_an_ocpp_url_the_connection_cannot_use_is_refused_by_every_face(tmp_path, url):
    rig, con = console()
    r = con.answer({"cmd": "set", "values": {"ocpp_url": url}}, 0)
    assert r["ok"] is False and "port 1-65535" in r["error"] and "s3cret" not in r["error"], r
    web = WebBench()
    web.login()
    code, r = web.call("PUT", "settings", {"values": {"ocpp_url": url}})
    assert code == 400 and "ocpp_url" in r["error"], r
    why = flash_refuses(tmp_path, {"ocpp_url": url})
    assert why is not None and "ocpp_url" in why, why


@pytest.mark.parametrize("url", ["ws://cs.example.net/ocpp", "ws://cs.example.net", "wss://cs.example.net:9443/a/b",
                                 "ws://[::1]:9000/ocpp", "ws://[fe80::1]/ocpp",
                                 "ws://127.0.0.1:8180/steve/websocket/CentralSystemService"])
def test_the_ocpp_urls_the_connection_uses_still_pass(url):
    from evse.ocpp.websocket import parse_url
    assert S.validate({"max_current": 16, "ocpp_url": url})[1] == []
    secure, host, port, path = parse_url(url)
    assert host and 0 < port < 65536


# --- 9. GET, change one value, PUT it all back: the masked passwords became "(set)" ------------------
# A REST client that edits one value of what GET /api/v1/settings gave (the usual way) sends each
# password back as "(set)": the whole PUT was refused ("web_password: must be 16-40 characters",
# a password nobody touched), and one that sent back only some keys had mqtt_password set to
# "(set)" (printable ASCII: taken), MQTT then logging in with it.

def test_putting_back_what_get_gave_keeps_the_passwords():
    web = WebBench(config={"mqtt_password": "broker-pw-42"})
    web.login()
    code, r = web.call("GET", "settings")
    values = r["settings"]
    assert values["mqtt_password"] == "(set)"
    values["max_current"] = 20
    code, r = web.call("PUT", "settings", {"values": values})
    assert code == 200, r
    stored = S.load(web.app.settings_path)[0]
    assert stored["mqtt_password"] == "broker-pw-42" and web.app.cfg["max_current"] == 20.0
    assert stored["web_password"] == web.app.cfg["web_password"] != "(set)"
    code, r = web.call("PUT", "settings", {"values": {"mqtt_password": "(set)", "max_current": 18}})
    assert code == 200 and S.load(web.app.settings_path)[0]["mqtt_password"] == "broker-pw-42", r
