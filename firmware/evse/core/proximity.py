# Proximity (PP), pure logic (facts 5).
from micropython import const

from . import limits as L

# J1772 / NACS (SAE J3400) plug with the latch switch S3 wired back to the controller
LATCHED = const(1)      # 150 ohm: plug latched
BUTTON = const(2)       # 480 ohm: latch button pressed, the plug is about to leave
UNPLUGGED = const(3)    # open
FAULT = const(4)        # short or a value no plug makes
NOT_WIRED = const(0)

CONNECTORS = ("j1772", "nacs", "type2-socket", "type2-tethered")   # the first two: one phase (plugs.py)


def latch_state(ohms):
    """J1772 / NACS PP: latched, button pressed, unplugged or fault."""
    if ohms == L.PP_NOT_WIRED:
        return NOT_WIRED
    if ohms < L.T2_FAULT_LOW:
        return FAULT
    if ohms <= L.PP_LATCHED_MAX:
        return LATCHED
    if L.PP_BUTTON_MIN <= ohms <= L.PP_BUTTON_MAX:
        return BUTTON
    if L.PP_CAR_LATCHED_MIN <= ohms <= L.PP_CAR_LATCHED_MAX:
        return LATCHED          # (through the car's own PP circuit, limits.py)
    if ohms >= L.PP_UNPLUGGED_MIN:
        return UNPLUGGED
    if ohms >= L.PP_CAR_BUTTON_MIN:
        return BUTTON
    return FAULT


def cable_amps(ohms, phases):
    """Type 2 cable coding resistor -> cable rating in amps; 0 = no charging (open, short or out of band).
    The 100 ohm cable's rating depends on the phases it carries (Table B.2).

    No silent 13 A fallback on an open PP: an open PP means no cable and no charging.
    """
    if ohms < 0:
        return 0
    for lo, hi, amps, one_phase in L.T2_BANDS:
        if lo <= ohms <= hi:
            return one_phase if phases == 1 else amps
    return 0


_CABLE = const(10)      # the pair in band()'s rows where cable_amps' ranges start, the tethered
_ANY = const(19)        # cable's one, the empty one
_NONE = const(20)


def band(ohms, connector, w, i, rows=(
        # The PP ranges of whole ohms (read_pp's values) each decoder reads alike, as (lowest,
        # highest) pairs. latch_state (J1772, NACS): not wired, short, latched, a gap, button
        # pressed, a gap, latched and a gap and button pressed through a car's PP circuit, unplugged;
        L.PP_NOT_WIRED, L.PP_NOT_WIRED, 0, L.T2_FAULT_LOW - 1, L.T2_FAULT_LOW, L.PP_LATCHED_MAX,
        L.PP_LATCHED_MAX + 1, L.PP_BUTTON_MIN - 1, L.PP_BUTTON_MIN, L.PP_BUTTON_MAX,
        L.PP_BUTTON_MAX + 1, L.PP_CAR_LATCHED_MIN - 1, L.PP_CAR_LATCHED_MIN, L.PP_CAR_LATCHED_MAX,
        L.PP_CAR_LATCHED_MAX + 1, L.PP_CAR_BUTTON_MIN - 1, L.PP_CAR_BUTTON_MIN, L.PP_UNPLUGGED_MIN - 1,
        L.PP_UNPLUGGED_MIN, L.PP_OPEN) + tuple(
        # cable_amps (Type 2 socket): below the first band, then each band and the gap above it;
        [L.PP_NOT_WIRED, L.T2_BANDS[0][0] - 1] + [v for k, b in enumerate(L.T2_BANDS) for v in (
            b[0], b[1], b[1] + 1, L.T2_BANDS[k + 1][0] - 1 if k + 1 < len(L.T2_BANDS) else L.PP_OPEN)]) + (
        L.PP_NOT_WIRED, L.PP_OPEN,      # a tethered cable: no PP to read; and one that holds none
        1, 0)):
    """The range of PP values that this connector's decoder reads as it reads ohms, into
    w[i] <= value <= w[i + 1] (nothing allocated); one that holds nothing for a value in none
    (not whole ohms). The core compares a new PP reading with the last one's range, not its value:
    a real ADC's noise moves it on every read. (The table is a default argument, made once at
    import: a module-level name would be one more interned string, docs/design.md.)"""
    if connector == "type2-socket":
        k, end = _CABLE, _ANY
    elif connector == "type2-tethered":
        k, end = _ANY, _NONE
    else:
        k, end = 0, _CABLE
    if not isinstance(ohms, int):
        k = end = _NONE
    while k < end and not rows[2 * k] <= ohms <= rows[2 * k + 1]:
        k += 1
    if k == end:
        k = _NONE
    w[i] = rows[2 * k]
    w[i + 1] = rows[2 * k + 1]
