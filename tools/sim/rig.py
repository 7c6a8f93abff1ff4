"""The firmware on a virtual board: mock machine + world + the unmodified firmware, on virtual time.

    rig = Rig(config={"max_current": 32})
    rig.world.plugged = True; rig.world.ev_ohms = 2740; rig.world.recompute()
    rig.run(2.0)                 # seconds of virtual time
    rig.app.charger.state

The bench (tools.bench) and `make sim` drive this; tests use it for shell-level scenarios.
Runs under CPython and the MicroPython unix port.
"""
import json
import os

from tools.sim import mock_machine as mm
from tools.sim.mock_machine.world import World

TICK_US = 10000
# The bench's installation: a 32 A circuit, unless the config says otherwise (max_current has no
# default on the board: without one it offers nothing).
INSTALLED = {"max_current": 32}
# A booted charger (the bench contract's time 0: "freshly booted, nothing plugged in"): the
# firmware's power-on check (boot: F for 300 ms) with nothing plugged in until it reports its idle
# state, then IDLE_SETTLE_US more. A1's X1 holds for 3 s a car plugged in before the firmware has
# read the pilot as A (a car present at boot); it reads A within FAST_CONFIRM bursts, 20 ms
# (limits.FAST_CONFIRM): a plug after the settle is a plug-in to a ready charger.
IDLE_SETTLE_US = 50000
BOOT_MAX_US = 10000000      # a firmware that never leaves boot: the caller goes on, and sees it


def load_board(name):
    """boards/NAME.py as the board gets it: one that names a BASE board is that board's values, then
    its own (tools/boardcheck.py `source`, which make flash uses; this runs on MicroPython too)."""
    mod = getattr(__import__("boards." + name), name)
    base = getattr(mod, "BASE", None)
    if base is None:
        return mod

    class Board:
        pass
    for src in (load_board(base), mod):
        for k in dir(src):
            if k.isupper():
                setattr(Board, k, getattr(src, k))
    return Board


def board_with_lock(name="sim", pins=(22, 23), fb_pin=24, fb_active=1):
    """boards/NAME.py with a Type 2 socket's plug lock wired (LOCK_PINS: lock, unlock; LOCK_FB_PIN
    at LOCK_FB_ACTIVE when locked): the world's bolt follows them (world.py)."""
    base = load_board(name)

    class Board:
        pass
    for k in dir(base):
        if k.isupper():
            setattr(Board, k, getattr(base, k))
    Board.LOCK_PINS, Board.LOCK_FB_PIN, Board.LOCK_FB_ACTIVE = pins, fb_pin, fb_active
    return Board


def new_flash_dir():
    """A new flash directory, named at random: probing names one by one churns a small heap."""
    base = os.getenv("TMPDIR") or "/tmp"
    while True:
        d = "%s/evse-flash-%s" % (base, "".join("%02x" % b for b in os.urandom(6)))
        try:
            os.mkdir(d)
            return d
        except OSError:
            pass


