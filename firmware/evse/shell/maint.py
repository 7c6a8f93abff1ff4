# The maintenance state: the REPL after Ctrl-C (mpremote, make flash) or a soft reset, when the
# charger is not running. The hardware watchdog cannot be stopped, so it is fed here, from a soft
# timer: a soft timer runs only while the VM runs Python or waits at the REPL, so a VM stuck in C
# still resets the board. Each feed puts the outputs safe again. The feeds stop after
# L.MAINT_WINDOW_MS and the watchdog resets the board back into the charger.
import machine
from micropython import const

from ..core import limits as L
from .hal import ticks_ms, ticks_diff

_FEED_MS = const(500)        # L.WDT_TIMEOUT_MS / 4: a late soft timer still feeds in time
_timer = None


def _new_timer(callback):
    for tid in (-1, 0):      # rp2: virtual timers only (-1); esp32: hardware timers only (0-3)
        try:
            return machine.Timer(tid, mode=machine.Timer.PERIODIC, period=_FEED_MS, callback=callback)
        except (ValueError, OSError):
            pass
    raise OSError("no timer for the maintenance feeds")


def start(safe):
    """Enter maintenance now (again): safe() at once and on every feed, for L.MAINT_WINDOW_MS."""
    global _timer
    stop()
    safe()
    wdt = machine.WDT(timeout=L.WDT_TIMEOUT_MS)      # starts it, or re-arms the running one
    t0 = ticks_ms()

    def feed(t):
        if ticks_diff(ticks_ms(), t0) >= L.MAINT_WINDOW_MS:
            t.deinit()       # window over: no more feeds, the watchdog resets the board
            return
        safe()
        wdt.feed()
    _timer = _new_timer(feed)


def timer():
    """The soft timer feeding the watchdog in maintenance; None while the control loop owns it."""
    return _timer


def stop():
    """The charger's control loop feeds the watchdog from here on."""
    global _timer
    if _timer is not None:
        _timer.deinit()
        _timer = None
