# Wires the core, the hardware shell and the services, and schedules them.
# On the board: main(), on asyncio when background tasks run beside the control loop (OCPP, MQTT,
# the web server), else a plain loop. On the host: the bench calls App.cycle() on virtual time.
import micropython
from micropython import const

from .shell import hal
from .core import limits as L, vocab as V
from .services import settings
from .core.charger import Charger, Measurements
from .shell.hal import ticks_ms, ticks_us, ticks_diff, ticks_add
from .shell.store import join
from .services.journal import Journal

SETTINGS_FILE = "settings.json"
JOURNAL_FILE = "faults.json"
OCPP_DIR = "ocpp"                                  # the OCPP service's files on flash
REMOTE_SOURCES = ("mqtt", "rest")             # limit sources that a network carries: fallback
PILOT_NAMES = {L.PILOT_X1: "X1", L.PILOT_F: "F", L.PILOT_PWM: "PWM", L.PILOT_5PCT: "5%"}
_MAX_LOGGED_ERRORS = const(20)
_TICK_US = const(10000)          # L.TICK_MS in us: the CT burst stops before the next tick
_METER_GUARD_US = const(500)     # room for the loop's own work between the meter and the tick
_GAP_WINDOW_MS = const(10000)    # the longest tick gap is reported over the last 10-20 s
_KICK_LEAD_MS = const(2)         # the pilot's capture starts this long before its tick (it takes 1.1 ms)
# The temperature the services show (status): a mean over the readings they asked for (each weighs
# 1/8; begun afresh after 5 s without one, or from a reading 5 C away), in 1/16 C, which moves
# the whole degrees shown only once it is 1.5 C away from them. A real ADC's noise (about 1 C RMS
# on the RP2040's sensor) would otherwise change the status at almost every read: a WebSocket
# push every 250 ms, an MQTT publish every second. The core reads every reading as it comes.
_TEMP_WEIGHT_SHIFT = const(3)
_TEMP_MOVE_X16 = const(24)
_TEMP_JUMP_X16 = const(80)
_TEMP_STALE_MS = const(5000)


