# Settings: the schema, validation and the files on flash (docs/flashing.md, "Settings on flash").
#
# Kept as two sealed copies, settings.a and settings.b (evse.shell.store.Copies: a sequence number and a
# CRC-32 each, written in turn), so a write torn by a power cut or a copy corrupted on flash never
# loses the installer's values: the newest valid copy wins. settings.json, when present, is an
# import (sealed by `make flash SETTINGS=...`, or plain JSON from an older firmware or by hand): read
# strictly, sealed into the copies at boot when every value in it is valid, then removed.
#
# GUARDED keys could raise a current, weaken a protection or let anyone charge if a default took
# the place of a lost value: one with no valid value is never replaced, nothing is offered (fault
# `settings`, the reason said) until someone sets it. max_current has no default at all: only the
# installer knows the circuit. Every other key falls back to its default, with a warning naming it.
import json

from ..core import limits as L
from ..core import proximity as PX
from ..shell import store
MAX_FILE_BYTES = 4096           # a complete settings file is about 900 bytes

# key: (int|float, default, lo, hi) or (int, default, choices); (str, default, choices[, True]),
# True: also every Modbus meter model of core/modbus_maps.py (choices());
# (TEXT, default, max length) for free text; (list, default, lo, hi) for a list of numbers of the
# default's length; (dict, default) for a JSON object; (bool, default)
TEXT = "text"
_M = L.METER_DEFAULTS       # metering's defaults (one source), the ranges here
# Keyword arguments, not a {...} literal: a .mpy interns a name once for every module (a qstr), but
# loads each string literal of 11 or more characters as a str object of its own (3.7 KB of heap here).
SCHEMA = dict(
    max_current=(float, None, 6.0, 80.0),       # A: the installation's breaker and wiring (no default)
    connector=(str, "j1772", PX.CONNECTORS),
    phases=(int, 1, 1, 3),
    # B->C qualification (chatter guard), facts 4
    bc_qualify_ms=(int, L.BC_QUALIFY_MS_DEFAULT, L.BC_QUALIFY_MS_MIN, L.BC_QUALIFY_MS_MAX),
    wakeup_after_s=(int, 30, 0, 3600),          # sleeping EV: wake-up after this long in B2; 0 = never
    ventilation=(bool, False),                  # state D allowed (ventilation available)
    require_auth=(bool, False),                 # an ID must be authorized before charging
    rcd_selftest=(bool, True),                  # residual-current self-test before every close
    economiser=(bool, False),                   # contactor coil pulse-then-hold
    temp_half_c=(int, L.TEMP_HALF_C, 30, 100),      # facts 7 (OpenEVSE practice)
    temp_quarter_c=(int, L.TEMP_QUARTER_C, 30, 100),
    temp_stop_c=(int, L.TEMP_STOP_C, 30, 110),
    temp_restore_c=(int, L.TEMP_RESTORE_C, 20, 100),
    # metering (docs/metering.md)
    meter=(str, _M["meter"], ("none", "ct", "s0", "modbus"), True),
    meter_phases=(int, _M["meter_phases"], (1, 3)),
    # V per phase, line to neutral: 277 is 480 V three-phase's (IEC 62196-2 Type 2; J3400 277 V),
    # so a three-phase supply's 400 V line to line, typed by mistake, is refused, not used
    nominal_volts=(float, _M["nominal_volts"], 100.0, 277.0),
    mains_hz=(int, _M["mains_hz"], (0, 50, 60)),
    ct_ratio=(float, _M["ct_ratio"], 1.0, 100000.0),
    ct_burden_ohms=(float, _M["ct_burden_ohms"], 1.0, 10000.0),
    ct_vref=(float, _M["ct_vref"], 0.5, 5.0),
    ct_cal=(list, _M["ct_cal"], 0.5, 2.0),
    ct_spc=(int, _M["ct_spc"], 8, 240),
    ct_interval_ms=(int, _M["ct_interval_ms"], 100, 10000),
    volts_per_count=(float, _M["volts_per_count"], 0.0, 10.0),
    meter_addr=(int, _M["meter_addr"], 1, 247),
    meter_baud=(int, _M["meter_baud"], 1200, 115200),
    meter_timeout_ms=(int, _M["meter_timeout_ms"], 50, 2000),
    meter_retries=(int, _M["meter_retries"], 0, 5),
    meter_interval_ms=(int, _M["meter_interval_ms"], 200, 60000),
    meter_map=(TEXT, _M["meter_map"], 400),
    s0_imp_per_kwh=(int, _M["s0_imp_per_kwh"], 1, 100000),
    # this unit, as OCPP's BootNotification names it (CiString20, 20, 25)
    vendor=(TEXT, "evse", 20),
    model=(TEXT, "evse", 20),
    serial=(TEXT, "", 25),
    # OCPP 1.6J (docs/ocpp.md); an empty URL turns OCPP off
    ocpp_url=(TEXT, "", 200),
    ocpp_id=(TEXT, "evse", 48),
    ocpp_password=(TEXT, "", 40),
    ocpp_security_profile=(int, 0, 0, 3),     # 3: TLS client certificate (docs/ocpp.md)
    ocpp_ca_file=(TEXT, "", 64),
    ocpp_free_id_tag=(TEXT, "", 20),
    ocpp_config=(dict, {}),
    # the network (shell/net.py, services/netclock.py, docs/network.md), on boards with Wi-Fi
    wifi_ssid=(TEXT, "", 32),                    # "" = the set-up access point
    wifi_password=(TEXT, "", 64),
    wifi_ap_password=(TEXT, "", 63),             # the set-up access point's; "" = the board's random one
    ntp_host=(TEXT, "pool.ntp.org", 64),         # "" = no NTP
    # the energy planner (services/planner.py, docs/planner.md): windows in the board's local time
    tz=(TEXT, "UTC0", 60),                       # POSIX TZ, e.g. CET-1CEST,M3.5.0,M10.5.0/3
    charge_windows=(TEXT, "", 200),              # "Mon-Fri 22:00-06:30; Sat,Sun 00:00-24:00"; "" = always
    offpeak_windows=(TEXT, "", 200),             # the off-peak tariff; outside it peak_current_a
    peak_current_a=(float, 0.0, 0.0, 80.0),      # 0: charge off-peak only
    solar_mode=(str, "off", ("off", "solar", "grid")),
    grid_source=(str, "mqtt", ("mqtt", "rest", "console", "modbus")),
    grid_meter=(str, "sdm630", ("sdm630",), True),  # grid_source modbus: the model (its total power)
    grid_meter_addr=(int, 2, 1, 247),            # its unit on the charging meter's bus (not meter_addr)
    grid_limit_w=(int, 0, 0, 1000000),           # grid mode: the most the house may import
    solar_reserve_w=(int, 0, 0, 100000),         # solar mode: export kept for the house
    min_current_a=(float, 6.0, 6.0, 32.0),       # the car's own minimum (some refuse 6 A)
    solar_smoothing_s=(int, 30, 0, 600),
    min_charge_s=(int, 600, 0, 7200),            # solar: charge at least this long once started
    min_pause_s=(int, 300, 0, 7200),             # both: pause at least this long once paused
    grid_timeout_s=(int, 60, 5, 3600),           # an older grid reading is no reading
    # MQTT 3.1.1 with Home Assistant discovery (docs/mqtt.md); an empty URL turns MQTT off
    mqtt_url=(TEXT, "", 200),
    mqtt_user=(TEXT, "", 64),
    mqtt_password=(TEXT, "", 64),
    mqtt_prefix=(TEXT, "evse", 64),
    mqtt_ca_file=(TEXT, "", 64),
    # a remote controller (MQTT, REST, the OCPP central system) that set a limit and then goes silent: the
    # current falls to fallback_current_a (never above the other limits); 0 s = not watched
    fallback_current_a=(float, 6.0, 0.0, 80.0),
    fallback_timeout_s=(int, 0, 0, 86400),
    # the web page and REST API (docs/web.md): 0 = off (then not even imported: no heap)
    web_port=(int, 0, 0, 65535),
    web_password=(TEXT, "", 40),              # empty: read-only, nothing can be changed
    web_tls=(bool, False),                    # HTTPS on web_port with certs/web_cert.pem, web_key.pem
)

