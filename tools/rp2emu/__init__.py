"""The emulated Raspberry Pi Pico as a board: the stock MicroPython rp2 image on rp2040js (emu.mjs),
its USB serial on socket://127.0.0.1:PORT, its pins wired to the host bench's own circuit model.

The circuit is tools/sim/mock_machine/world.py itself, run here in Python: the emulated pins are
mirrored into the mock machine's registries (outputs, the PWM slice's registers), World computes
what it computes on the host bench (plateau levels of the pilot through the front end, PP, the
temperature, the contactor's mirror contact, the residual-current monitor with its self-test
winding), and the results go to the emulator as numbers: input levels, ADC codes, and the pilot's
two plateau codes, edge time and noise table. The emulator applies them at the instant of each ADC
conversion to the level GP16 really has (the emulated PWM slice drives that pin), so the waveform
follows the PWM hardware, not a model of it. The emulator stops at every output change and every
`tick` (10 ms emulated) until this side answers: the circuit reacts at the emulated instant.
"""
import json
import os
import select
import shutil
import subprocess
import time

from tools.sim import mock_machine as mm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _shared():
    """../shared/rp2 beside the clone (as CI sees it); from a git worktree, beside its main clone."""
    here = os.path.normpath(os.path.join(ROOT, "..", "shared", "rp2"))
    dotgit = os.path.join(ROOT, ".git")
    if os.path.isdir(here) or not os.path.isfile(dotgit):
        return here
    with open(dotgit) as f:              # "gitdir: MAIN/.git/worktrees/NAME"
        gitdir = f.read().split("gitdir:", 1)[-1].strip()
    main = os.path.dirname(os.path.dirname(os.path.dirname(gitdir)))
    return os.path.normpath(os.path.join(main, "..", "shared", "rp2"))


SHARED = os.environ.get("EVSE_RP2_DIR") or _shared()
IMAGE = os.path.join(SHARED, "micropython-v1.28.0-RPI_PICO.uf2")
BOOTROM = os.path.join(SHARED, "bootrom-b1.bin")
EMU = os.path.join(HERE, "emu.mjs")
TICK_MS = 10
CPU_HZ = 125000000
READY_TIMEOUT_S = 20.0


def missing():
    """Why the emulated Pico cannot run here (one line), or None."""
    for path in (IMAGE, BOOTROM):
        if not os.path.exists(path):
            return ("no %s (the emulated Pico's image and boot ROM live beside the repository, in "
                    "../shared/rp2/, or where EVSE_RP2_DIR names: docs/rp2emu.md)" % path)
    if not shutil.which("node"):
        return "no node on PATH (the emulated Pico runs on Node)"
    if not os.path.isdir(os.path.join(HERE, "node_modules", "rp2040js")):
        return "rp2040js not installed (make rp2emu)"
    return None


def _adc_channel(pin):
    """RP2040: GP26-29 are ADC channels 0-3; 4 is the internal temperature sensor."""
    return pin if pin is not None and pin <= 4 else None if pin is None else pin - 26


def control_ticks(lit, lead_us=4000):
    """(end us, busy cycles) of each control tick from the tick light's spans (from us, to us,
    cycles): a span that starts less than lead_us after the one before started is joined to it.
    The pilot capture's start comes 2 ms before its tick; ticks start 10 ms apart, so 8 ms after a
    capture's start, and a late tick starts later, never sooner."""
    ticks, start = [], None
    for t0, t1, cycles in lit:
        if ticks and t0 - start < lead_us:
            ticks[-1] = (t1, ticks[-1][1] + cycles)
        else:
            ticks.append((t1, cycles))
        start = t0
    return ticks


