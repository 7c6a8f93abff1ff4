"""A Type 2 socket's plug lock, its last rules (the thirteenth audit), as bench scenarios on the
virtual board with a lock wired. On a socket, the cable unplugged at the car stays in the socket: its
PP still reads the cable's resistor, the pilot goes to A. OCPP 1.6 section 9.1,
UnlockConnectorOnEVSideDisconnect: "When set to true, the Charge Point SHALL unlock the cable on
Charge Point side when the cable is unplugged at the EV". True (the default): let go once the car side
is gone and the contactor is open. False: the cable stays locked (anti-theft) until its transaction's
owner presents the card again (or one of its group, as a stop takes them), an UnlockConnector, or
someone authorized asks on the console, the REST API, the web page or MQTT. Before, false was
accepted and ignored: the cable was let go all the same, and only OCPP could release a cable."""
import asyncio

import pytest

from evse.services import ha
from evse.services.console import Console
from host_tests.test_console import MemStream
from host_tests.test_socket_lock_audit12 import CABLE_32A, SOCKET, bench, record_lock, status_lock
from host_tests.test_ocpp_bench import Bench
from host_tests.test_ocpp_cs import statuses
from live_bench import run
from ocpp_cs import CentralSystem, call
from octt_cs import change_config
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from tools.sim.rig import board_with_lock

KEY = "UnlockConnectorOnEVSideDisconnect"


async def booted(cs, tmp_path, **cfg):
    b = await Bench(cs, tmp_path, board=board_with_lock(), **dict(SOCKET, **cfg)).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    record_lock(b.d)
    return b


async def charging(b, tag="GOOD"):
    b.d.plug(CABLE_32A)
    await b.reply({"cmd": "authorize", "id_tag": tag})
    await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction id")
    b.d.ev("C")
    await b.until(lambda: b.d.coil, 6, "contactor closed")


async def car_side_out(b):
    """The driver stops, then pulls the cable out of the car: it stays in the socket (PP reads)."""
    b.d.ev("B")
    await b.until(lambda: not b.d.coil, 2, "contactor open")
    b.d.ev("A")
    await b.until(lambda: b.app.charger.state == "A1", 2, "A1")
    await b.wait(1.0)


def with_central_system(main):
    async def wrapped():
        cs = CentralSystem(accepted_tags=("GOOD",))
        await cs.start()
        try:
            await main(cs)
        finally:
            await cs.stop()
    run(wrapped())


def test_unlock_on_ev_side_disconnect_true_lets_the_cable_go_once_the_car_side_is_gone(tmp_path):
    """The default: StopTransaction EVDisconnected, then the bolt out with the contactor open."""
    async def main(cs):
        b = await booted(cs, tmp_path)
        try:
            await charging(b)
            t0 = mm.clock.us
            await car_side_out(b)
            stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
            assert stop["reason"] == "EVDisconnected"
            assert (status_lock(b.d), b.d.world.lock_holds()) == ("unlocked", False)
            t_open = b.d.coil_change(0, t0)
            unlocks = [t for t, k in b.d.lock_edges if k == "unlock" and t >= t0]
            assert t_open is not None and unlocks and t_open < unlocks[0]
        finally:
            await b.stop()
    with_central_system(main)


def test_unlock_on_ev_side_disconnect_false_keeps_the_cable_until_its_owner_presents_the_card(tmp_path):
    async def main(cs):
        b = await booted(cs, tmp_path)
        try:
            assert await change_config(cs, KEY, "false") == "Accepted"
            await charging(b)
            await car_side_out(b)
            stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
            assert stop["reason"] == "EVDisconnected"
            await b.wait(5.0)
            assert (status_lock(b.d), b.d.world.lock_holds()) == ("locked", True)    # anti-theft
            # OCPP 1.6 section 4.9's Finishing: "not yet available for a new user, e.g. the cable
            # has not been removed" (it was Available: a map sent the next driver to a locked socket)
            assert statuses(cs)[-1] == "Finishing", statuses(cs)
            assert "Available" not in statuses(cs)[statuses(cs).index("Charging"):]
            with pytest.raises(AssertionError, match="holds the plug"):
                b.d.unplug()
            r = await b.reply({"cmd": "authorize", "id_tag": "THIEF"})         # a stranger's card
            await b.wait(2.0)
            assert r["ocpp"] != "unlocking" and b.d.world.lock_holds()
            r = await b.reply({"cmd": "authorize", "id_tag": "good"})          # its owner's (any case)
            assert r["ocpp"] == "unlocking"
            await b.until(lambda: status_lock(b.d) == "unlocked", 4, "unlocked")
            assert not b.d.world.lock_holds() and b.app.charger.state == "A1" and not b.d.coil
            assert len(cs.actions("StopTransaction")) == 1
            await b.until(lambda: statuses(cs)[-1] == "Available", 4, "Available once let go")
            b.d.unplug()
            await b.wait(1.0)
            await charging(b)                          # the next plug-in is locked as ever
            assert status_lock(b.d) == "locked"
        finally:
            await b.stop()
    with_central_system(main)