# No default may stand in for these (see the top): the rating, what reads the cable's rating (PP)
# and converts OCPP watts to amps, the thermal thresholds, what the over-current protection
# measures with, and who may charge.
GUARDED = ("max_current", "connector", "phases", "nominal_volts",
           "temp_half_c", "temp_quarter_c", "temp_stop_c", "temp_restore_c",
           "meter", "meter_phases", "ct_ratio", "ct_burden_ohms", "ct_vref", "ct_cal", "meter_map",
           "require_auth", "ocpp_url", "fallback_timeout_s",
           "charge_windows", "offpeak_windows", "tz")   # their defaults: always open, no peak, UTC
NOT_APPLIED = "not applied: nothing is offered until a valid value is set"

# OCPP 1.6 security whitepaper: the Basic auth password is a passwordString of 16-40 characters.


def _ocpp_url(v):
    """ws://host[:port][/path] or wss://...: anything else never reaches a central system."""
    from ..core.credentials import url_error     # only when set: it costs heap
    why = url_error(v)
    if why:
        raise ValueError(why)


def _ocpp_password(v):
    from ..core.credentials import password_error     # only when set: it costs heap
    why = password_error(v)
    if why:
        raise ValueError(why)


def _windows(v):
    from .timetable import parse_windows    # only when set: it costs heap
    parse_windows(v)


