"""Solar surplus on a recorded day (host_tests/data/solar_day.csv, broken clouds): contactor cycles
and the sun's share of the car's energy, with the minimum charge and pause times and without them
(the controller alone, the whole day), and one hour of it through the bench (the firmware)."""
import os
import time

from tools import solar_day

DAY = os.path.join(os.path.dirname(__file__), "..", "..", "host_tests", "data", "solar_day.csv")


def _line(name, r):
    print("%s: %d contactor cycles, car %.2f kWh, %.0f %% from the sun" % (
        name, r["cycles"], r["ev_wh"] / 1000, 100 * r["sun_wh"] / r["ev_wh"] if r["ev_wh"] else 0))


def main():
    rows = solar_day.load(DAY)
    _line("solar_day_controller (smoothing 30 s, min charge 600 s, min pause 300 s)",
          solar_day.replay_controller(rows, 0, 86400))
    _line("solar_day_controller_naive (no smoothing, no minimum times)",
          solar_day.replay_controller(rows, 0, 86400, **solar_day.NAIVE))
    t0 = time.perf_counter()
    r = solar_day.replay_bench(rows, 10 * 3600, 11 * 3600)
    _line("solar_day_bench 10-11 h (the firmware, %.0f s of wall time)" % (time.perf_counter() - t0), r)
    _line("solar_day_controller 10-11 h", solar_day.replay_controller(rows, 10 * 3600, 11 * 3600))