class App:
    lock = None     # a Type 2 socket's plug lock's driver (shell/socket_lock.py), on a board with one
    watched = REMOTE_SOURCES    # the limits the fallback watches (the central system's too, with OCPP)

    def __init__(self, board, flash_dir="/"):
        self.hw = hal.Hardware(board)              # outputs safe before anything else runs
        self.board = board
        self._led = hal.tick_light(board)          # lit while the tick runs (a scope times it)
        self.flash_dir = flash_dir
        self.settings_path = join(flash_dir, SETTINGS_FILE)
        self.cfg, self.settings_errors, self.settings_blocked = settings.boot(self.settings_path)
        self.journal = Journal(join(flash_dir, JOURNAL_FILE), clock=hal.utc_seconds)
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
        self._tick_ms = ticks_ms()                 # the last tick's time: its events carry it
        self._was = None                           # the last state dispatched (a fault's record says it)
        self.gap_ms = [0, 0, 0, 0]  # type: list  # longest tick gap: this window, last, its start, last tick
        self._temp = [None, None, 0]  # type: list  # the shown temperature: mean (1/16 C), degrees shown, when
        self._due = 0               # the control loop's next tick (ticks_ms)
        self.web = None                            # evse.services.web when web_port is set
        self.spawn = None                          # asyncio.create_task once the loop runs
        self.ocpp = None                           # OCPP 1.6J client (docs/ocpp.md)
        self.net = self.netclock = self.captive = None    # Wi-Fi, the RTC from NTP, set-up DNS: boards with Wi-Fi
        self.planner = None                        # charging windows, solar surplus (services/planner.py)
        self.grid_meter = None                     # grid power from a Modbus meter (metering/grid.py)
        self.fallback = None                       # evse.core.fallback, when a timeout is set
        self.id_tag = None                         # who authorized the plug-in (session history)
        self.mqtt = None                           # MQTT and Home Assistant discovery (docs/mqtt.md)
        from . import startup      # run once: its code is freed after boot (docs/design.md, "Memory")
        try:
            startup.start(self, board, flash_dir)
        finally:
            _forget(startup)

    def _start_captive(self):
        """Set-up: every name leads phones to the page (its socket opens with the access point)."""
        from .services.captive import CaptiveDns
        net = self.net
        if net is not None:                        # (a board with Wi-Fi: only then is it called)
            self.captive = CaptiveDns(net.setup_address)
            self.services.append(self.captive)

    def start_setup(self):
        """The set-up access point reopened on a board that booted with its network: the captive DNS,
        and the web service with the set-up page when web_port is 0, until the next boot."""
        if self.captive is None:
            self._start_captive()
        if self.web is None:
            start_web(self)

    def _grid_reading(self, watts, now):
        self.command("grid", watts, now, V.GRID_MODBUS)

    def _dns(self):
        """For a board with Wi-Fi, the network's DNS server (None while not connected) for names
        looked up in steps (shell/dns.py); elsewhere None: the host's getaddrinfo answers."""
        if not getattr(self.board, "WIFI", False):
            return None
        return lambda: self.net.dns_server() if self.net is not None else None

    def _ocpp_reset(self, kind):
        """OCPP Reset (Soft or Hard), after its StopTransaction went out: outputs safe, then reboot."""
        self.report("ocpp", "reset " + kind)
        self.reset()

    def reset(self):
        """Reboot the board (console, OCPP): outputs safe first, then the energy and the OCPP
        samples held in RAM onto flash."""
        self.hw.safe()
        if self.meter is not None:
            self.meter.save()
        if self.ocpp is not None:    # offline MeterValues held in RAM (txqueue.HOLD_MS) onto flash too
            self.ocpp.txq.flush()
        hal.reset()

    def report(self, where, msg):
        if len(self.errors) >= _MAX_LOGGED_ERRORS:
            self.errors.pop(0)
        self.errors.append((where, msg))
        if self.log is not None:       # levelled, to the console as a JSON line and to flash
            self.log.error(where + ": " + msg)
        else:
            print("evse:", where + ":", msg)

    # --- the control tick: measure, check faults, next state, entry actions ---
    @micropython.native
    def tick(self):
        """The control tick: measure, step, apply, feed, with the tick's light on. The core's events
        are the services' work: cycle() dispatches them after it, stamped with the tick's time."""
        led = self._led
        if led is not None:
            led.on()
        self._tick_us = ticks_us()
        now = self._tick_ms = ticks_ms()
        ch = self.charger
        hw = self.hw
        ok = True
        try:
            hw.measure(self.m)
            lock = self.lock
            if lock is not None:      # the plug lock: the last step's command, then its switch
                lock.step(self.m, ch.lock, now)
            if self.meter is not None:
                self.m.current_ma = self.meter.current_ma
            ch.step(self.m, now)
            if ch.resample:       # a fast change seen once: confirm it with a second burst now
                hw.sample_pilot(self.m, False)
                now = self._tick_ms = ticks_ms()
                ch.step(self.m, now)
            hw.apply(ch.out, self.cfg, now)
        except Exception as e:     # the outputs go safe; the watchdog is not fed this tick
            try:
                hw.safe()
            except Exception:      # a pin refused this write too: the next ticks write again
                pass               # (the core's fault), the watchdog resets if none takes
            self.report("control", repr(e))
            try:
                ch.internal_fault(now)
                meter = self.meter
                en = meter.energy if meter is not None else None
                if meter is not None and en and en.wh_saved != en.wh_total:
                    meter.save()           # a tick failing on lets the watchdog reset the board and
            except Exception:              # RAM's count with it: on flash, once it stops moving
                pass
            ok = False
        if ok:              # the port's feed called from here: a method around it cost a Python
            wdt = hw.wdt    # call, 13 us of the emulated Pico's tick
            if wdt is not None:
                wdt.feed()
        if led is not None:
            led.off()
        return ok

    def dispatch(self, now):
        evs = self.charger.events
        while evs:
            ev = evs.pop(0)
            kind = ev[0]
            if kind == V.EV_PILOT:
                ev = (V.EV_PWM, self.hw.duty_x100 / 100, ev[2] / 10)
            elif kind == V.EV_FAULT:
                self._journal_fault(ev, now)
            elif kind == V.EV_STATE:        # after a fault's event: the state it happened in is the last
                self._was = ev[1]
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
             "car_min_a": ch.car_min_x10 / 10,   # a limit under it pauses (min_current_a)
             "limits": dict((k, v / 10) for k, v in ch.limits.items()),
             "contactor": bool(out.contactor),
             "enabled": ch.enabled,
             "authorized": ch.authorized,
             "session": ch.session_active,
             "fault": ch.fault,
             "fault_reason": ch.settings_error if ch.fault == V.FAULT_SETTINGS else None,
             "latched": self.journal.latched,
             "temp_c": self._shown_temp(now),
             "temp_sensor_broken": ch.thermal.broken,   # no temperature read: no charging
             "overcurrent_blind": ch.oc_blind,       # meter lost while closed
             # a Type 2 socket's plug lock (a tethered cable has none to use, whatever the board has)
             "lock": None if ch.lock is None or self.cfg["connector"] != "type2-socket" else ch.lock.shown(),
             "diag": self._diag(),
             "tick_gap_ms": max(self.gap_ms[0], self.gap_ms[1]),
             # the stall guard's readings and openings while the loop was held (None: no guard)
             "stall_guard": None if self.hw.guard is None else {
                 "reads": self.hw.guard.reads, "trips": self.hw.guard_trips},
             "t": now}
        if self.meter is not None:
            r["energy"] = self.meter.status()
        if self.ocpp is not None:
            r["ocpp"] = self.ocpp.status()
        if self.planner is not None:
            r["planner"] = self.planner.status()
            if self.grid_meter is not None:
                r["planner"]["grid_meter"] = self.grid_meter.status()
        if self.net is not None:
            r["net"] = self.net.status()
            if self.netclock is not None:
                r["net"]["ntp"] = self.netclock.status()
            if self.captive is not None:
                r["net"]["captive_dns"] = self.captive.status()
        if self.mqtt is not None:
            r["mqtt"] = self.mqtt.status()
        return r

    def sessions(self):
        """The charging history on flash, oldest first (evse.services.history makes it CSV)."""
        return self.meter.sessions() if self.meter is not None else []

    def _shown_temp(self, now):
        t = self.m.temp_c
        k = self._temp
        if t is None:                   # no sensor, or it stopped answering: shown at once
            k[0] = k[1] = None
            return None
        x16 = int(t) * 16
        mean = k[0]
        if mean is None or not 0 <= ticks_diff(now, k[2]) <= _TEMP_STALE_MS or abs(x16 - mean) > _TEMP_JUMP_X16:
            mean = x16                  # begun afresh (a mean 2**29 ms old reads as recent), or a
                                        # change no noise makes: shown as read
            k[1] = None
        else:
            mean += (x16 - mean) >> _TEMP_WEIGHT_SHIFT
        k[0] = mean
        k[2] = now
        if k[1] is None or abs(mean - k[1] * 16) >= _TEMP_MOVE_X16:
            k[1] = (mean + 8) >> 4
        return k[1]

    def _diag(self):
        """What a technician reads when a car will not charge: the pilot's plateaus, the PP
        resistor (-1 not wired, 1e9 open), and whether a PWM burst has shown the car's diode."""
        m = self.m
        return {"cp_high_v": m.pilot_pos / 1000, "cp_low_v": m.pilot_neg / 1000,
                "pp_ohms": m.pp_ohms, "diode_seen": self.charger.det.diode_seen}

    def _limit_by(self):
        """Why the limit is what it is: the source with the lowest limit, or 'temperature' when the
        thermal derating cuts below it ('temp_sensor' when the sensor reads no temperature)."""
        ch = self.charger
        if ch.thermal.broken:
            return V.WARN_TEMP_SENSOR
        low, by = L.AMPS_MAX_X10, None
        for k in sorted(ch.limits):
            if ch.limits[k] < low:
                low, by = ch.limits[k], k
        if ch.limit_x10() < low:
            by = "temperature"
        return by

    def command(self, verb, arg, now, source=V.SRC_CONSOLE, alive=True):
        """limit (amps or None), enable, disable, authorize (id tag), deauthorize, stop (reason),
        clear, grid (watts), unlock (a socket's plug lock lets the cable go): the reply's fields.
        ValueError when refused, with nothing changed. A limit is the source's own (console, mqtt,
        rest, schedule, surplus); a remote one (watched) is watched for silence (fallback):
        one not `alive` (a broker's stored copy of it) is no word from the controller watched. For
        grid, `source` is who reports the grid power."""
        ch = self.charger
        if verb == "limit":
            ch.set_limit(source, arg)              # the core's one check of every limit
            if self.fallback is not None and source in self.watched:
                self.fallback.heard(source, arg, now, alive)
            return {"limit": arg}
        if verb == "grid":
            if self.planner is None:
                raise ValueError("no solar_mode set")
            self.planner.reading(source, arg, now)
            return {"grid_w": arg}
        if verb in ("enable", "disable"):
            ch.enable(verb == "enable")
            return {"enabled": ch.enabled}
        if verb == "authorize":
            ch.authorize(True)
            self.id_tag = arg if isinstance(arg, str) else source
            if ch.session_active and self.meter is not None:   # learned after the session opened
                self.meter.session_user(self.id_tag)
            return {"authorized": True}
        if verb == "deauthorize":                  # OCPP: an authorization lapsed or was used up
            ch.authorize(False)
            return {"authorized": False}
        if verb == "stop":
            ch.stop(arg)
            return {"stopped": True}
        if verb == "clear":
            return self._clear_fault(now)
        if verb == "unlock":      # a Type 2 socket's plug lock (core/socket_lock.py), else _no_lock
            return getattr(ch.lock, "unlock", _no_lock)(ch)
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
        if ev[1] == self.journal.latched:   # set: the one kept on flash, set again at boot (no new trip)
            if not ev[2]:
                self.journal.clear_latched(save=False)
        elif ev[2]:
            self.journal.add(now, ev[1], self._was or self.charger.state, ev[1] in V.LATCHED, save=False)

    def _meter_session(self, ev, now):
        """Session energy follows the core's session events (Meter never raises). The meter is set
        by evse/startup.py, which pyright does not follow: here it is never None (dispatch)."""
        if ev[1] == V.SESSION_START:
            self.meter.session_start(now, self.id_tag)  # pyright: ignore[reportAttributeAccessIssue]
        elif ev[1] == V.SESSION_END:
            self.meter.session_end(now, ev[2] if len(ev) > 2 and ev[2] else V.SESSION_END)  # pyright: ignore[reportAttributeAccessIssue]
            self.id_tag = None

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

    @micropython.native
    def poll_services(self, now):
        for svc in self.services:
            try:
                svc.poll(now)
            except Exception as e:     # a service never stops the control loop
                self.report(type(svc).__name__, repr(e))

    @micropython.native
    def cycle(self):
        """One control tick, the meter, and one round of service polls (what the asyncio loop does
        each tick)."""
        ok = self.tick()
        if self.charger.events:   # (a call costs about 20 us on the Pico: none when there is nothing)
            self.dispatch(self._tick_ms)
        if self.fallback is not None:
            self.fallback.poll(ticks_ms())
        if self.meter is not None:
            self.poll_meter()
        self.poll_services(ticks_ms())
        if self.journal.pending:  # a fault's lines went out in the console's poll: now the flash
            self.journal.save()
        return ok

    @micropython.native
    def _gap(self, t0):
        """The longest time between two tick starts, over this window and the last (no allocation:
        small ints in a list made once)."""
        g = self.gap_ms
        d = ticks_diff(t0, g[3])
        g[3] = t0
        if d > g[0]:
            g[0] = d
        if ticks_diff(t0, g[2]) >= _GAP_WINDOW_MS:
            g[1] = g[0]
            g[0] = 0
            g[2] = t0

    def _grid_start(self):
        g = self.gap_ms
        self._due = g[2] = g[3] = ticks_ms()

    @micropython.native
    def _cycle_on_grid(self):
        """One cycle -> the ms to wait for the next. Ticks on a fixed 10 ms grid (no drift from the
        ms-rounded sleep); a late tick starts at once and the grid restarts from it (no catching
        up in a burst)."""
        self._gap(ticks_ms())
        self.cycle()
        due = self._due = ticks_add(self._due, L.TICK_MS)
        wait = ticks_diff(due, ticks_ms())
        if wait < 0:
            self._due = ticks_ms()
            return 0
        return wait

    def _kick(self):
        """The pilot's capture started; -> the ms left to the tick."""
        led = self._led
        if led is not None:
            led.on()
        self.hw.kick_pilot()
        if led is not None:
            led.off()
        wait = ticks_diff(self._due, ticks_ms())
        return wait if wait > 0 else 0

    async def run(self):
        """The control loop beside background tasks (OCPP, MQTT, the web server)."""
        import asyncio
        self._grid_start()
        hw = self.hw
        while True:
            wait = self._cycle_on_grid()
            if hw.capture_wanted and wait > _KICK_LEAD_MS:   # (an attribute: no call per tick)
                await asyncio.sleep_ms(wait - _KICK_LEAD_MS)
                wait = self._kick()
            await asyncio.sleep_ms(wait)

    def run_alone(self):
        """The control loop with no background task: a plain sleep between ticks. On the emulated
        Pico an asyncio loop doing nothing but sleep_ms(10) takes 0.28 ms of every 10 ms, a
        time.sleep_ms(10) loop 0.03 ms."""
        self._grid_start()
        sleep_ms = hal.sleep_ms
        hw = self.hw
        while True:
            wait = self._cycle_on_grid()
            if hw.capture_wanted and wait > _KICK_LEAD_MS:
                sleep_ms(wait - _KICK_LEAD_MS)
                wait = self._kick()
            sleep_ms(wait)


