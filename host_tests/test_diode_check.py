"""The diode check (evse-facts 3): while the PWM runs, a negative plateau near -12 V is a vehicle
behind its diode, whatever its positive plateau reads; away from -12 V, a mirror of the positive
plateau is the diode missing or shorted. A B that reads 10 V (its band's top, or noise) against a
healthy -12 V sums to -2 V and once tripped a false diode fault at 5 % duty with 0.5 V of noise
(seed 1507, an explicit example of test_safety_properties' noise test now)."""
import pytest

from evse.core import pilot as P
from tools.sim.drive import Drive


@pytest.mark.parametrize("pos_mv, prev", [(10000, P.B), (10400, P.B), (9000, P.B), (8100, P.B),
                                          (7900, P.C), (6000, P.C), (3000, P.D)])
@pytest.mark.parametrize("neg_mv", [-10100, -11000, -12000, -13000, -13900])
def test_a_negative_plateau_near_minus_12_v_is_a_healthy_diode(pos_mv, prev, neg_mv):
    assert P.classify(pos_mv, neg_mv, True, prev) in (P.B, P.C, P.D)


@pytest.mark.parametrize("pos_mv, prev", [(9000, P.B), (8200, P.B), (6000, P.C), (3000, P.D)])
def test_a_negative_plateau_that_mirrors_the_positive_is_a_missing_diode(pos_mv, prev):
    for off in (-900, 0, 1500):      # the generator's halves differ by up to +-5 % each
        assert P.classify(pos_mv, -pos_mv + off, True, prev) == P.DIODE


@pytest.mark.parametrize("pos_mv, neg_mv", [(9000, -6000), (6000, -9500), (9000, -14500)])
def test_a_negative_plateau_neither_at_minus_12_v_nor_a_mirror_is_a_pilot_fault(pos_mv, neg_mv):
    assert P.classify(pos_mv, neg_mv, True, P.B) == P.INVALID


@pytest.mark.parametrize("board", ["sim", "rpi_pico"])
def test_a_shorted_diode_while_charging_still_opens_on_a_diode_fault(board):
    d = Drive(board=board, config={"max_current": 32})
    d.run(0.5).charge()
    assert d.coil
    d.set(diode_ok=False)
    d.run(0.1)
    assert not d.coil and d.fault == "diode"
