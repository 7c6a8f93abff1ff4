"""A Type 2 socket's plug lock (the twelfth audit), as bench scenarios on the virtual board with a
lock wired (LOCK_PINS: a motor through an H-bridge, LOCK_FB_PIN: the bolt's switch). IEC 61851-1
ed.3: a socket-outlet in mode 3 holds the plug so it cannot be withdrawn under load. What
esp32-evse, SmartEVSE-3 and EVerest agree on (docs/design.md, "The plug lock"): locked once a car
is connected and before any current is offered; unlocked only with the contactor open (the car
gone, a fault, OCPP's UnlockConnector after the transaction stopped); a lock that does not get
there, or opens under the plug, is a fault. Before, the firmware had no lock at all."""
import asyncio

import pytest

from evse.core import limits as L
from evse.ocpp.corelink import CoreLink
from live_bench import run
from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_bench import Bench
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from tools.sim.rig import board_with_lock

SOCKET = {"max_current": 32, "connector": "type2-socket"}
CABLE_32A = 220          # ohm: IEC 61851-1 Table B.2, a 32 A cable


def record_lock(d):
    """d.lock_edges: (t_us, "lock" | "unlock") each drive of the lock's motor."""
    pins = d.rig.board.LOCK_PINS
    d.lock_edges = []

    def hook(p, level):
        if p in pins and level == 1:
            d.lock_edges.append((mm.clock.us, "lock" if p == pins[0] else "unlock"))
    d.rig.add_pin_hook(hook)
    return d


def bench(**cfg):
    d = record_lock(Drive(config=dict(SOCKET, **cfg), board=board_with_lock()))
    d.run(1.0)            # (the boot's drive to unlock: LOCK_PULSE_MS)
    return d


def status_lock(d):
    return d.app.status(0)["lock"]


def test_plug_lock_charge_stop_unlock():
    d = bench()
    assert status_lock(d) == "unlocked"
    t_plug = d.plug(CABLE_32A)
    d.run(0.05)
    assert (d.state, d.duty, status_lock(d)) == ("B1", 100.0, "locking")     # nothing offered yet
    d.run(L.LOCK_PULSE_MS / 1000)                   # the switch is read once the drive is over
    assert (d.state, status_lock(d)) == ("B2", "locked")
    t_pwm = [t for t, e in d.events if t >= t_plug and e[0] == "pwm" and 0 < e[1] < 100][0]
    locks = [(t, k) for t, k in d.lock_edges if t >= t_plug]
    assert locks[0][1] == "lock" and locks[0][0] < t_pwm     # locked before the offer
    d.ev("C")
    d.run(1.0)
    assert (d.state, d.coil, d.fault) == ("C2", True, None)
    with pytest.raises(AssertionError, match="holds the plug"):
        d.unplug()                                  # the bolt is in: the plug cannot leave
    d.ev("B")                                       # the car stops: open, the plug still held
    d.run(0.5)
    assert (d.coil, status_lock(d)) == (False, "locked")
    t_a = d.ev("A")                                 # the cable out of the car: the socket lets go
    d.run(1.0)
    assert (d.state, status_lock(d), d.world.lock_pos) == ("A1", "unlocked", 0.0)
    assert [k for t, k in d.lock_edges if t > t_a] == ["unlock"]
    d.unplug()
    d.run(0.5)
    assert d.state == "A1" and d.fault is None


def test_a_jammed_lock_offers_nothing_and_faults():
    d = bench()
    d.world.lock_jam = True
    t_plug = d.plug(CABLE_32A)
    d.ev("C")                                       # a car that asks at once gets nothing
    d.run(0.5)
    t_lock = [t for t, k in d.lock_edges if t >= t_plug][0]
    d.rig.run_until(t_lock + L.LOCK_MOVE_MS * 1000 - 50000)
    assert (d.state, d.duty, d.fault, d.coil) == ("C1", 100.0, None, False)
    d.run(0.1)
    assert d.fault == "lock" and d.coil_edges == []
    assert [k for t, k in d.lock_edges if t >= t_plug] == ["lock"] * 3 + ["unlock"]     # three tries
    d.run(5.0)
    assert (d.state, d.fault, d.coil, d.duty) == ("fault", "lock", False, 100.0)   # X1 until the car leaves
    assert d.app.status(0)["fault"] == "lock"