class Link:
    """emu.mjs under control (`--ctl`): its line protocol, a JSON object a line each way."""

    def __init__(self, args):
        self.proc = subprocess.Popen(["node", EMU] + list(args) + ["--ctl"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=HERE, start_new_session=True)
        self._buf = b""

    def send(self, obj):
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def next(self, timeout):
        """The next event, or None when none came within `timeout` wall seconds."""
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the emulated Pico stopped (exit %s)" % self.proc.poll())
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        """Asks it to quit; killed if it does not within 5 s."""
        if self.proc.poll() is None:
            try:
                self.send({"quit": 1})
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Pico:
    """One emulated Pico and the bench world behind its pins (the world is `self.world`)."""

    def __init__(self, board, tcp=0, seed=1, image=IMAGE, realtime=False, log=None, reason=None):
        """`image`: the stock UF2, or a whole flash (.bin) `save_at_boot` wrote; `reason`: its
        first boot's watchdog reason (as that flash's boot had). EVSE_RP2_FLASH_TIME=typ|max: the
        flash chip's erase and program times hold the core (emu.mjs FLASH_TIME; unset: none)."""
        from tools.sim.mock_machine.world import World
        self.board = board
        self.log = log
        ft = os.environ.get("EVSE_RP2_FLASH_TIME")
        self.link = Link(["--image", os.path.abspath(image), "--bootrom", BOOTROM, "--tcp", str(tcp)]
                         + (["--realtime"] if realtime else []) + (["--reason", str(reason)] if reason else [])
                         + (["--flash-time", ft] if ft else []))
        self.save_at_boot = None      # a path: the flash written there at every boot, as it boots
        self.t_us = 0                 # emulated time of the last event
        self.epoch_us = 0             # mm.clock.us = emulated time - epoch_us (the bench's time 0)
        self.boots = 0
        self.offs = 0                 # power cuts (`power`)
        self.busy = []                # (t_us, busy cycles in the tick before it)
        self.lit = []                 # (from us, to us, busy cycles) of each time the tick light was on
        self.flash_ops = []           # (from us, to us, "e"|"p", bytes): the flash chip's erases and
        #                               programs, each holding the core (with EVSE_RP2_FLASH_TIME)
        self.flash_hooks = []         # called with each "flash" event, the core stopped at its start
        self.pwm = {}                 # pin -> the slice's registers at the last tick
        self.outputs = {}             # watched pin -> level
        self.boot_reasons = []        # (t_us, RP2040 WATCHDOG.REASON: 0 power-on, 1 timer, 2 force)
        self._held = False            # the emulator waits for our answer to the last event
        self._sent = {}
        self._due = None              # the last time-driven change asked for as a stop (world us)
        ev = self.link.next(READY_TIMEOUT_S)
        if ev is None or ev.get("ev") != "ready":
            self.close()
            raise RuntimeError("the emulated Pico did not start: %r" % (ev,))
        self.tcp = ev["tcp"]
        self.port = "socket://127.0.0.1:%d" % self.tcp
        mm.reset_world()
        self.world = World(board, seed=seed)
        b = board
        self._watch = [p for p in tuple(b.CONTACTOR_PINS) + (b.RCD_TEST_PIN,) if p is not None]
        self._inputs = [p for p in (b.FEEDBACK_PIN, b.RCD_TRIP_PIN, b.RCD_DC_PIN) if p is not None]
        # The firmware lights the board's LED while its control tick runs (TICK_LED, on a GPIO as
        # tools/boardcheck.py checks): its cycles are the tick's own, apart from the services'.
        mark = b.LED_PIN if getattr(b, "TICK_LED", False) else -1
        self.link.send({"watch": self._watch, "pwm": [b.PILOT_PWM_PIN], "tick_ms": TICK_MS, "mark": mark})
        self.world.update()
        self.push()

    # --- the link to emu.mjs ---
    def serial(self, text):
        """Text for the firmware's USB serial, there at the instant the chip stands at. Sent on the
        TCP socket instead, it reached the chip whenever the host's scheduler let it, before or
        after the next "go": two runs of one scenario on a loaded machine differed by microseconds
        (host_tests/test_rp2_same_twice.py). What the firmware writes still comes on the socket."""
        self.link.send({"serial": text})

    def stop_at(self, t_us):
        """The chip stops at emulated time t_us (an event of its own, as a tick's)."""
        self.link.send({"at": t_us})

    def pump(self, until=None, wall_s=60.0, emu_s=None):
        """Runs the board until `until()` is true, `emu_s` emulated seconds passed, or `wall_s` wall
        seconds passed. Returns True unless the wall time ran out. The board stays stopped at the
        event that ended it: what the caller changes in the world applies at that instant."""
        end = time.monotonic() + wall_s
        stop_us = None if emu_s is None else self.t_us + int(emu_s * 1e6)
        while True:
            if until is not None and until():
                return True
            if stop_us is not None and self.t_us >= stop_us:
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self._held:
                self._held = False
                self.push()
                self.link.send({"go": 1})
            ev = self.link.next(min(left, 0.5))
            if ev is not None:
                self._handle(ev)
                self._held = True

    def console(self, cmd, wall_s=120.0):
        """One request to the firmware's console on the USB serial (docs/console.md); its reply."""
        import socket
        req = dict(cmd, id=4242)
        sock = socket.create_connection(("127.0.0.1", self.tcp))
        sock.setblocking(False)
        self.serial(json.dumps(req) + "\n")
        got = {"buf": b"", "reply": None}

        def replied():
            try:
                got["buf"] += sock.recv(65536)
            except BlockingIOError:
                pass
            for line in got["buf"].split(b"\n")[:-1]:      # whole lines only
                if line.startswith(b"{") and b'"id": 4242' in line:   # not the REPL's echo
                    got["reply"] = json.loads(line)
            return got["reply"] is not None
        try:
            self.pump(until=replied, wall_s=wall_s)
        finally:
            sock.close()
        return got["reply"]

    def power(self, on):
        """Cuts (False) or restores (True) the chip's supply at the instant it stands at: RAM is lost,
        the flash kept; restored, it boots as from power-on (reason 0)."""
        seen = (self.boots, self.offs)
        self.link.send({"power": 1 if on else 0})
        if not self.pump(until=lambda: (self.boots, self.offs) != seen, wall_s=60):
            raise RuntimeError("the emulated Pico did not answer the power %s" % ("on" if on else "off"))

    def watch(self, pins):
        """Reports these output pins' edges too (`outputs`; a test script's marker pins)."""
        self._watch = self._watch + [p for p in pins if p not in self._watch]
        self.link.send({"watch": self._watch})

    def realtime(self, on):
        """Paced to the wall clock when idle (as a board is for host tools), or as fast as it goes."""
        self.link.send({"realtime": bool(on)})

    # --- the emulated pins into the mock machine, the world's answers back ---
    def _handle(self, ev):
        kind = ev["ev"]
        self.t_us = ev["t"]
        mm.clock.us = ev["t"] - self.epoch_us
        if kind == "out":
            self._output(ev["pin"], ev["v"])
        elif kind == "tick":
            self.busy.append((ev["t"], ev["busy"]))
            self.lit.extend(tuple(s) for s in ev.get("spans", ()))
            for pin, regs in ev["pwm"].items():
                self._pwm(int(pin), regs)
            self._world_update()
        elif kind == "pwm":        # the firmware wrote the pilot's slice: the duty from this instant
            for pin, regs in ev["pwm"].items():
                self._pwm(int(pin), regs)
        elif kind == "flash":      # the flash chip starts an erase or program: the core held
            self.flash_ops.append((ev["t"], ev["t"] + ev["us"], ev["op"], ev["bytes"]))
            for hook in self.flash_hooks:
                hook(ev)
        elif kind == "at":         # a stop asked for: the world's time-driven models at that instant
            self._world_update()
        elif kind == "boot":       # a reset: every output back to an input (low), PWM stopped
            self.boots = ev["n"]
            self.boot_reasons.append((ev["t"], ev["reason"]))
            self._dead_pins()
            if self.save_at_boot is not None:       # the chip waits at its boot: nothing ran yet
                self.link.send({"save": self.save_at_boot})
        elif kind == "off":        # the supply cut: the same, and nothing runs until power returns
            self.offs += 1
            self._dead_pins()

    def _world_update(self):
        """The world's time-driven models now, and a stop at the instant the monitor will trip if
        the residual current stays (the ticks' 10 ms grid alone would deliver it up to a tick late:
        `rcd_at_once` gives the interrupt 8 ms)."""
        w = self.world
        w.update()
        due = w.rcd_trip_due
        if due is not None and due != self._due and due + self.epoch_us > self.t_us:
            self._due = due
            self.stop_at(due + self.epoch_us)

    def _dead_pins(self):
        for pin in self._watch:
            self._output(pin, 0)
        self.pwm.pop(self.board.PILOT_PWM_PIN, None)
        pwm = mm.pwms.get(self.board.PILOT_PWM_PIN)
        if pwm is not None:
            pwm.deinit()
            self.world.recompute()

    def _output(self, pin, level):
        self.outputs[pin] = level
        mm._levels[pin] = level
        for hook in mm.output_hooks:
            hook(pin, level)

    def _pwm(self, pin, regs):
        """The slice as the firmware set it, into a mock PWM the world reads (counts of steps)."""
        if self.pwm.get(pin) == regs:
            return
        self.pwm[pin] = regs
        running = regs["csr"] & 1 and regs["func"] == 4      # slice enabled, pin muxed to PWM
        pwm = mm.pwms.get(pin)
        if not running:
            if pwm is not None:
                pwm.deinit()
        else:
            if pwm is None:
                pwm = mm.PWM(pin)
            pwm.top, pwm.div16 = regs["top"], regs["div"] & 0xFFF
            pwm.steps = regs["top"] + 1
            pwm.counts = min(regs["cc"], pwm.steps)
        self.world.recompute()

    def push(self):
        """Sends what the world changed: input levels, ADC codes and their noise, the pilot's plateaus,
        the CT's sine."""
        from tools.sim.mock_machine.world import MAINS_HZ
        w, b, t = self.world, self.board, self.t_us
        msg = {}
        levels = dict((str(p), mm._inputs.get(p, 0)) for p in self._inputs)
        adc = {}
        if b.PP_ADC_PIN is not None:
            adc[str(_adc_channel(b.PP_ADC_PIN))] = w.pp_u16(t)
        if b.TEMP_ADC_PIN is not None:
            adc[str(_adc_channel(b.TEMP_ADC_PIN))] = w.temp_u16(t)
        cts = getattr(b, "CT_ADC_PINS", ())[:1]          # the Pico's one CT: phase 1's current
        ct = dict(ch=_adc_channel(cts[0]), hz=MAINS_HZ, mid=32767.5,
                  peak=round(w.ct_peak_v(0, mm.clock.us) / w._fe[2] * 65535, 1)) if cts else None
        noise = list(w._noise) if (w.noise_v or w.glitch_p) and w._noise is not None else []
        pilot = {"ch": _adc_channel(b.PILOT_ADC_PIN), "pin": b.PILOT_PWM_PIN, "hi": w.hi_u16, "lo": w.lo_u16,
                 "edge_us": _edge_us(), "noise": noise}
        for key, val in (("in", levels), ("adc", adc), ("adc_noise", w.adc_noise_lsb), ("pilot", pilot), ("ct", ct)):
            if self._sent.get(key) != val:
                self._sent[key] = val
                msg[key] = val
        if msg:
            self.link.send(msg)

    # --- figures ---
    def cpu_load(self, since_us=0):
        """Busy fraction of the core over the ticks after `since_us` (WFE sleep not counted)."""
        rows = [c for t, c in self.busy if t > since_us]
        return sum(rows) / (len(rows) * TICK_MS * 1e-3 * CPU_HZ) if rows else 0.0

    def control_ticks(self):
        """(end us, busy cycles) of each control tick, from the tick light's spans."""
        return control_ticks(self.lit)

    def close(self):
        self.link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _edge_us():
    from tools.sim.mock_machine import world
    return world.EDGE_US


def load_board(name="rpi_pico"):
    import importlib.util
    spec = importlib.util.spec_from_file_location("board_" + name, os.path.join(ROOT, "boards", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
