"""The energy planner on the virtual bench: charging windows on the board's clock (set as NTP would,
with a POSIX time zone), the off-peak tariff, solar surplus from grid readings, and a recorded day
replayed to count contactor cycles. The time-zone arithmetic is checked against the system's tz
database (Python's zoneinfo) for every hour of two years in three hemispheres' zones."""
import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from evse.core import vocab as V
from evse.services import settings as S
from evse.services import timetable as T
from tools.sim import mock_machine as mm
from tools import solar_day
from tools.sim.drive import Drive

DAY = os.path.join(os.path.dirname(__file__), "data", "solar_day.csv")
ZONES = {"Europe/Berlin": "CET-1CEST,M3.5.0,M10.5.0/3", "America/New_York": "EST5EDT,M3.2.0,M11.1.0",
         "Australia/Sydney": "AEST-10AEDT,M10.1.0,M4.1.0/3", "Asia/Kolkata": "IST-5:30"}
MONDAY_2026_06_01 = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_local_time_matches_the_tz_database_every_hour_for_two_years(zone):
    tz, ref = T.parse_tz(ZONES[zone]), ZoneInfo(zone)
    t = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    for _ in range(2 * 365 * 24):
        want = datetime.fromtimestamp(t, ref)
        assert T.utc_offset(tz, t) == want.utcoffset().total_seconds(), (zone, want)
        assert T.minute_of_week(tz, t) == want.weekday() * 1440 + want.hour * 60 + want.minute
        t += 3600


def test_settings_refuse_a_bad_window_or_zone_when_set():
    for key, bad in (("charge_windows", "Mon-Fri 22:00-30:00"), ("tz", "Berlin"), ("offpeak_windows", "x")):
        cfg, errors = S.validate({"max_current": 16, key: bad})
        assert cfg[key] == S.defaults()[key] and len(errors) == 1 and errors[0].startswith(key), errors
    cfg, errors = S.validate({"max_current": 16, "charge_windows": "Mon-Fri 22:00-06:30"})
    assert errors == [] and cfg["charge_windows"] == "Mon-Fri 22:00-06:30"


def _bench(tmp_path, **cfg):
    d = Drive(config=dict({"max_current": 32}, **cfg), flash_dir=str(tmp_path))
    d.plug()
    return d


def _set_clock(local_dt, zone="Europe/Berlin"):
    mm.set_rtc(int(local_dt.replace(tzinfo=ZoneInfo(zone)).timestamp()))


def test_a_car_plugged_in_before_the_window_is_offered_current_when_it_opens(tmp_path):
    d = _bench(tmp_path, charge_windows="Mon-Fri 22:00-06:00", tz=ZONES["Europe/Berlin"])
    _set_clock(datetime(2026, 6, 1, 21, 59, 50))           # Monday, 10 s before the window
    d.run(2)
    assert d.state == V.ST_PAUSED and d.duty == 100.0
    assert d.app.status(0)["planner"]["schedule"]["why"] == "outside the charging windows"
    assert d.app.status(0)["limit_by"] == V.SRC_SCHEDULE
    d.run(10)
    assert d.state == "B2" and abs(d.duty - 32 / 0.6) < 0.1
    d.ev("C")
    d.run(2)
    assert d.coil


def test_with_the_board_clock_unset_no_window_is_known_open_and_nothing_is_offered(tmp_path):
    d = _bench(tmp_path, charge_windows="daily 00:00-24:00")
    mm.set_rtc(mm.RTC_UNSET)                               # a board that never reached NTP
    d.run(2)
    assert d.state == V.ST_PAUSED and "clock not set" in d.app.status(0)["planner"]["schedule"]["why"]
    mm.set_rtc(MONDAY_2026_06_01)                           # NTP answered
    d.run(2)
    assert d.state == "B2"


def test_the_peak_tariff_limits_the_current_and_off_peak_lifts_it(tmp_path):
    d = _bench(tmp_path, offpeak_windows="daily 23:00-07:00", peak_current_a=10, tz="UTC0")
    mm.set_rtc(MONDAY_2026_06_01 + 22 * 3600 + 3585)       # 22:59:45 UTC
    d.run(5)
    assert abs(d.duty - 10 / 0.6) < 0.1 and d.app.status(0)["limit_by"] == V.SRC_SCHEDULE
    d.run(16)                                               # 23:00, and the 5 s rule for a raise
    assert abs(d.duty - 32 / 0.6) < 0.1


def test_solar_surplus_from_the_console_sets_the_current_and_never_exceeds_the_other_limits(tmp_path):
    d = _bench(tmp_path, solar_mode="solar", grid_source="console", solar_smoothing_s=0)
    d.run(2)
    assert d.state == V.ST_PAUSED                           # no reading yet: no surplus
    d.app.command("grid", -2300, mm.clock.ticks_ms(), "console")   # 10 A exported
    d.run(2)
    assert abs(d.duty - 10 / 0.6) < 0.1 and d.app.status(0)["limit_by"] == V.SRC_SURPLUS
    d.app.command("limit", 8, mm.clock.ticks_ms())          # the console's own limit is lower
    d.run(2)
    assert abs(d.duty - 8 / 0.6) < 0.1
    with pytest.raises(ValueError):                         # only the configured source is believed
        d.app.command("grid", -23000, mm.clock.ticks_ms(), "mqtt")
    with pytest.raises(ValueError):
        d.app.command("grid", float("nan"), mm.clock.ticks_ms(), "console")


def test_a_recorded_day_cycles_the_contactor_half_as_often_with_the_minimum_charge_and_pause_times():
    rows = solar_day.load(DAY)
    kept = solar_day.replay_controller(rows, 0, 86400)
    naive = solar_day.replay_controller(rows, 0, 86400, **solar_day.NAIVE)
    assert naive["cycles"] >= 1.5 * kept["cycles"], (kept, naive)
    assert kept["sun_wh"] >= 0.8 * kept["ev_wh"]            # most of the car's energy from the sun


def test_twenty_minutes_of_the_day_through_the_bench_cycle_the_contactor_as_the_controller_does():
    rows = solar_day.load(DAY)
    short = {"min_charge_s": 120, "min_pause_s": 60}
    first, last = 17 * 3600, 17 * 3600 + 1200
    bench = solar_day.replay_bench(rows, first, last, **short)
    alone = solar_day.replay_controller(rows, first, last, **short)
    assert abs(bench["cycles"] - alone["cycles"]) <= 1, (bench, alone)
    assert abs(bench["sun_wh"] - alone["sun_wh"]) <= 0.15 * alone["sun_wh"], (bench, alone)
