"""Issue 12's defect list, one bench scenario per defect: the unmodified firmware (App, real core)
on the virtual bench against the PyPI `ocpp` central system (test_ocpp_bench.Bench), or a part on
its own with test_ocpp_parts' fake service."""
import asyncio

import pytest

from host_tests.test_ocpp_bench import Bench, statuses, run
from ocpp_cs import CentralSystem, call
from evse.charger import Charger
from tools.drive import Drive


# -- 1. authorizing before plugging in charges -----------------------------------------------------

def _core_with_auth(tmp_path):
    d = Drive(config={"max_current": 32, "require_auth": True}, flash_dir=str(tmp_path))
    d.run(0.5)
    return d


def test_core_keeps_an_authorization_given_before_the_plug_until_the_unplug(tmp_path):
    d = _core_with_auth(tmp_path)
    d.charger.authorize(True)          # card first
    d.run(5.0)                         # many ticks in A: the authorization waits for the car
    assert d.state == "A1" and d.charger.authorized
    d.plug()
    d.run(0.5)
    d.ev("C")
    d.run(1.5)
    assert d.state == "C2" and d.coil
    d.ev("B")
    d.run(0.1)
    d.unplug()
    d.run(0.2)
    assert d.state == "A1" and not d.charger.authorized    # the unplug ends it: the next car asks again
    d.plug()
    d.ev("C")
    d.run(2.0)
    assert d.state == "C1" and not d.coil


async def _card_first(cs, tmp_path, **kw):
    b = await Bench(cs, tmp_path, **kw).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    await b.until(lambda: statuses(cs)[-1:] == ["Available"], what="Available")
    return b


async def _plug_and_charge(b, cs):
    d = b.d
    await b.wait(2.0)                               # the car comes a little later
    d.plug()
    start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
    d.ev("C")
    await b.until(lambda: d.coil, 6, "contactor closed")
    await b.until(lambda: statuses(cs)[-1:] == ["Charging"], what="Charging")
    return start


@pytest.mark.parametrize("how", ["card_online", "local_list", "remote_start", "card_offline"])
def test_authorized_before_the_plug_charges_when_the_car_comes(tmp_path, how):
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD", "LOCAL", "OFFCARD"))
        await cs.start()
        cfg = {"MeterValueSampleInterval": 0, "LocalPreAuthorize": how == "local_list",
               "AllowOfflineTxForUnknownId": how == "card_offline"}
        b = await _card_first(cs, tmp_path, ocpp_config=cfg)
        if how == "local_list":
            res = await cs.call("cp1", call.SendLocalList(list_version=3, update_type="Full",
                                local_authorization_list=[{"id_tag": "LOCAL", "id_tag_info": {"status": "Accepted"}}]))
            assert res.status == "Accepted"
            assert b.svc.present_id("LOCAL") == "accepted"
        elif how == "remote_start":
            assert (await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD"))).status == "Accepted"
        elif how == "card_offline":
            b.svc.accepted = False                       # the link is down when the card is shown
            assert b.svc.present_id("OFFCARD") == "accepted"
            b.svc.accepted = True
        else:
            assert b.svc.present_id("GOOD") == "pending"
            await b.until(lambda: b.app.charger.authorized, what="Authorize answered")
        await _plug_and_charge(b, cs)
        assert b.app.charger.state == "C2"
        await b.stop()
        await cs.stop()
    run(main())
