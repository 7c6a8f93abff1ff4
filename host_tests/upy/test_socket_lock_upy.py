# upy-heap: 320k
# (two benches and the OCPP handler, with asyncio, in one test)
"""A Type 2 socket's plug lock, the core's part (core/socket_lock.py in Charger.step), on both
interpreters: the car's pilot and the lock's switch as the shell would read them, tick by tick.
The bench scenarios with the motor, the bolt and OCPP: host_tests/test_socket_lock_audit12.py."""
import gc

from evse.core import charger as CH
from evse.core import limits as L
from evse.core.socket_lock import SocketLock
from evse.services import settings

B, C = 9000, 6000          # the pilot's positive plateau in B and C (mV)


class Socket:
    """A charger with a lock on a Type 2 socket, a 32 A cable in it; tick() steps it 10 ms on."""

    def __init__(self):
        cfg = settings.defaults()
        cfg["max_current"] = 32
        cfg["connector"] = "type2-socket"
        cfg["rcd_selftest"] = False
        self.ch = CH.Charger(cfg)
        self.ch.lock = SocketLock()
        self.m = CH.Measurements()
        self.m.pilot_ok, self.m.pp_ohms, self.m.temp_c, self.m.lock_fb = True, 220, 30, 0
        self.t = 1000
        self.level = 12000
        self.follow = True      # the bolt follows the command (a jammed one does not)

    def tick(self, n=1):
        m, ch = self.m, self.ch
        for _ in range(n):
            self.t += 10
            mode = ch.out.pilot_mode
            m.pilot_pos = -12000 if mode == L.PILOT_F else self.level
            m.pilot_neg = self.level if mode == L.PILOT_X1 else -12000
            m.feedback = 1 if ch.out.contactor else 0
            ch.step(m, self.t)
            if ch.resample:
                ch.step(m, self.t)
            if self.follow:     # the switch a tick after the command
                m.lock_fb = 1 if ch.lock.want else 0
        return ch

    def charging(self):
        """Boot, the car plugged in (locked, offered), then asking: the contactor closed."""
        self.tick(400)
        self.level = B
        self.tick(10)
        self.level = C
        ch = self.tick(100)
        assert ch.out.contactor
        return ch


def test_locked_before_the_offer_and_unlocked_after_the_car_left():
    s = Socket()
    s.tick(400)
    s.level = B
    s.follow = False
    ch = s.tick(5)
    assert ch.state == "B1" and ch.lock.want and ch.out.pilot_mode == L.PILOT_X1   # nothing offered unlocked
    s.follow = True
    ch = s.tick(5)
    assert ch.state == "B2" and ch.lock.shown() == "locked"
    s.level = C
    ch = s.tick(100)
    assert ch.state == "C2" and ch.out.contactor
    s.level = B
    ch = s.tick(5)
    assert not ch.out.contactor and ch.lock.want        # the car still plugged: held
    s.level = 12000
    ch = s.tick(5)
    assert ch.state == "A1" and ch.lock.shown() == "unlocked"