def test_unlock_false_a_card_of_the_owners_group_releases_the_kept_cable_another_groups_does_not(tmp_path):
    """As a stop takes them (OCPP 1.6 3.5.1, the same parentIdTag): a household's second card."""
    async def main(cs):
        b = await booted(cs, tmp_path, ocpp_config={KEY: False, "MeterValueSampleInterval": 1})
        try:
            info = lambda parent: {"status": "Accepted", "parentIdTag": parent}
            cards = [{"idTag": "GOOD", "idTagInfo": info("HOME")}, {"idTag": "MATE", "idTagInfo": info("HOME")},
                     {"idTag": "NEIGHBOUR", "idTagInfo": info("NEXTDOOR")}]
            res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full",
                                                          local_authorization_list=cards))
            assert res.status == "Accepted"
            await charging(b)
            await car_side_out(b)
            r = await b.reply({"cmd": "authorize", "id_tag": "NEIGHBOUR"})
            assert r["ocpp"] != "unlocking"
            await b.wait(2.0)
            assert b.d.world.lock_holds()
            r = await b.reply({"cmd": "authorize", "id_tag": "MATE"})
            assert r["ocpp"] == "unlocking"
            await b.until(lambda: status_lock(b.d) == "unlocked", 4, "unlocked")
        finally:
            await b.stop()
    with_central_system(main)


def test_unlock_false_a_car_never_authorized_leaves_its_cable_free(tmp_path):
    """Locked on the plug-in (before any card), but no transaction: the cable is no one's to keep.
    Kept, only the last transaction's owner (someone else) or an unlock could have let it go."""
    async def main(cs):
        b = await booted(cs, tmp_path, ocpp_config={KEY: False, "MeterValueSampleInterval": 1})
        try:
            b.d.plug(CABLE_32A)
            await b.until(lambda: status_lock(b.d) == "locked", 2, "locked")
            b.d.ev("A")
            await b.until(lambda: status_lock(b.d) == "unlocked", 2, "unlocked")
            assert not b.d.world.lock_holds() and not cs.actions("StartTransaction")
        finally:
            await b.stop()
    with_central_system(main)


@pytest.mark.parametrize("way", ["UnlockConnector", "console", "the key set true"])
def test_unlock_false_a_kept_cable_is_released_by_unlock_connector_the_console_or_the_key(tmp_path, way):
    async def main(cs):
        b = await booted(cs, tmp_path, ocpp_config={KEY: False, "MeterValueSampleInterval": 1})
        try:
            await charging(b)
            await car_side_out(b)
            await b.wait(2.0)
            assert b.d.world.lock_holds()
            if way == "UnlockConnector":
                res = await cs.call("cp1", call.UnlockConnector(connector_id=1))
                assert res.status == "Unlocked"
            elif way == "console":
                assert (await b.reply({"cmd": "unlock"}))["unlocking"] is True
            else:
                assert await change_config(cs, KEY, "true") == "Accepted"
            await b.until(lambda: status_lock(b.d) == "unlocked", 4, "unlocked")
            assert not b.d.world.lock_holds() and not b.d.coil
        finally:
            await b.stop()
    with_central_system(main)


def test_unlock_false_with_the_transaction_kept_open_the_owners_card_stops_it_and_releases(tmp_path):
    """StopTransactionOnEVSideDisconnect false too (OCTT TC_005_3 on a socket): the transaction stays
    open, SuspendedEV, the cable locked; the owner's card ends it (Local) and lets the cable go."""
    async def main(cs):
        b = await booted(cs, tmp_path, ocpp_config={KEY: False, "StopTransactionOnEVSideDisconnect": False,
                                                     "MeterValueSampleInterval": 1})
        try:
            await charging(b)
            await car_side_out(b)
            await b.wait(2.0)
            assert not cs.actions("StopTransaction") and b.d.world.lock_holds()
            r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
            assert r["ocpp"] == "unlocking"
            stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
            assert (stop["reason"], stop.get("idTag")) == ("Local", "GOOD")
            await b.until(lambda: status_lock(b.d) == "unlocked", 4, "unlocked")
        finally:
            await b.stop()
    with_central_system(main)


