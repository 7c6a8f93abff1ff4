# The virtual board's power-on, run by the MicroPython unix port (`micropython -i vboot.py FLASH`):
# the mock machine with a clock that follows real time, the flash directory mounted as "/", the sim
# board's world (nothing plugged in), then boot.py and main.py from flash as a board runs them.
# When main.py stops (Ctrl-C from mpremote) the REPL takes over (-i). machine.reset() ends the
# process; the supervisor (tools/vboard/__main__.py) starts it again, like a board rebooting.
import sys
import time as _rt

from tools import mock_machine as mm

RESET_EXIT = 75
WORLD_PERIOD_MS = 10          # the world's inputs (contactor feedback, RCD) follow the outputs


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

    def sleep_ms(self, ms):
        _rt.sleep_ms(int(ms))

    def sleep_us(self, us):
        _rt.sleep_us(int(us))

    def sleep(self, s):
        _rt.sleep_ms(int(s * 1000))


class _OsModule:
    """`os` with a rename that works on the mounted flash: this port's VfsPosix(root) answers
    ENOENT to rename() with absolute paths (relative ones work; the cwd stays "/")."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def rename(self, a, b):
        return self._real.rename(a.lstrip("/") or "/", b.lstrip("/") or "/")


def _reset():
    # machine.reset(): the whole process must end (a SystemExit inside main.py would only reach
    # the REPL of -i). The port has no os.getpid(); the shell's $PPID is this process.
    import os
    sys.stdout.write("vboard: reset\n")
    os.system("kill -KILL $PPID")
    sys.exit(RESET_EXIT)           # not reached


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


def boot(flash):
    mm.set_clock(RealClock())
    mm.register()
    mm.reset = _reset
    mm.soft_reset = _reset
    from tools.mock_machine.world import World
    import vfs
    import os
    vfs.umount("/")
    vfs.mount(vfs.VfsPosix(flash), "/")
    os.chdir("/")
    sys.modules["os"] = _OsModule(os)
    sys.path[:] = ["", ".frozen", "/lib"]
    world = None
    try:
        import board
        world = World(board)
        world.update()
        mm.Timer(-1, mode=mm.Timer.PERIODIC, period=WORLD_PERIOD_MS, callback=lambda t: world.update())
    except ImportError:
        print("vboard: no board file on flash yet (flash one with tools/flash.py)")
    print("vboard: MicroPython unix port, flash %s" % flash)
    _run("boot.py")
    _run("main.py")
    return world


world = boot(sys.argv[1] if len(sys.argv) > 1 else "build/vboard/flash")