def _tz(v):
    from .timetable import parse_tz
    parse_tz(v)


TEXT_RULES = {"ocpp_url": _ocpp_url, "ocpp_password": _ocpp_password, "web_password": _ocpp_password,
              "charge_windows": _windows, "offpeak_windows": _windows, "tz": _tz}


def _ocpp_security(cfg):
    """Why the OCPP security profile cannot be met with the URL and password given, or None."""
    url = cfg["ocpp_url"]
    if not url:
        return None
    from ..core.credentials import security_profile_error
    return security_profile_error(url, cfg["ocpp_security_profile"], cfg["ocpp_password"], cfg["ocpp_id"])


def defaults():
    cfg = {}
    for k, v in SCHEMA.items():
        d = v[1]
        cfg[k] = list(d) if isinstance(d, list) else dict(d) if isinstance(d, dict) else d
    return cfg


def choices(key):
    """The values a choice key (`str` in SCHEMA) takes. An entry marked True also takes every Modbus
    meter model of core/modbus_maps.py (one entry there adds one; settings may not import metering,
    so the maps are in the core), imported only here: a value among the entry's own (the default
    is) needs no map, and a charger with no Modbus meter loads none."""
    spec = SCHEMA[key]  # type: tuple
    own = spec[2]
    if len(spec) < 4:
        return own
    from ..core.modbus_maps import MAPS
    return own + tuple(m for m in sorted(MAPS) if m not in own)


def _check(key, value):
    """Validated value, or raise ValueError with the reason."""
    spec = SCHEMA.get(key)
    if spec is None:
        raise ValueError("unknown key")
    typ = spec[0]
    if typ is bool or typ is str or typ == TEXT or typ is dict:
        _check_plain(key, typ, value, spec)
        return value
    if typ is list:
        if not isinstance(value, list) or len(value) != len(spec[1]):
            raise ValueError("must be a list of %d numbers" % len(spec[1]))
        return [_number(float, v, spec[2], spec[3]) for v in value]
    if isinstance(spec[2], tuple):
        if isinstance(value, bool) or value not in spec[2]:
            raise ValueError("must be one of " + ", ".join(str(c) for c in spec[2]))
        return int(value)
    return _number(typ, value, spec[2], spec[3])


def _check_plain(key, typ, value, spec):
    """Raise ValueError unless a flag, choice, text or object value fits its schema entry (and a
    text its key's own rule: an OCPP URL, a password)."""
    if typ is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
    elif typ is str:
        if not isinstance(value, str) or value not in spec[2] and value not in choices(key):
            raise ValueError("must be one of " + ", ".join(choices(key)))
    elif typ == TEXT:
        _text(key, value, spec[2])
    elif not isinstance(value, dict):
        raise ValueError("must be an object")
    elif value:                                 # ocpp_config: imported only when it names a key
        from ..core.ocpp_keys import check
        why = check(value)
        if why:
            raise ValueError(why)


