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
import sys

from tools import mock_machine as mm

mm.register()

from tools.mock_machine.world import World  # noqa: E402  (after machine is registered)

TICK_US = 10000


def load_board(name):
    mod = __import__("boards." + name)
    return getattr(mod, name)


def _tempdir():
    base = os.getenv("TMPDIR") or "/tmp"
    n = 0
    while True:
        d = "%s/evse-flash-%d-%d" % (base, os.getpid() if hasattr(os, "getpid") else 0, n)
        try:
            os.mkdir(d)
            return d
        except OSError:
            n += 1


class Rig:
    def __init__(self, board="sim", config=None, flash_dir=None, seed=1, start_us=0):
        self.board = load_board(board) if isinstance(board, str) else board
        mm.reset_world()
        mm.clock.us = start_us
        self.flash_dir = flash_dir or _tempdir()
        if config:
            with open(self.flash_dir + "/settings.json", "w") as f:
                f.write(json.dumps(config))
        self.world = World(self.board, seed=seed)
        self.listeners = []          # on_event(ev, now_ms) of the bench's recorders
        self.powered = False
        self.app = None
        self.power_on()

    @property
    def now_s(self):
        return mm.clock.us / 1e6

    def power_on(self):
        from evse.app import App
        if self.powered:
            return
        self.powered = True
        self._next_tick = mm.clock.us
        self.app = App(self.board, self.flash_dir)
        self.app.listeners.extend(self.listeners)
        self.app.hw.start_watchdog()
        self.world.recompute()
        self.world.update()

    def power_off(self):
        """The supply is cut: RAM (the App) is lost, outputs go dead, flash is kept."""
        if not self.powered:
            return
        self.powered = False
        self.app = None
        keep = self.world
        mm.reset_world()
        keep._wire()
        keep.recompute()
        keep.update()

    def run(self, seconds):
        self.run_until(mm.clock.us + int(seconds * 1e6))

    def run_until(self, t_us):
        w = self.world
        while True:
            if self.powered and mm.clock.us >= self._next_tick:
                self._next_tick += TICK_US
                self.app.cycle()
                w.update()
                if mm.wdt is not None and mm.wdt.expired():
                    self._watchdog_reset()
            nxt = self._next_tick if self.powered else t_us
            if w.rcd_ma or mm.output(self.board.RCD_TEST_PIN):
                nxt = min(nxt, mm.clock.us + 1000)   # residual current: follow the trip curve closely
            if nxt > t_us:
                if mm.clock.us < t_us:
                    mm.clock.advance_us(t_us - mm.clock.us)
                w.update()
                return
            if nxt > mm.clock.us:
                mm.clock.advance_us(nxt - mm.clock.us)
            w.update()

    def _watchdog_reset(self):
        self.power_off()
        mm.set_reset_cause(mm.WDT_RESET)
        self.power_on()
