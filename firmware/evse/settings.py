# Settings: the schema, validation and the file on flash.
# A bad value never bricks the board: it is reported by name and its safe default is used.
import json
import os

TMP_SUFFIX = ".tmp"
MAX_FILE_BYTES = 4096           # a complete settings file is about 400 bytes

# key: (type, default, lo, hi) for numbers; (str, default, choices) for strings; (bool, default)
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
}


def defaults():
    return {k: v[1] for k, v in SCHEMA.items()}


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
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if not spec[2] <= value <= spec[3]:     # before int(): NaN and infinity fail here
        raise ValueError("out of range %s..%s" % (spec[2], spec[3]))
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
        data = f.read(MAX_FILE_BYTES + 1)
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
    tmp = path + TMP_SUFFIX
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
        f.flush()
    try:
        os.remove(path)   # MicroPython's rename does not replace on every filesystem
    except OSError:
        pass
    os.rename(tmp, path)