class Rig:
    def __init__(self, board="sim", config=None, flash_dir=None, seed=1, start_us=0):
        mm.install()                 # the firmware's `machine` and virtual clock, from here on
        self.board = load_board(board) if isinstance(board, str) else board
        mm.reset_world()
        mm.clock.us = start_us
        self.flash_dir = flash_dir or new_flash_dir()
        if config or not self._has_settings():
            cfg = dict(INSTALLED)
            cfg.update(config or {})
            with open(self.flash_dir + "/settings.json", "w") as f:
                f.write(json.dumps(cfg))
        self.world = World(self.board, seed=seed)
        self.listeners = []          # on_event(ev, now_ms) of the bench's recorders
        self.pin_hooks = []          # (pin, level) on every output change; kept across power cycles
        self.probes = []             # called after every control tick (trace recorders)
        self.powered = False
        self.app = None
        self.power_on()

    def _has_settings(self):
        for name in ("settings.json", "settings.a", "settings.b"):
            try:
                os.stat(self.flash_dir + "/" + name)
                return True
            except OSError:
                pass
        return False

    @property
    def now_s(self):
        return mm.clock.us / 1e6

    def power_on(self):
        from evse.app import App
        if self.powered:
            return
        self.powered = True
        self.world.powered = True
        self.next_tick_us = mm.clock.us
        self.app = App(self.board, self.flash_dir)
        self.app.listeners.extend(self.listeners)
        self.app.hw.start_watchdog()
        self.world.recompute()
        self.world.update()

    def boot_to_idle(self):
        """Runs the firmware's power-on check until it reports its idle state (A1; a fault or
        `disabled` if it boots into one; BOOT_MAX_US at most) and IDLE_SETTLE_US more, and stops
        just before a control tick's start: returns that instant (the clock stands there), so that
        what changes at it is seen by that tick, as at the firmware's start."""
        from evse.core import vocab as V
        clock = mm.clock
        start = clock.us
        while self.app.charger.state == V.ST_BOOT and clock.us - start < BOOT_MAX_US:
            self.run_until(self.next_tick_us)
        settled = clock.us + IDLE_SETTLE_US
        while self.next_tick_us < settled:
            self.run_until(self.next_tick_us)
        self.run_until(self.next_tick_us - 1)
        clock.advance_us(1)
        return clock.us

    def power_off(self):
        """The supply is cut: RAM (the App) is lost, outputs go dead, flash is kept."""
        if not self.powered:
            return
        self.powered = False
        self.app = None
        keep = self.world
        mm.reset_world()
        keep.powered = False
        keep._wire()
        self._hook_pins()
        keep.recompute()
        keep.update()

    def add_pin_hook(self, hook):
        self.pin_hooks.append(hook)
        mm.output_hooks.append(hook)

    def _hook_pins(self):
        for h in self.pin_hooks:
            if h not in mm.output_hooks:
                mm.output_hooks.append(h)

    def run(self, seconds):
        self.run_until(mm.clock.us + int(seconds * 1e6))

    def run_until(self, t_us):
        """Run the control ticks due up to t_us; the clock ends at t_us (or just past it, when the
        last tick's ADC burst ran over). The world's inputs follow after every tick."""
        w = self.world
        clock = mm.clock
        probes = self.probes
        while True:
            if self.powered and clock.us >= self.next_tick_us:
                self.next_tick_us += TICK_US
                self.app.cycle()
                w.update()
                for p in probes:
                    p()
                if mm.wdt is not None and mm.wdt.expired():
                    self._watchdog_reset()
            nxt = self.next_tick_us if self.powered else t_us + 1     # unpowered: only time passes
            fine = self._rcd_pending()
            if fine:
                nxt = min(nxt, clock.us + 1000)   # residual current: follow the trip curve closely
            if nxt > t_us:
                if clock.us < t_us:
                    clock.advance_us(t_us - clock.us)
                    w.update()
                return
            if nxt > clock.us:
                clock.advance_us(nxt - clock.us)
            if fine:
                w.update()

    def _rcd_pending(self):
        """Residual current or the self-test's winding: the monitor's trip curve is followed in
        1 ms steps."""
        w, rcd_test = self.world, self.board.RCD_TEST_PIN
        return w.rcd_ma or w._rcd_over_since is not None or (rcd_test is not None and mm.output(rcd_test))

    def hold(self, seconds, changes=()):
        """The control loop held for `seconds` by one long call in C (a TLS handshake's key
        exchange): no tick runs, the port's hard interrupts do (the stall guard, the Pico's RCD
        inputs), soft ones wait for the call's end; the world follows time, the residual-current
        monitor's trip curve in 1 ms steps as in run(). A watchdog that runs out meanwhile resets
        the board there, as on the port. `changes`: (seconds into the hold, callable) the world's
        changes meanwhile. The loop then resumes at once (a late tick is not waited for)."""
        clock, w = mm.clock, self.world
        start = clock.us
        end = start + int(seconds * 1e6)
        todo = sorted(((start + int(at * 1e6), change) for at, change in changes), key=lambda x: x[0])
        mm.hold_begin()
        try:
            while True:
                while todo and todo[0][0] <= clock.us:
                    todo.pop(0)[1]()
                    w.update()
                if clock.us >= end:
                    break
                nxt = min(end, todo[0][0]) if todo else end
                if self._rcd_pending():
                    nxt = min(nxt, clock.us + 1000)
                dog = mm.wdt
                if dog is not None and dog.last_feed_us + dog.timeout_ms * 1000 < nxt:
                    clock.advance_us(max(0, dog.last_feed_us + dog.timeout_ms * 1000 + 1 - clock.us))
                    self._watchdog_reset()
                    return
                clock.advance_us(nxt - clock.us)
                w.update()
        finally:
            mm.hold_end()
        if self.next_tick_us < clock.us:
            self.next_tick_us = clock.us

    def _watchdog_reset(self):
        self.power_off()
        mm.set_reset_cause(mm.WDT_RESET)
        self.power_on()
