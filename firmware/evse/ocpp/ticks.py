"""Tick clock shim: MicroPython's time.ticks_* or, on plain CPython, an equivalent that wraps the
same way (so wrap-around bugs show up on the host too)."""
import time

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:
    TICKS_PERIOD = 1 << 30
    _HALF = TICKS_PERIOD >> 1
    _t0 = time.monotonic()  # CPython only: this branch never runs on a board

    def ticks_ms():
        return int((time.monotonic() - _t0) * 1000) & (TICKS_PERIOD - 1)

    def ticks_diff(a, b):
        return ((a - b + _HALF) & (TICKS_PERIOD - 1)) - _HALF

    def ticks_add(a, d):
        return (a + d) & (TICKS_PERIOD - 1)
