# upy-heap: 96k
# The energy planner's pure parts on both interpreters: charging windows, POSIX time zones with
# daylight saving time, the solar-surplus controller (smoothing, minimum charge and pause times,
# stale readings, the car's minimum current).
from evse.core.calendar import days_from_civil
from evse.services import timetable as T
from evse.services.surplus import Surplus

CFG = {"solar_mode": "solar", "grid_limit_w": 0, "solar_reserve_w": 0, "min_current_a": 6.0,
       "max_current": 32.0, "nominal_volts": 230.0, "phases": 1, "solar_smoothing_s": 0,
       "min_charge_s": 600, "min_pause_s": 300, "grid_timeout_s": 60}


def utc(y, m, d, h=0, mi=0):
    return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60


def diff(a, b):
    return a - b


def raises(f, *a):
    try:
        f(*a)
    except ValueError:
        return True
    return False


def test_windows_cross_midnight_and_the_week_wraps():
    w = T.parse_windows("Mon-Fri 22:00-06:30; Sun 10:00-14:00")
    assert T.in_windows(w, 0 * 1440 + 22 * 60)            # Monday 22:00
    assert T.in_windows(w, 1 * 1440 + 6 * 60 + 29)        # Tuesday 06:29 (Monday's window)
    assert not T.in_windows(w, 1 * 1440 + 6 * 60 + 30)
    assert T.in_windows(w, 5 * 1440 + 3 * 60)             # Saturday 03:00 (Friday's window)
    assert not T.in_windows(w, 5 * 1440 + 22 * 60)        # Saturday 22:00
    assert T.in_windows(w, 6 * 1440 + 12 * 60)
    w = T.parse_windows("Sun 23:00-01:00")
    assert T.in_windows(w, 30)                            # Monday 00:30, past the week's end
    assert T.in_windows(T.parse_windows("daily 00:00-24:00"), 3 * 1440 + 777)


def test_bad_windows_and_zones_are_refused_with_a_reason():
    for bad in ("Mon-Fri 25:00-06:00", "Funday 10:00-11:00", "Mon 10:00-10:00", "Mon 10-11"):
        assert raises(T.parse_windows, bad), bad
    for bad in ("X", "CET-1CEST", "CET-1CEST,J60,J300", "CET-1CEST,M13.1.0,M10.5.0"):
        assert raises(T.parse_tz, bad), bad


def test_central_european_summer_time_starts_and_ends_on_the_last_sundays():
    tz = T.parse_tz("CET-1CEST,M3.5.0,M10.5.0/3")
    assert T.utc_offset(tz, utc(2026, 3, 29, 0, 59)) == 3600
    assert T.utc_offset(tz, utc(2026, 3, 29, 1, 0)) == 7200     # 02:00 CET -> 03:00 CEST
    assert T.utc_offset(tz, utc(2026, 10, 25, 0, 59)) == 7200
    assert T.utc_offset(tz, utc(2026, 10, 25, 1, 0)) == 3600    # 03:00 CEST -> 02:00 CET
    # Monday 2026-06-01 21:30 UTC is 23:30 in Berlin
    assert T.minute_of_week(tz, utc(2026, 6, 1, 21, 30)) == 23 * 60 + 30


def test_the_southern_summer_spans_the_new_year():
    tz = T.parse_tz("AEST-10AEDT,M10.1.0,M4.1.0/3")
    assert T.utc_offset(tz, utc(2026, 1, 15)) == 11 * 3600
    assert T.utc_offset(tz, utc(2026, 6, 15)) == 10 * 3600


def _solar(**kw):
    cfg = dict(CFG)
    cfg.update(kw)
    return Surplus(cfg, diff)


def test_solar_starts_on_surplus_and_follows_it():
    s = _solar()
    assert s.limit(0, 0) == 0 and "no grid reading" in s.why
    s.reading(-2300, 1000)                  # exporting 2.3 kW: 10 A at 230 V
    assert s.limit(1000, 0) == 10.0
    s.reading(-460, 2000)                   # the car draws 10 A, 2 A still exported
    assert s.limit(2000, 10) == 12.0
    s.reading(1e6, 3000)                    # importing a lot: never below the car's minimum while charging
    assert s.limit(3000, 12) == 6.0 and not s.paused and "minimum charge time" in s.why


def test_a_cloud_pauses_only_after_the_minimum_charge_time_and_resumes_after_the_minimum_pause():
    s = _solar()
    s.reading(-2300, 0)
    assert s.limit(0, 0) == 10.0
    s.reading(1000, 599000)
    assert s.limit(599000, 10) == 6.0       # 599 s of charging: held
    s.reading(1000, 600000)
    assert s.limit(600000, 6) == 0 and s.paused
    s.reading(-2300, 601000)
    assert s.limit(601000, 0) == 0          # the sun is back, but the pause lasts 300 s
    s.reading(-2300, 900000)
    assert s.limit(900000, 0) == 10.0


def test_a_stale_or_impossible_reading_is_no_surplus():
    s = _solar()
    s.reading(-2300, 0)
    assert s.limit(0, 0) == 10.0
    assert s.limit(61000, 10) == 0 and "no grid reading" in s.why     # 61 s old: paused at once
    assert raises(s.reading, float("nan"), 62000) and raises(s.reading, "100", 62000)


def test_grid_mode_keeps_the_house_under_its_limit_and_pauses_at_once():
    s = _solar(solar_mode="grid", grid_limit_w=6900)
    s.reading(2300, 0)                      # 2.3 kW of house load: 20 A left of 30 A
    assert s.limit(0, 0) == 20.0
    s.reading(6900 + 2300, 1000)            # the car took 20 A and the house 10 A more
    assert s.limit(1000, 20) == 10.0
    s.reading(9000, 2000)                   # the house alone is above the limit: pause now
    assert s.limit(2000, 0) == 0 and s.paused


def test_the_car_minimum_and_the_rating_bound_the_offer():
    s = _solar(min_current_a=8.0, max_current=16.0)
    s.reading(-1610, 0)                     # 7 A of surplus: below this car's 8 A
    assert s.limit(0, 0) == 0
    s.reading(-23000, 1000)
    assert s.limit(1000, 0) == 16.0


def test_grid_mode_drops_at_once_rises_smoothed_and_moves_once_a_reading():
    s = _solar(solar_mode="grid", grid_limit_w=6900, solar_smoothing_s=30, max_current=30.0)
    s.reading(2300, 0)                      # 20 A of headroom: the first reading is taken as it is
    assert s.limit(0, 0) == 20.0
    s.reading(6900 + 2300, 1000)            # an oven: 10 A over with the car at 20 A
    assert s.limit(1000, 20) == 10.0        # at once, not through the 30 s filter
    s.reading(6900 - 2300, 2000)            # the oven is off: 10 A of headroom
    assert 10.0 < s.limit(2000, 10) < 11.0  # a rise is smoothed
    first = s.limit(3000, 11)               # no new reading: the car's rise is not headroom again
    assert first == s.limit(9000, 12) < 11.0


def test_an_unplug_ends_the_minimum_pause():
    s = _solar(min_charge_s=0)
    s.reading(-2300, 0)
    assert s.limit(0, 0) == 10.0
    s.reading(1000, 1000)
    assert s.limit(1000, 6) == 0 and s.paused
    s.unplugged()                           # the car leaves; the next one finds the sun
    s.reading(-2300, 2000)
    assert s.limit(2000, 0) == 10.0


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