def test_unlock_false_set_by_the_central_system_survives_a_reboot(tmp_path):
    async def main(cs):
        b = await booted(cs, tmp_path)
        try:
            assert await change_config(cs, KEY, "false") == "Accepted"
        finally:
            await b.stop()
        b = await booted(cs, tmp_path)
        try:
            await charging(b)
            await car_side_out(b)
            await b.wait(3.0)
            assert (status_lock(b.d), b.d.world.lock_holds()) == ("locked", True)
        finally:
            await b.stop()
    with_central_system(main)


def test_unlock_false_a_power_cut_with_the_cable_kept_lets_it_go_at_the_boot(tmp_path):
    """The decision (docs/design.md, "The plug lock"): a power cut ends the transaction (PowerLoss)
    and the charger can no longer say whose cable it holds; the boot drives the bolt out (its
    switch then reads unlocked), as for any cable with no car: nobody's cable left locked with no
    way out, the central system offline and no card to show."""
    d = record_lock(Drive(config=dict(SOCKET, ocpp_url="ws://127.0.0.1:9/", ocpp_id="cp1",     # (offline)
                                      ocpp_config={KEY: False, "AllowOfflineTxForUnknownId": True}),
                          board=board_with_lock(), flash_dir=str(tmp_path)))
    d.run(1.0)
    d.plug(CABLE_32A)
    d.run(1.0)
    assert d.app.ocpp.present_id("GOOD") == "accepted"
    d.ev("C")
    d.run(3.0)
    assert d.coil and d.app.ocpp.tx
    d.ev("B")
    d.run(1.0)
    d.ev("A")
    d.run(2.0)
    assert (d.state, status_lock(d), d.world.lock_holds()) == ("A1", "locked", True)
    d.rig.power_off()
    d.run(1.0)
    assert d.world.lock_holds()                       # the bolt holds where it is without power
    t_on = d.now_us
    d.rig.power_on()
    d.run(3.0)
    assert (d.state, status_lock(d), d.fault, d.world.lock_holds()) == ("A1", "unlocked", None, False)
    assert [k for t, k in d.lock_edges if t >= t_on] == ["unlock"]
    d.unplug()


def test_the_console_unlocks_a_charging_car_the_contactor_open_first():
    d = bench()
    con = Console(d.app, MemStream())
    d.charge(pp_ohms=CABLE_32A)
    t0 = d.now_us
    r = con.answer({"cmd": "unlock"}, 0)
    assert r == {"ok": True, "unlocking": True}
    d.run(0.2)
    assert (d.duty, status_lock(d)) == (100.0, "locked")      # the car is asked to stop first
    d.ev("B")
    d.run(1.0)
    t_open = d.coil_change(0, t0)
    unlocks = [t for t, k in d.lock_edges if k == "unlock" and t >= t0]
    assert t_open is not None and unlocks and t_open < unlocks[0]
    assert (d.state, status_lock(d)) == ("B1", "unlocked")    # nothing offered until it leaves
    r = con.answer({"cmd": "unlock"}, 0)                      # again: nothing to move
    assert r == {"ok": True, "unlocking": False}


def test_the_console_says_why_it_cannot_unlock():
    plain = Drive(config=SOCKET)                              # no LOCK_PINS
    r = Console(plain.app, MemStream()).answer({"cmd": "unlock"}, 0)
    assert r == {"ok": False, "error": "unlock: no plug lock on this board"}
    tethered = bench(connector="type2-tethered")
    r = Console(tethered.app, MemStream()).answer({"cmd": "unlock"}, 0)
    assert r == {"ok": False, "error": "unlock: no plug lock: the cable is tethered"}
    d = bench()
    con = Console(d.app, MemStream())
    d.plug(CABLE_32A)
    d.run(1.0)
    d.world.lock_jam = True                                   # the bolt will not move
    assert con.answer({"cmd": "unlock"}, 0)["ok"]
    d.run(0.5)
    assert status_lock(d) == "unlocking"
    r = con.answer({"cmd": "unlock"}, 0)
    assert r == {"ok": False, "error": "unlock: the plug lock is busy unlocking"}


