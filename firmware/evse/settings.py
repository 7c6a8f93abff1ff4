# Settings: the schema, validation and the file on flash.
# A bad value never bricks the board: it is reported by name and its safe default is used.
import json
import os

from evse import store
from evse.store import TMP_SUFFIX
MAX_FILE_BYTES = 4096           # a complete settings file is about 400 bytes

# key: (int|float, default, lo, hi) or (int, default, choices); (str, default, choices);
# (TEXT, default, max length) for free text; (list, default, lo, hi) for a list of numbers of the
# default's length; (dict, default) for a JSON object; (bool, default)
TEXT = "text"
SCHEMA = {
    "max_current": (float, 32.0, 6.0, 80.0),       # A: the installation's breaker and wiring
    "connector": (str, "j1772", ("j1772", "nacs", "type2-socket", "type2-tethered")),
    "phases": (int, 1, 1, 3),
    "bc_qualify_ms": (int, 300, 200, 500),         # B->C qualification (chatter guard), facts 4
    "wakeup_after_s": (int, 30, 0, 3600),          # sleeping EV: wake-up after this long in B2; 0 = never
    "ventilation": (bool, False),                  # state D allowed (ventilation available)
    "require_auth": (bool, False),                 # an ID must be authorized before charging
    "rcd_selftest": (bool, True),                  # residual-current self-test before every close
    "economiser": (bool, False),                   # contactor coil pulse-then-hold
    "temp_half_c": (int, 65, 30, 100),             # facts 7 (OpenEVSE practice)
    "temp_quarter_c": (int, 68, 30, 100),
    "temp_stop_c": (int, 71, 30, 110),
    "temp_restore_c": (int, 62, 20, 100),
    # metering (docs/metering.md)
    "meter": (str, "none", ("none", "ct", "sdm120", "sdm630", "modbus", "s0")),
    "meter_phases": (int, 1, (1, 3)),
    "nominal_volts": (float, 230.0, 100.0, 480.0),  # 120/240 in North America
    "mains_hz": (int, 50, (0, 50, 60)),            # 0 = detect
    "ct_ratio": (float, 2000.0, 1.0, 100000.0),
    "ct_burden_ohms": (float, 22.0, 1.0, 10000.0),
    "ct_vref": (float, 3.3, 0.5, 5.0),
    "ct_cal": (list, [1.0, 1.0, 1.0], 0.5, 2.0),
    "ct_spc": (int, 40, 8, 240),
    "ct_interval_ms": (int, 500, 100, 10000),
    "volts_per_count": (float, 0.0, 0.0, 10.0),
    "meter_addr": (int, 1, 1, 247),
    "meter_baud": (int, 9600, 1200, 115200),
    "meter_timeout_ms": (int, 300, 50, 2000),
    "meter_retries": (int, 2, 0, 5),
    "meter_interval_ms": (int, 1000, 200, 60000),
    "meter_map": (TEXT, "", 400),
    "s0_imp_per_kwh": (int, 1000, 1, 100000),
    # OCPP 1.6J (docs/ocpp.md); an empty URL turns OCPP off
    "ocpp_url": (TEXT, "", 200),
    "ocpp_id": (TEXT, "evse", 48),
    "ocpp_password": (TEXT, "", 40),
    "ocpp_security_profile": (int, 0, 0, 2),
    "ocpp_ca_file": (TEXT, "", 64),
    "ocpp_free_id_tag": (TEXT, "", 20),
    "ocpp_config": (dict, {}),
}


def defaults():
    cfg = {}
    for k, v in SCHEMA.items():
        d = v[1]
        cfg[k] = list(d) if isinstance(d, list) else dict(d) if isinstance(d, dict) else d
    return cfg


def _check(key, value):
    """Validated value, or raise ValueError with the reason."""
    spec = SCHEMA.get(key)
    if spec is None:
        raise ValueError("unknown key")
    typ = spec[0]
    if typ is bool:
        if value is True or value is False:
            return value
        raise ValueError("must be true or false")
    if typ is str:
        if not isinstance(value, str) or value not in spec[2]:
            raise ValueError("must be one of " + ", ".join(spec[2]))
        return value
    if typ == TEXT:
        if not isinstance(value, str) or len(value) > spec[2]:
            raise ValueError("must be text of at most %d characters" % spec[2])
        return value
    if typ is dict:
        if not isinstance(value, dict):
            raise ValueError("must be an object")
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


def _number(typ, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if not lo <= value <= hi:               # before int(): NaN and infinity fail here
        raise ValueError("out of range %s..%s" % (lo, hi))
    if typ is int:
        if value != int(value):
            raise ValueError("must be a whole number")
        return int(value)
    return float(value)


def validate(raw):
    """(settings, errors): every key of the schema, each a valid value; errors as 'key: reason'."""
    cfg = defaults()
    errors = []
    if not isinstance(raw, dict):
        return cfg, ["settings: not a JSON object; using defaults"]
    for key in sorted(raw):
        try:
            cfg[key] = _check(key, raw[key])
        except ValueError as e:
            errors.append("%s: %s (using %r)" % (key, e, SCHEMA[key][1] if key in SCHEMA else None)
                          if key in SCHEMA else "%s: unknown key (ignored)" % key)
    if not cfg["temp_restore_c"] < cfg["temp_half_c"] <= cfg["temp_quarter_c"] <= cfg["temp_stop_c"]:
        errors.append("temp_*: must rise restore < half <= quarter <= stop (using defaults)")
        for k in ("temp_half_c", "temp_quarter_c", "temp_stop_c", "temp_restore_c"):
            cfg[k] = SCHEMA[k][1]
    return cfg, errors


def parse(text):
    try:
        raw = json.loads(text)
    except Exception:     # ValueError on both interpreters; anything else is just as unreadable
        return defaults(), ["settings: not valid JSON (corrupted or half-written); using defaults"]
    return validate(raw)


def _read(path):
    """The file's text, None when absent; raises ValueError when it cannot be settings."""
    try:
        size = os.stat(path)[6]
    except OSError:
        return None
    if size > MAX_FILE_BYTES:        # never read a runaway file into a small heap
        raise ValueError("file too large (%d bytes > %d)" % (size, MAX_FILE_BYTES))
    if size == 0:
        raise ValueError("empty file")
    with open(path, "rb") as f:
        data = f.read(size)          # exactly the file: no 4 KiB buffer for a 300-byte file
    try:
        return data.decode()
    except Exception:
        raise ValueError("not text (binary junk)")


def load(path):
    """(settings, errors) from flash; never raises. A missing file is the defaults, a damaged one is
    reported. save() leaves PATH.tmp alone only when a power cut hit between remove and rename:
    then the .tmp file is the complete new settings and is used."""
    errors = []
    for p in (path, path + TMP_SUFFIX):
        try:
            text = _read(p)
        except Exception as e:       # OSError mid-read, MemoryError, ValueError from _read
            errors.append("settings: %s: %s; using defaults" % (p, e))
            continue
        if text is None:
            continue
        try:
            raw = json.loads(text)
        except Exception:
            errors.append("settings: %s: not valid JSON (corrupted or half-written); using defaults" % p)
            continue
        if p != path:
            errors = ["settings: %s missing; recovered from %s (interrupted save)" % (path, p)]
        cfg, errs = validate(raw)
        return cfg, errors + errs
    return defaults(), errors


def save(path, cfg):
    """Write atomically: a power cut leaves the old file or the new one, never half of one."""
    store.write_json_atomic(path, cfg)
