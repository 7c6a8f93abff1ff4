"""The network's third audit, as bench scenarios: a grid-power source (the MQTT bridge of the house
meter, the REST feed, the Modbus grid meter) that goes silent for a week must stay silent. The
boards' ticks_ms wraps at 2**30 ms, so a time stamp left alone for 2**29 ms (6 d 5 h 8 min) reads as
new again through ticks_diff: the planner must not believe a week-old reading then, nor hold a
week-old pause. Time runs here through the firmware's own wrap-safe ticks (evse.core.ticks: the
ports' arithmetic), one evaluation a second as the planner does."""
from evse.core.ticks import ticks_add, ticks_diff
from evse.services import netclock as N
from evse.services.surplus import Surplus
from host_tests.netfakes import FakeUdp

CFG = {"solar_mode": "solar", "grid_limit_w": 5000, "solar_reserve_w": 0, "min_current_a": 6.0,
       "max_current": 32.0, "nominal_volts": 230.0, "phases": 1, "solar_smoothing_s": 30,
       "min_charge_s": 600, "min_pause_s": 300, "grid_timeout_s": 60}
DAY_S = 86400


class Bench:
    """The planner's surplus source, evaluated once a second on the port's ticks."""

    def __init__(self, **kw):
        self.s = Surplus(dict(CFG, **kw), ticks_diff)
        self.now = ticks_add(0, 1000)

    def run(self, seconds, grid_w=None, every_s=10, car_a=10.0):
        """-> the limits offered, one a second; grid_w None: the source says nothing."""
        out = []
        for sec in range(seconds):
            if grid_w is not None and sec % every_s == 0:
                self.s.reading(grid_w, self.now)
            out.append(self.s.limit(self.now, car_a))
            self.now = ticks_add(self.now, 1000)
        return out


def test_solar_mode_a_grid_meter_silent_for_a_week_does_not_bring_back_its_last_export():
    # a sunny afternoon, 3 kW exported with the car at 10 A; then the meter's bridge dies (a holiday)
    b = Bench()
    assert b.run(120, grid_w=-3000)[-1] > 6.0
    offered = b.run(8 * DAY_S)
    assert offered[61:] == [0] * (len(offered) - 61)   # was 23 A again from 149.13 h of silence on
    assert b.s.why == "no grid reading: no surplus"
    assert b.run(60, grid_w=-3000)[-1] > 6.0            # a new reading is believed at once


def test_grid_mode_a_grid_meter_silent_for_a_week_keeps_the_car_at_its_minimum():
    # 2 kW imported under a 5 kW connection limit, the car at 10 A; the meter goes silent
    b = Bench(solar_mode="grid")
    assert b.run(120, grid_w=2000)[-1] > 20.0
    offered = b.run(8 * DAY_S)
    assert set(offered[61:]) == {6.0}, max(offered[61:])   # was 23 A from 149.13 h on, for 6 days
    assert b.s.why == "no grid reading: the car's minimum"


def test_solar_mode_a_pause_of_a_week_ends_when_the_sun_comes_back():
    # an hour of sun, then a dull week with the meter reporting (nothing exported), then sun
    b = Bench()
    assert b.run(3600, grid_w=-3000, car_a=13.0)[-1] > 6.0
    assert b.run(int(6.3 * DAY_S), grid_w=200, car_a=0.0)[-1] == 0 and b.s.paused
    offered = b.run(3600, grid_w=-3000, car_a=0.0)
    resumed = next(i for i, a in enumerate(offered) if a)
    assert resumed < 120, resumed                       # was 147.16 h: the old pause read as new


def test_grid_mode_the_status_says_why_of_the_reading_in_force_not_of_one_before():
    # the page's planner line: readings arrive and 23 A is offered; it said "no grid reading yet",
    # and after a minute of silence and readings again "no grid reading: the car's minimum" at 23 A
    b = Bench(solar_mode="grid")
    assert b.run(120, grid_w=2000)[-1] > 20.0
    assert b.s.why == "surplus"
    assert b.run(120)[-1] == 6.0 and b.s.why == "no grid reading: the car's minimum"
    assert b.run(60, grid_w=2000)[-1] > 20.0
    assert b.s.why == "surplus"


def test_solar_mode_a_pause_says_whether_the_surplus_is_short_or_the_pause_is_held():
    b = Bench()
    assert b.run(120, grid_w=200, car_a=0.0)[-1] == 0
    assert b.s.why == "below the car's minimum"        # was "no grid reading yet", readings arriving
    b.run(3600, grid_w=-3000, car_a=0.0)
    assert b.run(120, grid_w=200, car_a=0.0)[-1] == 0    # after 600 s of charging: paused again
    assert b.run(200, grid_w=-3000, car_a=0.0)[-1] == 0  # sun again, inside the 300 s pause
    assert b.s.why == "paused, holding the minimum pause time"
    assert b.run(120, grid_w=-3000, car_a=0.0)[-1] > 6.0 and b.s.why == "surplus"


# -- the clock: SNTP after the network was gone a week --------------------------------------------
NOW_UTC = 1796000000                    # 2026-11-30


def _clock_after_outage(days):
    """Synced, then the router off for `days` (the DNS server gone, nothing answers), polled once a
    second; -> seconds from the router's return to the clock set again (None: not in 8 days)."""
    fake = FakeUdp(lambda: NOW_UTC)
    up, got = [True], []
    c = N.NetClock("pool.ntp.org", lambda: "192.168.1.1" if up[0] else None, got.append, ticks_diff,
                   ticks_add, sock_mod=fake)
    now = 5
    for _ in range(5):
        c.poll(now)
        now = ticks_add(now, 20)
    assert got == [NOW_UTC]
    up[0], fake.silent = False, True
    for _ in range(int(days * DAY_S)):
        c.poll(now)
        now = ticks_add(now, 1000)
    up[0], fake.silent = True, False
    for sec in range(8 * DAY_S):
        c.poll(now)
        now = ticks_add(now, 1000)
        if len(got) > 1:
            return sec
    return None


def test_the_clock_is_set_again_as_soon_as_the_network_is_back_after_a_week_away():
    assert _clock_after_outage(2) <= 2
    assert _clock_after_outage(7) <= 2      # was 131 h after the router's return


# -- the set-up page on a phone -----------------------------------------------------------------
KEY64 = "3f1c9a0b7d2e4c5a8b6f0e1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d5e6f7"   # a router's PSK as 64 hex digits


def test_the_set_up_page_sends_a_pasted_64_hex_key_whole(tmp_path):
    # docs/network.md: wifi_password is 8-63 characters, or the key as 64 hex digits. The page's field
    # stopped at 63 (maxlength): a pasted key lost its last digit and was saved as a 63-character
    # pass-phrase, which the settings take, and the router refuses.
    import os

    from evse.core.credentials import wifi_error
    from evse.services.wifisetup import PAGE
    from vboard_helpers import page_in_browser
    assert wifi_error("wifi_password", KEY64) is None and wifi_error("wifi_password", KEY64[:63]) is None
    sent = page_in_browser("setup_page_test.mjs", {"html": PAGE, "passwords": [KEY64, "correct horse"]},
                           tmp_path, os.path.join(str(tmp_path), "unused.png"), 120)
    assert [s["password"] for s in sent] == [KEY64, "correct horse"]
    assert sent[0]["ssid"] == "home"