def test_a_lock_that_never_locks_is_a_fault_and_nothing_is_offered():
    s = Socket()
    s.tick(400)
    s.level = B
    s.follow = False
    ch = s.tick(L.LOCK_MOVE_MS // 10 - 10)
    assert ch.fault is None and ch.out.pilot_mode == L.PILOT_X1 and not ch.out.contactor
    ch = s.tick(40)
    assert ch.fault == "lock" and not ch.out.contactor and not ch.lock.want


def test_a_lock_that_opens_while_charging_opens_the_contactor_once_it_reads_open():
    s = Socket()
    s.charging()
    s.follow = False
    s.m.lock_fb = 0
    ch = s.tick(1)                      # one reading: maybe a bounce (LOCK_OPEN_CONFIRM_MS)
    assert ch.fault is None and ch.out.contactor
    ch = s.tick(L.LOCK_OPEN_CONFIRM_MS // 10)
    assert ch.fault == "lock" and not ch.out.contactor


def test_released_only_once_the_contactor_is_open():
    s = Socket()
    ch = s.charging()
    ch.stop("unlock")                    # UnlockConnector (ocpp/corelink.py)
    ch.lock.release = True
    for _ in range(L.EV_STOP_WAIT_MS // 10 - 5):
        s.tick(1)
        assert ch.lock.want or not ch.out.contactor     # never unlocked while closed
    ch = s.tick(20)                     # the car did not stop: opened after 6 s, then unlocked
    assert not ch.out.contactor and ch.lock.shown() == "unlocked" and ch.fault is None
    ch = s.tick(500)
    assert ch.out.pilot_mode == L.PILOT_X1 and not ch.lock.want     # nothing until it leaves


class _Steps:
    """asyncio for the handler on MicroPython: there the bench's mock clock is the port's `time`,
    which its asyncio reads too (a sleep would wait for virtual time that only the bench moves).
    The handler's coroutine is stepped by hand, the bench run between its steps."""

    @staticmethod
    def sleep(s):
        yield


def _unlock_connector(d, tx=False):
    """OCPP's UnlockConnector as evse.ocpp.unlock handles it, the bench running while it waits."""
    import sys
    from tools.sim import mock_machine as mm
    from evse.ocpp import unlock
    from evse.ocpp.corelink import CoreLink

    class Svc:
        charger = CoreLink(d.app, "ocpp")

        def ticks(self):
            return mm.clock.us // 1000

        def ticks_diff(self, a, b):
            return a - b
    Svc.tx = tx
    upy = sys.implementation.name == "micropython"
    if upy:
        unlock.asyncio = _Steps
    res = unlock.unlock_connector(Svc(), {"connectorId": 1})
    if isinstance(res, dict):
        return res["status"]
    if upy:
        while True:
            try:
                res.send(None)
            except StopIteration as e:
                return e.value["status"]
            d.run(0.05)
    import asyncio
    out = []

    async def main():
        async def answer():
            out.append(await res)
        task = asyncio.create_task(answer())
        while not out:
            d.run(0.01)
            await asyncio.sleep(0.002)
        await task
    asyncio.run(main())
    return out[0]["status"]


def test_kept_when_the_car_side_leaves_until_released():
    """OCPP's UnlockConnectorOnEVSideDisconnect false (hold): the cable out of the car stays locked in
    the socket while its PP reads; unlock() lets it go, and it is not locked again until a car."""
    s = Socket()
    ch = s.charging()
    ch.lock.keep(ch, True)
    s.level = B
    s.tick(5)
    s.level = 12000                                     # the car side gone, the cable in the socket
    ch = s.tick(300)
    assert ch.state == "A1" and ch.lock.shown() == "locked" and ch.lock.held(ch)
    assert ch.lock.unlock(ch) == {"unlocking": True}
    ch = s.tick(300)
    assert ch.state == "A1" and ch.lock.shown() == "unlocked" and not ch.lock.held(ch)
    assert ch.stop_reason is None and not ch.lock.hold  # (nothing stopped: no car; kept once only)
    s.m.pp_ohms = 1e9                                   # the cable taken out, another plugged
    s.tick(10)
    s.m.pp_ohms = 220
    s.level = B
    ch = s.tick(20)
    assert ch.state == "B2" and ch.lock.shown() == "locked"


def test_with_no_hold_the_cable_is_let_go_as_before():
    s = Socket()
    ch = s.charging()
    ch.lock.keep(ch, False)
    s.level = B
    s.tick(5)
    s.level = 12000
    ch = s.tick(10)
    assert ch.state == "A1" and ch.lock.shown() == "unlocked"


def test_unlock_connector_on_the_bench():
    """The lazy handler on both interpreters: NotSupported without a lock; with one, Unlocked once
    the car stopped and the contactor opened; UnlockFailed on a jammed bolt."""
    from tools.sim import mock_machine as mm
    mm.install()
    from tools.sim.drive import Drive
    from tools.sim.rig import board_with_lock
    cfg = {"max_current": 32, "connector": "type2-socket"}
    d = Drive(config=cfg)
    d.run(0.5)
    assert _unlock_connector(d) == "NotSupported"
    d = None
    mm.reset_world()          # the first bench's pins and hooks dropped, so its objects can go
    gc.collect()
    d = Drive(config=cfg, board=board_with_lock())
    d.run(0.5).charge(pp_ohms=220)
    d.ev("B")
    assert _unlock_connector(d) == "Unlocked" and not d.coil and d.world.lock_pos == 0.0
    d.ev("A")
    d.run(0.5)
    d.unplug()
    d.plug(220)
    d.run(1.0)
    assert d.charger.lock.shown() == "locked"
    d.world.lock_jam = True
    assert _unlock_connector(d) == "UnlockFailed" and d.charger.fault == "lock"


def test_a_lock_opening_at_the_tick_of_the_close_closes_nothing():
    """The switch opens at the tick the close sequence ends: the fault first, no close event
    (host_tests/test_safety_audit14.py, on the bench's twin of this core)."""
    n = 0
    while True:                 # the tick of the close, on a twin
        s = Socket()
        s.tick(400)
        s.level = C
        s.tick(n + 1)
        if s.ch.out.contactor:
            break
        n += 1
        assert n < 200
    s = Socket()
    s.tick(400)
    s.level = C
    s.tick(n)
    del s.ch.events[:]
    s.m.lock_fb = 0
    s.follow = False
    ch = s.tick()
    assert ("contactor", True) not in ch.events and not ch.out.contactor
    ch = s.tick(L.LOCK_OPEN_CONFIRM_MS // 10)     # (read so for LOCK_OPEN_CONFIRM_MS: not a bounce)
    assert ("contactor", True) not in ch.events and not ch.out.contactor and ch.fault == "lock"


def test_nothing_is_commanded_before_the_first_step_and_a_welded_contactor_keeps_it_locked():
    s = Socket()
    assert s.ch.lock.want is None           # (the shell's driver drives nothing for None)
    s.m.lock_fb = 1
    s.follow = False
    s.m.feedback = 1                        # the mirror: contacts welded over a power cut
    s.ch.step(s.m, s.t)
    assert s.ch.lock.want is True           # locked from the first step on
    for k in range(1, L.FEEDBACK_CONFIRM_MS // 10 + 2):    # (the mirror read so FEEDBACK_CONFIRM_MS)
        s.ch.step(s.m, s.t + 10 * k)
        assert s.ch.lock.want
    assert s.ch.lock.ok and s.ch.fault == "weld"


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
