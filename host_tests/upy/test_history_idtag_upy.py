# upy-heap: 272k
# Who charged, on both interpreters: under OCPP a session's record names the idTag it was
# authorized for (CoreLink.authorize(True, idTag), as the OCPP service calls it), never more than
# an idTag (CiString20); an idTag learned after the session opened still names it, through a
# power cut. host_tests/test_history_ocpp_idtag.py drives the same against a central system.
from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.ocpp.corelink import CoreLink

import upytest


def _plug_and_charge(rig, seconds):
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    rig.run(0.5)
    w.ev_ohms = 882
    w.draw_amps = 16
    w.recompute()
    rig.run(seconds)
    assert rig.app.charger.out.contactor


def _unplug(rig):
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = False, None, None
    w.recompute()
    rig.run(1.0)


def _rig(require_auth):
    rig = Rig(config={"max_current": 32, "meter": "ct", "require_auth": require_auth})
    rig.run(1.0)
    return rig, CoreLink(rig.app, "ocpp")


def test_the_idtag_an_ocpp_authorization_names_is_the_sessions_user():
    rig, link = _rig(True)
    link.authorize(True, "04A1B2C3D4E5F6")
    _plug_and_charge(rig, 2)
    _unplug(rig)
    link.authorize(True, "X" * 21)              # not an OCPP idTag: not stored as given
    _plug_and_charge(rig, 2)
    _unplug(rig)
    assert [r["user"] for r in rig.app.sessions()] == ["04A1B2C3D4E5F6", "ocpp"]


def test_an_idtag_learned_after_the_session_opened_names_it_through_a_power_cut():
    rig, link = _rig(False)
    _plug_and_charge(rig, 2)                    # no authorization needed: the record names nobody
    link.authorize(True, "LATE-1")
    rig.run(0.5)
    rig.power_off()
    rig.run(2)
    rig.power_on()
    rig.run(1.0)
    recs = rig.app.sessions()
    assert len(recs) == 1 and recs[0]["user"] == "LATE-1" and recs[0]["reason"] == "power_loss"


if __name__ == "__main__":
    upytest.run(globals())
