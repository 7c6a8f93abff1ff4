"""Charging windows in the board's local time: weekly windows ("Mon-Fri 22:00-06:30; Sat,Sun
00:00-24:00") and a POSIX TZ rule for the time zone and its daylight saving time
("CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0", "UTC0"). Pure functions of epoch seconds (UTC);
the clock itself is the shell's (NTP sets the board's RTC)."""
from ..core.calendar import civil_from_days, days_from_civil, weekday

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MIN = 7 * 1440


def _hhmm(s, hi):
    """'22:00' -> minutes (up to hi)."""
    h, _, m = s.partition(":")
    if not h.isdigit() or not m.isdigit() or len(m) != 2:
        raise ValueError("time must be HH:MM: '%s'" % s)
    v = int(h) * 60 + int(m)
    if int(m) > 59 or v > hi:
        raise ValueError("time out of range: " + s)
    return v


def _days(spec):
    """'Mon-Fri', 'Sat,Sun', 'daily' -> day numbers (0 = Monday)."""
    spec = spec.lower()
    if spec in ("daily", "*"):
        return list(range(7))
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        if a not in DAYS or (b and b not in DAYS):
            raise ValueError("days must be like Mon-Fri or Sat,Sun: " + spec)
        i, j = DAYS.index(a), DAYS.index(b or a)
        while True:
            out.append(i)
            if i == j:
                break
            i = (i + 1) % 7
    return out


FORM = "a window is like Mon-Fri 22:00-06:30, one ending before it starts ends the next day"


def parse_windows(text):
    """'Mon-Fri 22:00-06:30; Sun 10:00-14:00' -> [(start, end)] in minutes of the week (Monday
    00:00 = 0); a window ending before it starts ends the next day. ValueError says what is wrong,
    in which window; a text of no window is one (the empty text, "always", is the caller's)."""
    out = []
    for item in text.split(";"):
        item = item.strip()
        if item:
            try:
                _window(item, out)
            except ValueError as e:
                raise ValueError("%s in '%s' (%s)" % (e.args[0], item, FORM))
    if not out:
        raise ValueError("no window in it (%s)" % FORM)
    return out


def _window(item, out):
    days, _, span = item.rpartition(" ")
    a, _, b = span.partition("-")
    start, end = _hhmm(a, 1439), _hhmm(b, 1440)
    if start == end:
        raise ValueError("empty window")
    for d in _days(days.strip() or "daily"):
        s = d * 1440 + start
        out.append((s, s + (end - start if end > start else end + 1440 - start)))


def in_windows(windows, minute_of_week):
    for s, e in windows:
        if s <= minute_of_week < e or s <= minute_of_week + WEEK_MIN < e:
            return True
    return False


# -- POSIX TZ ---------------------------------------------------------------------------------
OFFSET_MAX_H = 24      # POSIX.1-2017 section 8.3: an offset's hh is 0-24
RULE_MAX_H = 167       # RFC 8536 section 3.3.1: a transition time's hours -167 to 167 (Nuuk's /-1, Jerusalem's /26)


def _name(s, i):
    if s[i:i + 1] == "<":
        j = s.find(">", i)
        if j - i < 4 or [c for c in s[i + 1:j] if not (c.isalpha() or c.isdigit() or c in "+-")]:
            raise ValueError("zone name <...> of 3 or more letters, digits, + or - expected")
        return j + 1
    j = i
    while j < len(s) and s[j].isalpha():
        j += 1
    if j - i < 3:
        raise ValueError("zone name of 3 letters or <...> expected")
    return j


def _clock(s, i, hmax=OFFSET_MAX_H):
    """[+-]h[:mm[:ss]] at s[i] -> (seconds, next index); hours up to hmax, minutes and seconds 0-59
    (a typo is refused, not read as another time: glibc reads 5:75 as 5:59)."""
    sign = 1
    if s[i:i + 1] in ("+", "-"):
        sign = -1 if s[i] == "-" else 1
        i += 1
    j = i
    while j < len(s) and (s[j].isdigit() or s[j] == ":"):
        j += 1
    v = _hms(s[i:j].split(":"), hmax)
    if v is None:
        raise ValueError("offset [+-]hh[:mm[:ss]] (hours 0-%d) expected in %s" % (hmax, s))
    return sign * v, j


