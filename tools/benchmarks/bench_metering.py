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
from evse import modbus
from evse.ct import CtMeter, amps_per_count, ADC_SHIFT
from evse.meter import ModbusSource
from evse.meter_maps import SDM630

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
from evse.energy import Energy
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
    res = run([sys.executable, "-c", CYCLE_SCRIPT, "5000"], fw)
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
