"""The stall guard on the emulated Pico: the control loop held by one long call in C.

The stock image gets the firmware's shell (`hal`, the guard, the phased pilot read, the core's
pilot and limits, the board file, compiled as `make flash` compiles them). A script offers 32 A to
a car in C, closes the contactor, measures once as the control loop does, then holds the
interpreter in a long big-number `pow()` (a stand-in for mbedtls's key exchange, which no Python
code interrupts either) three times: through the first the car keeps asking; 200 ms into the
second it goes to B; charging again, 200 ms into the third the residual-current monitor trips
(6 mA DC), whose input's hard interrupt opens the coil. A marker pin (GP6) shows the host when each
hold begins and ends. Before, a soft timer is counted through such a call (it waits behind it).
After, the same call is timed with the contactor open (the guard stopped), closed with the car in
C (reading every 5 ms) and closed with the loop alive (the interrupt only looks): what the guard
costs it. Used by host_tests/test_stall_guard_pico.py and `make bench`."""
import subprocess
import sys

from tools import flash
from tools.rp2emu import Pico, load_board
from tools.sim import mock_machine as mm

MARK = 6
CHANGE_S = 0.2
MODULES = ("board.mpy", "evse/core/limits.mpy", "evse/core/pilot.mpy", "evse/shell/hal.mpy",
           "evse/shell/pilot_phase.mpy", "evse/shell/pilot_dma.mpy", "evse/shell/guard.mpy")
SCRIPT = """
import machine, time, board
from evse.core import limits as L
from evse.shell import hal

class M:
    pass

hw = hal.Hardware(board)
mark = machine.Pin(%d, machine.Pin.OUT, value=0)
hw.set_pilot(L.PILOT_PWM, 320)
time.sleep_ms(50)
hw.set_contactor(True, 1, False, time.ticks_ms())
m = M()
big = (1 << 1024) - 105
soft = [0]

def counted(t):
    soft[0] += 1

t = machine.Timer(-1, mode=machine.Timer.PERIODIC, period=10, callback=counted)
t0 = time.ticks_us()
x = pow(3, (1 << 300) - 3, big)       # a soft timer through the same kind of call
n, d = soft[0], time.ticks_diff(time.ticks_us(), t0)
print("SOFT", n, d)
t.deinit()
for hold in (1, 2):
    time.sleep_ms(100)
    hw.measure(m)                     # the control loop's last measurement before the hold
    r0 = hw.guard.reads
    mark.value(1)
    x = pow(3, (1 << 400) - 3, big)   # one long call in C
    mark.value(0)
    print("HOLD", hold, hw.guard.reads - r0, hw.guard_trips, int(hw.coil_on))

hw.measure(m)                         # the loop sees the guard's opening ...
hw.set_contactor(True, 1, False, time.ticks_ms())     # ... and the car back in C is charged again
time.sleep_ms(100)
hw.measure(m)
mark.value(1)
x = pow(3, (1 << 400) - 3, big)       # the third hold: a residual-current trip inside it
mark.value(0)
print("RCD", int(hw.rcd_dc_tripped), int(hw.coil_on))
while hw._rcd_dc.value() == board.RCD_TRIP_ACTIVE:
    time.sleep_ms(10)                 # the monitor released
hw.measure(m)
hw.rcd_ack()

def held_us():                        # the same call's length: what the guard costs it
    hw.measure(m)
    t0 = time.ticks_us()
    x = pow(3, (1 << 300) - 3, big)
    return time.ticks_diff(time.ticks_us(), t0)

hw.set_contactor(False, 1, False, time.ticks_ms())    # the loop opens: the interrupt stops
stopped = int(not hw.guard.armed)
none = held_us()                      # the contactor open: no guard running
hw.set_contactor(True, 1, False, time.ticks_ms())
r0 = hw.guard.reads
reading = held_us()                   # closed, the car back in C: a reading every 5 ms
r1 = hw.guard.reads
hw.alive_ms = time.ticks_add(time.ticks_ms(), 100000)  # as if the loop ticked all along
t0 = time.ticks_us()
x = pow(3, (1 << 300) - 3, big)
looking = time.ticks_diff(time.ticks_us(), t0)          # charging: the interrupt only looks
hw.safe()
print("COST", looking, reading, none, r1 - r0, hw.guard.reads - r1, stopped, int(hw.guard.armed))
""" % MARK


def _mpremote(pico, args):
    return subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def install(pico, modules=MODULES):
    """These modules (the shell's, unless told) onto the stock image, compiled as `make flash`
    compiles them."""
    have = dict((dst, src) for src, dst in flash.build("rpi_pico"))
    args = ["fs", "mkdir", ":evse", "+", "fs", "mkdir", ":evse/core", "+", "fs", "mkdir", ":evse/shell"]
    for rel in modules:
        args += ["+", "fs", "cp", have[rel], ":" + rel]
    proc = _mpremote(pico, args)
    if not pico.pump(until=lambda: proc.poll() is not None, wall_s=600) or proc.returncode:
        raise RuntimeError("mpremote: %s" % proc.stdout.read().decode())


