import os
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib"),
          os.path.join(ROOT, "host_tests", "upy"), os.path.join(ROOT, "build", "microdot")):
    if p not in sys.path:
        sys.path.insert(0, p)


def pytest_runtest_teardown(item, nextitem):
    # Python ignores SIGPIPE; a library that resets it (vcdvcd does, on import) would let a test
    # writing to a closed socket kill the whole run. Keep it ignored between tests.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