def test_an_unlock_connector_during_a_transaction_stops_the_core_once(tmp_path):
    """ocpp/unlock.py stopped the charger, then CoreLink.unlock stopped it again: one stop now."""
    async def main(cs):
        b = await booted(cs, tmp_path)
        try:
            await charging(b)
            stops, real = [], b.app.charger.stop
            b.app.charger.stop = lambda reason: (stops.append(reason), real(reason))
            ask = asyncio.ensure_future(cs.call("cp1", call.UnlockConnector(connector_id=1)))
            await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
            b.d.ev("B")
            assert (await ask).status == "Unlocked"
            assert stops == ["unlock"]
        finally:
            await b.stop()
    with_central_system(main)


def test_home_assistant_gets_an_unlock_button_only_on_a_socket_with_a_lock():
    cfg = {"max_current": 32, "connector": "type2-socket", "meter": "none"}
    objs = lambda c: [t.split("/")[3] for t, _ in ha.configs("evse", c)]
    assert "unlock" not in objs(cfg)                          # no lock on the board
    assert "unlock" in objs(dict(cfg, plug_lock=True))
    assert "unlock" not in objs(dict(cfg, plug_lock=True, connector="type2-tethered"))
    gone = list(ha.retired("evse", cfg))
    assert "homeassistant/button/evse/unlock/config" in gone
    topic, payload = [c for c in ha.configs("evse", dict(cfg, plug_lock=True)) if "/unlock/" in c[0]][0]
    assert '"command_topic": "~/unlock/set"' in payload and '"name": "Unlock cable"' in payload


def test_mqtt_unlock_set_releases_the_cable_and_home_assistant_is_told_of_the_button():
    mq = {"mqtt_url": "mqtt://127.0.0.1:9", "mqtt_prefix": "evse"}
    d = record_lock(Drive(config=dict(SOCKET, **mq), board=board_with_lock()))
    d.run(1.0)
    svc = d.app.mqtt
    assert "homeassistant/button/evse/unlock/config" in [t for t, _ in ha.configs("evse", svc.announced_cfg())]
    d.charge(pp_ohms=CABLE_32A)
    svc.on_message("evse/unlock/set", b"", retained=True)     # the broker's old copy: not acted on
    d.run(0.5)
    assert (d.coil, svc.last_error) == (True, "unlock: retained: ignored (publish it without retain)")
    svc.on_message("evse/unlock/set", b"PRESS")               # Home Assistant's button
    d.run(0.2)
    assert d.duty == 100.0                                    # the car is asked to stop first
    d.ev("B")
    d.run(1.0)
    assert (d.coil, status_lock(d), d.world.lock_holds()) == (False, "unlocked", False)
    plain = Drive(config=dict(SOCKET, **mq))                  # no lock: no button, refused in words
    plain.run(1.0)
    assert "unlock" not in [t.split("/")[3] for t, _ in ha.configs("evse", plain.app.mqtt.announced_cfg())]
    plain.app.mqtt.on_message("evse/unlock/set", b"PRESS")
    assert plain.app.mqtt.last_error == "unlock: no plug lock on this board"


def test_unlock_true_the_car_side_gone_is_available_with_no_finishing_between(tmp_path):
    """The default: the cable let go with the car side, the connector free at once (no Finishing
    on the way: nothing blocks the socket)."""
    async def main(cs):
        b = await booted(cs, tmp_path)
        try:
            await charging(b)
            await car_side_out(b)
            await b.until(lambda: statuses(cs)[-1] == "Available", 4, "Available")
            after = statuses(cs)[statuses(cs).index("Charging"):]
            assert "Finishing" not in after, after
        finally:
            await b.stop()
    with_central_system(main)


def test_a_tethered_cable_on_a_board_with_a_lock_shows_no_lock_and_no_unlock_button():
    """The board has a lock's pins, the connector is set to a tethered cable: there is no plug lock
    to use. The status said `unlocked`, so the page showed an "Unlock cable" button that could only
    answer "no plug lock: the cable is tethered". Now `lock` is null, as on a board without one (and
    Home Assistant, which already had no button there)."""
    d = bench(connector="type2-tethered")
    assert status_lock(d) is None
    d.plug(CABLE_32A)
    d.run(1.0)
    assert status_lock(d) is None
    assert status_lock(bench()) == "unlocked"
