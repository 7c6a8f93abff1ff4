"""Register maps for Modbus energy meters.

A map is a dict: `phases` (1 or 3) and `reads`, a tuple of blocks read one request each:
    (function_code, first_register, register_count, fields)
with fields a tuple of (name, register_offset_in_block, type, scale, swap_words).
Names the meter service knows: v1 v2 v3 (V), i1 i2 i3 (A), p (total active power, W),
kwh (lifetime import energy, kWh), hz.

Eastron addresses (0-based, input registers, FC 4, float32 high word first), from the Eastron
"Modbus Protocol Implementation" tables of the SDM120 and SDM630 (30001 = 0x0000):
    SDM120: voltage 0x0000, current 0x0006, active power 0x000C, frequency 0x0046,
            import active energy 0x0048, total active energy 0x0156
    SDM630: phase voltages 0x0000/02/04, phase currents 0x0006/08/0A, phase powers 0x000C/0E/10,
            total system power 0x0034, frequency 0x0046, total import kWh 0x0048, total kWh 0x0156
Eastron meters refuse reads of an odd register count or at an odd address: blocks keep to pairs.
The energy read is import (0x0048), not total (0x0156 = import + export), so that a meter wired
in reverse or a V2G export never counts as charged energy.
"""
from .modbus import FC_READ_HOLDING, FC_READ_INPUT, T_FLOAT32, TYPE_NAMES, TYPE_REGS

F = T_FLOAT32

SDM120 = {
    "name": "sdm120",
    "phases": 1,
    "reads": (
        (FC_READ_INPUT, 0x0000, 14, (("v1", 0, F, 1.0, False), ("i1", 6, F, 1.0, False), ("p", 12, F, 1.0, False))),
        (FC_READ_INPUT, 0x0046, 4, (("hz", 0, F, 1.0, False), ("kwh", 2, F, 1.0, False))),
    ),
}

SDM630 = {
    "name": "sdm630",
    "phases": 3,
    "reads": (
        (FC_READ_INPUT, 0x0000, 12, (("v1", 0, F, 1.0, False), ("v2", 2, F, 1.0, False), ("v3", 4, F, 1.0, False),
                                     ("i1", 6, F, 1.0, False), ("i2", 8, F, 1.0, False), ("i3", 10, F, 1.0, False))),
        (FC_READ_INPUT, 0x0034, 2, (("p", 0, F, 1.0, False),)),
        (FC_READ_INPUT, 0x0046, 4, (("hz", 0, F, 1.0, False), ("kwh", 2, F, 1.0, False))),
    ),
}

KNOWN_FIELDS = ("v1", "v2", "v3", "i1", "i2", "i3", "p", "kwh", "hz")
MAPS = {"sdm120": SDM120, "sdm630": SDM630}


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
