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
