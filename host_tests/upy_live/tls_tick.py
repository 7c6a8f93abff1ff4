# The control loop while OCPP connects over wss://, on the MicroPython unix port (run by
# host_tests/test_tls_tick.py with: the central system's URL, the CA file on the flash or "-", the
# flash dir, the seconds to watch, the connect timeout to set in seconds). The firmware's App runs its own tick loop (App.run) on a clock
# that follows real time (the virtual board's), beside the OCPP task, as on a board. Prints the
# longest real gap between two control ticks (us): idle, then while connecting, and the OCPP status.
import asyncio
import gc
import sys
import time

from tools.sim import mock_machine as mm
from tools.vboard.vboot import RealClock
from tools.sim.rig import Rig

LONGEST = [0, 0]          # the longest gap (us) so far, the last tick's start (us)


def watch(app):
    """Time every control tick's start (the real App.cycle, called by App.run)."""
    cycle = app.cycle

    def timed():
        t = time.ticks_us()
        d = time.ticks_diff(t, LONGEST[1])
        LONGEST[1] = t
        if d > LONGEST[0]:
            LONGEST[0] = d
        return cycle()
    app.cycle = timed


async def phase(name, seconds, done=None):
    LONGEST[0] = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < seconds * 1000:
        if done is not None and done():
            break
        await asyncio.sleep_ms(20)
    print("GAP %s %d us after %d ms" % (name, LONGEST[0], time.ticks_diff(time.ticks_ms(), t0)))


async def main(url, ca, flash, seconds, timeout_s):
    from evse.ocpp import websocket
    websocket.CONNECT_TIMEOUT_S = timeout_s     # a silent server is given up this soon
    clock = RealClock()
    mm.install()
    mm.set_clock(clock)
    cfg = {"max_current": 32, "ocpp_url": url, "ocpp_id": "cp1"}
    if ca != "-":
        cfg["ocpp_ca_file"] = ca
    rig = Rig(config=cfg, flash_dir=flash, start_us=clock.us)
    app = rig.app
    svc = app.ocpp
    svc.running = False               # idle first: the tick alone
    watch(app)
    LONGEST[1] = time.ticks_us()
    asyncio.create_task(app.run())
    await phase("idle", 1)
    svc.running = True
    asyncio.create_task(svc.run())
    gc.collect()
    before = gc.mem_alloc()
    await phase("connect", seconds, lambda: svc.accepted or svc.last_error)
    print("HEAP %d bytes held after the connect" % (gc.mem_alloc() - before))
    print("OCPP connected=%s accepted=%s error=%s" % (svc.connected, svc.accepted, svc.last_error))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
