"""Tick arithmetic for the OCPP service. The clock itself belongs to the caller: the app passes
`evse.shell.hal` (its ticks_ms/ticks_diff/ticks_add), host tests pass a real clock. Nothing here reads
`time`: a mock clock registered before or after import would otherwise be picked up by accident."""

TICKS_PERIOD = 1 << 30  # the MicroPython ports wrap ticks_ms here
_HALF = TICKS_PERIOD >> 1
_MASK = TICKS_PERIOD - 1


def ticks_diff(a, b):
    """a - b in ms, correct across one wrap (same rule as MicroPython's time.ticks_diff)."""
    return ((a - b + _HALF) & _MASK) - _HALF


def ticks_add(a, d):
    return (a + d) & _MASK
