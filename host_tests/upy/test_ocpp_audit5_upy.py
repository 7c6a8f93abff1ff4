"""The fifth OCPP audit's board-side fixes under the MicroPython unix port (and CPython): what the
port does with the central system's times (its str methods, its small ints). The scenarios against
a central system are host_tests/test_ocpp_audit5.py."""
from evse.ocpp.wallclock import parse_iso

T = 1796569890  # 2026-12-06T15:11:30Z


def test_current_time_offsets_in_every_iso_8601_form():
    """OCPP 1.6, Time notations: receivers handle time zone offsets. '+hh:mm', '+hhmm' (Java's
    SimpleDateFormat 'Z') and '+hh' are ISO 8601's; each gives the same instant."""
    for s in ("2026-12-06T15:11:30Z", "2026-12-06T15:11:30.123+00:00", "2026-12-06T15:11:30.123+0000",
              "2026-12-06T16:11:30+01", "2026-12-06T10:11:30-0500", "2026-12-06T10:41:30-04:30"):
        assert parse_iso(s) == T, (s, parse_iso(s))


def test_offsets_that_are_no_time_are_refused():
    for s in ("2026-12-06T15:11:30+1", "2026-12-06T15:11:30+0:00", "2026-12-06T15:11:30+01:0x",
              "2026-12-06T15:11:30+01:00:00", "2026-12-06T15:11:30+ab", "2026-12-06T15:11:30 +01"):
        assert parse_iso(s) is None, s


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
