# The stall guard (rp2): while one long call in C holds the control loop (a TLS handshake's key
# exchange and certificate checks: no asyncio task can interrupt it, hundreds of ms on a board), a
# hard timer interrupt reads the pilot itself and opens the contactor when the car no longer asks
# for power (B), is gone (A) or shows a fault (E, F, the diode, an impossible level), after
# L.STALL_STRIKES readings in a row, as the loop confirms a change. A soft timer would wait behind
# the same call (on the emulated Pico, during a 4.3 s big-number pow(): 433 hard callbacks at
# 10 ms, no soft one). Imported only on boards that have it: its code costs heap elsewhere.
import time

import machine
from micropython import const

from ..core import limits as L
from ..core import pilot as P

ticks_ms = time.ticks_ms
ticks_diff = time.ticks_diff
_COUNT_MASK = const(0xFFFFFF)   # counters wrap while still small ints (no allocation in the interrupt)


class _Reading:
    """The guard's own pilot reading (the loop's Measurements may be half-written)."""

    def __init__(self):
        self.pilot_pos = self.pilot_neg = 0
        self.pilot_ok = False


class StallGuard:
    """Reads only when the loop has not measured for L.STALL_MS (so never beside the loop's own
    reads) and the coil is closed; its own sampler and reading, nothing allocated."""

    def __init__(self, hw, sampler):
        self._hw = hw
        self._sampler = sampler
        self._r = _Reading()
        self._strikes = 0
        self._busy = False
        self._last = 0            # ticks_ms of its last reading
        self.reads = 0            # pilot readings taken while the loop was held (wraps)
        self.armed = False
        self._cb = self._on_timer     # bound once: arming allocates nothing
        self.timer = machine.Timer(-1)

    # The interrupt runs only while the coil is closed: while it only looks it takes 0.6-0.8 % of
    # the Pico's CPU, and one landing in the phased read costs that read a window (with it always
    # on, the tick in B took 0.2 ms more; make bench's rp2 tick_cpu).
    def arm(self):
        """The coil closes (the loop's context)."""
        if not self.armed:
            self._strikes = 0
            self.timer.init(mode=machine.Timer.PERIODIC, period=L.STALL_GUARD_MS,
                            callback=self._cb, hard=True)
            self.armed = True

    def disarm(self):
        """The coil was opened (the loop's context: never from the interrupt, whose timer entry the
        port's handler holds aside during the callback; shared/runtime/softtimer.c)."""
        if self.armed:
            self.timer.deinit()
            self.armed = False

    def _on_timer(self, t):
        hw = self._hw
        if self._busy:
            return
        if not hw.coil_on or ticks_diff(ticks_ms(), hw.alive_ms) < L.STALL_MS:
            self._strikes = 0
            return
        # A flash erase or program holds every interrupt (ports/rp2/rp2_flash.c: 45 ms a sector,
        # 400 ms at the chip's max): the port then calls a periodic timer once for each period it
        # missed, back to back in one dispatch. One reading for them all: 80 readings after a 400 ms
        # erase held the residual-current interrupt 63 ms more (host_tests/test_rp2_flashtime.py).
        # (0 <=: a reading older than half the ticks' range, negative here, is no reason to wait.)
        now = ticks_ms()
        if 0 <= ticks_diff(now, self._last) < L.STALL_GUARD_MS - 1:
            return
        self._last = now
        self._busy = True
        try:
            self.reads = (self.reads + 1) & _COUNT_MASK
            if self._asking():
                self._strikes = 0
            else:
                self._strikes += 1
                if self._strikes >= L.STALL_STRIKES:
                    self._strikes = 0
                    hw._trip()        # the RCD's interrupt path: the coil off
                    hw.guard_trips = (hw.guard_trips + 1) & _COUNT_MASK   # tells the core (and holds it open)
        finally:
            self._busy = False

    def _asking(self):
        """The car still asks for power: C or D, read as the loop reads it (the shell's own
        reads: at known phases while the PWM runs, else the one level)."""
        hw = self._hw
        r = self._r
        pwm = 0 < hw.duty_x100 < 10000
        try:
            if pwm:
                hw._sample_phased(r, self._sampler, None)
            else:
                hw._sample_level(r)
        except Exception:   # no reading (the ADC raised, or gave no number): no car seen asking
            return False    # (a strike; the exception would leave the interrupt, the coil closed)
        s = P.classify(r.pilot_pos, r.pilot_neg, pwm, P.C)
        return r.pilot_ok and (s == P.C or s == P.D)
