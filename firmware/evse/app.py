# Wires the core, the hardware shell and the services, and schedules them.
# On the board: asyncio (main()). On the host: the bench calls App.cycle() on virtual time.
import sys

import machine
from micropython import const

from evse import hal, limits as L, settings
from evse.charger import Charger, Measurements, LATCHED_FAULTS
from evse.hal import ticks_ms, ticks_diff
from evse.journal import Journal

SETTINGS_FILE = "settings.json"
JOURNAL_FILE = "faults.json"
_MAX_LOGGED_ERRORS = const(20)


def _join(d, name):
    return name if d in ("", ".") else d.rstrip("/") + "/" + name


class App:
    def __init__(self, board, flash_dir="/"):
        self.hw = hal.Hardware(board)              # outputs safe before anything else runs
        self.board = board
        self.flash_dir = flash_dir
        self.settings_path = _join(flash_dir, SETTINGS_FILE)
        self.cfg, self.settings_errors = settings.load(self.settings_path)
        self.journal = Journal(_join(flash_dir, JOURNAL_FILE))
        self.charger = Charger(self.cfg, latched_fault=self.journal.latched, diff=ticks_diff)
        self.m = Measurements()
        self.meter = None                          # metering service (owns m.current_a)
        self.services = []                         # objects with poll(now_ms)
        self.listeners = []                        # objects with on_event(ev, now_ms)
        self.errors = []                           # recent exceptions caught outside the core
        self.reset_cause = machine.reset_cause()
        if self.reset_cause == machine.WDT_RESET:
            self.journal.add(ticks_ms(), "watchdog_reset", "boot")
        for e in self.settings_errors:
            self.report("settings", e)

    def report(self, where, msg):
        if len(self.errors) >= _MAX_LOGGED_ERRORS:
            self.errors.pop(0)
        self.errors.append((where, msg))
        print("evse:", where + ":", msg)

    # --- the control tick: measure, check faults, next state, entry actions ---
    def tick(self):
        now = ticks_ms()
        ch = self.charger
        hw = self.hw
        try:
            hw.measure(self.m)
            if self.meter is not None:
                self.m.current_a = self.meter.current_a
            ch.step(self.m, now)
            if ch.resample:       # a fast change seen once: confirm it with a second burst now
                hw.sample_pilot(self.m)
                now = ticks_ms()
                ch.step(self.m, now)
            out = ch.out
            hw.set_pilot(out.pilot_mode, out.amps_x10)
            hw.set_contactor(out.contactor, self.cfg["phases"], self.cfg["economiser"], now)
            hw.set_rcd_test(out.rcd_test)
            if out.rcd_ack:
                hw.rcd_ack()
        except Exception as e:     # the outputs go safe; the watchdog is not fed this tick
            hw.safe()
            self.report("control", repr(e))
            try:
                ch._set_fault("internal", now)
            except Exception:
                pass
            return False
        self.dispatch(now)
        hw.feed()
        return True

    def dispatch(self, now):
        evs = self.charger.events
        while evs:
            ev = evs.pop(0)
            if ev[0] == "pilot":
                ev = ("pwm", self.hw.duty_x100 / 100, ev[2] / 10)
            elif ev[0] == "fault" and ev[2]:
                self.journal.add(now, ev[1], self.charger.state, ev[1] in LATCHED_FAULTS)
            elif ev[0] == "fault" and ev[1] == self.journal.latched:
                self.journal.clear_latched()
            for lst in self.listeners:
                try:
                    lst.on_event(ev, now)
                except Exception as e:
                    self.report(type(lst).__name__, repr(e))

    def poll_services(self, now):
        for svc in self.services:
            try:
                svc.poll(now)
            except Exception as e:     # a service never stops the control loop
                self.report(type(svc).__name__, repr(e))

    def cycle(self):
        """One control tick and one round of service polls (what the asyncio loop does each tick)."""
        ok = self.tick()
        self.poll_services(ticks_ms())
        return ok

    async def run(self):
        import asyncio
        while True:
            t0 = ticks_ms()
            self.cycle()
            wait = L.TICK_MS - ticks_diff(ticks_ms(), t0)
            await asyncio.sleep_ms(wait if wait > 0 else 0)


def main(board, flash_dir="/"):
    import asyncio
    app = App(board, flash_dir)
    from evse import console     # issue 4: the JSON-lines console and the log, as services
    console.attach(app)
    app.hw.start_watchdog()
    try:
        asyncio.run(app.run())
    finally:
        app.hw.safe()
    return app
