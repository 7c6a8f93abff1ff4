"""The virtual bench beside real peers (a central system, a broker, a site's chargers): virtual time
advanced one control tick per step, at most `speed` virtual seconds per real second, with the event
loop's other tasks (the service's socket, the peer) given their turns between ticks. CPython only
(asyncio's loop clock)."""
import asyncio

from tools.sim import mock_machine as mm

TICK_S = 0.01       # one control tick of virtual time per step


async def paced(d, speed=1.0, each=None, turns=1, pause_s=0.005):
    """Run the Drive `d` until cancelled; each() after every tick (a report, a check)."""
    loop = asyncio.get_running_loop()
    t0_real, t0_us = loop.time(), mm.clock.us
    while True:
        if (mm.clock.us - t0_us) / 1e6 > speed * (loop.time() - t0_real):
            await asyncio.sleep(pause_s)      # ahead of the pace: let the sockets catch up
            continue
        d.run(TICK_S)
        if each is not None:
            each()
        for _ in range(turns):
            await asyncio.sleep(0)
