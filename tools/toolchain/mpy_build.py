"""Compile firmware/ and boards/ with mpy-cross for each board architecture.

    python -m tools.toolchain.mpy_build --check            compile everything for xtensawin and armv6m
    python -m tools.toolchain.mpy_build --arch armv6m --out build/rpi_pico   write .mpy files

The charger's files (sources()) are what flash and the frozen image take; --check also compiles the
bench vehicle's (firmware/bench_vehicle/, a second board's firmware).
"""
import argparse
import os
import subprocess
import sys

from tools.toolchain.whole import own_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCHS = ("xtensawin", "armv6m")
# Files that must stay .py on the board: MicroPython runs boot.py/main.py by name.
KEEP_SOURCE = ("boot.py", "main.py")
OTHER_BOARDS = ("bench_vehicle",)   # firmware/ packages that run on another board than the charger


def sources():
    """(source path, path on the board) for every file that goes to the charger's flash."""
    out = []
    fw = os.path.join(ROOT, "firmware")
    for d, dirs, files in os.walk(fw):
        if d == fw:
            dirs[:] = [x for x in dirs if x not in OTHER_BOARDS]
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                out.append((p, os.path.relpath(p, fw)))
    bd = os.path.join(ROOT, "boards")
    for f in sorted(os.listdir(bd)):
        if f.endswith(".py") and not f.startswith("_"):
            out.append((os.path.join(bd, f), os.path.join("boards", f)))
    return out


def bench_vehicle_sources():
    """(source path, path on the bench vehicle's flash): its package; main.py goes to / there."""
    fw = os.path.join(ROOT, "firmware")
    top = os.path.join(fw, "bench_vehicle")
    return [(os.path.join(top, f), os.path.join("bench_vehicle", f))
            for f in sorted(os.listdir(top)) if f.endswith(".py")]


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def compile_one(src, dst, arch, name):
    """src compiled to dst for arch (None: the unix port on this host, the virtual board). `name` is
    the source name embedded in the .mpy (tracebacks show it): the path on the board, never the
    build machine's, so the bytes do not depend on where the clone is."""
    return cross(["-march=" + (arch or "host"), "-O1", "-s", name], src, dst)


def cross(flags, src, dst):
    """mpy-cross src into dst through a name of this process's own, then renamed: two builds at
    once (two boards flashed from one checkout, two test workers) never read a half-written .mpy."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = own_name(dst)
    r = subprocess.run([mpy_cross()] + flags + ["-o", tmp, src],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode == 0:
        os.replace(tmp, dst)
    elif os.path.exists(tmp):
        os.remove(tmp)
    return r.returncode, r.stdout


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compile for every architecture into build/mpy-check")
    ap.add_argument("--arch", choices=ARCHS)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    archs = ARCHS if a.check or not a.arch else (a.arch,)
    failed = 0
    for arch in archs:
        out = a.out or os.path.join(ROOT, "build", "mpy-check", arch)
        total = 0
        for src, rel in sources() + bench_vehicle_sources():
            if os.path.basename(rel) in KEEP_SOURCE:
                continue
            dst = os.path.join(out, rel[:-3] + ".mpy")
            rc, msg = compile_one(src, dst, arch, rel.replace(os.sep, "/"))
            if rc:
                failed += 1
                print("mpy-cross %s %s: %s" % (arch, rel, msg.strip()))
            else:
                total += os.path.getsize(dst)
        print("mpy-cross -march=%s: %d bytes of .mpy" % (arch, total))
    print("mpy-cross: %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
