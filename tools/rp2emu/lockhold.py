"""The plug lock's drive on the emulated Pico while the control loop is held by one long call in C.

The stock image gets the lock's driver (evse/shell/socket_lock.py) and what it imports, compiled
as `make flash` compiles them; the Pico's board file with a lock wired (LOCK_PINS GP20/GP21, its
switch on GP22). A script starts a drive towards locked as a tick does, then holds the interpreter
in a long big-number `pow()` (a stand-in for mbedtls's key exchange, which no Python code
interrupts); a marker pin (GP6) shows the host the hold. What the motor's pin does meanwhile is
what the H-bridge sees. Used by host_tests/test_socket_lock_pico.py."""
from tools.rp2emu import Pico, load_board
from tools.rp2emu.hold import _mpremote, install
from tools.sim import mock_machine as mm

MARK = 6
LOCK_PINS = (20, 21)
MODULES = ("board.mpy", "evse/core/limits.mpy", "evse/shell/socket_lock.mpy", "evse/core/pilot.mpy",
           "evse/shell/hal.mpy", "evse/shell/pilot_phase.mpy", "evse/shell/pilot_dma.mpy",
           "evse/shell/guard.mpy")
SCRIPT = """
import machine, time, board
from evse.shell import hal
from evse.shell.socket_lock import LockDriver

class B:
    pass

for k in dir(board):
    if k.isupper():
        setattr(B, k, getattr(board, k))
B.LOCK_PINS, B.LOCK_FB_PIN, B.LOCK_FB_ACTIVE = (%d, %d), 22, 1
hw = hal.Hardware(B)
drv = LockDriver(B, hw)
mark = machine.Pin(%d, machine.Pin.OUT, value=0)
big = (1 << 1024) - 105
time.sleep_ms(50)
drv.apply(True, 0, time.ticks_ms())   # a tick starts the drive towards locked
mark.value(1)
x = pow(3, (1 << 400) - 3, big)       # one long call in C: no tick
mark.value(0)
drv.apply(True, 0, time.ticks_ms())   # the late tick
time.sleep_ms(50)
hw.safe()
print("HARD", int(getattr(drv, "_timer", None) is not None))
""" % (LOCK_PINS + (MARK,))


def run():
    """-> {"hard": the driver's timer is hard, "edges": [(pin, level, emulated us)] of the lock's
    pins and the marker}."""
    board = load_board("rpi_pico")
    with Pico(board) as pico:
        pico.pump(emu_s=1.0, wall_s=120)
        install(pico, MODULES)
        pico.watch([MARK] + list(LOCK_PINS))
        edges = []
        mm.output_hooks.append(lambda pin, level: edges.append((pin, level, pico.t_us))
                               if pin == MARK or pin in LOCK_PINS else None)
        proc = _mpremote(pico, ["exec", SCRIPT])
        pico.pump(until=lambda: proc.poll() is not None, wall_s=900)
        out = proc.stdout.read().decode()
        if proc.returncode:
            raise RuntimeError("the script failed: %s" % out)
    hard = [x.split()[1] for x in out.splitlines() if x.startswith("HARD")]
    return {"hard": hard == ["1"], "edges": edges, "out": out}
