"""Duty cycle for a current, rounded to each board's PWM resolution (facts sheet section 2)."""
from fractions import Fraction

import pytest

from boards import esp32_devkitc, rpi_pico, sim
from evse import pilot as P

CURRENTS = (6, 10, 13, 16, 20, 24, 32, 40, 48, 50, 51, 52, 63, 70, 80)
BOARDS = (esp32_devkitc, rpi_pico, sim)


def exact_duty_percent(amps):
    """The standard's duty for a current (51 < A < 52.5 has no encoding: 51 A)."""
    a = Fraction(amps)
    if 51 < a < Fraction(105, 2):
        a = Fraction(51)
    return a / Fraction(6, 10) if a <= 51 else a / Fraction(5, 2) + 64


def amps_read_by_vehicle(duty_percent):
    d = Fraction(duty_percent)
    return d * Fraction(6, 10) if d <= 85 else (d - 64) * Fraction(5, 2)


def realised(board, amps):
    """What the port really outputs for our duty_u16: ports compute counts = u16 * steps // 65535."""
    steps = board.PWM_STEPS
    counts = P.duty_counts(amps * 10, steps)
    u16 = P.duty_u16_for_counts(counts, steps)
    assert 0 <= u16 <= 65535
    assert u16 * steps // 65535 == counts, "the port would not output the counts we chose"
    return Fraction(counts * 100, steps)


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.NAME)
@pytest.mark.parametrize("amps", CURRENTS)
def test_never_advertises_more_and_errs_under_0_1_amp(board, amps):
    duty = realised(board, amps)
    advertised = amps_read_by_vehicle(duty)
    limit = 51 if 51 < amps < 52.5 else amps
    if amps == 6:
        # The one exception: never a duty under 10 %, so 6 A may round up by less than one count.
        assert duty >= 10 and advertised - 6 < Fraction(1, 1000)
        return
    assert advertised <= limit
    assert limit - advertised < Fraction(1, 10), "%s: %s A advertised for %s A" % (board.NAME, float(advertised), amps)


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.NAME)
def test_duty_limits_of_the_standard(board):
    assert realised(board, 6) >= 10              # never under 10 %
    assert realised(board, 80) <= 96             # never over 96 %
    assert realised(board, 100) == realised(board, 80)
    assert realised(board, 5) == 0               # under 6 A: no PWM (the core shows X1)
    assert realised(board, 52) == realised(board, 51)   # the 51-52.5 A gap advertises 51 A


def test_exact_formulas():
    assert exact_duty_percent(6) == 10
    assert exact_duty_percent(51) == 85
    assert exact_duty_percent(80) == 96
    assert P.clamp_amps_x10(525) == 525 and P.clamp_amps_x10(524) == 510


def test_amps_for_counts_inverse():
    steps = 65536
    for amps in CURRENTS:
        c = P.duty_counts(amps * 10, steps)
        a100 = P.amps_x100_for_counts(c, steps)
        limit = 5100 if 51 < amps < 52.5 else amps * 100
        assert limit - 10 <= a100 <= limit + (1 if amps == 6 else 0)
