import os
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib"),
          os.path.join(ROOT, "host_tests", "upy"), os.path.join(ROOT, "build", "microdot")):
    if p not in sys.path:
        sys.path.insert(0, p)

from tools.sim import mock_machine  # noqa: E402

# The firmware under test runs on the mock `machine` and its virtual clock. Importing tools installs
# nothing (host_tests/test_tools_imports.py); this explicit call does, once for every host test.
mock_machine.install()


def pytest_runtest_teardown(item, nextitem):
    # Python ignores SIGPIPE; a library that resets it (vcdvcd does, on import) would let a test
    # writing to a closed socket kill the whole run. Keep it ignored between tests.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
