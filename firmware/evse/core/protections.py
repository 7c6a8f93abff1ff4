# Protections, pure logic: over-current, temperature derating, residual-current trip policy.
from micropython import const

from . import limits as L
from . import vocab as V


class OverCurrent:
    """Trip when I > (I_signalled + 0.5 A) x 1.10 for 7 s (facts 7).

    Judged against the highest current signalled in the last OC_SIGNAL_WINDOW_MS, so lowering the
    duty does not trip an EV that is still ramping down (a known field bug).
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self._over_since = None
        # The highest current of the last window without a history: the highest that ended in it
        # (prev) and the highest of those that ended after that one (next, lower), each with the
        # moment the last of its currents ended (0: none). next and end: names MicroPython has
        # interned already (no qstr of their own in RAM, as Thermal's sum and count)
        self._prev_x10 = 0
        self._prev_until = 0
        self.next = 0
        self.end = 0
        self._signalled_x10 = 0
        self._ref_x10 = -1
        self._trip_ma = 0

    def signalled(self, amps_x10, now_ms, ticks_diff):
        old = self._signalled_x10
        if amps_x10 < old:
            # A duty lowered a step a second (a load manager) is followed in 5 s from each step:
            # the current just before the last step alone tripped a car that followed every one
            self.reference_x10(now_ms, ticks_diff)      # (drops what is out of the window)
            if old >= self._prev_x10:
                self._prev_x10 = old
                self._prev_until = now_ms
                self.next = 0
            else:
                if old > self.next:
                    self.next = old
                self.end = now_ms
        self._signalled_x10 = amps_x10

    def reference_x10(self, now_ms, ticks_diff):
        s = self._signalled_x10
        prev = self._prev_x10
        # out of the window (ticks wrap: days later it read as recent): next in its place
        while prev and not 0 <= ticks_diff(now_ms, self._prev_until) < L.OC_SIGNAL_WINDOW_MS:
            prev = self._prev_x10 = self.next
            self._prev_until = self.end
            self.next = 0
        return prev if prev > s else s

    def check(self, measured_ma, now_ms, ticks_diff):
        """True when the over-current (measured_ma: int mA) has lasted long enough to trip."""
        if measured_ma is None or not measured_ma >= 0:   # no meter, lost, or NaN: blind
            return False      # the time over neither ends nor starts: a poll lost in three hid 30 A at 16
                              # (the core ends it when the contactor opens)
        ref = self.reference_x10(now_ms, ticks_diff)
        if ref != self._ref_x10:
            self._ref_x10 = ref
            self._trip_ma = (ref + L.OC_OFFSET_X10) * L.OC_FACTOR_PCT   # (I + 0.5 A) x 1.10, in mA
        if measured_ma > self._trip_ma:
            if self._over_since is None:
                self._over_since = now_ms
            return ticks_diff(now_ms, self._over_since) >= L.OC_TRIP_MS
        self._over_since = None
        return False


THERMAL_OK = const(0)
THERMAL_HALF = const(1)
THERMAL_QUARTER = const(2)
THERMAL_STOP = const(3)
# A step down of the thermal level: the mean of the readings over 1 s from the first one below the
# restore temperature (limits.TEMP_RESTORE_C) must be below it, so that a noisy reading (the ADC's)
# never raises the current. Here and not in limits: a public name there costs 0.8 KB of RAM
# (limits' globals table at its next size) and an interned string (docs/design.md, Memory).
_RESTORE_MS = const(1000)
_HOTTEST_C = const(1000000)       # beyond any reading: the window's open ends
_COLDEST_C = const(-1000000)
# Colder than this is no temperature but a broken sensor or input (a TMP36 at 0 V reads -50 C, the
# RP2040's own sensor at full scale -1480 C): below any such sensor's range (TMP36: -40 C) and any
# charger's ambient (IEC 61851-1 outdoors: -25 C). One such reading is ignored (a glitch never
# lowers the level); for _BROKEN_MS on end the sensor is broken: no charging (the safe side of
# doubt), said as the warning temp_sensor, until real readings restore the level as from a stop.
_SENSOR_MIN_C = const(-40)
_BROKEN_MS = const(1000)


class Thermal:
    """Half current at 65 C, quarter at 68 C, stop at 71 C, restore below 62 C (settings): hotter
    at once, cooler once the readings over _RESTORE_MS from one below the restore temperature
    were below it on average (one noisy reading never raises the current, nor does a noisy
    sensor just under the threshold keep it from ever restoring)."""

    def __init__(self, half_c, quarter_c, stop_c, restore_c):
        self.half_c = half_c
        self.quarter_c = quarter_c
        self.stop_c = stop_c
        self.restore_c = restore_c
        self.level = THERMAL_OK
        self.since = None             # a step down waits: since the first reading below restore_c,
        self.sum = 0                  # the readings' sum and count
        self.count = 0
        self.broken = False           # the sensor reads below _SENSOR_MIN_C for _BROKEN_MS
        self.broken_since = None      # since the first of those readings (stopped once judged)
        self.hot = False              # stopped by a reading at stop_c (not by a dead sensor), until cooled

    def phase(self):
        """What the readings' window depends on besides the level (band), as one number."""
        return ((self.since is not None) + 2 * (self.broken_since is not None)
                + 4 * self.broken)

    def update(self, temp_c, now_ms, ticks_diff):
        if temp_c is None:            # no sensor on this board
            return self.level
        if not temp_c >= _SENSOR_MIN_C:   # NaN too (every comparison false): no temperature
            return self._broken_reading(now_ms, ticks_diff)
        if self.broken:               # read again: the stop the dead sensor made is heat's if it reads hot
            self.hot = temp_c >= self.stop_c
        self.broken = False
        self.broken_since = None
        if temp_c >= self.stop_c:
            level = THERMAL_STOP
        elif temp_c >= self.quarter_c:
            level = THERMAL_QUARTER
        elif temp_c >= self.half_c:
            level = THERMAL_HALF
        else:
            level = THERMAL_OK
        if level > self.level:
            self.level = level
            self.since = None
            self.hot = level == THERMAL_STOP
        elif self.since is None:
            if temp_c < self.restore_c and level < self.level:     # (hysteresis, then time)
                self.since, self.sum, self.count = now_ms, temp_c, 1
        else:
            self.sum += temp_c
            self.count += 1
            if ticks_diff(now_ms, self.since) >= _RESTORE_MS:
                if self.sum < self.restore_c * self.count and level < self.level:
                    self.level = level
                    self.hot = False
                self.since = None
        return self.level

    def _broken_reading(self, now_ms, ticks_diff):
        self.since = None             # (a step down judges real readings only)
        if self.broken:
            return self.level
        if self.broken_since is None:
            self.broken_since = now_ms
        elif ticks_diff(now_ms, self.broken_since) >= _BROKEN_MS:
            self.broken = True
            self.broken_since = None
            self.level = THERMAL_STOP
        return self.level

    def band(self, w, i):
        """The temperatures the level now holds through, into w[i] <= temp < w[i + 1]: up to the
        next threshold, and down to the restore temperature once raised (the core's quiet tick
        compares a reading with them; nothing allocated). While a step down waits, none: every
        reading counts; broken, every real one does."""
        level = self.level
        if self.since is not None or self.broken_since is not None:
            w[i] = 1
            w[i + 1] = 0
            return
        if self.broken:
            w[i] = _COLDEST_C
            w[i + 1] = _SENSOR_MIN_C
            return
        w[i] = _SENSOR_MIN_C if level == THERMAL_OK else self.restore_c
        if level == THERMAL_OK:
            w[i + 1] = self.half_c
        elif level == THERMAL_HALF:
            w[i + 1] = self.quarter_c
        elif level == THERMAL_QUARTER:
            w[i + 1] = self.stop_c
        else:
            w[i + 1] = _HOTTEST_C

    def scale_x10(self, amps_x10):
        if self.level == THERMAL_HALF:
            return amps_x10 // 2
        if self.level == THERMAL_QUARTER:
            return amps_x10 // 4
        if self.level == THERMAL_STOP:
            return 0
        return amps_x10


class RcdPolicy:
    """Residual-current trips: a trip within 2 s of closing is hard; otherwise retry after 15 min,
    at most 4 times (UL 2231-2 14.4: 15 min at least, 4 resets at most): the 5th trip locks out
    until unplug or reset."""

    def __init__(self):
        self.trips = 0

    def on_trip(self, closed_ms, trip_ms, ticks_diff):
        """Fault name for a trip while closed (closed_ms: when the contactor closed, or None;
        trip_ms: when the trip came)."""
        if closed_ms is not None and ticks_diff(trip_ms, closed_ms) < L.RCD_EARLY_MS:
            return V.FAULT_RCD_EARLY
        self.trips += 1
        if self.trips >= L.RCD_MAX_TRIPS:
            return V.FAULT_RCD_LOCKOUT
        return V.FAULT_RCD

    def reset(self):
        self.trips = 0
