"""The one wrap-safe tick helper (evse/core/ticks.py): MicroPython's ticks_diff/ticks_add rule at
every distance and across the wrap, for the parts that are not handed the port's own."""
import random

from evse.core.ticks import ticks_add, ticks_diff

TICKS_PERIOD = 1 << 30          # MicroPython's ports wrap ticks_ms and ticks_us here


def reference_diff(a, b):
    """MicroPython's documented rule: ((a - b + period/2) mod period) - period/2."""
    half = TICKS_PERIOD // 2
    return (a - b + half) % TICKS_PERIOD - half


def test_a_meter_two_samples_apart_across_the_wrap():
    last = TICKS_PERIOD - 300          # 300 us before the counter wraps
    now = ticks_add(last, 500)
    assert now == 200
    assert ticks_diff(now, last) == 500
    assert ticks_diff(last, now) == -500


def test_every_distance_agrees_with_the_ports_rule():
    rnd = random.Random(7)
    edges = [0, 1, TICKS_PERIOD // 2 - 1, TICKS_PERIOD // 2, TICKS_PERIOD // 2 + 1, TICKS_PERIOD - 1]
    values = edges + [rnd.randrange(TICKS_PERIOD) for _ in range(2000)]
    for a in values[:200]:
        for b in values[::10]:
            assert ticks_diff(a, b) == reference_diff(a, b), (a, b)
            assert -TICKS_PERIOD // 2 <= ticks_diff(a, b) < TICKS_PERIOD // 2


def test_nothing_in_the_arithmetic_reaches_two_to_the_thirty():
    """On a 32-bit board 2**30 is a heap object: every operand and every intermediate stays a small
    int (|x| < 2**30) for ticks in range."""
    rnd = random.Random(3)
    for _ in range(5000):
        a, b = rnd.randrange(TICKS_PERIOD), rnd.randrange(TICKS_PERIOD)
        d = (a - b) & (TICKS_PERIOD - 1)
        for x in (a - b, d, d - (TICKS_PERIOD - 1)):
            assert -(1 << 30) <= x < (1 << 30)
