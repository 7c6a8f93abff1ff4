"""Heap figures on the MicroPython unix port that do not move with the harness's own names."""
import gc

_NAME_BYTES = 13        # a pool's bytes per name on the 64-bit port (pointer, hash, length)


class _Names:
    pass


def room_for_names(names=1000, most=5000):
    """Interns throwaway names until the port has allocated a pool of interned names with room for
    at least `names` more; call it just before a heap base line. The firmware's names then fill
    that pool instead of landing on a pool's boundary (14 KB at once on the 64-bit port) wherever
    the harness's own names, read before the base line, happen to put it: one name more in a test
    tool would read as 14 KB more of firmware. What the figure then leaves out is the pool's table
    of the firmware's names (about 13 bytes a name here; make bench prints how many); their text is
    counted. Returns the names interned (0 under CPython)."""
    mem = getattr(gc, "mem_alloc", None)
    if mem is None:
        return 0
    o = _Names()
    gc.collect()
    last = mem()
    for i in range(most):
        getattr(o, "_room_%d" % i, None)       # getattr interns the name it is given
        gc.collect()
        now = mem()
        if now - last > names * _NAME_BYTES:
            return i + 1
        last = now
    return most
