"""The thermal derating (facts 7, OpenEVSE's practice: half current at 65 C, quarter at 68 C, stop at
71 C, restore below 62 C) against random readings from a sensor that works, glitches or fails:
NaN, -40, -50 (a TMP36 at 0 V), 150 C and beyond, a reading stuck between two thresholds, and
readings that come at irregular times."""
import math

from hypothesis import given, settings, strategies as st

from evse.core.protections import Thermal, THERMAL_OK, THERMAL_HALF, THERMAL_QUARTER, THERMAL_STOP


def diff(a, b):
    return a - b


def level_of(t):
    return (THERMAL_STOP if t >= 71 else THERMAL_QUARTER if t >= 68 else THERMAL_HALF if t >= 65
            else THERMAL_OK)


def real(t):
    return t is not None and t >= -40       # (NaN: False)


READING = st.one_of(st.floats(-45, 80), st.sampled_from([float("nan"), -40.0, -50.0, 150.0, 61.9, 62.0,
                                                           64.9, 65.0, 68.0, 71.0, float("inf"),
                                                           float("-inf"), None]))


@settings(max_examples=400, deadline=None)
@given(readings=st.lists(st.tuples(READING, st.integers(1, 700)), min_size=1, max_size=80))
def test_no_reading_lowers_the_derating_but_1_s_of_real_readings_below_62_c_on_average(readings):
    """Hotter at once; cooler only once the real readings over 1 s from the first one below 62 C
    were below it on average (a noisy reading never raises the current, nor does one glitch in
    the window keep it from restoring); a reading that is no temperature never lowers the level
    and starts that second anew."""
    th = Thermal(65, 68, 71, 62)
    now = 0
    window = None                           # the real readings since the first below 62 C
    for t, gap in readings:
        now += gap
        before = th.level
        level = th.update(t, now, diff)
        if t is None:                       # no sensor on this board
            assert level == before
            continue
        if not real(t):
            assert level >= before          # never lower: stop after 1 s of them (th.broken)
            window = None
            continue
        if level_of(t) > before:
            assert level == level_of(t)     # hotter at once
            window = None
            continue
        if window is None:
            if t < 62 and level_of(t) < before:
                window = [(now, t)]
            assert level == before
            continue
        window.append((now, t))
        if now - window[0][0] < 1000:
            assert level == before, (t, window)
            continue
        mean = sum(x for _, x in window) / len(window)
        if mean < 62 and level_of(t) < before:
            assert level == level_of(t), (mean, window)
        else:
            assert level == before, (mean, window)
        window = None


def test_a_sensor_that_reads_nonsense_for_1_s_stops_charging_and_real_readings_restore_it():
    th = Thermal(65, 68, 71, 62)
    assert th.update(25.0, 0, diff) == THERMAL_OK
    for now in range(10, 1020, 10):
        level = th.update(float("nan"), now, diff)
    assert level == THERMAL_STOP and th.broken
    for now in range(1020, 2100, 10):
        level = th.update(25.0, now, diff)
    assert level == THERMAL_OK and not th.broken


def test_one_glitch_never_lifts_a_stop():
    th = Thermal(65, 68, 71, 62)
    assert th.update(75.0, 0, diff) == THERMAL_STOP
    for now, t in ((10, -50.0), (20, float("nan")), (30, 20.0), (40, float("nan")), (1100, 20.0)):
        assert th.update(t, now, diff) == THERMAL_STOP, (now, t)   # (the NaN started it anew)
    assert not math.isnan(th.sum)
