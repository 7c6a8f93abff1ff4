"""Metering figures: CPU cost of one metering cycle on the MicroPython unix port and CPython, and
flash wear of the energy checkpoints measured on littlefs (VfsLfs2 on a counting RAM block device).

One metering cycle = a CT burst (3 phases x 40 samples per 20 ms cycle, read from a fake ADC with
no waiting, so only the CPU part is timed: on a board the burst also spans the 20 ms window) and
its RMS/power computation, plus one Modbus poll that collects and parses a complete SDM630 reply.
"""
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CYCLE_SCRIPT = r"""
import sys, struct, math
from array import array
try:
    from time import ticks_us as _tus, ticks_diff as _td
    def now_us():
        return _tus()
    def elapsed(a, b):
        return _td(b, a)
except ImportError:
    import time
    def now_us():
        return int(time.perf_counter() * 1000000)
    def elapsed(a, b):
        return b - a
from evse.metering import modbus
from evse.metering.ct import CtMeter, amps_per_count, ADC_SHIFT
from evse.metering.meter import ModbusSource
from evse.core.modbus_maps import SDM630

APC = amps_per_count(2000, 22.0, 3.3)
class Clock:
    def __init__(self):
        self.t = 0
    def ticks_us(self):
        self.t += 600          # virtual time jumps ahead: the busy wait never spins
        return self.t & 0x3FFFFFFF
class Adc:
    def __init__(self, amps, ph):
        n = 64
        self.tab = array('H', [int(2048 + amps * 1.4142 * math.sin(2 * math.pi * i / n + ph) / APC) << ADC_SHIFT for i in range(n)])
        self.i = 0
    def read_u16(self):
        self.i = (self.i + 1) & 63
        return self.tab[self.i]
c = Clock()
ct = CtMeter([Adc(16, 0), Adc(20, 2.09), Adc(24, 4.19)], c.ticks_us, [APC] * 3, mains_hz=50, spc=40, interval_ms=0)

def frame(data):
    b = bytearray(data)
    crc = modbus.crc16(b)
    return bytes(b) + bytes((crc & 0xFF, crc >> 8))
vals = b''.join(struct.pack('>f', v) for v in (230.0, 231.0, 229.0, 16.0, 20.0, 24.0))
REPLY = frame(bytes((1, 4, 24)) + vals)
class Uart:
    def __init__(self):
        self.n = 0
    def write(self, b):
        self.n = len(REPLY)
    def any(self):
        return self.n
    def readinto(self, buf, k=None):
        k = self.n if k is None else min(k, self.n)
        off = len(REPLY) - self.n
        for i in range(k):
            buf[i] = REPLY[off + i]
        self.n -= k
        return k
m = modbus.ModbusMaster(Uart())
src = ModbusSource(m, SDM630, 1)

N = int(sys.argv[-1]) if len(sys.argv) > 1 and sys.argv[-1].isdigit() else 200
def timeit(fn, n):
    fn()
    t0 = now_us()
    for _ in range(n):
        fn()
    return elapsed(t0, now_us()) / n
k = [0]
def ct_cycle():
    k[0] += 1000
    ct.poll(k[0])
def mb_parse():
    m.start(1, 4, 0, 12, 0)
    m.poll(1)
fields = SDM630['reads'][0][3]
def mb_decode():
    for name, off, typ, scale, swap in fields:
        modbus.decode(m.data, 2 * off, typ, swap)
t_ct = timeit(ct_cycle, N)
t_mb = timeit(mb_parse, N)
t_dec = timeit(mb_decode, N)
print('ct_cycle_us %.1f' % t_ct)
print('modbus_poll_parse_us %.1f' % (t_mb + t_dec))
print('metering_cycle_us %.1f' % (t_ct + t_mb + t_dec))
"""

RIG_SCRIPT = r"""
import sys, time
try:
    from time import ticks_us as _tus, ticks_diff as _td     # MicroPython: the real clock,
    def now_us():                                             # taken before the mock replaces it
        return _tus()
    def elapsed(a, b):
        return _td(b, a)
except ImportError:
    def now_us():
        return int(time.perf_counter() * 1000000)
    def elapsed(a, b):
        return b - a
from tools.sim import mock_machine as mm
from tools.sim.rig import Rig
SECONDS = int(sys.argv[-1]) if sys.argv[-1].isdigit() else 60
rig = Rig(config={"max_current": 32, "meter": "ct"})
w = rig.world
rig.run(1.0)
w.plugged = True; w.ev_ohms = 2740; w.pp_ohms = 220; w.recompute()
rig.run(0.5)
w.ev_ohms = 882; w.draw_amps = 32.0; w.recompute()
rig.run(2.0)
app = rig.app
poll = app.poll_meter
en = app.meter.energy
src = app.meter.source
worst = {"sample": 0, "compute": 0, "checkpoint": 0, "other": 0}
stats = [0, 0, 0]             # calls, total cpu us, max span us
def timed():
    wr = en.writes
    n = src._n
    was = src.active
    v0 = mm.clock.us
    t0 = now_us()
    poll()
    cpu = elapsed(t0, now_us())
    span = mm.clock.us - (rig.next_tick_us - 10000)     # from the tick's start, on the board's timeline
    kind = "checkpoint" if en.writes != wr else "sample" if src.sampled else \
        "compute" if n and not was else "other"
    if cpu > worst[kind]:
        worst[kind] = cpu
    stats[0] += 1
    stats[1] += cpu
    if span > stats[2]:
        stats[2] = span
app.poll_meter = timed
rig.run(SECONDS)
print("meter_poll_calls %d" % stats[0])
print("meter_poll_mean_cpu_us %.1f" % (stats[1] / stats[0]))
for k in ("sample", "compute", "checkpoint", "other"):
    print("meter_poll_max_cpu_us_%s %d" % (k, worst[k]))
print("meter_poll_max_span_us %d" % stats[2])
print("meter_amps %.2f" % app.meter.current_a)
"""

