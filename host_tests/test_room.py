"""The objects the control tick calls every 10 ms keep room in their attribute tables. MicroPython
keeps an instance's attributes in a hash table that grows only when it is full (py/map.c, no load
factor), and every method call on the instance first looks its name up there and misses; a miss
probes until an empty slot, so in a full table it probes every slot. On the emulated Pico the
Hardware and Charger objects at 47 attributes in a table of 47 cost about 0.1 ms of a steady tick;
placeholder attributes (`_room*`) grow their tables."""
from tools.sim.rig import Rig

# py/map.c hash_allocation_sizes (MicroPython v1.28): a table of n names inserted one by one has
# the first of these sizes that is >= n
SIZES = (0, 2, 4, 6, 8, 10, 12, 17, 23, 29, 37, 47, 59, 73, 97, 127, 167, 223)
MAX_LOAD_PCT = 85          # a miss probes a few slots, not the whole table


def table_size(n):
    return min(s for s in SIZES if s >= n)


def test_the_ticks_objects_have_room_in_their_attribute_tables():
    for board in ("sim", "rpi_pico"):
        rig = Rig(board=board, config={"max_current": 32})
        rig.run(0.5)
        for obj in (rig.app.hw, rig.app.charger):
            n = len(obj.__dict__)
            assert 100 * n <= MAX_LOAD_PCT * table_size(n), (board, type(obj).__name__, n, table_size(n))
