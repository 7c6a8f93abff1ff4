"""The Modbus words every layer may read, and the register maps of the meter models.

The settings name the models (`meter`, `grid_meter`) and metering polls by them; settings (a
service) may not import metering, so the maps are data here, below both. A new model is one entry
in MAPS (and its tests): the settings' choices, the meter service, the grid meter and the shell's
UART follow it. Imported only where a model is named: the maps cost heap.

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
# Modbus application protocol V1.1b3, 6.3 and 6.4: the two reads a meter answers
FC_READ_HOLDING = 3
FC_READ_INPUT = 4

# Register value types (a 32-bit value spans two registers)
T_INT16 = 0
T_UINT16 = 1
T_INT32 = 2
T_UINT32 = 3
T_FLOAT32 = 4
TYPE_NAMES = {"int16": T_INT16, "uint16": T_UINT16, "int32": T_INT32, "uint32": T_UINT32, "float32": T_FLOAT32}
TYPE_REGS = (1, 1, 2, 2, 2)

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

MAPS = {"sdm120": SDM120, "sdm630": SDM630}
