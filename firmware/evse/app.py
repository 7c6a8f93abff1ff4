# Wires the core, the hardware shell and the services, and schedules them.
# On the board: asyncio (main()). On the host: the bench calls App.cycle() on virtual time.
from micropython import const

from evse.shell import hal
from evse.core import limits as L, vocab as V
from evse.services import settings
from evse.core.charger import Charger, Measurements
from evse.shell.hal import ticks_ms, ticks_us, ticks_diff, ticks_add
from evse.services.journal import Journal

SETTINGS_FILE = "settings.json"
JOURNAL_FILE = "faults.json"
OCPP_DIR = "ocpp"                                  # the OCPP service's files on flash
PILOT_NAMES = {L.PILOT_X1: "X1", L.PILOT_F: "F", L.PILOT_PWM: "PWM", L.PILOT_5PCT: "5%"}
_MAX_LOGGED_ERRORS = const(20)
_TICK_US = const(10000)          # L.TICK_MS in us: the CT burst stops before the next tick
_METER_GUARD_US = const(500)     # room for the loop's own work between the meter and the tick


def _join(d, name):
    return name if d in ("", ".") else d.rstrip("/") + "/" + name


class App:
    def __init__(self, board, flash_dir="/"):
        self.hw = hal.Hardware(board)              # outputs safe before anything else runs
        self.board = board
        self.flash_dir = flash_dir
        self.settings_path = _join(flash_dir, SETTINGS_FILE)
        self.cfg, self.settings_errors, self.settings_blocked = settings.boot(self.settings_path)
        self.journal = Journal(_join(flash_dir, JOURNAL_FILE))
        # The board's own rating caps every limit; a board file without one offers nothing.
        self.charger = Charger(self.cfg, latched_fault=self.journal.latched, diff=ticks_diff,
                               max_amps=getattr(board, "MAX_CURRENT_A", None))
        self.charger.settings_fault(settings.reason(self.settings_blocked))
        self.m = Measurements()
        self.services = []                         # objects with poll(now_ms)
        self.listeners = []                        # objects with on_event(ev, now_ms)
        self.errors = []                           # recent exceptions caught outside the core
        self.log = None                            # evse.services.log.Log once the console is attached
        self.meter = None                          # metering service (owns m.current_ma)
        self._ct = None                            # its CT source, sampled in sliced bursts
        self._tick_us = ticks_us()
        self._start_meter(board, flash_dir)
        self.reset_cause = hal.reset_cause()
        if self.reset_cause == hal.WDT_RESET:
            self.journal.add(ticks_ms(), "watchdog_reset", V.ST_BOOT)
        for e in self.settings_errors:
            self.report(V.SRC_SETTINGS, e)
        if self.charger.settings_error:
            self.report(V.SRC_SETTINGS, "nothing is offered: " + self.charger.settings_error)
        self.ocpp = None                           # OCPP 1.6J client (docs/ocpp.md)
        if self.cfg["ocpp_url"]:                   # after the meter: it reads it at boot (power-loss stop)
            self._start_ocpp()

    def _start_ocpp(self):
        # The central system decides who charges: no contactor close without an accepted idTag.
        # Forced on the core, not in cfg, so a settings save never writes it into the file.
        self.charger.auth_forced = True
        try:
            from evse.ocpp.chargepoint import OcppService    # imported only when used: it costs heap
            self.ocpp = OcppService(self.charger, self.meter, self.cfg, _join(self.flash_dir, OCPP_DIR),
                                    hal, on_reset=self._ocpp_reset)
        except Exception as e:     # no OCPP rather than no charger (auth stays required)
            self.report("ocpp", repr(e))
            return
        self.services.append(self.ocpp)
        self.listeners.append(self.ocpp)

    def _ocpp_reset(self, kind):
        """OCPP Reset (Soft or Hard), after its StopTransaction went out: outputs safe, then reboot."""
        self.report("ocpp", "reset " + kind)
        self.reset()

    def reset(self):
        """Reboot the board (console, OCPP): outputs safe first."""
        self.hw.safe()
        hal.reset()

    def _start_meter(self, board, flash_dir):
        if self.cfg["meter"] == "none":
            return
        try:
            from evse.metering.meter import make_meter
            from evse.shell.meter_io import MeterIO
            io = MeterIO(board, self.cfg)
            meter = make_meter(self.cfg, io, flash_dir)
            if meter.kind == "ct" and getattr(meter.source, "slice_us", 0):
                self._ct = meter.source
                self.hw.attach_ct(self._ct)
            if meter.s0 is not None and not io.attach_s0(meter.s0):
                meter.error = "no S0_PIN on this board"
            self.meter = meter
            if meter.energy is not None and meter.energy.restored is not None:
                self.report("meter", "session closed at boot: %r" % (meter.energy.restored,))
        except Exception as e:     # no meter rather than no charger: the core sees None
            self.report("meter", repr(e))

    def report(self, where, msg):
        if len(self.errors) >= _MAX_LOGGED_ERRORS:
            self.errors.pop(0)
        self.errors.append((where, msg))
        if self.log is not None:       # levelled, to the console as a JSON line and to flash
            self.log.error(where + ": " + msg)
        else:
            print("evse:", where + ":", msg)

    # --- the control tick: measure, check faults, next state, entry actions ---
    def tick(self):
        self._tick_us = ticks_us()
        now = ticks_ms()
        ch = self.charger
        hw = self.hw
        try:
            hw.measure(self.m)
            if self.meter is not None:
                self.m.current_ma = self.meter.current_ma
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
                ch.internal_fault(now)
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
            kind = ev[0]
            if kind == V.EV_PILOT:
                ev = (V.EV_PWM, self.hw.duty_x100 / 100, ev[2] / 10)
            elif kind == V.EV_FAULT:
                self._journal_fault(ev, now)
            elif kind == V.EV_SESSION and self.meter is not None:
                self._meter_session(ev, now)
            for lst in self.listeners:
                try:
                    lst.on_event(ev, now)
                except Exception as e:
                    self.report(type(lst).__name__, repr(e))

    # --- the services' one interface: a status snapshot and commands (console, OCPP, later web/MQTT) ---
    def status(self, now):
        """The charger as the services show it, built from each part's own public view."""
        ch = self.charger
        out = ch.out
        r = {"state": ch.state,
             "pilot": PILOT_NAMES.get(out.pilot_mode, "?"),
             "duty": self.hw.duty_x100 / 100,
             "amps": out.amps_x10 / 10,
             "limit": ch.limit_x10() / 10,
             "limit_by": self._limit_by(),
             "limits": dict((k, v / 10) for k, v in ch.limits.items()),
             "contactor": bool(out.contactor),
             "enabled": ch.enabled,
             "authorized": ch.authorized,
             "session": ch.session_active,
             "fault": ch.fault,
             "fault_reason": ch.settings_error if ch.fault == V.FAULT_SETTINGS else None,
             "latched": self.journal.latched,
             "temp_c": self.m.temp_c,
             "overcurrent_blind": ch.oc_blind,       # meter lost while closed
             "t": now}
        if self.meter is not None:
            r["energy"] = self.meter.status()
        if self.ocpp is not None:
            r["ocpp"] = self.ocpp.status()
        return r

    def _limit_by(self):
        """Why the limit is what it is: the source with the lowest limit, or 'temperature' when the
        thermal derating cuts below it."""
        ch = self.charger
        low, by = L.AMPS_MAX_X10, None
        for k in sorted(ch.limits):
            if ch.limits[k] < low:
                low, by = ch.limits[k], k
        if ch.limit_x10() < low:
            by = "temperature"
        return by

    def command(self, verb, arg, now):
        """limit (amps or None), enable, disable, authorize, stop (reason), clear: the reply's fields.
        ValueError when refused, with nothing changed."""
        ch = self.charger
        if verb == "limit":
            ch.set_limit("console", arg)           # the core's one check of every limit
            return {"limit": arg}
        if verb == "enable" or verb == "disable":
            ch.enable(verb == "enable")
            return {"enabled": ch.enabled}
        if verb == "authorize":
            ch.authorize(True)
            return {"authorized": True}
        if verb == "stop":
            ch.stop(arg)
            return {"stopped": True}
        if verb == "clear":
            return self._clear_fault(now)
        raise ValueError("unknown command " + verb)

    def _clear_fault(self, now):
        ch = self.charger
        fault = ch.fault
        if fault == V.FAULT_SETTINGS:          # lasts as long as its cause: only a valid value ends it
            raise ValueError("%s; set a valid value" % ch.settings_error)
        cleared = fault or self.journal.latched
        if cleared is None:
            return {"cleared": None}
        ch.clear_fault()
        self.journal.add(now, "cleared", cleared)
        return {"cleared": cleared}

    def _journal_fault(self, ev, now):
        """A fault set goes into the journal (latched ones survive a reboot); clearing the latched
        one ends it there too."""
        if ev[2]:
            self.journal.add(now, ev[1], self.charger.state, ev[1] in V.LATCHED)
        elif ev[1] == self.journal.latched:
            self.journal.clear_latched()

    def _meter_session(self, ev, now):
        """Session energy follows the core's session events (Meter never raises)."""
        if ev[1] == V.SESSION_START:
            self.meter.session_start(now)
        elif ev[1] == V.SESSION_END:
            self.meter.session_end(now, ev[2] if len(ev) > 2 and ev[2] else V.SESSION_END)

    def poll_meter(self):
        """Right after the tick: the CT samples until just before the next one, never later."""
        meter = self.meter
        if meter is None:
            return
        if self._ct is not None:
            self._ct.deadline_us = ticks_add(self._tick_us, _TICK_US - _METER_GUARD_US)
        try:
            meter.poll(ticks_ms())
        except Exception as e:
            self.report("meter", repr(e))

    def poll_services(self, now):
        for svc in self.services:
            try:
                svc.poll(now)
            except Exception as e:     # a service never stops the control loop
                self.report(type(svc).__name__, repr(e))

    def cycle(self):
        """One control tick, the meter, and one round of service polls (what the asyncio loop does
        each tick)."""
        ok = self.tick()
        self.poll_meter()
        self.poll_services(ticks_ms())
        return ok

    async def run(self):
        import asyncio
        while True:
            t0 = ticks_ms()
            self.cycle()
            wait = L.TICK_MS - ticks_diff(ticks_ms(), t0)
            await asyncio.sleep_ms(wait if wait > 0 else 0)


async def _guarded(app, name, coro):
    """A background task whose failure is reported, never raised into the control loop."""
    try:
        await coro
    except Exception as e:
        app.report(name, repr(e))


async def _run_all(app):
    import asyncio
    if app.ocpp is not None:      # the WebSocket side; poll() runs from the control loop
        asyncio.create_task(_guarded(app, "ocpp", app.ocpp.run()))
    await app.run()


def main(board, flash_dir="/"):
    import asyncio
    from evse.shell import maint
    app = None
    try:
        app = App(board, flash_dir)
        from evse.services import console     # the JSON-lines console and the log, as services
        console.attach(app)
        app.hw.start_watchdog()
        maint.stop()                 # boot.py's maintenance feeds end: the control loop feeds
        asyncio.run(_run_all(app))
    except KeyboardInterrupt:        # Ctrl-C (mpremote, make flash): the REPL, in maintenance
        if app is not None:          # (before the App exists, boot.py's maintenance still runs)
            maint.start(app.hw.safe)
        raise
    finally:
        if app is not None:
            app.hw.safe()
    return app
