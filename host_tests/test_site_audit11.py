"""A site operator's bad days (stop 46): a central system that restarts, refuses or holds chargers
Pending, a link that drops, as one charger lives them (the site of many: tools/site.py, `make
bench`). Each test scripts the central system (PyPI `ocpp`, host_tests/ocpp_cs.py) against the
service under CPython and waits on what reaches it."""
import asyncio

from ocpp.v16 import call_result

from ocpp_cs import CentralSystem, now_iso
from host_tests.test_ocpp_cs import Rig, run, fast_reconnect  # noqa: F401 (fixture)


def _boots(cs, status, interval):
    """The central system answers every BootNotification with answer[0] (`status` first) and
    `interval`; the loop times of their arrival."""
    loop = asyncio.get_running_loop()
    times, answer = [], [status]

    def reply(kw):
        times.append(loop.time())
        return call_result.BootNotification(current_time=now_iso(), interval=interval, status=answer[0])
    cs.overrides["BootNotification"] = reply
    return times, answer


async def _drop_link(cs, cp_id):
    """The central system ends the connection (its restart, a proxy's time-out): a Close frame."""
    await cs.cps[cp_id]._connection.close()


def test_a_rejected_boot_waits_its_interval_even_across_a_new_connection(tmp_path):
    """OCPP 1.6 4.2.1: a BootNotification answered other than Accepted gives in `interval` "the
    minimum wait time before sending a next BootNotification request". A central system that
    refuses a charger (interval 4 s here, an hour in the field) and then closes the link: the
    charger dials again within its 0.1 s backoff (a second here, 1-1.25 s on a board) and must
    still wait out the interval before it asks again. Before, a new connection asked at once: 50
    refused chargers behind a central system that hangs up on them asked every few seconds, not
    once an hour."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        times, _ = _boots(cs, "Rejected", 4)
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig.svc.boot_status == "Rejected")   # the answer is in
        await _drop_link(cs, "cp1")
        await cs.wait_for(lambda: cs.connections >= 2)            # dialled again at once
        await cs.wait_for(lambda: len(times) >= 2, timeout=20)
        assert times[1] - times[0] >= 4 - 0.2, times                # was 0.1 s
        assert cs.actions() == ["BootNotification"] * 2              # nothing else meanwhile
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_pending_boot_waits_its_interval_across_a_dropped_link_then_boots_once(tmp_path):
    """The same for Pending (4.2.1: the interval is the minimum wait, whatever the answer but
    Accepted): the link drops while the charger waits; the next BootNotification comes no sooner
    than the interval, and once Accepted the charger reports and boots no more."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        times, answer = _boots(cs, "Pending", 4)
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig.svc.boot_status == "Pending")
        await _drop_link(cs, "cp1")
        await cs.wait_for(lambda: cs.connections >= 2)
        answer[0] = "Accepted"                                      # registered now
        await cs.wait_for(lambda: rig.svc.accepted, timeout=20)
        assert len(times) == 2 and times[1] - times[0] >= 4 - 0.2, times     # was 0.1 s
        first_accepted = [a for a in cs.actions() if a != "BootNotification"]
        assert first_accepted[:1] == ["StatusNotification"], cs.actions()
        await rig.kill()
        await cs.stop()
    run(main())


def test_the_sites_share_holds_offline_and_through_a_reboot_offline(tmp_path):
    """A site's ChargePointMaxProfile (Absolute, no start: in force from now, as tools/site.py
    sends it) of 10 A; the central system goes away, the charger loses power and boots with it
    still away (no clock: the profile cannot be placed in time). OCPP 1.6 3.13 / 5.16: profiles
    are kept by the charge point; the share must still cap the pilot before the central system
    is back, never the charger's own 32 A."""
    from ocpp.v16 import call
    from host_tests.test_ocpp_cs import _profile

    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=0, cs_charging_profiles=_profile(
            1, "ChargePointMaxProfile", 0, [(0, 10)], kind="Absolute")))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: rig.charger.limit == 10.0)
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        await rig.kill()                                          # a power cut, offline
        rig2 = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig2.charger.limit is not None)
        assert rig2.charger.limit == 10.0 and not rig2.svc.wall.known()
        await rig2.kill()
    run(main())


def test_while_pending_only_what_the_central_system_triggers_goes_out_and_at_once(tmp_path):
    """OCPP 1.6 4.2.1: while Pending "the Charge Point SHALL NOT send request messages to the
    Central System unless it has been instructed by the Central System to do so with a
    TriggerMessage.req request" (a central system that looks at a charger's status before it
    registers it, 50 of them after a site's power cut). The triggered StatusNotification and
    Heartbeat go out at once, nothing else does (the connector's own status waits for Accepted).
    Before, a triggered message waited in the queue until the boot was Accepted: the central
    system asked and got nothing."""
    from ocpp.v16 import call

    async def main():
        cs = CentralSystem()
        await cs.start()
        times, answer = _boots(cs, "Pending", 60)
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig.svc.boot_status == "Pending")
        res = await cs.call("cp1", call.TriggerMessage(requested_message="StatusNotification", connector_id=0))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: cs.actions("StatusNotification"), timeout=5)
        res = await cs.call("cp1", call.TriggerMessage(requested_message="Heartbeat"))
        await cs.wait_for(lambda: cs.actions("Heartbeat"), timeout=5)
        assert cs.actions() == ["BootNotification", "StatusNotification", "Heartbeat"], cs.actions()
        assert cs.actions("StatusNotification")[0]["connectorId"] == 0
        assert rig.svc.boot_status == "Pending" and len(times) == 1
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_pending_boot_without_an_interval_is_asked_again_after_a_wait_of_its_own(tmp_path, monkeypatch):
    """OCPP 1.6 4.2: an interval of 0 lets the charge point choose its wait "in a way that avoids
    flooding the Central System with requests". 50 chargers back from a site's power cut booted
    within a second of each other, and with a fixed 60 s (BOOT_RETRY_DEFAULT_S, 2 s here) they asked
    again all in the same second, every time. The wait now has a random part of up to a quarter, as
    the reconnection's pause: a charger that draws the highest waits 2.5 s here (1 min 15 s on a
    board); before, 2.0 s."""
    from evse.ocpp import connection
    monkeypatch.setattr(connection, "BOOT_RETRY_DEFAULT_S", 2)
    import os
    from types import SimpleNamespace
    highest = SimpleNamespace(urandom=lambda n: b"\xff" * n, listdir=os.listdir)
    monkeypatch.setattr(connection, "os", highest)        # the firmware's draws, the highest

    async def main():
        cs = CentralSystem()
        await cs.start()
        times, _ = _boots(cs, "Pending", 0)
        rig = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: len(times) >= 2, timeout=20)
        assert times[1] - times[0] >= 2.4, times
        await rig.kill()
        await cs.stop()
    run(main())
