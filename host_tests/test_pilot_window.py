"""The core's quiet tick skips a step while the pilot's plateaus stay in the window of the last
full step's (pilot.window): a real ADC's noise moves them on every read. Inside a window classify
must answer alike whatever the previous state, or a quiet tick would miss a change of the pilot
(a car asking, a diode gone)."""
from hypothesis import given, settings, strategies as st

from evse.core import limits as L
from evse.core import pilot as P

EDGES = (L.F_MIN_MV, L.F_MAX_MV, L.E_MIN_MV, L.D_MIN_MV, L.CD_HYST_MV, L.C_MIN_MV, L.BC_HYST_MV,
         L.B_MIN_MV, L.AB_HYST_MV, L.A_MIN_MV, L.PILOT_HIGH_FAULT_MV, L.NEG_PLATEAU_MIN_MV,
         L.NEG_PLATEAU_MAX_MV, L.DIODE_MIRROR_MV, -L.DIODE_MIRROR_MV)
PREVIOUS = range(P.UNKNOWN, P.DIODE + 1)
LEVELS = sorted(set([v for e in EDGES for v in (e - 1, e, e + 1)] + list(range(-15000, 15001, 250))))


def window(pos, neg, pwm):
    w = [None] * 6
    P.window(pos, neg, pwm, w, 2)
    assert w[:2] == [None, None]          # only its own four slots
    return w[2:]


def same_answers(a, b, pwm):
    return all(P.classify(a[0], a[1], pwm, prev) == P.classify(b[0], b[1], pwm, prev) for prev in PREVIOUS)


def test_every_reading_near_every_level_reads_as_its_windows_corners():
    for pwm in (False, True):
        for pos in LEVELS:
            for neg in (-14001, -14000, -12000, -10000, -9999, -pos, pos, 0):
                lo, hi, nlo, nhi = window(pos, neg, pwm)
                if lo >= hi:                      # none: every reading makes a full step
                    assert pwm and not L.NEG_PLATEAU_MIN_MV <= neg <= L.NEG_PLATEAU_MAX_MV
                    continue
                assert lo <= pos < hi and nlo <= neg < nhi
                for corner in ((lo, nlo), (lo, nhi - 1), (hi - 1, nlo), (hi - 1, nhi - 1)):
                    assert same_answers((pos, neg), corner, pwm), (pos, neg, pwm, corner)


@settings(max_examples=3000, deadline=None)
@given(st.integers(-20000, 20000), st.integers(-20000, 20000), st.booleans(), st.data())
def test_any_two_readings_in_one_window_read_alike(pos, neg, pwm, data):
    lo, hi, nlo, nhi = window(pos, neg, pwm)
    if lo >= hi:
        return
    other = (data.draw(st.integers(max(lo, -30000), min(hi, 30000) - 1)),
             data.draw(st.integers(max(nlo, -30000), min(nhi, 30000) - 1)))
    assert same_answers((pos, neg), other, pwm)


def test_readings_that_are_not_whole_millivolts_have_no_window():
    for pos, neg in ((9000.5, -12000), (9000, -12000.0), (float("nan"), -12000), (9000, float("nan"))):
        lo, hi, nlo, nhi = window(pos, neg, True)
        assert lo >= hi and nlo >= nhi
        assert not (lo <= 9000 < hi)


def test_a_negative_plateau_out_of_its_range_with_the_pwm_on_has_no_window():
    lo, hi, _, _ = window(9000, -9000, True)       # a missing diode's mirror: depends on the sum
    assert lo >= hi
    assert window(12000, 12000, False)[:2] == [L.A_MIN_MV, L.PILOT_HIGH_FAULT_MV + 1]   # X1: one level
