"""A tiny test harness for the MicroPython unix port, which has no unittest.

A test file under host_tests/upy/ defines plain `test_*` functions using `assert`; pytest collects
them on CPython, and under MicroPython the file ends with:

    if __name__ == "__main__":
        upytest.run(globals())
"""
import sys


def run(namespace):
    names = sorted(k for k in namespace if k.startswith("test_") and callable(namespace[k]))
    passed = failed = 0
    for name in names:
        try:
            namespace[name]()
            passed += 1
        except Exception as e:  # report every failure, keep going
            failed += 1
            print("FAIL", name, type(e).__name__, e)
            sys.print_exception(e) if hasattr(sys, "print_exception") else None
    print("%d passed, %d failed" % (passed, failed))
    if failed:
        sys.exit(1)


class NullConsole:
    """The console's stream when no one types on it: reads nothing, takes every write."""

    def read(self, n):
        return None

    def write(self, data):
        return len(data)