def _hms(parts, hmax):
    """['5', '30'] -> seconds, or None when a field is missing, not digits or out of range."""
    if len(parts) > 3 or not all(p.isdigit() for p in parts) or int(parts[0]) > hmax:
        return None
    v = int(parts[0]) * 3600
    for k, p in enumerate(parts[1:]):
        if len(p) != 2 or int(p) > 59:
            return None
        v += int(p) * (60, 1)[k]
    return v


def _rule(r):
    """'M3.5.0/3' -> (month, week 1-5, weekday 0=Sunday, seconds after local midnight)."""
    when, slash, at = r.partition("/")
    f = when[1:].split(".")
    if when[:1] != "M" or len(f) != 3 or [x for x in f if not x.isdigit()]:
        raise ValueError("only Mm.w.d rules are supported: " + r)
    m, w, d = (int(x) for x in f)
    v, j = _clock(at, 0, RULE_MAX_H) if slash else (7200, 0)
    if not (1 <= m <= 12 and 1 <= w <= 5 and 0 <= d <= 6) or j != len(at):
        raise ValueError("bad rule " + r)
    return m, w, d, v


def parse_tz(text):
    """POSIX TZ -> (standard offset s, dst offset s or None, start rule, end rule); offsets east of
    UTC positive (POSIX writes them negative: CET-1 is UTC+1). An empty one is UTC, as POSIX
    systems read TZ="" (the setting's own checks leave an empty text alone)."""
    if not text:
        return 0, None, None, None
    i = _name(text, 0)
    std, i = _clock(text, i)
    if i == len(text):
        return -std, None, None, None
    i = _name(text, i)
    dst = std - 3600
    if i < len(text) and text[i] != ",":
        dst, i = _clock(text, i)
    rules = text[i + 1:].split(",") if text[i:i + 1] == "," else []
    if len(rules) != 2:
        raise ValueError("a zone with daylight saving time needs ,start,end rules")
    return -std, -dst, _rule(rules[0]), _rule(rules[1])


def _transition(year, rule, offset):
    """UTC seconds of a rule's moment in a year, the local clock then at `offset`."""
    m, w, d, at = rule
    first = days_from_civil(year, m, 1)
    nxt = days_from_civil(year + (m == 12), m % 12 + 1, 1)
    day = first + (d - (weekday(first) + 1) % 7) % 7 + (w - 1) * 7
    while day >= nxt:
        day -= 7
    return day * 86400 + at - offset


def utc_offset(tz, t):
    std, dst, start, end = tz
    if dst is None:
        return std
    year = civil_from_days(t // 86400)[0]   # the UTC year, as glibc and zoneinfo take it: a DST that
                                            # ends on Dec 31 ends in the year it started (was local standard's)
    a, b = _transition(year, start, std), _transition(year, end, dst)
    on = a <= t < b if a < b else not (b <= t < a)
    return dst if on else std


def minute_of_week(tz, t):
    """Local minute of the week (Monday 00:00 = 0) of UTC epoch seconds t."""
    lt = t + utc_offset(tz, t)
    days = lt // 86400
    return weekday(days) * 1440 + (lt % 86400) // 60


TZ_UNUSED = "not applied: UTC shown; no charge or off-peak window is set, a window needs a valid one"


def unused_tz(cfg, errors, blocked, not_applied):
    """A tz that cannot be read (blocked by settings.check) places no window while none (nor a lost
    one) is set: it stops nothing, a warning (here: loaded only then, its words cost heap)."""
    if not (cfg["charge_windows"] or cfg["offpeak_windows"]
            or "charge_windows" in blocked or "offpeak_windows" in blocked):
        errors.remove(blocked["tz"])
        errors.append(blocked.pop("tz").replace(not_applied, TZ_UNUSED))
