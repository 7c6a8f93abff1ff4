# The virtual board's power-on, run by the MicroPython unix port (`micropython -i vboot.py FLASH`):
# the mock machine with a clock that follows real time, the flash directory mounted as "/", the sim
# board's world (nothing plugged in), then boot.py and main.py from flash as a board runs them.
# When main.py stops (Ctrl-C from mpremote) the REPL takes over (-i). machine.reset() ends the
# process; the supervisor (tools/vboard/__main__.py) starts it again, like a board rebooting.
# The hardware around the VM: the watchdog is the supervisor's (it runs on across Ctrl-C and soft
# resets, and resets the board when not fed: the control pipe below), and machine.Timer callbacks run
# as a board's soft IRQs do (SoftIrqs); Ctrl-C is taken as a board takes it (Keyboard).
# The car: `evse car` (tools/vboard/car.py) through the supervisor's car pipe (Car below).
import _thread
import micropython
import os
import sys
import time as _rt

from tools.sim import mock_machine as mm

RESET_EXIT = 75
WORLD_PERIOD_MS = 10          # the world's inputs (contactor feedback, RCD) follow the outputs
SOFT_IRQ_MS = 5               # how often due machine.Timer callbacks are looked for


class RealClock(mm.Clock):
    """Virtual time that follows the real clock; an ADC conversion still advances it (offset)."""

    def __init__(self):
        self._last = _rt.ticks_us()
        # Start at the port's own ticks_ms: asyncio's C task queue stamps tasks with the real
        # ticks; virtual time only runs ahead of it (ADC offsets), so those tasks are never late.
        self._real = _rt.ticks_ms() * 1000
        self._offset = 0
        mm.Clock.__init__(self, self._real)

    def _now(self):
        t = _rt.ticks_us()
        self._real += _rt.ticks_diff(t, self._last)   # unbounded: the port's ticks wrap at 2**30
        self._last = t
        return self._real

    @property
    def us(self):
        return self._now() + self._offset

    @us.setter
    def us(self, v):
        self._offset = v - self._now()

    # The firmware's time calls are where a Ctrl-C is raised (Keyboard)
    def ticks_ms(self):
        if kbd.pending:
            kbd.raise_here()
        return mm.Clock.ticks_ms(self)

    def ticks_us(self):
        if kbd.pending:
            kbd.raise_here()
        return mm.Clock.ticks_us(self)

    def sleep_ms(self, ms):
        if kbd.pending:
            kbd.raise_here()
        _rt.sleep_ms(int(ms))

    def sleep_us(self, us):
        if kbd.pending:
            kbd.raise_here()
        _rt.sleep_us(int(us))

    def sleep(self, s):
        self.sleep_ms(s * 1000)


