"""The scenario executor: scenario commands onto the rig (firmware + world on virtual time).

Every command acts at the current virtual time; only `wait` and `expect ... within` advance it.
Failed expects are reported with their line and what was seen; the run goes on to the end.
"""
import sys
import time

from evse.core import vocab as V
from tools.sim import mock_machine as mm
from tools.sim.rig import Rig, TICK_US
from bench_vehicle.scenario import ScenarioError

EV_B_OHMS = 2740            # plug: the EV shows state B (contract)
PP_TYPE2_DEFAULT = 220      # plug without OHMS on a Type 2 socket: 32 A cable (contract default)
PP_LATCHED = 150            # J1772 / NACS plug latched
FOLLOW_MAX_DEFAULT = 80.0   # draw follow without MAX
EPS = 1e-9
# The bench's sim board meters with its current transformer (world.py models it with the default
# CT settings: 2000:1 into 22 ohm, 3.3 V ADC), so over-current protection is live on the bench.
# A scenario may still say `config meter=none`.
BENCH_DEFAULTS = {"meter": "ct"}
PROGRESS_S = 2.0            # wall seconds between two progress lines (stderr) on a long run
PROGRESS_TICKS = 10         # probes between two looks at the wall clock (a tick on the host, an
                            # emulator step on rp2: 100 of those made rp2's lines 3 s apart)


class SetFaults:
    """The faults the firmware reported set and not yet cleared (a listener, for the log)."""

    def __init__(self):
        self.names = []

    def on_event(self, ev, now_ms):
        if ev[0] == V.EV_FAULT:
            if ev[2] and ev[1] not in self.names:
                self.names.append(ev[1])
            elif not ev[2] and ev[1] in self.names:
                self.names.remove(ev[1])


def config_of(cmds):
    """{key: value} of the config commands, and {key: line} for error reports."""
    cfg, lines = {}, {}
    for c in cmds:
        if c.verb == "config":
            for k, v in c.args:
                cfg[k] = v
                lines[k] = c.line
    return cfg, lines


def check_config(cmds):
    """Raise ScenarioError for a setting the firmware would refuse (exit 2: nothing is run)."""
    from evse.services import settings
    cfg, lines = config_of(cmds)
    full = dict(BENCH_DEFAULTS)
    full.update(cfg)
    cfg = full
    _, errors = settings.validate(cfg)
    for e in errors:
        key = e.split(":", 1)[0]
        line = lines.get(key)
        if line is None:                       # a cross-key rule (temp_*): blame the last config
            line = max(lines.values()) if lines else 0
        from evse.services.console import refused
        raise ScenarioError(line, "config " + refused([e]))
    return cfg