WEAR_SCRIPT = r"""
import os
class Blocks:
    def __init__(self, n, size):
        self.size = size
        self.n = n
        self.data = bytearray(n * size)
        self.erases = [0] * n
    def readblocks(self, b, buf, off=0):
        a = b * self.size + off
        buf[:] = self.data[a:a + len(buf)]
    def writeblocks(self, b, buf, off=None):
        if off is None:
            self.erases[b] += 1
            off = 0
        a = b * self.size + off
        self.data[a:a + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return self.size
        if op == 6:
            self.erases[arg] += 1
            return 0
BLOCKS = 64
bd = Blocks(BLOCKS, 4096)
os.VfsLfs2.mkfs(bd)
os.mount(os.VfsLfs2(bd), '/flash')
from evse.metering.energy import Energy
e = Energy('/flash')
e.session_start(0)
N = 3000
for i in range(1, N + 1):
    e.add_mwh(50000, i * 9375)      # 19.2 kW: a 0.05 kWh checkpoint every 9.375 s
used = sum(1 for x in bd.erases if x)
print('writes %d' % e.writes)
print('erases %d' % sum(bd.erases))
print('max_block_erases %d' % max(bd.erases))
print('blocks_touched %d' % used)
"""


def micropython():
    return shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def run(cmd, env_path):
    env = dict(os.environ)
    env["MICROPYPATH"] = env_path
    env["PYTHONPATH"] = env_path.replace(":", os.pathsep)
    r = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    if r.returncode != 0:
        print("bench_metering: %s failed: %s" % (cmd[0], r.stdout.strip()[-300:]))
    return out


def main():
    fw = os.path.join(ROOT, "firmware")
    upy = micropython()
    if upy:
        res = run([upy, "-X", "heapsize=256k", "-c", CYCLE_SCRIPT, "3000"], ".frozen:" + fw)
        for k in ("ct_cycle_us", "modbus_poll_parse_us", "metering_cycle_us"):
            if k in res:
                print("%s_upy: %.0f us" % (k, res[k]))
    else:
        print("bench_metering: micropython not found, MicroPython figures skipped")
    rig_keys = ("meter_poll_mean_cpu_us", "meter_poll_max_cpu_us_sample", "meter_poll_max_cpu_us_compute",
                "meter_poll_max_cpu_us_checkpoint", "meter_poll_max_cpu_us_other", "meter_poll_max_span_us",
                "meter_amps")
    if upy:
        res = run([upy, "-X", "heapsize=1m", "-c", RIG_SCRIPT, "60"], ".frozen:" + fw + ":" + ROOT)
        for k in rig_keys:
            if k in res:
                print("%s_upy: %.1f" % (k, res[k]))
    res = run([sys.executable, "-c", RIG_SCRIPT, "60"], fw + ":" + ROOT + ":" + os.path.join(ROOT, "tools", "hostlib"))
    for k in rig_keys:
        if k in res:
            print("%s_cpython: %.1f" % (k, res[k]))
    res = run([sys.executable, "-c", CYCLE_SCRIPT, "5000"], fw + ":" + os.path.join(ROOT, "tools", "hostlib"))
    for k in ("ct_cycle_us", "modbus_poll_parse_us", "metering_cycle_us"):
        if k in res:
            print("%s_cpython: %.1f us" % (k, res[k]))
    if upy:
        t0 = time.time()
        w = run([upy, "-X", "heapsize=2m", "-c", WEAR_SCRIPT], ".frozen:" + fw)
        if w.get("writes"):
            per = w["erases"] / w["writes"]
            year = 365 * 24 * 3600 / 9.375
            print("checkpoint_writes_per_year_19kw: %.0f writes" % year)
            print("littlefs_erases_per_checkpoint: %.2f erases" % per)
            print("littlefs_blocks_sharing_wear: %d of 64 blocks" % w["blocks_touched"])
            print("littlefs_max_block_share: %.3f of erases" % (w["max_block_erases"] / w["erases"]))
            print("checkpoint_wear_bench_s: %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
