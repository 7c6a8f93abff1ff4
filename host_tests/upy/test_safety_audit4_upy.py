# upy-heap: 256k
"""The fourth safety audit's board behaviour under CPython and the MicroPython unix port (the other
cases are host_tests/test_safety_audit4.py): one PP reading spiked by the contactor coil neither
stops the charge nor raises the offer; a PP that stays out of band still opens within 20 ms; a
max_current above the board's rating is saved with a warning."""
import gc

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive


def charging(connector, cable, max_current=32):
    mm.reset_world()
    gc.collect()
    d = Drive(config={"connector": connector, "max_current": max_current})
    d.run(0.5)
    d.plug(pp_ohms=cable)
    d.run(0.1)
    d.ev("C")
    d.run(7.0)
    assert d.coil and d.state == "C2", (d.state, d.fault)
    return d


def one_pp_reading(d, spike, cable):
    t = d.set(pp_ohms=spike)
    seen = d.app.m.pp_ohms
    while d.app.m.pp_ohms == seen and mm.clock.us - t < 20000:
        d.rig.run(0.001)
    d.set(pp_ohms=cable)
    return t


def test_one_spiked_pp_reading_neither_faults_nor_raises_the_offer():
    for connector, cable, spike in (("type2-socket", 220, 30), ("type2-socket", 220, 100), ("j1772", 150, 30)):
        d = charging(connector, cable, 63)
        t = one_pp_reading(d, spike, cable)
        d.run(1.0)
        amps = [e[2] for u, e in d.events if u >= t and e[0] == "pwm"]
        assert d.fault is None and d.coil and d.coil_change(0, t) is None, (connector, spike, d.fault)
        assert all(a <= 32 for a in amps), (connector, spike, amps)


def test_a_pp_that_stays_out_of_band_opens_within_20_ms():
    for connector, cable in (("type2-socket", 220), ("j1772", 150)):
        d = charging(connector, cable)
        t = d.set(pp_ohms=30)
        d.run(0.1)
        opened = d.coil_change(0, t)
        assert d.fault == "pp" and opened is not None and opened - t <= 20000, (connector, d.fault, opened)


def test_a_max_current_above_the_boards_rating_is_saved_with_a_warning():
    from evse.services import console as C
    from tools.sim.rig import Rig
    import upytest
    mm.reset_world()
    gc.collect()
    rig = Rig(board="rpi_pico", config={"max_current": 32})
    C.attach(rig.app, upytest.NullConsole())
    r = rig.app.console.answer({"cmd": "set", "values": {"max_current": 40}}, 0)
    assert r["ok"] is True and r["warning"] == "max_current: this board's rating caps the current at 32 A", r
    r = rig.app.console.answer({"cmd": "set", "values": {"max_current": 32}}, 0)
    assert r["ok"] is True and "warning" not in r, r


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