def _no_lock(ch):
    """App.command's unlock on a board without a plug lock (Charger.lock None): refused."""
    raise ValueError("no plug lock on this board")


def _forget(module):
    """Drops a module that ran once (evse/startup.py): nothing refers to it then, and the heap takes
    back its code."""
    import sys
    name = module.__name__
    sys.modules.pop(name, None)
    pkg, _, leaf = name.rpartition(".")
    sys.modules[pkg].__dict__.pop(leaf, None)


class _SetupLater:
    """Polled on a board that booted with its network: once the access point reopens (the network
    cannot be joined), loads the captive DNS (and with web_port 0 the web service and its set-up
    page) at the first poll with the contactor open. The imports hold the loop for a moment, which
    must never fall between two ticks of a charging car."""

    def __init__(self, app):
        self.app = app
        self.done = False

    def poll(self, now):
        app = self.app
        if self.done or app.charger.out.contactor or app.net.setup_address() is None:
            return
        self.done = True
        app.start_setup()


async def _guarded(app, name, coro):
    """A background task whose failure is reported, never raised into the control loop."""
    try:
        await coro
    except Exception as e:
        app.report(name, repr(e))


def _loop(app):
    """The control loop, forever (KeyboardInterrupt: Ctrl-C). On asyncio when background tasks run
    beside it: OCPP's and MQTT's connections, the web server, or on a board with Wi-Fi the set-up
    page that may open later (App.start_setup); else a plain sleep between ticks, and asyncio is
    never imported (4.1 KB of heap on the unix port)."""
    if app.ocpp is None and app.mqtt is None and app.web is None and app.net is None:
        app.run_alone()
    else:
        import asyncio
        asyncio.run(_run_all(app))


