# Proximity (PP), pure logic (facts 5).
from micropython import const

from evse.core import limits as L

# J1772 / NACS (SAE J3400) plug with the latch switch S3 wired back to the controller
LATCHED = const(1)      # 150 ohm: plug latched
BUTTON = const(2)       # 480 ohm: latch button pressed, the plug is about to leave
UNPLUGGED = const(3)    # open
FAULT = const(4)        # short or a value no plug makes
NOT_WIRED = const(0)

CONNECTORS = ("j1772", "nacs", "type2-socket", "type2-tethered")


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
    if ohms >= L.PP_UNPLUGGED_MIN:
        return UNPLUGGED
    return FAULT


def cable_amps(ohms):
    """Type 2 cable coding resistor -> cable rating in amps; 0 = no charging (open, short or out of band).

    No silent 13 A fallback on an open PP: an open PP means no cable and no charging.
    """
    if ohms < 0:
        return 0
    for lo, hi, amps in L.T2_BANDS:
        if lo <= ohms <= hi:
            return amps
    return 0



# The PP ranges of whole ohms (read_pp's values) each decoder reads alike, as (lowest, highest)
# pairs in one flat tuple: latch_state's, cable_amps' (its bands and the gaps between them), the
# tethered cable's one, then one that holds nothing. The core compares a new PP reading with the
# last one's range, not its value (a real ADC's noise moves it on every read).
BANDS = (
    # latch_state (J1772, NACS): not wired, short, latched, a gap, button pressed, a gap, unplugged
    L.PP_NOT_WIRED, L.PP_NOT_WIRED, 0, L.T2_FAULT_LOW - 1, L.T2_FAULT_LOW, L.PP_LATCHED_MAX,
    L.PP_LATCHED_MAX + 1, L.PP_BUTTON_MIN - 1, L.PP_BUTTON_MIN, L.PP_BUTTON_MAX,
    L.PP_BUTTON_MAX + 1, L.PP_UNPLUGGED_MIN - 1, L.PP_UNPLUGGED_MIN, L.PP_OPEN) + tuple(
    # cable_amps (Type 2 socket): below the first band, then each band and the gap above it
    [L.PP_NOT_WIRED, L.T2_BANDS[0][0] - 1] + [v for i, b in enumerate(L.T2_BANDS) for v in (
        b[0], b[1], b[1] + 1, L.T2_BANDS[i + 1][0] - 1 if i + 1 < len(L.T2_BANDS) else L.PP_OPEN)]) + (
    L.PP_NOT_WIRED, L.PP_OPEN,      # a tethered cable: no PP to read
    1, 0)                           # none
_CABLE = const(7)       # the pair where cable_amps' ranges start, the tethered one's, the empty one
_ANY = const(16)
_NONE = const(17)


def band(ohms, connector, w, i):
    """The range of PP values that this connector's decoder reads as it reads ohms, into
    w[i] <= value <= w[i + 1] (nothing allocated); one that holds nothing for a value in none
    (not whole ohms)."""
    if connector == "type2-socket":
        k, end = _CABLE, _ANY
    elif connector == "type2-tethered":
        k, end = _ANY, _NONE
    else:
        k, end = 0, _CABLE
    if not isinstance(ohms, int):
        k = end = _NONE
    while k < end and not BANDS[2 * k] <= ohms <= BANDS[2 * k + 1]:
        k += 1
    if k == end:
        k = _NONE
    w[i] = BANDS[2 * k]
    w[i + 1] = BANDS[2 * k + 1]
