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


# -- 2. the connector status ------------------------------------------------------------------------

def test_preparing_while_an_accepted_tag_waits_then_available_after_connection_timeout(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path, ocpp_config={"MeterValueSampleInterval": 0, "ConnectionTimeOut": 3})
        assert (await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD"))).status == "Accepted"
        await b.until(lambda: statuses(cs)[-1:] == ["Preparing"], 1, "Preparing")
        assert b.app.charger.authorized and b.d.state == "A1"
        await b.until(lambda: statuses(cs)[-1:] == ["Available"], 5, "Available after ConnectionTimeOut")
        assert not b.app.charger.authorized                  # nobody came: the next car asks again
        b.d.plug()
        b.d.ev("C")
        await b.until(lambda: statuses(cs)[-1:] == ["SuspendedEVSE"], 5, "the car waits")
        await b.wait(2.0)
        assert not b.d.coil and cs.actions("StartTransaction") == []
        await b.stop()
        await cs.stop()
    run(main())


def test_a_car_plugged_in_through_a_power_cut_is_never_reported_available(tmp_path):
    # The central system answers the boot at once (before the first pilot reading): every status
    # queued from then on goes out as it is, none merged away.
    d = Drive(config={"max_current": 32, "ocpp_url": "ws://127.0.0.1:9/ocpp"}, flash_dir=str(tmp_path))
    svc = d.app.ocpp
    svc.accepted = True
    d.plug()                                   # the car was there when the power came back
    d.ev("C")
    d.run(2.0)
    sent = [c[1]["status"] for c in svc.immediate if c[0] == "StatusNotification" and c[1]["connectorId"] == 1]
    assert sent and "Available" not in sent and sent[0] in ("Preparing", "SuspendedEVSE")


def test_change_availability_of_the_charge_point_reports_connector_0_at_once(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path)
        assert statuses(cs, 0) == ["Available"]
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))
        assert res.status == "Accepted"
        await b.until(lambda: statuses(cs, 0)[-1:] == ["Unavailable"], 1, "connector 0 Unavailable")
        await b.until(lambda: statuses(cs, 1)[-1:] == ["Unavailable"], 1, "connector 1 Unavailable")
        await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))
        await b.until(lambda: statuses(cs, 0)[-1:] == ["Available"], 1, "connector 0 Available")
        await b.stop()
        await cs.stop()
    run(main())


def test_a_reset_during_a_session_is_never_reported_as_a_fault(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _card_first(cs, tmp_path)
        b.svc.present_id("GOOD")
        await b.until(lambda: b.app.charger.authorized, what="authorized")
        await _plug_and_charge(b, cs)
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction")
        b.d.ev("B")
        await b.until(lambda: any(e == ("ocpp", "reset Hard") for e in b.app.errors), 2, "reset")
        await b.wait(2.0)                     # the bench's machine.reset() returns: the loop runs on
        faulted = [p for p in cs.actions("StatusNotification") if p["status"] == "Faulted"]
        assert faulted == []
        await b.stop()
        await cs.stop()
    run(main())