async def _run_all(app):
    import asyncio
    if app.ocpp is not None:      # the WebSocket side; poll() runs from the control loop
        asyncio.create_task(_guarded(app, "ocpp", app.ocpp.run()))
    if app.mqtt is not None:      # the broker side, likewise
        asyncio.create_task(_guarded(app, "mqtt", app.mqtt.run()))
    if app.web is not None:       # the web server: a task beside the control loop
        asyncio.create_task(_guarded(app, "web", app.web.run()))
    app.spawn = asyncio.create_task   # for a web service started later (start_web)
    await app.run()


def start_web(app):
    """The web page and API, served at once when the loop runs (later: App.start_setup)."""
    try:
        from .services import web
        web.attach(app)
        if app.spawn is not None:
            app.spawn(_guarded(app, "web", app.web.run()))
    except Exception as e:   # no web page rather than no charger
        app.report("web", repr(e))


def attach_services(app, stream=None):
    """The JSON-lines console and the log always; the web page and API only when web_port is set
    or the Wi-Fi set-up access point opens (off, it is never imported: no heap)."""
    from .services import console
    if stream is None:
        console.attach(app)              # the USB serial port
    else:
        console.attach(app, stream)
    if app.cfg["web_port"] or (app.net is not None and not app.cfg["wifi_ssid"]):   # or Wi-Fi set-up
        start_web(app)


