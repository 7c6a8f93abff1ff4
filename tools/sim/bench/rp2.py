"""The bench on the emulated Raspberry Pi Pico (`python -m tools.bench SCENARIO --target rp2`).

The same scenario, the same commands on the same circuit model (tools/sim/mock_machine/world.py behind
the emulated pins, tools/rp2emu), the same VCD and JSONL writers. What differs is the board: the
stock MicroPython rp2 image on rp2040js, the firmware installed by `make flash` with the scenario's
settings, and the firmware observed from outside as on a real board:
- the VCD from the emulated pins: GP16's PWM slice as the firmware programmed it (read every 10 ms
  tick), the GP15 coil at the instant it changes, the outlet (coil or weld) modelled from it;
- the JSONL's state, pwm, contactor and fault lines, and what `expect state|fault|duty|current`
  compare, from the firmware's own event lines on the USB serial console (docs/console.md), at the
  firmware's time (ms since the chip's boot). `expect contactor` reads the coil pin.
Scenario time 0 is a booted charger, as on the host (runner.Bench.boot): the chip boots after the
flash, its firmware runs its power-on check with nothing plugged in until it reports its idle state,
and time 0 is IDLE_SETTLE_US after that report's time.
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from evse.core import vocab as V
from tools.sim import mock_machine as mm
from tools import rp2emu
from tools.sim.bench.runner import Bench
from tools.sim.rig import BOOT_MAX_US, IDLE_SETTLE_US, INSTALLED, TICK_US
from tools.toolchain import mpy_build

BOARD = "rpi_pico"
FLASH_WALL_S = 900          # the first `make flash` copies every .mpy over the emulated USB
STEP_WALL_S = 3600          # one command's emulated time, in wall time: a stuck emulator fails
STARTUP_WALL_S = 120
STATUS_ID = "bench"
# The JSONL's `meter` lines (once a second while the contactor is closed, as the host bench writes
# them from app.meter) come from the firmware's own count: the console's `status` (its `energy`),
# asked for at each second of the coil's closed time, the line written at the time the reply carries.
MARKS_KEPT = 64            # the pins' latest changes, for the lines that report them
METER_ID = "meter"
METER_PERIOD_US = 1000000
# A request waits on the console until the lines (and replies) queued before it are on their way,
# and the lines after a status reply (about 660 bytes, 256 a poll) wait behind it: asked at the
# instant of a `limit`, it held the limit 32 ms (limit_changes' `expect current 16 within 0.02`
# failed); asked at `ev B` before a weld, the fault's lines were still queued at the `power off`
# 180 ms later and never came. So the meter is asked only inside a `wait` with METER_QUIET_US or
# more before the scenario's next command (a reply is out in 3-4 polls), METER_LEAD_US before
# its second (the host's line comes at the second): a second it cannot be asked in is asked at
# the first moment it can.
METER_QUIET_US = 80000
METER_LEAD_US = 100000
# The chip stops at a pin change in the middle of its tick, before the console has written that
# tick's event lines: an expect on what the firmware reports waits this long for its line to
# arrive, and judges it by the time the line carries (the firmware's, at or before the change). A
# flash write near it (littlefs with interrupts off: the fault journal's append) held diode_short_
# charging's lines 26 ms on the emulated Pico, with their time 2 ms before the coil's edge.
CONSOLE_LAG_US = 5 * TICK_US
# The flash `make flash` left, as the chip booted from it after the flash's reset, kept per build and
# settings: the next scenario with the same ones boots from it (one flash for the library instead of
# 90 s each). EVSE_RP2_FLASH_EVERY=1 flashes every time.
INSTALLED_DIR = os.path.join(rp2emu.ROOT, "build", "rp2-installed")
INSTALL_INPUTS = ("Makefile", "requirements-dev.txt", "tools/flash.py", "tools/boardcheck.py",
                  "tools/toolchain/mpy_build.py", "tools/toolchain/whole.py")


def installed_key(settings):
    """What `make flash` puts on the chip: (the stock image, the firmware's files and the tools that
    build and copy them; the settings)."""
    h = hashlib.sha256()
    paths = [rp2emu.IMAGE] + [os.path.join(rp2emu.ROOT, p) for p in INSTALL_INPUTS]
    for p in paths + [src for src, _ in mpy_build.sources()]:
        h.update(os.path.relpath(p, rp2emu.ROOT).encode())
        with open(p, "rb") as f:
            h.update(f.read())
    st = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:20], st.hexdigest()[:20]


def _installed(key, any_settings=False):
    """(flash image, its boot's watchdog reason) kept for this key (or, any_settings, for this
    firmware with any settings), or None."""
    d = os.path.join(INSTALLED_DIR, key[0])
    names = [key[1]]
    if any_settings and os.path.isdir(d):
        names = sorted(n[:-5] for n in os.listdir(d) if n.endswith(".json"))
    for name in names:
        base = os.path.join(d, name)
        try:
            with open(base + ".json") as f:
                reason = json.load(f)["reason"]
        except (OSError, ValueError, KeyError):
            continue
        if os.path.exists(base + ".bin"):
            return base + ".bin", reason
    return None


class PicoRig:
    """The emulated Pico as the bench's rig: what Bench, VcdTrace and JsonLog use of tools.sim.rig.Rig."""

    app = None                       # no firmware object in this process: observed via the console
    powered = True

    def __init__(self, config, seed=1, keep=None):
        """keep: boot from a kept flash when there is one (None: unless EVSE_RP2_FLASH_EVERY)."""
        self.board = rp2emu.load_board(BOARD)
        self.listeners = []
        self.probes = []
        self.seen = {}               # what the firmware last reported: state, fault, duty, amps
        self.history = []            # (scenario us, seen) after each report, in order
        self.start_ms = None         # the firmware's time of its first event line
        self.idle_ms = None          # ... of its first report of a state other than boot (A1)
        self.boot_virtual_s = self.boot_wall_s = 0.0   # the chip's boot to time 0: emulated, wall
        self._early = []             # events before the bench's recorders listen
        self.marks = []              # (scenario us, kind, value): the coil's and the duty's changes
        self._marked = {}
        self._buf = b""
        self._sock = None
        cfg = dict(INSTALLED)
        cfg.update(config)
        if keep is None:
            keep = not os.environ.get("EVSE_RP2_FLASH_EVERY")
        key = installed_key(cfg) if keep else None
        kept = _installed(key) if key else None
        # New settings for a firmware kept with others: an update of that charger, as a user's
        # second `make flash` (it copies the settings only).
        base = _installed(key, any_settings=True) if key and not kept else None
        if kept is not None:
            self.pico = rp2emu.Pico(self.board, seed=seed, image=kept[0], reason=kept[1])
        elif base is not None:
            self.pico = rp2emu.Pico(self.board, seed=seed, image=base[0], reason=base[1], realtime=True)
        else:
            self.pico = rp2emu.Pico(self.board, seed=seed, realtime=True)   # paced for mpremote
        self.world = self.pico.world
        try:
            if kept is None:
                self._install(cfg, key)
            else:
                self._started()
        except BaseException:
            self.close()
            raise

    # --- installing: `make flash` with the scenario's settings, as a user does ---
    def _install(self, cfg, key):
        pico = self.pico
        pico.pump(emu_s=1.0, wall_s=120)              # the stock image at its REPL (or the charger)
        if key is not None:
            d = os.path.join(INSTALLED_DIR, key[0])
            os.makedirs(d, exist_ok=True)
            for old in os.listdir(INSTALLED_DIR):     # older builds' flashes go
                if old != key[0]:
                    shutil.rmtree(os.path.join(INSTALLED_DIR, old), ignore_errors=True)
            pico.save_at_boot = os.path.join(d, "%s.%d.tmp" % (key[1], os.getpid()))
        fd, path = tempfile.mkstemp(suffix=".json", prefix="bench-settings-")
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        try:
            proc = subprocess.Popen(
                ["make", "-s", "flash", "BOARD=" + BOARD, "PORT=" + pico.port, "SETTINGS=" + path],
                cwd=rp2emu.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            done = pico.pump(until=lambda: proc.poll() is not None, wall_s=FLASH_WALL_S)
            out = proc.stdout.read().decode(errors="replace")
        finally:
            os.remove(path)
        if not done or proc.returncode:
            raise RuntimeError("make flash on the emulated Pico failed:\n" + out)
        pico.realtime(False)
        self._started()
        if key is not None:
            self._keep(key)

    def _keep(self, key):
        """The flash as the chip booted from it after the flash's reset, for the next scenario."""
        pico = self.pico
        tmp, pico.save_at_boot = pico.save_at_boot, None
        reason = pico.boot_reasons[-1][1]
        base = os.path.join(INSTALLED_DIR, key[0], key[1])
        if reason and os.path.exists(tmp):            # (0: no reset after the flash, nothing kept)
            with open(base + ".json", "w") as f:
                json.dump({"reason": reason}, f)
            os.replace(tmp, base + ".bin")             # atomic: a parallel run reads old or new
        elif os.path.exists(tmp):
            os.remove(tmp)

    def _started(self):
        """The firmware's power-on check, until it reports its idle state (A1), and IDLE_SETTLE_US
        more: scenario time 0, the chip stopped there. The boot's lines are not in the traces: the
        charger's state at 0 (`seen`) is their first lines (PicoBench.standing)."""
        pico = self.pico
        wall0 = time.monotonic()
        self._sock = socket.create_connection(("127.0.0.1", pico.tcp))
        self._sock.setblocking(False)
        self._request({"cmd": "status", "id": STATUS_ID})

        def idle():
            self._drain()
            if self.idle_ms is not None:
                return True
            return self.start_ms is not None and pico.t_us - pico.boot_reasons[-1][0] > \
                self.start_ms * 1000 + BOOT_MAX_US        # never idle: the scenario starts anyway
        if not pico.pump(until=idle, wall_s=STARTUP_WALL_S):
            raise RuntimeError("the firmware did not report on the emulated Pico's console")
        zero_ms = self.idle_ms if self.idle_ms is not None else (pico.t_us - pico.boot_reasons[-1][0]) // 1000
        pico.epoch_us = max(pico.boot_reasons[-1][0] + zero_ms * 1000 + IDLE_SETTLE_US, pico.t_us)
        pico.stop_at(pico.epoch_us)
        if not pico.pump(until=lambda: self._drain() or pico.t_us >= pico.epoch_us, wall_s=STARTUP_WALL_S):
            raise RuntimeError("the emulated Pico did not reach the scenario's time 0")
        self.boot_virtual_s = (pico.t_us - pico.boot_reasons[-1][0]) / 1e6
        self.boot_wall_s = time.monotonic() - wall0
        mm.clock.us = 0          # the traces open at 0 with the pins as the firmware left them
        self.world._follow_hist = []                   # its times were on the emulator's clock
        self.history = [(0, dict(self.seen))]
        self._early = []         # the boot's lines: before time 0

    def _request(self, obj):
        self.pico.serial(json.dumps(obj) + "\n")     # at the instant the chip stands at

    def close(self):
        if self._sock is not None:
            self._sock.close()
        if self.pico.save_at_boot is not None and os.path.exists(self.pico.save_at_boot):
            os.remove(self.pico.save_at_boot)          # an install that did not finish
        self.pico.close()

    # --- the firmware's console: event lines into the listeners (the JSONL) and `seen` ---
    def _drain(self):
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                self._buf += chunk
        except BlockingIOError:
            pass
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            line = line.strip()
            if line.startswith(b"{"):
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    self._message(msg)

    def _message(self, msg):
        if msg.get("id") == METER_ID:
            if self.on_meter is not None:
                self.on_meter(msg)
            return
        if msg.get("id") == STATUS_ID:               # the first status: what came before we listened
            st = msg
            if "state" not in self.seen:
                self._event((V.EV_STATE, st.get("state")), st.get("t"))
            if "duty" not in self.seen:
                self._event((V.EV_PWM, st.get("duty"), st.get("amps")), st.get("t"))
            if "fault" not in self.seen and st.get("fault") is not None:
                self._event((V.EV_FAULT, st.get("fault"), True), st.get("t"))
            return
        kind = msg.get("ev")
        if kind == V.EV_STATE:
            self._event((kind, msg.get("state")), msg.get("t"))
        elif kind == V.EV_PWM:
            self._event((kind, msg.get("duty"), msg.get("amps")), msg.get("t"))
        elif kind == V.EV_CONTACTOR:
            self._event((kind, msg.get("closed")), msg.get("t"))
        elif kind == V.EV_FAULT:
            self._event((kind, msg.get("fault"), msg.get("set")), msg.get("t"))
        elif kind == V.EV_SESSION:   # to the listeners as the host's app tells them (the JSONL has none)
            self._event((kind, msg.get("what"), msg.get("reason")), msg.get("t"))

    def _event(self, ev, t_ms):
        seen = self.seen
        if ev[0] == V.EV_STATE:
            seen["state"] = ev[1]
        elif ev[0] == V.EV_PWM:
            seen["duty"], seen["amps"] = ev[1], ev[2]
        elif ev[0] == V.EV_FAULT:
            if ev[2]:
                seen["fault"] = ev[1]
            elif seen.get("fault") == ev[1]:
                seen["fault"] = None
        if not isinstance(t_ms, int):
            t_ms = None
        if self.start_ms is None and t_ms is not None:
            self.start_ms = t_ms
        if self.idle_ms is None and t_ms is not None and ev[0] == V.EV_STATE and ev[1] != V.ST_BOOT:
            self.idle_ms = t_ms
        t_us = mm.clock.us if t_ms is None else self._scenario_us(t_ms)
        self.history.append((t_us, dict(seen)))
        if self.on_line is not None:
            self.on_line(t_us)
        if self._early is not None:
            self._early.append((ev, t_ms))
        elif self.flushing is None or t_us <= self.flushing:
            self._tell(ev, t_ms)

    def _mark(self):
        """The pins' moments, for the lines that report them: the coil's level and the pilot's duty
        as the PWM slice runs it, each change with its time."""
        pwm = mm.pwms.get(self.board.PILOT_PWM_PIN)
        duty = pwm.counts * 10000 // pwm.steps / 100 if pwm is not None and pwm.active else 0.0
        for kind, v in ((V.EV_CONTACTOR, bool(self.world.coil())), (V.EV_PWM, duty)):
            if self._marked.get(kind) != v:
                self._marked[kind] = v
                self.marks.append((mm.clock.us, kind, v))
                del self.marks[:-MARKS_KEPT]

    def _pin_time(self, ev, t_us):
        """When the pins did what a `contactor` or `pwm` line reports: the coil's edge, the duty's
        write, in the tick that stamped the line (its outputs come 2-8 ms after the stamp on the
        Pico; the host's at the stamp), else the stamp (an interrupt's opening, logged by the next
        tick, as on the host). Stamp and pin mixed made seq 10.2's X1 (stamp) to open (edge, the
        bench's expect logged there first) 6.0017 s in the JSONL for 5.9979 s at the pins."""
        if ev[0] not in (V.EV_CONTACTOR, V.EV_PWM):
            return t_us
        for t, kind, v in self.marks:
            if kind == ev[0] and t_us <= t <= t_us + 2 * TICK_US and (
                    v == bool(ev[1]) if kind == V.EV_CONTACTOR else
                    isinstance(ev[1], (int, float)) and abs(v - ev[1]) < 0.011):
                return t
        return t_us

    def _tell(self, ev, t_ms):
        """The listeners write at the firmware's time (in order: never before the last line); a
        line about a pin, at the pin's moment."""
        now = mm.clock.us
        if t_ms is not None:
            t_us = self._pin_time(ev, self._scenario_us(t_ms))
            mm.clock.us = min(now, max(self._t_logged, t_us))
        self._t_logged = mm.clock.us
        try:
            for lst in self.listeners:
                lst.on_event(ev, t_ms)
        finally:
            mm.clock.us = now

    _t_logged = 0
    flushing = None              # after the last command: lines up to its time only
    on_meter = None              # called with each reply to ask_meter()
    on_line = None               # called with each event line's time, before it is logged

    def ask_meter(self):
        """The firmware's meter, asked on the console (the reply goes to on_meter)."""
        self._request({"cmd": "status", "id": METER_ID})

    def _scenario_us(self, t_ms):
        """A line's time (the firmware's ms since its chip booted) on the scenario's clock."""
        pico = self.pico
        if not pico.epoch_us:                        # still installing: the first line is time 0
            return (t_ms - self.start_ms) * 1000
        return pico.boot_reasons[-1][0] + t_ms * 1000 - pico.epoch_us

    # --- the supply (`power off` / `power on`) ---
    def power_off(self):
        """RAM is lost, the coil and the pilot's drive drop, flash is kept; nothing is reported."""
        if not self.powered:
            return
        self._drain()
        self._buf = b""
        self.powered = False
        self.world.powered = False
        self.world.recompute()
        self.history.append((mm.clock.us, {}))
        self.pico.power(False)

    def power_on(self):
        """The chip boots from power-on: it is in state boot until its firmware reports."""
        if self.powered:
            return
        self.powered = True
        self.world.powered = True
        self.world.recompute()
        self.history.append((mm.clock.us, {"state": V.ST_BOOT}))
        self.pico.power(True)

    def reported(self, t_us):
        """What the firmware had reported by scenario time t_us (its lines carry their time)."""
        for t, seen in reversed(self.history):
            if t <= t_us:
                return seen
        return {}

    # --- running: the emulated chip in lockstep with the world ---
    @property
    def _next_tick(self):
        return (mm.clock.us // TICK_US + 1) * TICK_US

    def add_pin_hook(self, hook):
        mm.output_hooks.append(hook)

    def run_until(self, t_us, stop=None):
        """Runs the chip to scenario time t_us (the first emulator event at or after it), or until
        `stop()` holds."""
        pico = self.pico
        target = t_us + pico.epoch_us
        if self._early:
            early, self._early = self._early, None
            for ev, t_ms in early:
                self._tell(ev, t_ms)
        self._early = None
        if target > pico.t_us:
            pico.stop_at(target)                    # the chip stops at the command's instant

        def reached():
            self._mark()
            self._drain()
            for p in self.probes:
                p()
            return pico.t_us >= target or (stop is not None and stop())
        if not pico.pump(until=reached, wall_s=STEP_WALL_S):
            raise RuntimeError("the emulated Pico did not reach %.3f s" % (t_us / 1e6))

    def send_limit(self, amps):
        self._request({"cmd": "limit", "amps": amps})


class PicoBench(Bench):
    """Bench with the emulated Pico as its rig: the same commands, the firmware seen from outside."""
    COIL_PIN_LOG = False        # the log's lines are the firmware's own, at its time (module doc)
    CT_EVERY_PHASE = False      # the Pico has one CT input (boards/rpi_pico.py): phase 1's energy

    def __init__(self, *args, **kw):
        self.keep = kw.pop("keep", None)       # PicoRig's
        Bench.__init__(self, *args, **kw)
        if self.log is not None:          # the firmware's lines never go before the bench's own
            write = self.log.write

            def logged(kind, **fields):
                write(kind, **fields)
                self.rig._t_logged = max(self.rig._t_logged, mm.clock.us)
            self.log.write = logged
            self._meter_next = None
            self._asked = 0                 # meter requests not answered yet
            self._opened_at = None          # when the coil opened after the last request
            self.rig.on_meter = self._meter_reply
            self._at = dict((c.line, i) for i, c in enumerate(self.cmds))
            self.rig.probes.append(self._meter_probe)
        self._verdicts = []                 # expects not written yet, in the scenario's order
        self.rig.on_line = self._settle
        self.rig.probes.append(self._settle)

    def _meter_probe(self):
        """Once a second of the coil's closed time (from its closing, as on the host): ask the
        firmware's meter."""
        rig = self.rig
        now = mm.clock.us
        if not rig.powered or rig.flushing is not None or not self.world.coil():
            if self._meter_next is not None:
                self._opened_at = now
            self._meter_next = None
            return
        self._opened_at = None
        if self._meter_next is None:
            self._meter_next = now                 # at the closing, then once a second
        if now >= self._meter_next - METER_LEAD_US and self._quiet(now):
            while self._meter_next <= now + METER_LEAD_US:
                self._meter_next += METER_PERIOD_US
            self._asked += 1
            rig.ask_meter()

    def _quiet(self, now):
        """Inside a `wait`, with no command of the scenario within METER_QUIET_US from now."""
        i = self._at.get(self._line)
        if i is None or self.cmds[i].verb != "wait":
            return False
        ahead = self.t_us - now
        for c in self.cmds[i + 1:]:
            if ahead >= METER_QUIET_US or c.verb != "wait":
                break
            ahead += int(c.args[0] * 1e6 + 0.5)
        return ahead >= METER_QUIET_US

    def _meter_reply(self, msg):
        """A `meter` line at the reply's time, for a request made while the coil was closed (a
        reply is on the console a tick or two later: the coil may have opened meanwhile, and the
        line then goes at the opening, as the last reading of the closed time)."""
        rig = self.rig
        energy = msg.get("energy")
        t_ms = msg.get("t")
        if not self._asked:
            return
        self._asked -= 1
        if not isinstance(energy, dict) or not isinstance(t_ms, int):
            return
        t_us = rig._scenario_us(t_ms)
        if self._opened_at is not None:        # answered after the coil opened: the count then
            t_us = min(t_us, self._opened_at)  # (nothing flows since), at the opening's moment
        if rig.flushing is not None and t_us > rig.flushing:
            return
        self._settle(t_us)
        try:
            amps = round(float(max(energy.get("amps") or [0.0])), 3)
            wh = round(float(energy.get("wh_session") or 0.0), 3)
        except (TypeError, ValueError):
            return
        now = mm.clock.us
        mm.clock.us = min(now, max(rig._t_logged, t_us))
        try:
            self.log.write("meter", amps=amps, wh=wh)
        finally:
            mm.clock.us = now

    def _pin_changed(self, pin, level):
        if self.rig.flushing is None:
            Bench._pin_changed(self, pin, level)

    def finish(self):
        """The lines of the firmware's last tick are still on the way: wait for them, and keep
        those up to the end (the traces end where the host's do); the expects still open are
        decided by them."""
        rig = self.rig
        end = mm.clock.us
        rig.flushing = end
        probes, rig.probes = rig.probes, []
        rig.run_until(end + CONSOLE_LAG_US)
        rig.probes = probes
        self._settle(force=True)
        mm.clock.us = end

    def do_power(self, c):
        """A line on its way when the supply goes is lost with the chip's USB (on the host it is
        out at once): the expects still open are decided first."""
        if c.args[0] == "off" and self._verdicts:
            self.rig.run_until(self._verdicts[-1][3] + CONSOLE_LAG_US, lambda: not self._verdicts)
            self._settle(force=True)
        Bench.do_power(self, c)

    def make_rig(self, board, flash_dir, seed):
        return PicoRig(self.cfg, seed=seed, keep=self.keep)

    def boot(self):
        """PicoRig booted the chip to the scenario's 0 (PicoRig._started)."""
        self.boot_virtual_s, self.boot_wall_s = self.rig.boot_virtual_s, self.rig.boot_wall_s
        return 0

    def standing(self):
        """The charger's state at 0 as the firmware's lines said it."""
        seen = self.rig.seen
        evs = [(V.EV_STATE, seen.get("state")), (V.EV_PWM, seen.get("duty"), seen.get("amps"))]
        if seen.get("fault") is not None:
            evs.append((V.EV_FAULT, seen["fault"], True))
        return evs

    def run(self):
        try:
            return Bench.run(self)
        finally:
            self.rig.close()

    def do_limit(self, c):
        if not self.rig.powered:
            self.say("line %d: %s: ignored, the controller is powered off" % (c.line, c.text))
            return
        self.rig.send_limit(c.args[0])

    def judge(self, what, value, tol, within):
        """As on the host, with the firmware's lines judged by the time they carry: `within S` ends
        S seconds after the expect started, and the expect is decided at the moment the firmware's
        line says it held (or at the window's end), not when the line arrived. Before, a first
        check that failed ran the chip CONSOLE_LAG_US on and the window started only then:
        `expect state C2 within 0.29` held on the Pico with C2 reported 0.305 s after `ev C`
        (host: failed, exit 1).
        No line by the window's end: one stamped before it may still be on its way (up to
        CONSOLE_LAG_US), so the verdict is left open (ok None) and the scenario goes on at the
        window's end, as on the host; _settle decides it once a later line or CONSOLE_LAG_US has
        passed. Before, the chip ran CONSOLE_LAG_US on first, and every command after an expect
        that failed came 50 ms late: `expect state C2 within 0.29` then `expect state C2` failed
        both on the host and only the first on the Pico."""
        rig = self.rig
        start = mm.clock.us
        if what == "contactor":                   # the coil pin, at the instant it changes
            ok, seen = Bench.observe(self, what, value, tol)
            if ok or not within:
                return ok, seen, start
            deadline = start + int(within * 1e6 + 0.5)
            rig.run_until(deadline, lambda: Bench.observe(self, what, value, tol)[0])
            ok, seen = Bench.observe(self, what, value, tol)
            return ok, seen, min(mm.clock.us, deadline)
        rig._drain()
        end = start + int(within * 1e6 + 0.5) if within else start
        at = self._held(what, value, tol, start, end)
        if at is None and end > start:
            rig.run_until(end, lambda: self._held(what, value, tol, start, end) is not None)
            at = self._held(what, value, tol, start, end)
        if at is not None:
            return True, self._reported(what, value, tol, at)[1], at
        return None, (what, value, tol, start), end

    def verdict(self, c, ok, seen, at):
        """Written in the scenario's order: after the open ones before it. An open one (ok None)
        carries what judge() was asked (seen) and its window's end (at)."""
        self._verdicts.append([c, ok, seen, at, seen if ok is None else None])
        self._settle()

    def _settle(self, t_us=None, force=False):
        """Decides the open expects that can be: one whose line has come, or once a line stamped
        after its window's end has arrived (t_us: such a line's time, before it is logged; the
        console's lines come in order) or CONSOLE_LAG_US has passed since that end (force: now);
        then writes the decided ones at the head of the queue."""
        queue = self._verdicts
        for v in queue:
            if v[1] is None:
                (what, value, tol, start), end = v[4], v[3]
                at = self._held(what, value, tol, start, end)
                if at is not None:
                    v[1:4] = True, self._reported(what, value, tol, at)[1], at
                elif force or (t_us if t_us is not None else mm.clock.us - CONSOLE_LAG_US) > end:
                    v[1:3] = False, self._reported(what, value, tol, end)[1]
        while queue and queue[0][1] is not None:
            c, ok, seen, at = queue.pop(0)[:4]
            Bench.verdict(self, c, ok, seen, at)

    def log_expect(self, c, ok, seen, at):
        """`expect contactor` reads the coil pin at its edge; the firmware's `contactor` line for that
        edge comes over the console a tick later. Written from the pin first (the firmware's line then
        repeats it: not written again), so the log never has the expect hold on a change it has not
        said yet, in the host's order. Only when nothing after the expect's time is logged yet."""
        if c.args[0] == "contactor" and at >= self.rig._t_logged:
            self.log.coil(seen == "closed")
        Bench.log_expect(self, c, ok, seen, at)

    def logged_at(self, at):
        rig = self.rig
        return min(mm.clock.us, max(at, rig._t_logged))

    def _held(self, what, value, tol, t0, t1):
        """The first scenario time in [t0, t1] at which the firmware's lines say it holds, or None."""
        hist = self.rig.history
        i = len(hist)
        while i > 0 and hist[i - 1][0] > t0:      # the report in force at t0, and those after it
            i -= 1
        for t, _ in hist[max(i - 1, 0):]:
            t = max(t, t0)
            if t > t1:
                break
            if self._reported(what, value, tol, t)[0]:
                return t
        return None

    def _reported(self, what, value, tol, t_us):
        """What the firmware's event lines said by t_us, against the expected value."""
        seen = self.rig.reported(t_us)
        if what == "state":
            s = seen.get("state")
            return s == value, s
        if what == "fault":
            s = seen.get("fault")
            return s == value, s if s is not None else "no fault"
        if what in ("duty", "current"):
            s = seen.get("duty" if what == "duty" else "amps")
            if s is None:
                return False, "nothing reported"
            return abs(s - value) <= tol + 1e-9, ("%.2f" if what == "duty" else "%.1f") % s
        return False, "?"
