"""The `meter_map` setting's text as a register map (the `modbus` meter kind). The meter models'
maps, and the format of a map, are in core/modbus_maps.py. In the core, below both the meter service
and the settings, which check a map when it is set (settings, a service, may not import metering);
imported only for the `modbus` kind."""
from .modbus_maps import FC_READ_HOLDING, FC_READ_INPUT, TYPE_NAMES, TYPE_REGS

KNOWN_FIELDS = ("v1", "v2", "v3", "i1", "i2", "i3", "p", "kwh", "hz")


def _int(text):
    t = text.strip().lower()
    return int(t, 16) if t.startswith("0x") else int(t)


def _map_entry(entry):
    """One `name=fc:register:type[:scale[:be|le]]` entry as a read of one field."""
    try:
        name, spec = entry.split("=")
        name = name.strip()
        parts = spec.split(":")
        fc = _int(parts[0])
        reg = _int(parts[1])
        typ = TYPE_NAMES[parts[2].strip().lower()]
        scale = float(parts[3]) if len(parts) > 3 and parts[3].strip() else 1.0
        order = parts[4].strip().lower() if len(parts) > 4 else "be"
    except Exception:
        raise ValueError("meter_map entry %r: want name=fc:register:type[:scale[:be|le]]" % entry)
    if name not in KNOWN_FIELDS:
        raise ValueError("meter_map entry %r: name must be one of %s" % (entry, " ".join(KNOWN_FIELDS)))
    if fc not in (FC_READ_HOLDING, FC_READ_INPUT):
        raise ValueError("meter_map entry %r: function must be 3 or 4" % entry)
    if not 0 <= reg <= 0xFFFF or order not in ("be", "le") or len(parts) > 5:
        raise ValueError("meter_map entry %r: register 0-65535, order be or le" % entry)
    if not 1e-6 <= abs(scale) <= 1e6:     # 0 would read every current as a silent 0 A; NaN, inf
        raise ValueError("meter_map entry %r: scale must be 1e-6 to 1e6 (negative flips the sign)" % entry)
    return (fc, reg, TYPE_REGS[typ], ((name, 0, typ, scale, order == "le"),))


def parse_generic_map(text):
    """A map from the `meter_map` setting, e.g.
        "i1=4:0x0006:float32, v1=4:0:float32, kwh=3:100:uint32:0.01:le"
    Each entry: name=fc:register:type[:scale[:be|le]]; types int16 uint16 int32 uint32 float32;
    `le` = 32-bit values sent low word first. Raises ValueError with the offending entry."""
    reads = []
    phases = 1
    seen = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        read = _map_entry(entry)
        name = read[3][0][0]
        if name in seen:
            raise ValueError("meter_map: %s given twice" % name)
        seen[name] = True
        if name in ("i2", "i3", "v2", "v3"):
            phases = 3
        reads.append(read)
    if not any(r[3][0][0] in ("i1", "i2", "i3") for r in reads):
        raise ValueError("meter_map must read at least one current (i1)")
    return {"name": "modbus", "phases": phases, "reads": tuple(reads)}


def check(text, blocked, errors, tail):
    """The settings' check of the map for the `modbus` kind: a guarded key, so a map that cannot be
    read blocks (nothing offered, the reason said) rather than leave the over-current protection
    blind."""
    try:
        parse_generic_map(text)
    except ValueError as e:
        blocked["meter_map"] = "%s (%s)" % (e, tail)
        errors.append(blocked["meter_map"])
