import os
import signal
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib"),
          os.path.join(ROOT, "host_tests", "upy"), os.path.join(ROOT, "build", "microdot")):
    if p not in sys.path:
        sys.path.insert(0, p)

from tools.sim import mock_machine  # noqa: E402

# The firmware under test runs on the mock `machine` and its virtual clock. Importing tools installs
# nothing (host_tests/test_tools_imports.py); this explicit call does, once for every host test.
mock_machine.install()


@pytest.fixture
def mosquitto(tmp_path):
    """mosquitto(tls=None) starts Debian's mosquitto on a free port, its files in tmp_path
    (host_tests/mqtt_broker.py's Broker), and gives it; stopped after the test, whatever happens.
    The test is skipped where mosquitto is not installed."""
    from mqtt_broker import Broker, need_mosquitto
    need_mosquitto()
    started = []

    def start(tls=None):
        started.append(Broker(tmp_path, tls=tls).start())
        return started[-1]
    yield start
    for broker in started:
        broker.stop()


@pytest.fixture(autouse=True)
def fresh_boot_ram():
    """Each test starts as a board does after a reset: no update holds the free slot (a claim is
    RAM, evse/shell/bundle.py's, which the host's one process would carry over)."""
    from evse.shell import bundle
    for who in ("web", "ocpp"):
        bundle.release(who)
    yield


@pytest.fixture(scope="session")
def installed_flash(tmp_path_factory):
    """A virtual board's flash as `make flash` installed it (vboard_helpers.make_installed_flash),
    made once per test process for the tests that only need a flashed charger (installed_board)."""
    from vboard_helpers import make_installed_flash
    return make_installed_flash(tmp_path_factory.mktemp("vboard-installed"))


def pytest_runtest_teardown(item, nextitem):
    # Python ignores SIGPIPE; a library that resets it (vcdvcd does, on import) would let a test
    # writing to a closed socket kill the whole run. Keep it ignored between tests.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


# The files that take minutes (the emulated Pico, virtual boards, the docs' walkthroughs) start first:
# on make test's two workers (files in this order: --no-loadscope-reorder) none of them is then left
# running alone at the end.
# The two halves of the library on the Pico go to one worker each, and the docs' walkthroughs and
# test_rp2emu.py (fixed ports) to the same one, one after the other.
SLOW_FIRST = ("test_bench_rp2.py", "test_bench_rp2_more.py", "test_doc_commands.py", "test_wifi_rescue_upy.py",
              "test_rp2emu.py", "test_vboard.py", "test_vboard_maintenance.py", "test_web_vboard.py", "test_site.py")


def pytest_collection_modifyitems(items):
    rank = dict((name, i) for i, name in enumerate(SLOW_FIRST))
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.fspath)), len(SLOW_FIRST)))