class _OsModule:
    """`os` with a rename that works on the mounted flash: this port's VfsPosix(root) answers
    ENOENT to rename() with absolute paths (relative ones work; the cwd stays "/")."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def rename(self, a, b):
        return self._real.rename(a.lstrip("/") or "/", b.lstrip("/") or "/")


class Supervisor:
    """The control pipe to tools/vboard/__main__.py (fd VBOARD_CTL_FD): b"W<ms>\n" a watchdog started,
    b"f" fed, b"R" machine.reset(), b"S" machine.soft_reset(). Opened before "/" becomes the flash."""

    def __init__(self):
        fd = os.getenv("VBOARD_CTL_FD")
        self.f = open("/dev/fd/" + fd, "wb") if fd else None

    def send(self, msg):
        if self.f is not None:
            self.f.write(msg)


ctl = Supervisor()


class Car:
    """The car on the cable, steered by the supervisor (`evse car`, tools/vboard/car.py): a pipe at
    fd VBOARD_CAR_FD carries lines of the car's whole state, `plugged=0|1 ev=OHMS|- pp=OHMS|-
    follow=AMPS|-` (it draws what the pilot advertises, at most AMPS). The latest line is applied
    to the world (a line is under PIPE_BUF, so it is read whole). The supervisor sends it again
    after every boot: the car stays plugged across a reset."""

    def __init__(self):
        fd = os.getenv("VBOARD_CAR_FD")
        self.f = open("/dev/fd/" + fd, "rb") if fd else None
        self.poll = None
        if self.f is not None:
            import select
            self.poll = select.poll()
            self.poll.register(self.f, select.POLLIN)

    def update(self, world):
        line = None
        while self.poll is not None and self.poll.poll(0):
            line = self.f.readline()
        if line:
            self.apply(world, line.decode())

    @staticmethod
    def apply(world, line):
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)

        def num(key):
            v = kv.get(key, "-")
            return None if v == "-" else float(v)
        world.plugged = kv.get("plugged") == "1"
        world.ev_ohms = num("ev") if world.plugged else None
        world.pp_ohms = num("pp") if world.plugged else None
        world.follow_max = num("follow")
        world.recompute()
        world.update()


car = Car()


class WDT(mm.WDT):
    """The mock's watchdog, and the supervisor's real-time one behind it."""

    def __init__(self, id=0, timeout=5000):
        super().__init__(id, timeout)
        ctl.send(("W%d\n" % timeout).encode())

    def feed(self):
        super().feed()
        ctl.send(b"f")


class SoftIrqs:
    """machine.Timer callbacks as a board runs them, as soft IRQs: between two bytecodes (scheduled
    from a thread) or while the REPL waits for input (its idle loop: run by the thread while this
    VM's main thread sleeps in read()); never while the VM is stuck in C. Firmware ADC reads and
    sleeps still run them too (virtual time); one runner at a time."""

    def __init__(self):
        self.at_repl = False          # main.py has returned: the REPL owns the main thread
        self.busy = False             # timer callbacks run (a Ctrl-C waits until they return)
        self.lock = _thread.allocate_lock()
        self.pending = False
        self._run = mm._run_timers
        mm._run_timers = self.run_due
        with open("/proc/self/stat") as f:
            pid = f.read().split()[0]
        self.stat = open("/proc/self/task/%s/stat" % pid, "rb")     # the main thread's state

    def start(self):
        _thread.start_new_thread(self._loop, ())

    def run_due(self, target_us):
        if self.lock.acquire(0):
            self.busy = True
            try:
                self._run(target_us)
            finally:
                self.busy = False
                self.lock.release()

    def _scheduled(self, _):
        self.pending = False
        self.run_due(mm.clock.us)

    def _main_sleeps(self):
        self.stat.seek(0)
        s = self.stat.read()
        return s[s.rfind(b")") + 2:s.rfind(b")") + 3] == b"S"

    def _loop(self):
        while True:
            kbd.serve(SOFT_IRQ_MS)
            if self.at_repl and self._main_sleeps():
                self.run_due(mm.clock.us)
            elif not self.pending:
                self.pending = True
                try:
                    micropython.schedule(self._scheduled, None)
                except RuntimeError:      # queue full: the VM is not taking soft IRQs
                    self.pending = False


class Keyboard:
    """Ctrl-C as a board takes it. There the USB/UART driver sees a 0x03 while Ctrl-C is on, drops
    it and raises KeyboardInterrupt at the VM's next jump; while it is off (the REPL waiting for a
    line, micropython.kbd_intr(-1)) the 0x03 is a character. This port raises it from its SIGINT
    handler wherever the VM is in C: one that landed while it held the qstr lock (an import under way)
    deadlocked the next import. So the supervisor never lets the terminal signal: each 0x03 is a b"K"
    on the pipe at fd VBOARD_KBD_FD, answered on the control pipe: b"k-" a character (Ctrl-C is off:
    the port's SIGINT handler is not installed), b"kw" pending (raised by the main thread at its next
    time call, outside timer callbacks), then b"k!" once raised: only then do the bytes behind the 0x03
    go to the board, as a board's REPL reads them from the UART's buffer after the interrupt (sent
    at "kw", the interrupted program, polling stdin like the console, ate mpremote's Ctrl-A: CI, stop
    47); b"ks" a line the REPL runs (the supervisor signals it while it sleeps). kbd_intr(-1) forgets
    a pending one, as the firmware's wind-down takes it (app._keys_off): b"k!" too, as does reaching
    the REPL with one pending. Opened before "/" becomes the flash."""

    def __init__(self):
        fd = os.getenv("VBOARD_KBD_FD")
        self.f = open("/dev/fd/" + fd, "rb") if fd else None
        self.pending = False
        self.lock = _thread.allocate_lock()   # pending and at_repl change together (take, repl)
        self.main = _thread.get_ident()
        self.status = open("/proc/self/status", "rb")
        self.poll = None
        if self.f is not None:
            import select
            self.poll = select.poll()
            self.poll.register(self.f, select.POLLIN)

    def serve(self, ms):
        """The soft-IRQ thread waits here for its period, answering each Ctrl-C at once."""
        if self.poll is None or not self.poll.poll(ms):
            if self.poll is None:
                _rt.sleep_ms(ms)
            return
        while self.poll.poll(0):
            self.f.read(1)
            self.lock.acquire()
            try:
                if not self._on():
                    ctl.send(b"k-\n")
                elif irqs.at_repl:
                    ctl.send(b"ks\n")
                else:
                    self.pending = True
                    ctl.send(b"kw\n")
            finally:
                self.lock.release()

    def take(self):
        """The pending Ctrl-C is taken (raised, forgotten, or met by the REPL): the bytes behind it
        may go to the board now."""
        self.lock.acquire()
        try:
            if self.pending:
                self.pending = False
                ctl.send(b"k!\n")
        finally:
            self.lock.release()

    def repl(self):
        """main.py is over: the REPL owns the main thread (a Ctrl-C pending is met by it)."""
        self.lock.acquire()
        irqs.at_repl = True
        self.lock.release()
        self.take()

    def _on(self):
        """Ctrl-C is on when the port's SIGINT handler is installed (kbd_intr(3), a REPL line)."""
        self.status.seek(0)
        for line in self.status.read().split(b"\n"):
            if line.startswith(b"SigCgt:"):
                return bool(int(line.split()[1], 16) & 2)     # bit 1: SIGINT
        return False

    def raise_here(self):
        if _thread.get_ident() == self.main and not irqs.busy:
            self.take()
            raise KeyboardInterrupt


kbd = Keyboard()
irqs = None                  # boot()'s SoftIrqs


class _Micropython:
    """`micropython` whose kbd_intr(-1) also forgets a Ctrl-C not yet raised (Keyboard)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def kbd_intr(self, ch):
        if ch != 3:
            kbd.take()
        self._real.kbd_intr(ch)


def _end_process():
    # The whole process must end (a SystemExit inside main.py would only reach the REPL of -i).
    # The port has no os.getpid(); the shell's $PPID is this process.
    os.system("kill -KILL $PPID")
    sys.exit(RESET_EXIT)           # not reached


def _reset():
    sys.stdout.write("vboard: reset\n")
    ctl.send(b"R")                 # a hard reset: the watchdog stops
    _end_process()


def _soft_reset():
    sys.stdout.write("vboard: soft reset\n")
    ctl.send(b"S")                 # the watchdog keeps running
    _end_process()


def _run(name):
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return
    try:
        exec(compile(src, name, "exec"), {"__name__": "__main__"})
    except SystemExit:
        raise
    except BaseException as e:      # KeyboardInterrupt included: a board prints it, then the REPL
        sys.print_exception(e)


def boot(flash, cause):
    global irqs
    mm.set_clock(RealClock())
    mm.install()
    mm.reset = _reset
    mm.soft_reset = _soft_reset
    mm.WDT = WDT
    mm.set_reset_cause(cause)
    irqs = SoftIrqs()
    irqs.start()
    from tools.sim.mock_machine.world import World
    import vfs
    import os
    vfs.umount("/")
    vfs.mount(vfs.VfsPosix(flash), "/")
    os.chdir("/")
    sys.modules["os"] = _OsModule(os)
    sys.modules["micropython"] = _Micropython(micropython)
    sys.path[:] = ["", ".frozen", "/lib"]
    world = None
    try:
        import board
        world = World(board)
        car.update(world)
        world.update()

        def follow(t):
            car.update(world)
            world.update()
        mm.Timer(-1, mode=mm.Timer.PERIODIC, period=WORLD_PERIOD_MS, callback=follow)
    except ImportError:
        print("vboard: no board file on flash yet (flash one with tools/flash.py)")
    print("vboard: MicroPython unix port, flash %s" % flash)
    try:
        _run("boot.py")
        _run("main.py")
    finally:
        kbd.repl()
    return world


if __name__ == "__main__":        # `micropython -i vboot.py FLASH`; importing it boots nothing
    world = boot(sys.argv[1] if len(sys.argv) > 1 else "build/vboard/flash",
                 int(sys.argv[2]) if len(sys.argv) > 2 else mm.PWRON_RESET)
