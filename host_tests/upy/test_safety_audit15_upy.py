# upy-heap: 288k
"""The fifteenth safety audit's cases on both interpreters (the bench's:
host_tests/test_safety_audit15.py): the core's timers against the boards' wrapping ticks (2**30
ms), days stepped once a minute under heap_lock (the tick allocates nothing, the timers stopped
or started included); a glitch on the contactor's mirror (a welded one's too), the plug lock's
switch bouncing and a tethered cable's unused switch, under heap_lock; the lock driver's
end-of-drive interrupt allocating nothing."""
from evse.core import charger as CH
from evse.core import limits as L
from evse.core import ticks as TK
from evse.services import settings

import upytest

try:
    import micropython
    heap_lock, heap_unlock = micropython.heap_lock, micropython.heap_unlock
except (ImportError, AttributeError):      # CPython: nothing to lock
    heap_lock = heap_unlock = lambda: None

WRAP_MASK = (1 << 30) - 1


class Car:
    """A tethered J1772 charger and a car at `level`; tick(ms) steps it ms later."""

    def __init__(self, **cfg):
        c = settings.defaults()
        c["max_current"] = 32
        c["rcd_selftest"] = False
        for k in cfg:
            c[k] = cfg[k]
        self.ch = CH.Charger(c, diff=TK.ticks_diff)
        m = self.m = CH.Measurements()
        m.pilot_ok, m.pp_ohms, m.temp_c, m.feedback = True, 150, 30, 0
        self.t = 1000
        self.level = 12000
        self.mirror = None      # the contactor's mirror: follows the coil, or reads this (0, 1)
        self.tick(n=400)
        self.level = 9000
        self.tick(n=500)

    def tick(self, ms=10, n=1):
        ch, m = self.ch, self.m
        for _ in range(n):
            self.t = (self.t + ms) & WRAP_MASK
            mode = ch.out.pilot_mode
            m.pilot_pos = -12000 if mode == L.PILOT_F else self.level
            m.pilot_neg = self.level if mode == L.PILOT_X1 else -12000
            m.feedback = (1 if ch.out.contactor else 0) if self.mirror is None else self.mirror
            ch.step(m, self.t)
            if ch.resample:
                ch.step(m, self.t)

    def days(self, days):
        heap_lock()
        try:
            self.tick(60000, int(days * 1440))
        finally:
            heap_unlock()

    def first(self, state, seconds):
        """ms until the state comes in the next seconds (None: it does not)."""
        for i in range(int(seconds * 100)):
            self.tick()
            if self.ch.state == state:
                return i * 10
        return None


def test_a_wake_up_turned_on_a_week_after_the_plug_in_wakes_the_car():
    car = Car(wakeup_after_s=0)
    assert car.ch.state == "B2"
    car.days(7)
    car.ch.cfg["wakeup_after_s"] = 30
    ms = car.first("wakeup", 40)
    assert ms is not None and ms <= 30020, ms


def test_a_residual_current_trip_for_a_week_then_gone_charges_again():
    car = Car()
    car.m.rcd_trip, car.m.rcd_edges = True, 1
    car.tick()
    assert car.ch.fault == "rcd"
    car.tick(60000, 60)               # (the F, then X1: events, which allocate)
    car.days(7)
    car.m.rcd_trip = False
    assert car.first("B2", (L.RCD_RETRY_MS + 10000) / 1000) is not None, car.ch.state
    car.level = 6000
    car.tick(n=100)
    assert car.ch.state == "C2" and car.ch.out.contactor


