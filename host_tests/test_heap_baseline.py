"""The unix port's heap figure for the firmware after boot (make bench, test_boot_heap_upy) does not
move with the harness's own names: the port interns names in pools (the next 14 KB at once), and
before tools/sim/heap.room_for_names the boundary fell wherever the harness's names put it (11
names of the world's ADC noise moved make bench's figure 98,944 -> 113,024 B)."""
import subprocess

from tools.toolchain import upy_tests as U

SCRIPT = r"""
import gc
from evse.core import vocab
from tools.sim import mock_machine as mm
mm.install()
from tools.sim.drive import Drive
from tools.sim.heap import room_for_names


class Harness:
    pass


h = Harness()
for i in range(%d):                  # names the harness interned before the base line
    getattr(h, "harness_name_%%d" %% i, None)
room_for_names()
gc.collect()
base = gc.mem_alloc()
d = Drive(config={"max_current": 32})
d.run(0.5)
gc.collect()
print("firmware", gc.mem_alloc() - base)
"""


def _firmware_bytes(extra_names):
    assert U.precompile() == []
    r = subprocess.run([U.micropython(), "-X", "heapsize=320k", "-c", SCRIPT % extra_names], env=U.upy_env("."),
                       cwd=U.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    return int(r.stdout.split("firmware")[1])


# The names' text is kept in chunks that grow in place when nothing was allocated after them, else
# a new one is started: where the harness left the last chunk moves the figure by up to about 1 KB
# (87,360 B with no harness name, 88,128-88,256 B with 10-400, measured at stop 35). A pool's
# 14 KB is what this guards against.
TEXT_CHUNKS_BYTES = 1024


def test_the_heap_after_boot_does_not_move_with_the_harnesss_names():
    figures = [_firmware_bytes(n) for n in (0, 30, 400)]
    assert max(figures) - min(figures) <= TEXT_CHUNKS_BYTES, figures
