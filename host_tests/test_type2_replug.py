"""A Type 2 socket's cable pulled and pushed back while the pilot sits at F (the charger disabled,
a wake-up's F): the pilot then reads no car, but the socket's PP does (IEC 61851-1 Annex B: the
EVSE sees the cable by its coding resistor; facts 5). An open PP there is the cable leaving, not a
broken cable: no pp fault, and the plug-in after it is a fresh one (a card given for the last car
is not the next one's). A PP no cable makes still faults once the pilot sees the car."""
import pytest

from tools.sim.drive import Drive


def faults(d):
    return [ev[1] for _, ev in d.events if ev[0] == "fault" and ev[2]]


def disabled_with_a_cable(tmp_path, connector="type2-socket", pp=220, **cfg):
    c = {"max_current": 32, "connector": connector}
    c.update(cfg)
    d = Drive(config=c, flash_dir=str(tmp_path))
    d.run(0.5)
    d.plug(pp)
    d.run(4)
    d.charger.enable(False)
    d.run(0.2)
    assert d.state == "disabled" and d.duty == 0
    return d


@pytest.mark.parametrize("gap_s", [0.05, 0.2, 0.5])
def test_a_type2_cable_pulled_and_pushed_back_while_disabled_is_no_fault(tmp_path, gap_s):
    d = disabled_with_a_cable(tmp_path)
    d.unplug()
    d.run(gap_s)
    d.plug(680)                          # another cable: 20 A
    d.run(1)
    assert d.state == "disabled" and d.fault is None and faults(d) == []
    d.charger.enable(True)
    d.run(4)                             # X1 for 3 s, then the offer
    assert d.state == "B2" and d.fault is None
    assert d.charger.out.amps_x10 == 200      # the new cable's rating, read afresh


def test_a_type2_cable_pulled_while_disabled_shows_no_fault(tmp_path):
    d = disabled_with_a_cable(tmp_path)
    d.unplug()
    d.run(2)
    assert d.state == "disabled" and faults(d) == []
    d.charger.enable(True)
    d.run(1)
    assert d.state == "A1" and faults(d) == []


@pytest.mark.parametrize("pp", [30, 3000])
def test_a_bad_pp_pushed_in_while_disabled_still_faults_once_enabled(tmp_path, pp):
    """A short (30 ohm) or a value in no band (3 kohm): no cable makes it."""
    d = disabled_with_a_cable(tmp_path)
    d.unplug()
    d.run(0.1)
    d.plug(pp)
    d.run(1)
    assert d.state == "disabled" and d.duty == 0 and not d.coil
    d.charger.enable(True)
    d.run(1)
    assert d.fault == "pp" and not d.coil and d.charger.out.amps_x10 == 0


def test_the_card_for_the_last_car_does_not_charge_the_next(tmp_path):
    d = disabled_with_a_cable(tmp_path, require_auth=True)
    d.charger.authorize(True)
    d.run(0.2)
    d.unplug()
    d.run(0.1)
    d.plug(220)
    d.run(0.5)
    d.charger.enable(True)
    d.run(4)
    assert not d.charger.authorized and d.state == "B1" and d.charger.out.amps_x10 == 0


def test_a_type2_cable_pulled_in_the_wakeups_F_is_an_unplug(tmp_path):
    d = Drive(config={"max_current": 32, "connector": "type2-socket", "wakeup_after_s": 2},
              flash_dir=str(tmp_path))
    d.run(0.5)
    d.plug(220)
    d.run(3)
    assert d.state == "wakeup" and d.duty == 0
    d.unplug()
    d.run(0.5)
    assert d.state == "A1" and faults(d) == []


@pytest.mark.parametrize("connector", ["j1772", "nacs"])
def test_a_latch_plug_pulled_and_pushed_back_while_disabled_is_no_fault(tmp_path, connector):
    """J1772 / NACS: the latch's PP reads open unplugged (never a fault); it proves no unplug
    either (a handle whose S3 is not wired back reads open too): nothing to change there."""
    d = disabled_with_a_cable(tmp_path, connector, 150)
    d.unplug()
    d.run(0.1)
    d.plug(150)
    d.run(1)
    assert d.state == "disabled" and faults(d) == []
    d.charger.enable(True)
    d.run(4)
    assert d.state == "B2" and d.fault is None


def test_a_latched_fault_stays_when_the_type2_cable_is_pulled(tmp_path):
    """The cable's leaving ends the plug-in, not a fault held at F for good (weld)."""
    d = Drive(config={"max_current": 32, "connector": "type2-socket"}, flash_dir=str(tmp_path))
    d.run(0.5)
    d.plug(220)
    d.run(0.5)
    d.ev("C")
    d.run(1.5)
    assert d.coil
    d.set(weld=True)
    d.ev("B")
    d.run(2)
    assert d.fault == "weld" and d.duty == 0
    d.unplug()
    d.run(1)
    d.plug(220)
    d.run(1)
    assert d.fault == "weld" and d.duty == 0 and d.state == "fault"
