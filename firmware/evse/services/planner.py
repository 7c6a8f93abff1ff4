"""The energy planner: two more limit sources of the core, evaluated once a second.

  schedule: outside the weekly charging windows nothing is offered; outside the off-peak tariff
            windows at most peak_current_a. The windows are in the board's local time (its RTC,
            set by NTP, and the POSIX TZ rule `tz`); while the clock is not set, the safe side:
            no window is known to be open, nothing is offered (with off-peak windows only, the
            peak current), and the status says why.
  surplus:  solar surplus or grid limit (evse.services.surplus) from the grid power that the
            source named by `grid_source` (mqtt, rest, console, or the Modbus grid meter of
            evse.metering.grid) reports through App.command.
Each is one limit among the others: the core offers the lowest, so neither can lift another's cap."""
from ..core import vocab as V
from . import timetable as T
from .surplus import Surplus

EVAL_MS = 1000
CAR_FOLLOW_MS = 5000   # facts 2: a car may take 5 s to follow a lower current; the grid meter sees its old draw


class Planner:
    def __init__(self, app, cfg, clock, diff):
        self.app = app
        self.clock = clock          # UTC epoch seconds from the board's RTC, or None while unset
        self.diff = diff
        self.tz = T.parse_tz(cfg["tz"])
        self.windows = T.parse_windows(cfg["charge_windows"]) if cfg["charge_windows"] else None
        self.offpeak = T.parse_windows(cfg["offpeak_windows"]) if cfg["offpeak_windows"] else None
        self.peak_a = cfg["peak_current_a"]
        self.surplus = Surplus(cfg, diff) if cfg["solar_mode"] != "off" else None
        self.grid_source = cfg["grid_source"]
        self.last_ms = None
        self.prev_a = 0              # no charging meter: what was offered at the last poll ...
        self.held_a = 0              # ... and before the last drop, while the car may still draw it
        self.held_at = None
        self.sent = {}
        self.why = {}

    def reading(self, source, watts, now):
        """A grid power reading (W imported, negative exported) from a service; ValueError if the
        planner does not use that source."""
        if self.surplus is None:
            raise ValueError("solar_mode is off")
        if source != self.grid_source:
            raise ValueError("grid power is taken from %s (grid_source)" % self.grid_source)
        self.surplus.reading(watts, now)

    def schedule_limit(self, t):
        """(amps or None, why) from the windows at UTC time t (None: clock not set)."""
        if self.windows is None and self.offpeak is None:
            return None, None
        if t is None:              # off-peak only: peak_current_a is what the owner accepts at any hour
            if self.windows is None:
                return self.peak_a, "board clock not set (NTP): the peak tariff assumed"
            return 0, "board clock not set (NTP): no charging window known to be open"
        mow = T.minute_of_week(self.tz, t)
        if self.windows is not None and not T.in_windows(self.windows, mow):
            return 0, "outside the charging windows"
        if self.offpeak is not None and not T.in_windows(self.offpeak, mow):
            return self.peak_a, "peak tariff"
        return None, None

    def poll(self, now):
        if self.last_ms is not None and self.diff(now, self.last_ms) < EVAL_MS:
            return
        self.last_ms = now
        lim, why = self.schedule_limit(self.clock())
        self._apply(V.SRC_SCHEDULE, lim, why, now)
        if self.surplus is not None:
            st = self.app.status(now)
            if st.get("state") == V.ST_A1:
                self.surplus.unplugged()
            amps = self._ev_amps(st, now)
            following = self.held_at is not None and self.surplus.drops_at_once()
            self._apply(V.SRC_SURPLUS, self.surplus.limit(now, amps, following), self.surplus.why, now)

    def _ev_amps(self, st, now):
        """What the car draws: the meter's current, else (no meter, or one lost: current_a -1.0) what is
        offered while the contactor is closed; where a drop is taken at once, what was offered before
        one while the car may still follow it (counted as gone, the grid looked short again: a pause)."""
        measured = st.get("energy", {}).get("current_a")
        if measured is not None and measured >= 0:      # NaN fails it too
            return measured
        amps = st["amps"] if st["contactor"] else 0
        if amps < self.prev_a:
            self.held_a = max(self.held_a, self.prev_a) if self.held_at is not None else self.prev_a
            self.held_at = now
        self.prev_a = amps
        if self.held_at is None or self.diff(now, self.held_at) >= CAR_FOLLOW_MS:
            self.held_at = None
        elif self.surplus.drops_at_once():  # else the filter outlasts the car's 5 s (the old draw: the grid's)
            return max(amps, self.held_a)
        return amps

    def _apply(self, src, amps, why, now):
        self.why[src] = why
        if src not in self.sent or self.sent[src] != amps:
            self.sent[src] = amps
            self.app.command("limit", amps, now, src)

    def local_time(self):
        """'Mon 23:30 +02:00': the local time the windows read (a wrong `tz` shows here: POSIX
        writes offsets west-positive, CET+1 is UTC-1), or None while the clock is not set."""
        t = self.clock()
        if t is None:
            return None
        off, mow = T.utc_offset(self.tz, t), T.minute_of_week(self.tz, t)
        day = T.DAYS[mow // 1440]
        return "%s %02d:%02d %s%02d:%02d" % (day[0].upper() + day[1:], mow % 1440 // 60, mow % 60,
                                             "-" if off < 0 else "+", abs(off) // 3600, abs(off) % 3600 // 60)

    def status(self):
        r = {"schedule": {"limit": self.sent.get(V.SRC_SCHEDULE), "why": self.why.get(V.SRC_SCHEDULE),
                          "local": self.local_time()}}
        s = self.surplus
        if s is not None:
            r["surplus"] = {"mode": s.mode, "limit": self.sent.get(V.SRC_SURPLUS), "why": s.why,
                            "grid_w": s.grid_w, "paused": s.paused}
        return r
