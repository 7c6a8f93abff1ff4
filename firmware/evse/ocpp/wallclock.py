"""Wall time for OCPP timestamps and clock-aligned meter values.

The firmware has no RTC it trusts: the central system's `currentTime` (BootNotification and
Heartbeat responses) is kept as an offset against the tick clock. Times are integer seconds since
1970-01-01 UTC, computed here (MicroPython's own epoch differs between ports)."""
from ..core.calendar import civil_from_days, days_from_civil
from ..core.ticks import ticks_diff

REANCHOR_MS = 1 << 27   # 1.55 days: the reference moves up once this far behind the ticks read


def parse_iso(s):
    """'2024-05-01T12:30:00Z' (fraction and +hh:mm offset allowed) -> epoch seconds, or None."""
    if not isinstance(s, str) or len(s) < 19:
        return None
    try:
        if s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" or s[16] != ":":
            return None
        y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
            return None
        off = _offset(s[19:])
    except ValueError:
        return None
    if off is None:
        return None
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off


def _offset(rest):
    """What follows the seconds ('.123', then 'Z', '' or an ISO 8601 offset, '+hh:mm', '+hhmm' or
    '+hh') -> offset seconds, or None."""
    if rest[:1] == ".":
        i = 1
        while i < len(rest) and rest[i] in "0123456789":
            i += 1
        rest = rest[i:]
    if rest in ("Z", "z", ""):
        return 0
    n = len(rest)
    if n in (3, 5, 6) and rest[0] in "+-" and (n != 6 or rest[3] == ":"):
        hh, mm = rest[1:3], rest[n - 2:] if n > 3 else "00"
        if not (hh + mm).isdigit():
            return None
        off = (int(hh) * 60 + int(mm)) * 60
        return -off if rest[0] == "-" else off
    return None


def format_iso(t):
    """epoch seconds -> '2024-05-01T12:30:00Z'."""
    t = int(t)
    days, sec = divmod(t, 86400)
    y, m, d = civil_from_days(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, sec // 3600, sec // 60 % 60, sec % 60)


class WallClock:
    """Epoch seconds derived from the last `currentTime` and the tick clock, in integers: a board's
    single-precision float holds an epoch to 128 s only (an rp2 image read a time just set as 64 s
    early). The reference moves up with the ticks read (the service reads them at every poll), so
    the ports' ticks_diff, which wraps after 2**29 ms (6.2 days), never spans more than REANCHOR_MS."""

    def __init__(self, diff=ticks_diff):
        self.diff = diff  # the tick clock's own ticks_diff
        self.ref_ticks = None
        self.ref_epoch = None
        self.ref_ms = 0   # ms past ref_epoch at ref_ticks
        self.ref_count = 0    # ref_ticks as a count that does not wrap (unwrap)
        self.seen_ticks = None    # the ticks read last (track), and as that count: a message made
        self.seen = 0             # without a clock keeps the count, its time known when the clock is

    def known(self):
        return self.ref_epoch is not None

    def track(self, now_ticks):
        """The service's every poll: the count moves up before ticks_diff would wrap."""
        if self.seen_ticks is None:
            self.seen_ticks = self.seen = now_ticks
            return
        d = self.diff(now_ticks, self.seen_ticks)
        if d >= REANCHOR_MS:
            self.seen += d
            self.seen_ticks = now_ticks

    def unwrap(self, ticks):
        """Ticks read in the last 2**29 ms as a count that does not wrap (a long int on a 32-bit
        port after 12.4 days: made for a message, never in a poll)."""
        self.track(ticks)
        return self.seen + self.diff(ticks, self.seen_ticks)

    def at(self, count):
        """Epoch seconds at a count of unwrap(), or None while the time is unknown."""
        if self.ref_epoch is None:
            return None
        return self.ref_epoch + (self.ref_ms + count - self.ref_count) // 1000

    def set(self, epoch_s, now_ticks):
        e = int(epoch_s)
        self.ref_epoch, self.ref_ms, self.ref_ticks = e, int((epoch_s - e) * 1000), now_ticks
        self.ref_count = self.unwrap(now_ticks)

    def now(self, now_ticks):
        """Epoch seconds (int, rounded down) or None while no central system has told us the time."""
        if self.ref_epoch is None:
            return None
        ms = self.ref_ms + self.diff(now_ticks, self.ref_ticks)
        if ms >= REANCHOR_MS:
            self.ref_epoch += ms // 1000
            self.ref_ms = ms = ms % 1000
            self.ref_ticks = now_ticks
            self.ref_count = self.unwrap(now_ticks)
        return self.ref_epoch + ms // 1000