def _text(key, value, most):
    if not isinstance(value, str) or len(value) > most:
        raise ValueError("must be text of at most %d characters" % most)
    if value and key in TEXT_RULES:
        TEXT_RULES[key](value)
    elif value and key.startswith("mqtt_"):     # imported only when MQTT is being set up
        from . import mqtt_cfg
        mqtt_cfg.check(key, value)
    elif value and key[:5] == "wifi_":          # imported only when Wi-Fi is being set up
        from ..core.credentials import wifi_error
        why = wifi_error(key, value)
        if why:
            raise ValueError(why)


def _number(typ, value, lo, hi):
    value = L.check_number(value, lo, hi)   # the one check of every limit: "16", NaN, 1e999 fail
    if typ is int:
        if value != int(value):
            raise ValueError("must be a whole number")
        return int(value)
    return value


def validate(raw):
    """(settings, errors): every key of the schema, each a valid value or its default (max_current
    None when it has none); errors as 'key: reason (...)'."""
    cfg, errors, _ = check(raw)
    return cfg, errors


def check(raw):
    """(settings, errors, blocked): as validate(), and blocked {key: reason} for each guarded key
    with no valid value (max_current not set included): nothing may be offered while it is not
    empty."""
    cfg = defaults()
    errors = []
    blocked = {}
    if not isinstance(raw, dict):
        why = "not a JSON object"
        return cfg, ["settings: " + why], _no_rating(why)
    mqtt_off = False
    for key in sorted(raw):
        if key not in SCHEMA:
            errors.append("%s: unknown key (ignored)" % key)
            continue
        try:
            cfg[key] = _check(key, raw[key])
        except ValueError as e:
            if key in GUARDED:
                blocked[key] = "%s: %s (%s)" % (key, e, NOT_APPLIED)
                errors.append(blocked[key])
            else:
                if key[:5] == "mqtt_":   # docs/mqtt.md: said, and MQTT stays off (a save keeps it off)
                    mqtt_off = e = "%s; MQTT stays off" % e
                errors.append("%s: %s (using the default %r)" % (key, e, SCHEMA[key][1]))
    _across(cfg, errors, blocked)
    if mqtt_off:
        cfg["mqtt_url"] = ""
    if "tz" in blocked:          # it places the windows only: with none, a warning (timetable.py)
        from .timetable import unused_tz
        unused_tz(cfg, errors, blocked, NOT_APPLIED)
    if cfg["meter"] == "modbus":  # the map the over-current protection measures with (a guarded key)
        from ..core.meter_maps import check
        check(cfg["meter_map"], blocked, errors, NOT_APPLIED)
    why = _ocpp_security(cfg)
    if why:                      # never connect below the profile asked for: no OCPP, nothing offered
        cfg["ocpp_url"] = ""
        blocked["ocpp_url"] = "ocpp_url: %s (%s)" % (why, NOT_APPLIED)
        errors.append(blocked["ocpp_url"])
    if cfg["max_current"] is None and "max_current" not in blocked:
        blocked.update(_no_rating("not set"))
    return cfg, errors, blocked


def _across(cfg, errors, blocked):
    """The rules between keys: the temperatures' order; the phases and volts of the plug."""
    if not cfg["temp_restore_c"] < cfg["temp_half_c"] <= cfg["temp_quarter_c"] <= cfg["temp_stop_c"]:
        msg = "temp_*: must rise restore < half <= quarter <= stop (%s)" % NOT_APPLIED
        errors.append(msg)
        for k in ("temp_half_c", "temp_quarter_c", "temp_stop_c", "temp_restore_c"):
            cfg[k] = SCHEMA[k][1]
            blocked[k] = msg
    if cfg["connector"] in PX.CONNECTORS[:2] and (cfg["phases"] != 1 or cfg["nominal_volts"] > 250):
        from .plugs import one_phase    # J1772, NACS: one phase of 250, 277 V at most (it costs heap)
        one_phase(cfg, errors, blocked, NOT_APPLIED)