def test_a_glitch_on_the_contactors_mirror_is_no_fault_and_allocates_nothing():
    car = Car()
    car.level = 12000
    car.tick(n=100)

    def glitches():
        for k in range(20):
            car.mirror = 1                  # idle: one or two readings 'closed'
            car.tick(n=1 + k % 2)
            car.mirror = None
            car.tick(n=10)
    _locked(glitches)
    assert car.ch.fault is None and car.ch.state == "A1", car.ch.fault
    car.level = 9000
    car.tick(n=500)
    car.level = 6000
    car.tick(n=300)
    assert car.ch.out.contactor

    def drops():
        for k in range(20):
            car.mirror = 0                  # charging: one or two readings 'open'
            car.tick(n=1 + k % 2)
            car.mirror = None
            car.tick(n=10)
    _locked(drops)
    assert car.ch.fault is None and car.ch.out.contactor, car.ch.fault
    car.mirror = 0
    car.tick(n=L.FEEDBACK_CONFIRM_MS // 10 + 1)
    assert car.ch.fault == "no_close" and not car.ch.out.contactor


class Socket(Car):
    """A Type 2 socket with its plug lock, a 32 A cable; the switch follows the bolt's command
    unless `switch` says otherwise (0 or 1)."""

    def __init__(self, connector="type2-socket"):
        from evse.core.socket_lock import SocketLock
        self.lock = SocketLock()
        self.switch = None
        self.connector = connector
        Car.__init__(self, connector=connector)

    def tick(self, ms=10, n=1):
        ch = self.ch
        if ch.lock is None:
            ch.lock = self.lock
            self.m.pp_ohms = 220 if self.connector == "type2-socket" else 150
        for _ in range(n):
            want = ch.lock.want
            self.m.lock_fb = (1 if want else 0) if self.switch is None else self.switch
            Car.tick(self, ms, 1)


def _locked(fn):
    heap_lock()
    try:
        fn()
    finally:
        heap_unlock()


def test_a_bounce_of_the_lock_switch_while_charging_is_no_fault_and_allocates_nothing():
    s = Socket()
    s.level = 6000
    s.tick(n=200)
    assert s.ch.out.contactor and s.ch.lock.ok

    def bounce():
        for _ in range(20):
            s.switch = 0
            s.tick()
            s.switch = None
            s.tick(n=20)
    _locked(bounce)
    assert s.ch.out.contactor and s.ch.fault is None
    s.switch = 0
    s.tick(n=L.LOCK_OPEN_CONFIRM_MS // 10 + 1)
    assert s.ch.fault == "lock" and not s.ch.out.contactor


def test_a_glitch_on_a_welded_contactors_mirror_keeps_the_socket_locked_and_allocates_nothing():
    s = Socket()
    s.level = 6000
    s.tick(n=200)
    assert s.ch.out.contactor
    s.mirror = 1                            # the contacts welded
    s.level = 9000
    s.tick(n=50)
    s.level = 12000                         # the car side unplugged, the cable in the socket
    s.tick(n=100)
    assert s.ch.fault == "weld" and s.ch.lock.want
    held = [True]

    def glitches():
        for _ in range(10):
            s.mirror = 0                    # one reading 'open': a spike on the mirror's wire
            s.tick()
            held[0] = held[0] and s.ch.lock.want
            s.mirror = 1
            s.tick(n=10)
            held[0] = held[0] and s.ch.lock.want
    _locked(glitches)
    assert held[0] and s.ch.fault == "weld"


def test_a_tethered_cable_ignores_the_unused_lock_switch_and_allocates_nothing():
    s = Socket("j1772")
    s.level = 6000
    s.tick(n=200)
    assert s.ch.out.contactor

    def flip():
        for k in range(40):
            s.switch = k & 1
            s.tick(n=1 + k % 7)
    _locked(flip)
    assert s.ch.out.contactor and s.ch.fault is None


def test_the_lock_drives_end_by_its_interrupt_which_allocates_nothing():
    from tools.sim import mock_machine as mm
    mm.install()
    from tools.sim.drive import Drive
    from tools.sim.rig import board_with_lock
    d = Drive(config={"max_current": 32, "connector": "type2-socket"}, board=board_with_lock())
    d.run(0.05)
    drv = d.app.lock
    a, b = d.rig.board.LOCK_PINS
    assert mm.output(b) == 1                 # the boot's drive out
    _locked(lambda: drv.timed_off(None))
    assert mm.output(a) == 0 and mm.output(b) == 0


if __name__ == "__main__":
    upytest.run(globals())
