"""Web service figures: the longest control-tick gap on the virtual board (MicroPython unix port, real
sockets) idle and while tools.webload hammers the API from 127.0.0.1, and the service's heap on the
unix port (host_tests/upy/test_web_heap_upy.py). Needs the unix port and `make microdot`."""
import os
import subprocess
import sys
import tempfile

from tools.webboard import ROOT, WebBoard, tick_gap_under_load

SECONDS = 10
CLIENTS = 8


def heap():
    from tools.toolchain import upy_tests
    for line in upy_tests.precompile():
        print(line)
    env = upy_tests.upy_env(".")
    test = "host_tests/upy/test_web_heap_upy.py"
    r = subprocess.run([upy_tests.micropython(), "-X", "heapsize=" + upy_tests.heap_for(os.path.join(ROOT, test))]
                       + upy_tests.script_args(os.path.join(ROOT, test)),
                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    return [x for x in r.stdout.splitlines() if x.startswith("web heap:")] or [r.stdout.strip()[-300:]]


def main():
    for line in heap():
        print("%s (unix port, 64-bit, microdot as .mpy in RAM; web_port 0 costs nothing)" % line)
    with tempfile.TemporaryDirectory() as tmp:
        board = WebBoard(tmp)
        try:
            idle, loaded, done = tick_gap_under_load(board, SECONDS, CLIENTS)
        finally:
            board.stop()
    print("longest control-tick gap: idle %d ms; under web load %d ms (%d requests in %d s, %.0f/s, "
          "%d failed, %d clients from 127.0.0.1, niced)"
          % (idle, loaded, done["requests"], SECONDS, done["per_s"], done["failed"], CLIENTS))
    print("IEC 61851-1 Table A.6 seq 8.1 allows 100 ms from C->B to the contactor open")
    return 0


if __name__ == "__main__":
    sys.exit(main())
