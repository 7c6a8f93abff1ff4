"""A small linear congruential generator: the same random sequence on both interpreters, for the
quiet tick's twins (host_tests/upy/test_quiet_tick_upy.py on the MicroPython unix port, which finds
this folder on its path) and host_tests/test_safety_audit14.py under pytest (conftest.py puts it on
the path)."""


class Rand:
    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def pick(self, seq):
        return seq[self.below(len(seq))]