class Bench:
    COIL_PIN_LOG = True         # the log's `contactor` lines at the coil pin's edges (JsonLog.coil)
    # The sim board has a CT on each phase: a three-phase scenario meters all three (the contract's
    # `meter.wh` is the session's energy), unless it sets meter_phases itself.
    CT_EVERY_PHASE = True

    def __init__(self, cmds, board="sim", vcd=None, log=None, waveform=False, out=None, seed=1,
                 flash_dir=None, name="scenario", verbose=False):
        self.cmds = cmds
        self.cfg = check_config(cmds)
        if self.CT_EVERY_PHASE and self.cfg.get("meter") == "ct" and "meter_phases" not in config_of(cmds)[0]:
            self.cfg["meter_phases"] = self.cfg.get("phases", 1)
        self.out = out or sys.stdout
        self.name = name
        self.verbose = verbose
        self.rig = self.make_rig(board, flash_dir, seed)
        self.world = self.rig.world
        self.origin = self.boot()      # the firmware's clock at the scenario's 0
        self.t_us = mm.clock.us        # the scenario's nominal time (wait adds to it)
        self.failures = []
        self.expects = 0
        self._wall0 = self._shown = time.monotonic()
        self._line = self._ticks = 0
        self.rig.probes.append(self._tick_probe)     # progress during a long wait, too
        self.log = None
        self.vcd = None
        if log is not None:
            from tools.sim.bench.jsonlog import JsonLog
            self.log = JsonLog(self.rig, log, self.origin)
            self._faults = SetFaults()
            for ev in self.standing():          # the charger as it stands at 0: the log's first lines
                self.log.on_event(ev, 0)
                self._faults.on_event(ev, 0)
            self._listen(self.log)
            self._listen(self._faults)
            self.rig.probes.append(self.log.probe)
            if self.COIL_PIN_LOG:
                self.rig.add_pin_hook(self.log.pin)
        if vcd is not None:
            from tools.sim.bench.vcd import VcdTrace
            self.vcd = VcdTrace(self.rig, vcd, waveform, origin=self.origin)
            self.rig.probes.append(self.vcd.sample)
            self.rig.add_pin_hook(self._pin_changed)

    def make_rig(self, board, flash_dir, seed):
        return Rig(board=board, config=self.cfg, flash_dir=flash_dir, seed=seed)

    def boot(self):
        """Time 0 (the contract's "freshly booted, nothing plugged in"): the firmware's power-on
        check, until it is idle (Rig.boot_to_idle). Returns the firmware's clock at the scenario's 0."""
        wall0 = time.monotonic()
        start, origin = mm.clock.us, self.rig.boot_to_idle()
        self.boot_virtual_s, self.boot_wall_s = (origin - start) / 1e6, time.monotonic() - wall0
        return origin

    def standing(self):
        """The charger's state at 0 as the app's events say it (the log's lines at t=0)."""
        app = self.rig.app
        evs = [(V.EV_STATE, app.charger.state), (V.EV_PWM, app.hw.duty_x100 / 100, app.charger.out.amps_x10 / 10)]
        if app.charger.fault is not None:
            evs.append((V.EV_FAULT, app.charger.fault, True))
        return evs

    def seconds(self, t_us):
        """A time on the firmware's clock as the scenario's seconds."""
        return (t_us - self.origin) / 1e6

    def _listen(self, lst):
        self.rig.listeners.append(lst)
        if self.rig.app is not None:
            self.rig.app.listeners.append(lst)

    def _pin_changed(self, pin, level):
        self.vcd.sample()

    def _changed(self):
        w = self.world
        w.recompute()
        w.update()
        if self.vcd is not None:
            self.vcd.sample()

    def say(self, text):
        self.out.write("%s: %s\n" % (self.name, text))

    # --- running ---
    def run(self):
        """Run every command; 0 when every expect held, 1 otherwise. Ends with one summary line."""
        self._wall0 = self._shown = time.monotonic()
        if self.verbose:
            self.say("time 0: the firmware idle after %.3f s of its own boot (%.2f s wall)" % (
                self.boot_virtual_s, self.boot_wall_s))
        for c in self.cmds:
            self._line = c.line
            if self.log is not None:
                self.log.input(c)
            getattr(self, "do_" + c.verb)(c)
            self.progress()
        self.finish()
        if self.vcd is not None:
            self.vcd.close()
        self.say("%s: %d expect(s), %d failed, virtual time %.3f s, %.1f s wall" % (
            "FAILED" if self.failures else "ok", self.expects, len(self.failures), self.seconds(mm.clock.us),
            time.monotonic() - self._wall0))
        return 1 if self.failures else 0

    def progress(self):
        """On a long run, a line on stderr every PROGRESS_S: where the scenario is."""
        now = time.monotonic()
        if now - self._shown >= PROGRESS_S:
            self._shown = now
            last = self.cmds[-1].line if self.cmds else 0
            sys.stderr.write("%s: line %d of %d, virtual time %.1f s, %.0f s wall\n" % (
                self.name, self._line, last, self.seconds(mm.clock.us), now - self._wall0))
            sys.stderr.flush()

    def _tick_probe(self):
        self._ticks += 1
        if self._ticks % PROGRESS_TICKS == 0:
            self.progress()

    def run_until(self, t_us):
        self.rig.run_until(t_us)

    def finish(self):
        """After the last command, before the traces close."""

    # --- commands ---
    def do_wait(self, c):
        self.t_us += int(c.args[0] * 1e6 + 0.5)
        self.run_until(self.t_us)

    def do_config(self, c):
        pass                                  # applied before boot (Rig(config=...))

    def do_plug(self, c):
        w = self.world
        ohms = c.args[0]
        if ohms is None:
            ohms = PP_TYPE2_DEFAULT if self.cfg.get("connector", "j1772").startswith("type2") else PP_LATCHED
        w.plugged, w.ev_ohms, w.pp_ohms = True, EV_B_OHMS, ohms
        self._changed()

    def do_unplug(self, c):
        w = self.world
        w.plugged, w.pp_ohms = False, None
        self._changed()

    def do_ev(self, c):
        self.world.ev_ohms = c.args[1]
        self._changed()

    def do_diode(self, c):
        self.world.diode_ok = c.args[0] == "ok"
        self._changed()

    def do_cp(self, c):
        self.world.cp_short = c.args[0] == "short"
        self._changed()

    def do_draw(self, c):
        w = self.world
        if c.args[0] == "follow":
            w.follow_max = FOLLOW_MAX_DEFAULT if c.args[1] is None else c.args[1]
        else:
            w.draw_amps, w.draw_phases, w.follow_max = c.args[0], c.args[1], None
        self._changed()

    def do_button(self, c):
        self.world.button = c.args[0] == "press"
        self._changed()

    def do_pp(self, c):
        self.world.pp_ohms = c.args[0]
        self._changed()

    def do_rcd(self, c):
        if c.args[0] is None:
            self.world.rcd_broken = c.args[1] == "broken"
        else:
            self.world.rcd_ma, self.world.rcd_kind = c.args
        self._changed()

    def do_weld(self, c):
        self.world.weld = c.args[0]
        self._changed()

    def do_temp(self, c):
        self.world.temp_c = c.args[0]
        self._changed()

    def do_noise(self, c):
        self.world.set_noise(c.args[0], c.args[1])
        self._changed()

    def do_power(self, c):
        if c.args[0] == "off":
            was_on, driven = self.rig.powered, self.world._high_us > 0
            self.rig.power_off()
            if self.log is not None and was_on:     # no app to say so: the log says what dropped
                if driven:
                    self.log.write("pwm", duty=0.0, amps=0.0)
                self.log.coil(False)
                for name in self._faults.names:     # RAM's faults are gone (a kept one is set at boot)
                    self.log.write("fault", fault=name, set=False)
                del self._faults.names[:]
        else:
            self.rig.power_on()
        self._changed()

    def do_limit(self, c):
        if self.rig.app is None:
            self.say("line %d: %s: ignored, the controller is powered off" % (c.line, c.text))
            return
        self.rig.app.charger.set_limit("console", c.args[0])

    # --- expectations ---
    def observe(self, what, value, tol):
        """(holds, what was seen) for one expect form, now."""
        app = self.rig.app
        w = self.world
        if what == "contactor":
            seen = "closed" if w.coil() else "open"
            return seen == value, seen
        if app is None:
            return False, "powered off"
        if what == "state":
            seen = app.charger.state
            return seen == value, seen
        if what == "fault":
            seen = app.charger.fault
            return seen == value, seen if seen is not None else "no fault"
        if what == "duty":
            seen = app.hw.duty_x100 / 100
            return abs(seen - value) <= tol + EPS, "%.2f" % seen
        if what == "current":
            seen = app.charger.out.amps_x10 / 10
            return abs(seen - value) <= tol + EPS, "%.1f" % seen
        return False, "?"

    def await_expect(self, what, value, tol, deadline):
        """Check after every control tick until it holds or the deadline passes: (holds, seen)."""
        rig = self.rig
        ok, seen = self.observe(what, value, tol)
        while not ok and mm.clock.us < deadline:
            nxt = rig.next_tick_us if rig.powered else mm.clock.us + TICK_US
            if nxt <= mm.clock.us:
                nxt = mm.clock.us + 1
            self.run_until(min(deadline, nxt))
            ok, seen = self.observe(what, value, tol)
        return ok, seen

    def judge(self, what, value, tol, within):
        """(holds, what was seen, the scenario time it was decided at): now, or by the window's end
        (`within` seconds from now) at the first tick where it holds."""
        ok, seen = self.observe(what, value, tol)
        if not ok and within:
            ok, seen = self.await_expect(what, value, tol, mm.clock.us + int(within * 1e6 + 0.5))
        return ok, seen, mm.clock.us

    def logged_at(self, at):
        """The time the expect's line carries in the log (in order with the lines before it)."""
        return at

    def do_expect(self, c):
        what, value, tol, within = c.args
        self.expects += 1
        ok, seen, at = self.judge(what, value, tol, within)
        self.t_us = max(self.t_us, at)
        self.verdict(c, ok, seen, at)

    def log_expect(self, c, ok, seen, at):
        """The expect's log line (decided at `at`; the clock shows the line's time)."""
        self.log.expect(c, ok)

    def verdict(self, c, ok, seen, at):
        """An expect's outcome: its log line (at `at`, the scenario time it was decided at) and,
        when it failed, its message."""
        if self.log is not None:
            now, mm.clock.us = mm.clock.us, self.logged_at(at)
            try:
                self.log_expect(c, ok, seen, at)
            finally:
                mm.clock.us = now
        if ok:
            if self.verbose:
                self.say("line %d: ok at %.3f s: %s" % (c.line, self.seconds(at), c.text))
        else:
            msg = "line %d: FAILED at %.3f s: %s (got %s)" % (c.line, self.seconds(at), c.text, seen)
            self.failures.append(msg)
            self.say(msg)
