"""A J1772 / NACS plug's PP read while the plug is in a car (the fifth safety audit's finding,
worked out from facts 5): the car reads the same line with its own circuit, 330 ohm to 5 V and
2.7 kohm to ground, so a board reading PP through its 1 kohm pull-up to 3.3 V does not see the
bare 150 ohm / 480 ohm. The bench's `plug OHMS` is the bare resistor (a car whose PP circuit
sleeps); here the reading the line gives with the car's circuit on it, by Ohm's law.

Before: a latched plug in a car read about 1,021 ohm, a `pp` fault at the plug-in (the contactor
never closed); the button pressed read about 6,264 ohm, taken for "unplugged" and ignored."""
import itertools

import pytest

from boards import esp32_devkitc, rpi_pico, sim
from evse.core import limits as L
from evse.core import proximity as PX
from tools.sim.drive import Drive

MS = 1000


def seen_ohms(cable, car_pullup=330.0, car_volts=5.0, car_down=2700.0, pullup=1000.0, vref=3.3):
    """What read_pp makes of the line: the board's pull-up, the car's pull-up and pull-down and the
    plug's resistor to PE meet at one node (Millman); read as one resistor under the board's pull-up."""
    g = 1 / pullup + 1 / car_pullup + 1 / car_down + 1 / cable
    v = (vref / pullup + car_volts / car_pullup) / g
    return round(1000 * v / (vref - v))          # the firmware divides by its nominal 1 kohm


def corners(cable):
    """Every part at either end of its tolerance: resistors +-10 % (the board's 1 %), 5 V +-5 %,
    3.3 V +-2 %."""
    for cp, cv, cd, pu, vr, c in itertools.product((297, 363), (4.75, 5.25), (2430, 2970), (990, 1010),
                                                   (3.234, 3.366), (0.9 * cable, 1.1 * cable)):
        yield seen_ohms(c, cp, cv, cd, pu, vr)


def test_the_boards_read_pp_as_the_car_bands_assume():
    # the car bands in limits.py are worked out for a 1 kohm pull-up to 3.3 V
    for b in (esp32_devkitc, rpi_pico, sim):
        assert (b.PP_PULLUP_OHMS, b.PP_VREF) == (1000, 3.3), b.__name__


def test_a_latched_plug_and_a_pressed_button_in_a_car_read_apart_at_every_tolerance():
    assert seen_ohms(150) == 1021 and seen_ohms(480) == 6264
    assert all(PX.latch_state(r) == PX.LATCHED for r in corners(150)), sorted(corners(150))
    assert all(PX.latch_state(r) == PX.BUTTON for r in corners(480)), sorted(corners(480))
    # the bare plug (a car whose PP circuit sleeps, the bench's plug) as before
    assert PX.latch_state(135) == PX.LATCHED == PX.latch_state(165)
    assert PX.latch_state(432) == PX.BUTTON == PX.latch_state(528)
    assert PX.latch_state(L.PP_OPEN) == PX.UNPLUGGED


def charging_in_a_car(tmp_path, connector):
    b = Drive(config={"connector": connector, "max_current": 32}, flash_dir=str(tmp_path))
    b.run(0.5)
    b.plug(pp_ohms=seen_ohms(150))
    b.run(0.1)
    b.ev("C")
    b.run(1.5)
    return b


@pytest.mark.parametrize("connector", ["j1772", "nacs"])
def test_a_plug_latched_in_a_car_charges(tmp_path, connector):
    b = charging_in_a_car(tmp_path, connector)
    # (before: fault `pp` at the plug-in, the contactor never closed)
    assert b.fault is None and b.coil and b.state == "C2", (b.fault, b.state)


@pytest.mark.parametrize("connector", ["j1772", "nacs"])
def test_the_latch_button_pressed_in_a_car_opens_within_500_ms(tmp_path, connector):
    b = charging_in_a_car(tmp_path, connector)
    t = b.set(pp_ohms=seen_ohms(480))
    b.run(0.6)
    opened = b.coil_change(0, t)
    # (before: read as "unplugged" and ignored, the contactor stayed closed)
    assert opened is not None and opened - t <= 500 * MS, opened
    t = b.set(pp_ohms=seen_ohms(150))              # released: the car asks again
    b.run(4)
    assert b.coil and b.fault is None


def test_a_cars_pp_circuit_waking_up_during_a_charge_is_no_fault(tmp_path):
    b = Drive(config={"connector": "j1772", "max_current": 32}, flash_dir=str(tmp_path))
    b.run(0.5)
    b.plug(pp_ohms=150)                            # the car's PP circuit asleep: the bare plug
    b.run(0.1)
    b.ev("C")
    b.run(1.5)
    assert b.coil
    t = b.set(pp_ohms=seen_ohms(150))
    b.run(2)
    assert b.fault is None and b.coil and b.coil_change(0, t) is None


def test_a_pp_not_wired_to_the_plug_still_charges(tmp_path):
    # a plain tethered J1772 cable: the board's PP input reads its pull-up only
    b = Drive(config={"connector": "j1772", "max_current": 32}, flash_dir=str(tmp_path))
    b.run(0.5)
    b.plug(pp_ohms=None)
    b.ev("C")
    b.run(2)
    assert b.fault is None and b.coil
