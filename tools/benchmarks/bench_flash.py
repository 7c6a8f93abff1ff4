"""Flash writes, file by file, in a day of each kind, and the years the flash lasts at that rate.

The unmodified firmware runs on the virtual bench (CPython) with every write to its flash
directory counted (tools/sim/flashcount.py): rewrites (a file opened for writing), appends,
bytes, renames. The day's trace of writes is then replayed on littlefs v2 itself (MicroPython's
VfsLfs2 as the ports mount it: progsize 256 on the rp2 (ports/rp2/modules/_boot.py), the default 32
on the esp32, whose _boot.py mounts the partition as found) over a RAM block device of 4 KiB blocks
that counts erases, with the charger's own files on it first (STATIC_FILES: what `make flash`
copies, 83 files, about 257 KB), then with the filesystem nearly full (FULL_FREE_BLOCKS left).
An offline day's queue (only appended to, never compacted within the day) is emptied at the end of
each replayed day: the central system back, the queue delivered. Years to wear-out: RATED_CYCLES
over the most erased block's erases a day (littlefs moves blocks
that reach block_cycles, 100 under MicroPython, so the wear spreads over the free blocks).

    python -m tools.benchmarks flash
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RATED_CYCLES = 100000      # NOR flash (W25Q16JV, the ESP32 modules' flash): erase cycles per sector
BLOCK = 4096
PICO_BLOCKS = 1408 * 1024 // BLOCK      # rp2 PICO: 1,408 KiB filesystem
ESP32_BLOCKS = 2048 * 1024 // BLOCK     # ESP32_GENERIC 4 MiB: the vfs partition, 2 MiB
STATIC_FILES = (83, 3100)               # files x bytes: the firmware `make flash` puts there
FULL_FREE_BLOCKS = 24                   # "nearly full": what is left for the charger's files
DAYS_PER_YEAR = 365


# --- the scenarios, on the virtual bench --------------------------------------------------------

def board(tmp, **cfg):
    """The virtual board with a CT meter and the console (and its log on flash) attached."""
    from evse.services import console
    from tools.sim import mock_machine as mm
    from tools.sim.drive import Drive
    d = Drive(config=dict({"max_current": 32, "meter": "ct"}, **cfg), flash_dir=tmp)
    console.attach(d.app, console.UartStream(mm.UART(9, 115200)))
    return d


def _count(d, fn):
    from tools.sim.flashcount import FlashCount
    with FlashCount(d.rig.flash_dir) as fc:
        fn(d)
    return fc


def _charge(d, seconds, amps):
    d.plug()
    d.run(1)
    d.ev("C")
    d.world.draw_amps = float(amps)
    d.world.recompute()
    d.run(seconds)
    d.ev("B")
    d.run(5)
    d.unplug()
    d.run(60)


def idle(tmp, hours=2):
    """Nothing plugged in for `hours`: a day is 24/hours of it."""
    return _count(board(tmp), lambda d: d.run(hours * 3600)), 24 / hours


def charge_day(tmp, hours=4, amps=32):
    """One charge of `hours` at `amps` (32 A: 7.4 kW), the rest of the day idle (nothing written)."""
    return _count(board(tmp), lambda d: _charge(d, hours * 3600, amps)), 1


def plugs(tmp, n=20, minutes=15, amps=16):
    """`n` cars a day, each plugged in for a charge of `minutes` at `amps` and unplugged."""
    def day(d):
        for _ in range(n):
            _charge(d, minutes * 60, amps)
    return _count(board(tmp), day), 1


def solar(tmp, first_h=6, last_h=20):
    """The recorded day of host_tests/data/solar_day.csv (tools/solar_day.py), surplus only: the
    contactor cycles with the sun; no sun before first_h or after last_h (nothing written)."""
    from tools import solar_day
    from tools.sim import mock_machine as mm
    rows = solar_day.load(os.path.join(ROOT, "host_tests", "data", "solar_day.csv"))
    d = board(tmp, **dict(solar_day.SETTINGS))
    mm.set_rtc(solar_day.DAY_UTC + first_h * 3600)
    d.world.follow_max = 32.0

    def day(d):
        d.plug()
        d.run(1)
        d.ev("C")
        for s in range(first_h * 3600, last_h * 3600):
            _, pv, house = solar_day._at(rows, s)
            ev_w = d.world.ev_current() * 230.0 if d.coil else 0.0
            d.app.command("grid", house + ev_w - pv, mm.clock.ticks_ms(), "console")
            d.run(1)
    fc = _count(d, day)
    fc.cycles = sum(1 for _, lv in d.coil_edges if lv == 1)
    return fc, 1


def ocpp_offline(tmp, minutes=60, amps=32, interval=60):
    """A central system out of reach, a car charging 4 h a day through an offline-authorized
    transaction, MeterValues every `interval` s (MeterValueSampleInterval, 60 s by default): the
    first `minutes` of charging measured, the day is 240 / minutes of them."""
    from evse.ocpp import auth
    d = board(tmp, ocpp_url="ws://127.0.0.1:9/", ocpp_id="cp1",
               ocpp_config={"AllowOfflineTxForUnknownId": True, "LocalAuthorizeOffline": True,
                            "MeterValueSampleInterval": interval})
    d.run(60)

    def run(d):
        d.plug()
        d.run(1)
        auth.present_id(d.app.ocpp, "TAG1")
        d.run(2)
        d.ev("C")
        d.world.draw_amps = float(amps)
        d.world.recompute()
        d.run(minutes * 60)
    return _count(d, run), 240 / minutes


def queue_cap(tmp, line_bytes, pushes):
    """The OCPP transaction queue offline past its cap: MeterValues of `line_bytes` pushed
    `pushes` times. (largest file, largest file plus its compaction's .tmp, compactions)."""
    from evse.ocpp import txqueue
    from tools.sim.flashcount import FlashCount
    path = os.path.join(tmp, "txq.log")
    q = txqueue.TxQueue(path)
    q.push("StartTransaction", {"connectorId": 1}, 1)
    pad = "x" * max(0, line_bytes - 42)     # the rest of a queued line: 42 bytes
    big = peak = was = 0
    with FlashCount(tmp) as fc:
        for i in range(pushes):
            q.push("MeterValues", {"p": pad}, 1)
            size = os.path.getsize(path)
            big = max(big, size)
            if size < was:          # compacted: the old file and its .tmp copy were there at once
                peak = max(peak, was + size)
            was = size
    return big, max(peak, big), fc.files.get("txq.log.tmp", {}).get("rewrites", 0), len(q)


# --- littlefs: the trace replayed, erases counted (MicroPython unix port) -----------------------

REPLAY = r"""
import os, sys, json
class Blocks:
    def __init__(self, n):
        self.n = n
        self.data = bytearray(n * 4096)
        self.erases = [0] * n
    def readblocks(self, b, buf, off=0):
        a = b * 4096 + off
        buf[:] = self.data[a:a + len(buf)]
    def writeblocks(self, b, buf, off=None):
        if off is None:
            self.erases[b] += 1
            off = 0
        a = b * 4096 + off
        self.data[a:a + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return 4096
        if op == 6:
            self.erases[arg] += 1
            return 0
args = json.loads(open(sys.argv[-1]).read())
bd = Blocks(args["blocks"])
ps = args["progsize"]
os.VfsLfs2.mkfs(bd, progsize=ps)
os.mount(os.VfsLfs2(bd, progsize=ps), "/fs")
def mkdirs(name):
    parts = name.split("/")[:-1]
    p = "/fs"
    for x in parts:
        p += "/" + x
        try:
            os.mkdir(p)
        except OSError:
            pass
n, size = args["static"]
os.mkdir("/fs/fw")
for i in range(n):
    with open("/fs/fw/m%d.mpy" % i, "wb") as f:
        f.write(bytes(size))
free = args["free"]
if free:                      # fill to leave `free` blocks
    st = os.statvfs("/fs")
    with open("/fs/fill", "wb") as f:
        for _ in range(max(0, st[3] - free)):
            f.write(bytes(4096))
st = os.statvfs("/fs")
print("free_blocks", st[3])
ops = args["ops"]
chunk = bytes(4096)
base = list(bd.erases)
days = 0
def day():
    for op in ops:
        kind, name = op[0], op[1]
        p = "/fs/" + name
        if kind in ("w", "a"):
            mkdirs(name)
            k = op[2]
            with open(p, "wb" if kind == "w" else "ab") as f:
                while k > 0:
                    f.write(chunk[:min(k, 4096)])
                    k -= 4096
        elif kind == "p":           # in place (the session ring's slot): at its start
            try:
                f = open(p, "r+b")
            except OSError:
                f = open(p, "wb")
            with f:
                f.write(chunk[:op[2]])
        elif kind == "r":
            try:
                os.rename("/fs/" + op[3], p)
            except OSError:
                try:
                    os.remove(p)
                    os.rename("/fs/" + op[3], p)
                except OSError:
                    pass
        elif kind == "x":
            try:
                os.remove(p)
            except OSError:
                pass
    for name in args["drained"]:      # the day's end: the queue delivered and compacted
        with open("/fs/" + name, "wb"):
            pass
while days < args["max_days"]:
    try:
        day()
    except OSError as e:              # the day's files do not fit
        print("full_on_day", days + 1)
        break
    days += 1
    if sum(bd.erases) - sum(base) >= args["min_erases"] and days >= 2:
        break
wear = [bd.erases[i] - base[i] for i in range(bd.n)]
print("days", days)
print("erases", sum(wear))
print("max_block", max(wear))
print("blocks_worn", sum(1 for x in wear if x))
"""


def micropython():
    return shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def replay(ops, blocks, progsize, free=0, max_days=400, min_erases=None):
    """{free_blocks, days, erases, max_block, blocks_worn} of the trace `ops` (one day) replayed
    day after day on littlefs, or None without the MicroPython unix port."""
    upy = micropython()
    if upy is None or not ops:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"blocks": blocks, "progsize": progsize, "static": STATIC_FILES, "free": free, "ops": ops,
                   "drained": sorted(set(op[1] for op in ops if op[1].startswith("ocpp/txq"))
                                     - set(op[1] for op in ops if op[0] == "w" or op[0] == "r")),
                   "max_days": max_days, "min_erases": min_erases or 30 * blocks}, f)
    try:
        r = subprocess.run([upy, "-X", "heapsize=%dk" % (blocks * 4 + 16384), "-c", REPLAY, f.name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    finally:
        os.remove(f.name)
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    if "full_on_day" in out:
        return out
    if r.returncode != 0 or "erases" not in out or not out.get("days"):
        print("bench_flash: replay failed: %s" % r.stdout.strip()[-400:])
        return None
    return out


def years(res):
    """Years to RATED_CYCLES at the replay's wear: the most erased block's erases a day."""
    if not res or not res["max_block"]:
        return None
    return RATED_CYCLES * res["days"] / (res["max_block"] * DAYS_PER_YEAR)


def per_file(fc, scale):
    """{name: (rewrites, appends, bytes)} a day; a .tmp written then renamed is its file's rewrite."""
    out = {}
    for name, r in fc.files.items():
        base = name[:-4] if name.endswith(".tmp") else name
        w, a, b = out.get(base, (0, 0, 0))
        out[base] = (w + r["rewrites"] * scale, a + r["appends"] * scale, b + r["bytes"] * scale)
    return out


SCENARIOS = (
    ("idle", "idle 24 h, nothing plugged in", idle),
    ("charge_4h", "a day with one 4 h charge at 7.4 kW", charge_day),
    ("solar", "the recorded solar day (6-20 h, surplus only)", solar),
    ("plugs_20", "20 cars a day, 15 min at 3.7 kW each", plugs),
    ("ocpp_offline", "a day with a 4 h charge, the central system out of reach, MeterValues every 60 s",
     ocpp_offline),
    ("ocpp_offline_1s", "the same, MeterValues every second (MeterValueSampleInterval 1)",
     lambda tmp: ocpp_offline(tmp, minutes=60, interval=1)),
)
BOARDS = (("pico", PICO_BLOCKS, 256, 0), ("esp32", ESP32_BLOCKS, 32, 0),
          ("pico_nearly_full", PICO_BLOCKS, 256, FULL_FREE_BLOCKS),
          ("esp32_nearly_full", ESP32_BLOCKS, 32, FULL_FREE_BLOCKS))


def main():
    traces = {}
    for key, what, fn in SCENARIOS:
        tmp = tempfile.mkdtemp(prefix="flash-")
        try:
            fc, scale = fn(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        files = per_file(fc, scale)
        extra = " (%d contactor cycles)" % fc.cycles if hasattr(fc, "cycles") else ""
        print("flash_%s: %s%s: %d writes, %d bytes a day" % (
            key, what, extra, sum(w + a for w, a, _ in files.values()), sum(b for _, _, b in files.values())))
        for name in sorted(files):
            w, a, b = files[name]
            print("  %-22s %6d rewrites %6d appends %9d bytes" % (name, w, a, b))
        traces[key] = [list(op) for op in fc.ops] * int(round(scale))
    tmp = tempfile.mkdtemp(prefix="flash-")
    try:
        big, peak, compactions, kept = queue_cap(tmp, 449, 1000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("flash_ocpp_queue_cap: 1000 MeterValues of 449 bytes offline: %d kept, file at most %d bytes, "
          "%d with its compaction's copy, %d compactions" % (kept, big, peak, compactions))
    for key in ("charge_4h", "solar", "plugs_20", "ocpp_offline", "ocpp_offline_1s"):
        for name, blocks, progsize, free in BOARDS:
            res = replay(traces[key], blocks, progsize, free)
            if res is not None and "full_on_day" in res:
                print("flash_wear_%s_%s: %d free blocks: the filesystem is full on day %d" % (
                    key, name, res["free_blocks"], res["full_on_day"]))
                continue
            if res is None:
                print("flash_wear_%s_%s: no MicroPython unix port or nothing written" % (key, name))
                continue
            y = years(res)
            print("flash_wear_%s_%s: %d free blocks, %.0f erases a day, the most erased block %.2f a day "
                  "(%d blocks share them): %s years to %d cycles" % (
                      key, name, res["free_blocks"], res["erases"] / res["days"], res["max_block"] / res["days"],
                      res["blocks_worn"], ("%.1f" if y < 10 else "%.0f") % y if y else "no", RATED_CYCLES))


if __name__ == "__main__":
    main()