def test_a_lock_that_opens_while_charging_opens_the_contactor_at_once():
    d = bench()
    d.charge(pp_ohms=CABLE_32A)
    t = d.set(lock_pos=0.0)                         # the bolt pushed back: its switch opens
    d.run(0.1)
    assert d.fault == "lock" and not d.coil
    # (a reading of LOCK_OPEN_CONFIRM_MS first: one reading is a bounce; stop 50)
    assert (d.coil_change(0, t) - t) / 1e3 <= L.LOCK_OPEN_CONFIRM_MS + L.TICK_MS + 5


def test_unlock_on_request_opens_the_contactor_first():
    d = bench()
    d.charge(pp_ohms=CABLE_32A)
    assert CoreLink(d.app, "ocpp").unlock() is d.charger.lock    # UnlockConnector's request
    d.run(0.2)
    assert (d.duty, d.coil, status_lock(d)) == (100.0, True, "locked")   # the car is asked to stop first
    t_b = d.ev("B")
    d.run(1.0)
    t_open = d.coil_change(0, t_b)
    unlocks = [t for t, k in d.lock_edges if k == "unlock" and t >= t_b]
    assert t_open is not None and unlocks and t_open < unlocks[0]
    assert (d.state, status_lock(d)) == ("B1", "unlocked")              # nothing offered until it leaves
    d.run(5.0)
    assert d.state == "B1" and d.coil_edges[-1][1] == 0
    d.unplug()
    d.run(0.5)
    d.plug(CABLE_32A)                                # a new plug-in locks again
    d.run(1.0)
    assert (d.state, status_lock(d)) == ("B2", "locked")


def test_boards_without_a_lock_and_tethered_cables_have_none():
    d = Drive(config=SOCKET)                        # the plain sim board: no LOCK_PINS
    assert d.charger.lock is None and d.app.lock is None
    d.run(0.5)
    d.charge(pp_ohms=CABLE_32A)
    assert d.app.status(0)["lock"] is None
    assert CoreLink(d.app, "ocpp").unlock() is None                # UnlockConnector: NotSupported
    t = bench(connector="type2-tethered")           # a lock fitted, a tethered cable: not used
    assert [k for _, k in t.lock_edges] == ["unlock"]    # (at boot: a power cut may have left it locked)
    t.charge()
    assert len(t.lock_edges) == 1 and status_lock(t) is None    # (none to use: no unlock button)


async def _booted(cs, tmp_path, board, **cfg):
    b = await Bench(cs, tmp_path, board=board, **dict(SOCKET, **cfg)).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    return b


async def _charging(b):
    b.d.plug(CABLE_32A)
    await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
    await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction id")
    b.d.ev("C")
    await b.until(lambda: b.d.coil, 6, "contactor closed")


def test_ocpp_unlock_connector_during_a_transaction(tmp_path):
    """OCPP 1.6 5.17: the transaction stops first (UnlockCommand), the contactor opens, then the
    lock; the answer waits for its feedback: Unlocked. Before: NotSupported, the plug held by nothing."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path, board_with_lock())
        try:
            d = record_lock(b.d)
            await _charging(b)
            t0 = mm.clock.us
            ask = asyncio.ensure_future(cs.call("cp1", call.UnlockConnector(connector_id=1)))
            await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")     # the car is asked to stop
            d.ev("B")             # (on a loaded machine maybe after the 6 s the charger waits for it)
            res = await ask
            stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
            assert stop["reason"] == "UnlockCommand"
            assert res.status == "Unlocked" and not d.coil and d.world.lock_pos == 0.0
            t_open = d.coil_change(0, t0)
            unlocks = [t for t, k in d.lock_edges if k == "unlock" and t >= t0]
            t_c1 = d.first("state", t0, "C1")          # PWM off, the car still in C
            assert t_open is not None and t_c1 is not None and t_c1 < t_open
            assert unlocks and t_open < unlocks[0]      # the contactor open before the lock moved
            assert b.app.status(0)["lock"] == "unlocked"
        finally:
            await b.stop()
            await cs.stop()
    run(main())


def test_TC_017_1_unlock_connector_with_no_session_running_releases_the_plug(tmp_path):
    """OCTT TC_017_1 (not fixed cable, no charging session): a cable in the socket, locked, no
    transaction. UnlockConnector answers Unlocked once the bolt is out, no StopTransaction, nothing
    offered while the cable stays; it can be withdrawn, and the next plug-in is locked again."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path, board_with_lock())
        try:
            b.d.plug(CABLE_32A)
            await b.until(lambda: b.app.status(0)["lock"] == "locked", 2, "locked")
            res = await cs.call("cp1", call.UnlockConnector(connector_id=1))
            assert res.status == "Unlocked" and not b.d.world.lock_holds()
            assert not cs.actions("StopTransaction") and not b.d.coil and b.d.duty == 100.0
            b.d.unplug()
            await b.until(lambda: b.app.status(0)["lock"] == "unlocked" and b.app.charger.state == "A1",
                          2, "unplugged")
            b.d.plug(CABLE_32A)
            await b.until(lambda: b.app.status(0)["lock"] == "locked", 2, "locked again")
        finally:
            await b.stop()
            await cs.stop()
    run(main())