def main(board, flash_dir="/"):
    from .shell import maint
    app = None
    try:
        app = App(board, flash_dir)
        attach_services(app)
        app.hw.start_watchdog()
        maint.stop()                 # boot.py's maintenance feeds end: the control loop feeds
        _loop(app)
    except:                          # noqa: E722 (bare: `except KeyboardInterrupt` tests the type
        _keys_off()                  # with a jump, where the VM raises a held key's next 0x03)
        if app is not None:          # Ctrl-C, or a 0x03 on the console: outputs safe, the count
            app.hw.safe()            # onto flash; for Ctrl-C (mpremote, make flash) the REPL, in
            if app.meter is not None:    # maintenance (before the App exists, boot.py's runs)
                app.meter.save()
            try:
                raise
            except KeyboardInterrupt:
                maint.start(app.hw.safe)
            except BaseException:    # a crash: the watchdog resets the board
                pass
        raise
    return app                       # (the control loop never returns)


def _keys_off():
    """Ctrl-C off for main()'s wind-down, and a 0x03 that came before taken here: on the rp2 port
    each one is a KeyboardInterrupt wherever the VM next jumps, and a held key cut the wind-down
    short (outputs live until the watchdog's reset, the count lost). The REPL turns Ctrl-C on again
    for each line it runs (mpremote, make flash)."""
    micropython.kbd_intr(-1)
    try:
        for _ in (0, 0):             # a jump: a pending Ctrl-C is raised here
            pass
    except KeyboardInterrupt:
        pass
