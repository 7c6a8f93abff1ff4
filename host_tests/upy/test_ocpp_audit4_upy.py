"""The fourth OCPP audit's board-side fixes under the MicroPython unix port (and CPython): the
energy register that never goes back across a power cut (the service and the real energy count on
flash), and the CALLERROR for a uniqueId over 36 characters. The scenarios against a central
system are host_tests/test_ocpp_audit4.py."""
from evse.metering.energy import Energy
from evse.ocpp import metering, rpc
from evse.ocpp.chargepoint import HI_AHEAD_WH
from ocpp_fakes import Meter, TickClock, tmpdir
from upytest import CoreLink
import upytest


class _Meter(Meter):
    """The meter service's figures over the real energy count (metering/energy.py)."""

    def __init__(self, d):
        Meter.__init__(self, 16.0)
        self.energy = Energy(d)

    @property
    def wh_total(self):
        return self.energy.wh_total


def test_the_register_goes_on_from_the_highest_value_after_a_power_cut():
    import gc
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    d = tmpdir("ocpp_a4_upy", "/ocpp")
    e = Energy(d)
    e.add_mwh(1000000, 0)
    e.checkpoint()                                        # 1000 Wh on flash
    m = _Meter(d)
    cfg = {"ocpp_url": "", "ocpp_free_id_tag": "FREE"}
    svc = OcppService(CoreLink(), m, cfg, d + "/ocpp", TickClock())
    svc.on_event(("state", "B2"))
    svc.poll(0)
    assert svc.txq.records[0][2]["meterStart"] == 1000
    m.energy.add_mwh(40000, 100)                          # 40 Wh, no checkpoint
    sv = metering.sample(svc, "Energy.Active.Import.Register", "Trigger")
    assert sv[0]["value"] == "1040"                       # handed out: below the ceiling on flash
    m2 = _Meter(d)                                        # power cut: the count is back at 1000 Wh
    assert int(m2.wh_total) == 1000
    svc2 = OcppService(CoreLink(), m2, cfg, d + "/ocpp", TickClock())
    stop = [r for r in svc2.txq.records if r[1] == "StopTransaction"][0]
    # the register goes on from the ceiling (stop 45: state.json once per 50 Wh, not per sample):
    # never below 1040, at most HI_AHEAD_WH above it
    assert stop[2]["reason"] == "PowerLoss" and stop[2]["meterStop"] == 1040 + HI_AHEAD_WH, stop
    assert svc2.meter_wh() == 1040 + HI_AHEAD_WH
    m2.energy.add_mwh(100000, 200)                        # 100 Wh after the cut: added, no more
    assert svc2.meter_wh() == 1140 + HI_AHEAD_WH
    svc3 = OcppService(CoreLink(), _Meter(d), cfg, d + "/ocpp", TickClock())
    assert svc3.meter_wh() >= 1140 + HI_AHEAD_WH          # again after another cut


def test_a_transaction_that_ends_leaves_the_register_exact_for_the_next_boot():
    """The ceiling is for a cut during a transaction only: a transaction stopped, then a reboot
    with the meter's count on flash, and the register goes on where it was, not 50 Wh higher."""
    import gc
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    d = tmpdir("ocpp_a4b_upy", "/ocpp")
    e = Energy(d)
    e.add_mwh(1000000, 0)
    e.checkpoint()
    m = _Meter(d)
    cfg = {"ocpp_url": "", "ocpp_free_id_tag": "FREE"}
    svc = OcppService(CoreLink(), m, cfg, d + "/ocpp", TickClock())
    svc.on_event(("state", "B2"))
    svc.poll(0)
    m.energy.add_mwh(40000, 100)
    assert metering.sample(svc, "Energy.Active.Import.Register", "Trigger")[0]["value"] == "1040"
    svc.on_event(("state", "A1"), 200)                    # unplugged: the transaction stops
    stop = [r for r in svc.txq.records if r[1] == "StopTransaction"][0]
    assert stop[2]["meterStop"] == 1040
    m.energy.checkpoint()                                 # the count on flash, then a reboot
    svc2 = OcppService(CoreLink(), _Meter(d), cfg, d + "/ocpp", TickClock())
    assert svc2.meter_wh() == 1040


def test_a_call_with_a_long_uniqueid_is_a_formation_violation_with_that_id():
    uid = "x" * 37
    assert rpc.parse('[2,"%s","Reset",{"type":"Soft"}]' % uid) == (None, uid, "FormationViolation",
                                                                   "uniqueId over 36 characters")
    assert rpc.parse('[2,"%s","Reset",{"type":"Soft"}]' % uid[:36])[:2] == (2, uid[:36])


if __name__ == "__main__":
    upytest.run(globals())
