"""The scenario library on the emulated Raspberry Pi Pico (`python -m tools.bench S --target rp2`),
first half (test_bench_rp2_more.py runs the other): each scenario on both targets, every expect
holding on the Pico and its trace the host's (rp2_bench.py says what is compared and within what).
`make test` runs the scenarios of at most SHORT_S of virtual time; `make test-rp2`
(EVSE_RP2_ALL=1) the whole library."""
import pytest

from rp2_bench import WHY, check_both, params

pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)


@pytest.mark.parametrize("path", list(params(0, 2)))
def test_scenario_on_both_targets(path, tmp_path):
    check_both(path, tmp_path)