def test_ocpp_unlock_connector_on_a_jammed_lock_fails(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path, board_with_lock(), require_auth=False)
        try:
            b.d.plug(CABLE_32A)
            await b.until(lambda: b.app.status(0)["lock"] == "locked", 2, "locked")
            b.d.world.lock_jam = True
            res = await cs.call("cp1", call.UnlockConnector(connector_id=1))
            assert res.status == "UnlockFailed" and b.d.world.lock_holds()
            await b.until(lambda: [(p["status"], p["errorCode"]) for p in cs.actions("StatusNotification")
                                   if p["connectorId"] == 1][-1] == ("Faulted", "ConnectorLockFailure"),
                          2, "Faulted, ConnectorLockFailure")
        finally:
            await b.stop()
            await cs.stop()
    run(main())


@pytest.mark.parametrize("board, connector", [("sim", "type2-socket"), ("lock", "type2-tethered")])
def test_ocpp_unlock_connector_without_a_lock_is_not_supported(tmp_path, board, connector):
    """A tethered cable, or a board without a lock: NotSupported; a running transaction still stops."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await _booted(cs, tmp_path, board_with_lock() if board == "lock" else board,
                          connector=connector)
        try:
            await _charging(b)
            res = await cs.call("cp1", call.UnlockConnector(connector_id=1))
            assert res.status == "NotSupported"
            stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
            assert stop["reason"] == "UnlockCommand"
        finally:
            await b.stop()
            await cs.stop()
    run(main())


def test_the_motor_is_never_left_driven_by_a_safe_stop():
    """hw.safe() (an exception in the tick, Ctrl-C to the REPL, a reset) stops the lock's motor as
    well: a loop that stops mid-drive would leave it powered against its end stop."""
    d = bench()
    d.plug(CABLE_32A)
    d.run(0.05)
    pins = d.rig.board.LOCK_PINS
    assert mm.output(pins[0]) == 1                  # locking, mid-drive
    d.app.hw.safe()
    assert (mm.output(pins[0]), mm.output(pins[1])) == (0, 0)


def test_after_a_power_cut_the_car_still_connected_is_locked_again_before_any_offer():
    """The bolt holds where it is without power (a manual release is the installer's). Back up,
    the boot drives it open (no car known yet: SmartEVSE-3 does the same), the car still
    connected is locked again before anything is offered, and let go when it leaves."""
    d = bench()
    d.charge(pp_ohms=CABLE_32A)
    d.rig.power_off()
    d.run(1.0)
    assert d.world.lock_holds() and not d.coil
    t_on = d.now_us
    d.rig.power_on()
    d.run(5.0)
    assert (d.state, status_lock(d), d.fault) == ("C2", "locked", None)
    drives = [(t, k) for t, k in d.lock_edges if t >= t_on]
    assert [k for _, k in drives] == ["unlock", "lock"]
    offered = [t for t, e in d.events if t >= t_on and e[0] == "pwm" and 0 < e[1] < 100]
    assert drives[1][0] < offered[0] < d.coil_change(1, t_on)
    d.ev("A")
    d.run(1.0)
    assert (d.state, status_lock(d)) == ("A1", "unlocked")
    d.unplug()
