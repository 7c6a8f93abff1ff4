"""Replay a day of solar production and house load (a CSV, one row a minute) against the charger's
solar-surplus mode, and count what users count: contactor cycles, and how much of the car's energy
came from the sun.

    python -m tools.solar_day host_tests/data/solar_day.csv --from 10 --to 12

Through the bench (the default): the unmodified firmware on the virtual board with a car plugged in
all day that asks for power and draws what the pilot offers; once a second the grid power (house +
car - PV) goes to the firmware as the console's `grid` command would; the board's RTC is set as NTP
would. `--controller` runs the surplus controller alone (a whole day in a second), for comparison.
"""
import argparse
import os
import sys
import tempfile

SETTINGS = {"max_current": 32, "solar_mode": "solar", "grid_source": "console", "tz": "CET-1CEST,M3.5.0,M10.5.0/3",
            "solar_smoothing_s": 30, "min_charge_s": 600, "min_pause_s": 300}
NAIVE = {"solar_smoothing_s": 0, "min_charge_s": 0, "min_pause_s": 0}
DAY_UTC = 1781992800             # 2026-06-21 00:00 CEST (22:00 UTC the day before)


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line[:1].isdigit():
                m, pv, house = line.split(",")
                rows.append((int(m), float(pv), float(house)))
    return rows


def _at(rows, second):
    return rows[min(int(second // 60), len(rows) - 1)]


def _account(acc, pv, house, ev_w):
    """Energy of one second: what of the car's power the sun covered."""
    acc["ev_wh"] += ev_w / 3600
    acc["sun_wh"] += min(ev_w, max(0.0, pv - house)) / 3600


def replay_bench(rows, first_s, last_s, **settings):
    from tools.sim import mock_machine as mm
    from tools.sim.drive import Drive
    cfg = dict(SETTINGS, **settings)
    d = Drive(config=cfg, flash_dir=tempfile.mkdtemp(prefix="solar-"))
    mm.set_rtc(DAY_UTC + first_s)
    d.world.follow_max = float(cfg["max_current"])
    d.plug()
    d.run(1)
    d.ev("C")
    acc = {"ev_wh": 0.0, "sun_wh": 0.0}
    volts = 230.0
    for s in range(first_s, last_s):
        _, pv, house = _at(rows, s)
        ev_w = d.world.ev_current() * volts if d.coil else 0.0
        d.app.command("grid", house + ev_w - pv, mm.clock.ticks_ms(), "console")
        d.run(1)
        _account(acc, pv, house, ev_w)
    acc["cycles"] = sum(1 for _, lv in d.coil_edges if lv == 1)
    return acc


def replay_controller(rows, first_s, last_s, **settings):
    from evse.services.surplus import Surplus
    cfg = dict(SETTINGS, nominal_volts=230.0, phases=1, solar_reserve_w=0, grid_limit_w=0, min_current_a=6.0,
               grid_timeout_s=60, **settings)
    s = Surplus(cfg, lambda a, b: a - b)
    acc = {"ev_wh": 0.0, "sun_wh": 0.0, "cycles": 0}
    ev_a, closed = 0.0, False
    for t in range(first_s, last_s):
        _, pv, house = _at(rows, t)
        ev_w = ev_a * 230.0
        s.reading(house + ev_w - pv, t * 1000)
        lim = s.limit(t * 1000, ev_a)
        if lim > 0 and not closed:
            acc["cycles"] += 1
        closed = lim > 0
        _account(acc, pv, house, ev_w)
        ev_a = lim                      # the car follows at once
    return acc


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.solar_day", description=__doc__.split("\n\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--from", dest="first", type=float, default=0, help="local hour to start")
    ap.add_argument("--to", dest="last", type=float, default=24, help="local hour to stop")
    ap.add_argument("--controller", action="store_true", help="the controller alone, not the bench")
    ap.add_argument("--naive", action="store_true", help="no smoothing, minimum charge or pause time")
    a = ap.parse_args(argv)
    try:
        rows = load(a.csv)
    except (OSError, ValueError) as e:      # a wrong path or a file that is no day's CSV: one line
        ap.error("%s: %s" % (a.csv, e))
    run = replay_controller if a.controller else replay_bench
    r = run(rows, int(a.first * 3600), int(a.last * 3600), **(NAIVE if a.naive else {}))
    print("%s %02g-%02g h: %d contactor cycles, car %.2f kWh, %.0f %% of it from the sun" % (
        os.path.basename(a.csv), a.first, a.last, r["cycles"], r["ev_wh"] / 1000,
        100 * r["sun_wh"] / r["ev_wh"] if r["ev_wh"] else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
