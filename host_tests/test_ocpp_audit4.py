"""The fourth audit of OCPP 1.6J: what earlier audits left as doubts, one bench scenario each. The
OCPP service runs under CPython against the PyPI `ocpp` central system (host_tests/ocpp_cs.py),
which validates every frame against the official OCPP 1.6 JSON schemas."""
import asyncio

from ocpp_cs import CentralSystem, call
from host_tests import test_ocpp_cs
from host_tests.test_ocpp_cs import booted, charge_session, run, fast_reconnect  # noqa: F401 (fixture)
from evse.metering.energy import Energy


def registers(cs):
    """Every energy register value the central system got, in order: meterStart, the
    Energy.Active.Import.Register sampled values, meterStop."""
    out = []
    for action, p in cs.calls:
        if action == "StartTransaction":
            out.append(p["meterStart"])
        elif action == "StopTransaction":
            out.append(p["meterStop"])
        elif action == "MeterValues":
            out += [int(float(s["value"])) for mv in p["meterValue"] for s in mv["sampledValue"]
                    if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"]
    return out


# -- 1. the energy register never goes back across a power cut (section 3.16, 9.1: a total) ------

def test_a_power_cut_never_sends_a_register_below_one_already_sent(tmp_path, monkeypatch):
    """The meter service's count (metering/energy.py) comes back at boot from its last checkpoint,
    written every 50 Wh or 60 s: energy counted after it is gone from the count. A car charges
    40 Wh past the checkpoint at 1000 Wh and a MeterValues reports the register at 1040 Wh; then the
    power is cut. After the reboot the count is 1000 Wh. Energy.Active.Import.Register is a total
    register: the power-loss StopTransaction, the next transaction's meterStart and its MeterValues
    must never be below the 1040 Wh the central system already has (a billing back end flags a
    register that goes back), and the energy charged after the cut adds on top of it, no more."""
    flash = tmp_path / "flash"
    flash.mkdir()

    class EnergyMeter(test_ocpp_cs.FakeMeter):      # the fake meter over the real energy count
        def __init__(self):
            super().__init__()
            self.energy = Energy(str(flash))

        @property
        def wh_total(self):
            return self.energy.wh_total

        @wh_total.setter
        def wh_total(self, v):
            pass

    monkeypatch.setattr(test_ocpp_cs, "FakeMeter", EnergyMeter)

    async def main():
        cs = CentralSystem()
        await cs.start()
        e = Energy(str(flash))
        e.add_mwh(1000000, 0)
        e.checkpoint()                                  # the lifetime count on flash: 1000 Wh
        rig = await booted(cs, tmp_path / "ocpp")
        await charge_session(cs, rig)
        rig.meter.energy.add_mwh(40000, 1000)           # 40 Wh: below 50 Wh, within 60 s, no checkpoint
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))).status == "Accepted"
        await cs.wait_action("MeterValues")
        before = registers(cs)
        assert before == [1000, 1040], before
        await asyncio.sleep(0.2)
        await rig.kill()                                # power cut: the count is back at 1000 Wh
        rig2 = await test_ocpp_cs.Rig(cs, tmp_path / "ocpp").start()
        assert int(rig2.meter.wh_total) == 1000
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert stop["reason"] == "PowerLoss" and stop["meterStop"] == 1040, stop
        await cs.wait_for(lambda: rig2.svc.accepted)
        rig2.state("A1")
        assert rig2.svc.present_id("GOOD") == "pending"
        await cs.wait_for(lambda: rig2.charger.authorized)
        rig2.state("B2")
        start = (await cs.wait_action("StartTransaction", 2))[-1]
        assert start["meterStart"] == 1040, start
        rig2.meter.energy.add_mwh(100000, 2000)         # 100 Wh charged after the cut
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))).status == "Accepted"
        await cs.wait_action("MeterValues", 2)
        after = registers(cs)
        assert after == [1000, 1040, 1040, 1040, 1140], after   # never back; 40 + 100 Wh, none invented
        assert all(b >= a for a, b in zip(after, after[1:])), after
        await rig2.kill()
        await cs.stop()
    run(main())