def _no_rating(why):
    return {"max_current": "max_current: %s; the installer sets the circuit's rating (6-80 A)" % why}


def reason(blocked):
    """Why nothing may be offered (one line), or None."""
    if not blocked:
        return None
    return "; ".join(sorted(set(blocked.values())))


def parse(text):
    """(settings, errors) of a settings file's text (tools/flash.py checks an upload with it)."""
    try:
        raw = _json(text.encode())
    except ValueError as e:     # the words a damaged copy on flash gets (_json)
        return defaults(), ["settings: %s" % e]
    return validate(raw)


def copy_paths(path):
    """The two sealed copies beside the import file: settings.json -> settings.a, settings.b."""
    base = path[:-5] if path.endswith(".json") else path
    return (base + ".a", base + ".b")


def _json(data):
    """The object in data (bytes); ValueError saying why it is none."""
    try:
        text = data.decode()
    except Exception:
        raise ValueError("not text (binary junk)")
    try:
        return json.loads(text)
    except Exception:
        raise ValueError("not valid JSON (cut short, damaged, or a BOM in front)")


def _import_file(path):
    """(path, raw object or None, error or None) of the import file; (None, None, None) if none.
    Sealed as tools/flash.py writes it (a damaged one then fails as JSON), or plain JSON (older
    firmware, by hand). PATH.tmp alone: an older firmware's save cut between remove and rename."""
    for p in (path, path + store.TMP_SUFFIX):
        try:
            data = store.read_small(p, MAX_FILE_BYTES)
            if data is None:
                continue
            try:
                data = store.unseal(data)[1]
            except ValueError:
                pass
            return p, _json(data), None
        except Exception as e:       # ValueError, OSError mid-read, MemoryError
            return p, None, "%s: %s" % (p, e)
    return None, None, None


def _load(path):
    """(settings, errors, blocked, clean import path or None)."""
    body, problems = store.Copies(copy_paths(path), MAX_FILE_BYTES).read()
    errors = ["settings: %s" % p for p in problems]
    stored = None
    if body is not None:
        try:
            stored = _json(body)
        except ValueError as e:
            errors.append("settings: newest copy: %s" % e)
    imp, raw, err = _import_file(path)
    if imp is not None and err is None:
        cfg, errs, blocked = check(raw)
        return cfg, errors + errs, blocked, None if errs else imp
    if stored is None:
        cfg, blocked = defaults(), _no_rating("no valid copy" if problems else "not set")
    else:
        cfg, errs, blocked = check(stored)
        errors += errs
    if err is not None:              # an upload that cannot be read: its values are unknown
        errors.append("settings: " + err)
        cfg["max_current"] = None
        blocked.update(_no_rating(err + "; upload it again or set max_current"))
    return cfg, errors, blocked, None


def load(path):
    """(settings, errors, blocked) from flash; never raises. The newest valid copy, or an import
    file (settings.json) in its place; blocked as in check(), with the reason of each."""
    cfg, errors, blocked, _ = _load(path)
    return cfg, errors, blocked


def boot(path):
    """load(), and an import file whose every value is valid is sealed into the copies, then
    removed (a cut in between imports it again: the same values)."""
    cfg, errors, blocked, imp = _load(path)
    if imp is not None:
        try:
            save(path, cfg)
        except Exception as e:       # the import stays and is read again next boot
            errors.append("settings: %s not stored: %s" % (imp, e))
    return cfg, errors, blocked


def save(path, cfg):
    """Seal cfg into the copy that does not hold the newest valid one (a power cut leaves that one
    intact), then remove the import file it replaces. OSError when flash fails."""
    copies = store.Copies(copy_paths(path), MAX_FILE_BYTES)
    copies.read()
    copies.write(json.dumps(dict((k, v) for k, v in cfg.items() if v is not None)).encode())
    for p in (path, path + store.TMP_SUFFIX):
        store.remove(p)
