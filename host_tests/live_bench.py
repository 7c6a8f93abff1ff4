"""The unmodified firmware on the virtual bench (tools.sim.drive) beside a real peer on 127.0.0.1
(a central system, a broker): a driver task advances virtual time one control tick per step, at
most SPEED times faster than real time, and gives the loop's other tasks (the service's socket,
the peer) their turns between ticks; the peer runs on real time. test_ocpp_bench.py's and
test_mqtt_bench.py's Bench are made of it."""
import asyncio

from tools.sim import mock_machine as mm
from tools.sim.pace import paced

SPEED = 20          # virtual seconds per real second at most (keeps a peer's answers "prompt" in virtual time)


def run(coro, seconds=120):
    """A test's scenario on a fresh event loop, failed after `seconds` of real time."""
    asyncio.run(asyncio.wait_for(coro, seconds))


async def cancel(tasks):
    """Cancel the tasks and wait until each has ended, whatever it raised."""
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except BaseException:
            pass


class LiveBench:
    """A subclass makes the Drive (self.d), sets self.app and self.svc (the service under test, its
    run() task started beside the driver) and says in seen() what a wait that timed out shows."""
    turns_per_tick = 1      # the loop's other tasks' turns per tick, at least

    def __init__(self):
        self.tasks = []
        self.failed = None

    async def start(self):
        self.tasks = [asyncio.create_task(self.svc.run()), asyncio.create_task(self._drive())]
        return self

    async def _drive(self):
        try:
            await paced(self.d, SPEED, turns=self.turns_per_tick, pause_s=0.002)
        except Exception as e:   # surfaced by until()
            self.failed = e

    def seen(self):
        return ""

    async def until(self, pred, virtual_s=10.0, what=""):
        """Wait (the driver running) until pred() is true; fail after virtual_s of virtual time."""
        end = mm.clock.us + int(virtual_s * 1e6)
        loop = asyncio.get_running_loop()
        real_end = loop.time() + 60 + 3 * virtual_s    # a guard against a hang only: a loaded
        # machine (two test workers and more) may run virtual time slower than real time
        while True:
            if self.failed:
                raise self.failed
            r = pred()
            if r:
                return r
            if mm.clock.us > end or loop.time() > real_end:
                raise AssertionError("timed out waiting for %s: state %s, %s" % (
                    what or pred, self.app.charger.state, self.seen()))
            await asyncio.sleep(0.002)

    async def wait(self, virtual_s):
        end = mm.clock.us + int(virtual_s * 1e6)
        await self.until(lambda: mm.clock.us >= end, virtual_s + 1, "time")

    async def stop(self):
        self.svc.stop()
        await cancel(self.tasks)
