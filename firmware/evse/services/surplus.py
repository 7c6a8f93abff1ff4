"""Solar surplus and grid limit: the charging current from the grid power, as one more limit
source of the core (it never lifts another source's cap).

  solar: charge from what the house exports: I = I_ev + (export - reserve) / (V x phases)
  grid:  never import more than grid_limit_w:  I = I_ev + (grid_limit_w - import) / (V x phases)

The target is smoothed (a first-order filter of solar_smoothing_s) so a passing cloud does not
move the duty every second; in grid mode only a rise is: the safe side of a current limit is lower,
so a house load that comes on lowers the current at the next reading (as SmartEVSE's and OpenEVSE's
main-fuse limits do). Each reading is one measurement of the house with the car as it drew then:
the target moves once a reading, not once a second (a meter that reports every 10 s would otherwise
add the same headroom to the car's rising current ten times). Below the car's minimum current
(min_current_a: some cars refuse 6 A) charging pauses (limit 0), but in solar mode only after
min_charge_s of charging, and it resumes only after min_pause_s: a contactor that cycles on every
cloud wears out (users count hundreds a day). Both times belong to one car: an unplug ends them.
In grid mode a house's main breaker comes first: it pauses at once. A grid reading older than
grid_timeout_s is no reading: the safe side of doubt, no surplus (pause) in solar mode, the car's
minimum in grid mode, where a pause goes on (the house was at its limit when last heard). A reading that is not a finite number is refused (ValueError)."""
from ..core import limits as L


class Surplus:
    def __init__(self, cfg, diff):
        self.mode = cfg["solar_mode"]
        self.grid_limit_w = cfg["grid_limit_w"]
        self.reserve_w = cfg["solar_reserve_w"]
        self.min_a = cfg["min_current_a"]
        self.cfg = cfg                # max_current: a live setting (the console's set), read at each limit
        self.volts_phases = cfg["nominal_volts"] * cfg["phases"]
        self.tau_ms = cfg["solar_smoothing_s"] * 1000
        self.min_charge_ms = cfg["min_charge_s"] * 1000
        self.min_pause_ms = cfg["min_pause_s"] * 1000
        self.timeout_ms = cfg["grid_timeout_s"] * 1000
        self.diff = diff
        self.grid_w = None           # last reading: watts imported (negative: exported)
        self.grid_at = None
        self.fresh = False           # a reading not yet taken into the target
        self.smooth = None           # the filtered target, A
        self.last_ms = None
        self.paused = self.mode == "solar"   # solar: nothing until the first good reading
        self.since = None            # when it last paused or resumed
        self.why = "no grid reading yet"

    def reading(self, watts, now_ms):
        self.grid_w = L.check_number(watts, -1000000, 1000000)
        self.grid_at = now_ms
        self.fresh = True

    def _target(self, ev_amps):
        if self.mode == "solar":
            return ev_amps + (-self.grid_w - self.reserve_w) / self.volts_phases
        return ev_amps + (self.grid_limit_w - self.grid_w) / self.volts_phases

    def drops_at_once(self):
        """A lower target is taken whole at the next reading (grid mode, or no smoothing): then the
        readings before the car followed a drop (5 s) must not count its old draw as gone."""
        return self.mode == "grid" or self.tau_ms <= 0

    def _filter(self, raw, now_ms):
        if self.smooth is None or self.tau_ms <= 0 or (self.mode == "grid" and raw < self.smooth):
            self.smooth = raw        # grid: a drop at once (the house's main breaker comes first)
        else:
            dt = self.diff(now_ms, self.last_ms)
            self.smooth += (raw - self.smooth) * dt / (self.tau_ms + dt)
        self.last_ms = now_ms
        return self.smooth

    def _amps(self, ev_amps, max_a, now_ms, following):
        if self.fresh or self.smooth is None:
            self.fresh = False
            raw = min(self._target(ev_amps), max_a)
            if following and self.smooth is not None and raw > self.smooth:
                raw = self.smooth        # ev_amps is the draw before a drop, not yet followed: no rise from it
            return self._filter(raw, now_ms)
        return min(self.smooth, max_a)   # no new reading: the last target holds

    def _held(self, now_ms, need_ms):
        return self.since is not None and self.diff(now_ms, self.since) < need_ms

    def _switch(self, paused, now_ms, why):
        if paused != self.paused:
            self.paused, self.since = paused, now_ms
        self.why = why

    def unplugged(self):
        """No car: the minimum charge and pause times hold one car's contactor cycles; the next car
        does not wait out its predecessor's pause (nor charges below the surplus for its minimum time)."""
        self.since = None

    def _max_a(self):
        return self.cfg["max_current"] or 0

    def limit(self, now_ms, ev_amps, following=False):
        """Amperes allowed now (0 = paused), given the current the car draws now (following: the
        current it drew before a drop that it may still be following; then the target only falls)."""
        if self.since is not None and self.diff(now_ms, self.since) > self.min_charge_ms + self.min_pause_ms:
            self.since = None        # both holds are over: a stamp older than 2**29 ms would read as new
        if self.grid_at is None or self.diff(now_ms, self.grid_at) > self.timeout_ms:
            self.smooth = self.grid_at = None   # forgotten: 6.2 days on, the port's ticks make it new
            if self.mode == "grid" and not self.paused:     # a pause goes on: no reading lifts it
                self.why = "no grid reading: the car's minimum"
                return self.min_a
            self._switch(True, now_ms, "no grid reading: no surplus" if self.mode == "solar"
                         else "no grid reading: paused (the house was at its limit)")
            return 0
        # the target is bounded by the rating before it is smoothed: a surplus beyond what can be
        # offered (or one absurd reading) must not wind the filter up and delay the next drop
        max_a = self._max_a()
        amps = self._amps(ev_amps, max_a, now_ms, following)
        if self.paused:                      # why: of this reading, never of one before
            if amps < self.min_a:
                self.why = "below the car's minimum"
            elif not self._held(now_ms, self.min_pause_ms):
                self._switch(False, now_ms, "surplus")
            else:
                self.why = "paused, holding the minimum pause time"
        elif amps < self.min_a:
            if self.mode == "grid" or not self._held(now_ms, self.min_charge_ms):
                self._switch(True, now_ms, "below the car's minimum")
            else:
                self.why = "below the minimum, holding the minimum charge time"
        else:
            self.why = "surplus"
        if self.paused:
            return 0
        return int(max(self.min_a, min(amps, max_a)) * 10) / 10