def _set_ev(pico, ohms):
    w = pico.world
    w.ev_ohms = ohms
    w.recompute()
    pico.push()


def _set_rcd(pico, ma):
    w = pico.world
    w.rcd_ma, w.rcd_kind = ma, "dc"
    w.update()
    pico.push()


def run():
    """The three holds and the cost; a dict of what was measured (times in emulated us)."""
    board = load_board("rpi_pico")
    coil = board.CONTACTOR_PINS[0]
    with Pico(board) as pico:
        w = pico.world
        w.plugged, w.pp_ohms = True, 150
        _set_ev(pico, 882)                                # a car in C
        pico.pump(emu_s=1.0, wall_s=120)                  # the stock image at its REPL
        install(pico)
        pico.watch([MARK])
        edges = []                        # (pin, level, emulated us) of the coil and the marker
        mm.output_hooks.append(lambda pin, level: edges.append((pin, level, pico.t_us)))
        proc = _mpremote(pico, ["exec", SCRIPT])

        def marks(n):
            return sum(1 for pin, lv, _ in edges if pin == MARK and lv == 1) >= n
        if not pico.pump(until=lambda: marks(2), wall_s=600):
            raise RuntimeError("no second hold: %s" % proc.stdout.read().decode())
        r = {"coil_after_first": pico.outputs.get(coil)}
        pico.pump(emu_s=CHANGE_S, wall_s=300)
        _set_ev(pico, 2740)                               # B: the car stops asking
        r["changed"] = pico.t_us
        pico.pump(until=lambda: pico.outputs.get(coil) == 0, wall_s=300)
        r["opened"] = pico.t_us
        _set_ev(pico, 882)                                # back in C
        if not pico.pump(until=lambda: marks(3), wall_s=600):
            raise RuntimeError("no third hold: %s" % proc.stdout.read().decode())
        pico.pump(emu_s=CHANGE_S, wall_s=300)
        _set_rcd(pico, 6.0)                               # 6 mA DC: the monitor trips at once
        r["rcd_changed"] = pico.t_us
        pico.pump(until=lambda: pico.outputs.get(coil) == 0, wall_s=300)
        r["rcd_opened"] = pico.t_us
        _set_rcd(pico, 0.0)
        pico.pump(until=lambda: proc.poll() is not None, wall_s=600)
        out = proc.stdout.read().decode()
        if proc.returncode:
            raise RuntimeError("the script failed: %s" % out)
        ends = [t for pin, lv, t in edges if pin == MARK and lv == 0]
        r["ended"], r["rcd_ended"] = ends[-2], ends[-1]     # the second hold's end, the third's
    rows = [x.split()[1:] for x in out.splitlines() if x.startswith("HOLD")]
    r["holds"] = [dict(zip(("hold", "reads", "trips", "coil"), map(int, x))) for x in rows]
    rcd = [x.split()[1:] for x in out.splitlines() if x.startswith("RCD")][0]
    r["rcd_tripped"], r["rcd_coil"] = int(rcd[0]), int(rcd[1])
    soft = [x.split()[1:] for x in out.splitlines() if x.startswith("SOFT")][0]
    r["soft_calls"], r["soft_call_us"] = int(soft[0]), int(soft[1])
    cost = [x.split()[1:] for x in out.splitlines() if x.startswith("COST")][0]
    r.update(zip(("looking_us", "reading_us", "none_us", "cost_reads", "looking_reads", "stopped",
                  "armed_after_safe"), map(int, cost)))
    return r


def describe(r):
    """The figures as `make bench` prints them."""
    first, second = r["holds"]
    none = r["none_us"]
    return ("opened %.1f ms after C->B, %s the call in C; a car still in C read %d times, opened %d "
            "times; a 6 mA DC residual current opened it %.2f ms after the monitor's trip, %s the "
            "call; a soft 10 ms timer ran %d times in a %.2f s call; charging +%.2f %% of the CPU "
            "(none with the contactor open), %.2f ms per reading while held (the call +%.1f %%)" % (
                (r["opened"] - r["changed"]) / 1e3, "inside" if r["opened"] < r["ended"] else "after",
                first["reads"], first["trips"], (r["rcd_opened"] - r["rcd_changed"]) / 1e3,
                "inside" if r["rcd_opened"] < r["rcd_ended"] else "after",
                r["soft_calls"], r["soft_call_us"] / 1e6,
                (r["looking_us"] - none) * 100 / none,
                (r["reading_us"] - none) / r["cost_reads"] / 1e3, (r["reading_us"] - none) * 100 / none))
