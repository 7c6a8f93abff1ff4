# The charging history as CSV: one line per session record (evse.metering.energy keeps them in a
# ring on flash that survives power cuts). For the console's `history` command and the web/REST
# service: history.csv(app.sessions()). Times are UTC (ISO 8601) from the board's clock, empty
# while it was never set; a cell a spreadsheet would run as a formula is quoted as text.
HEADER = "session,start_utc,end_utc,duration_s,energy_wh,user,peak_a,end_reason"
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def iso_utc(t):
    """Unix seconds as 2026-12-02T01:50:00Z; '' when unknown."""
    return iso_local(t, None)


def iso_local(t, off):
    """Unix seconds as the local time off seconds east of UTC, with it: 2026-12-02T02:50:00+01:00
    (off None: UTC, ...Z); '' when unknown."""
    if not isinstance(t, int) or t < 0:
        return ""
    if off is not None:
        t += off
    days, s = divmod(t, 86400)
    y = 1970
    while True:
        n = 366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365
        if days < n:
            break
        days -= n
        y += 1
    leap = 1 if n == 366 else 0
    m = 12
    while days < _DAYS_BEFORE_MONTH[m - 1] + (leap if m > 2 else 0):
        m -= 1
    d = days - _DAYS_BEFORE_MONTH[m - 1] - (leap if m > 2 else 0) + 1
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % (y, m, d, s // 3600, s // 60 % 60, s % 60)
    if off is None:
        return text + "Z"
    a = abs(off) // 60
    return text + "%s%02d:%02d" % ("-" if off < 0 else "+", a // 60, a % 60)


def epoch(iso):
    """2026-12-02T01:50:00Z (iso_utc's) as Unix seconds."""
    from ..core.calendar import days_from_civil
    return (days_from_civil(int(iso[:4]), int(iso[5:7]), int(iso[8:10])) * 86400
            + int(iso[11:13]) * 3600 + int(iso[14:16]) * 60 + int(iso[17:19]))


def fault_records(recs):
    """The fault journal's records as the console and REST give them: [t_ms, reason, state, UTC time
    in ISO 8601 (None: the clock was not set, or older firmware wrote it), boot (None: older)]."""
    return [list(r[:3]) + [iso_utc(r[3]) or None if len(r) > 3 else None, r[4] if len(r) > 4 else None]
            for r in recs]


def cell(v):
    """One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a text that
    starts like a formula (= + - @) gets a leading apostrophe (OWASP CSV injection)."""
    if v is None:
        return ""
    if not isinstance(v, str):
        return str(v)
    if v and v[0] in "=+-@":
        v = "'" + v
    if "," in v or '"' in v or "\n" in v or "\r" in v:
        v = '"' + v.replace('"', '""') + '"'
    return v


def line(r, when=iso_utc):
    return ",".join((cell(r.get("sid")), when(r.get("start")), when(r.get("end")),
                     cell(r.get("dur_s")), cell(r.get("wh")), cell(r.get("user")),
                     cell(r.get("max_a")), cell(r.get("reason"))))


def csv(records, when=None):
    """The CSV text of session records (oldest first), header first, CRLF line ends (RFC 4180);
    with when (Unix seconds -> text), its times are local: start_local, end_local."""
    if when is None:
        return "\r\n".join([HEADER] + [line(r) for r in records]) + "\r\n"
    return "\r\n".join([HEADER.replace("_utc", "_local")] + [line(r, when) for r in records]) + "\r\n"
