"""Wrap-safe tick arithmetic, for the parts that are not handed the port's (the meters, the OCPP
service). MicroPython's ports wrap ticks_ms and ticks_us at 2**30, which is not a small int on a
32-bit board: the arithmetic below never reaches it, so it allocates nothing (a CT meter calls
ticks_diff for every sample; with 2**30 in it that was 192 bytes a call on the Pico)."""
from micropython import const

_MASK = const(0x3FFFFFFF)       # the ports' ticks period (2**30) - 1
_HALF = const(0x20000000)       # half the period


def ticks_diff(a, b):
    """a - b, correct across one wrap (MicroPython's time.ticks_diff)."""
    d = (a - b) & _MASK
    return d - _MASK - 1 if d >= _HALF else d


def ticks_add(a, d):
    return (a + d) & _MASK
