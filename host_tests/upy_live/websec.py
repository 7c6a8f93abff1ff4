# The web service on real sockets on the MicroPython unix port, for host_tests/test_websec_audit4.py
# (argument: the port, the flash dir): the firmware's App on the Rig with its console and web service,
# the control ticks driven from the same asyncio loop. Prints READY, then every 0.2 s the longest gap
# between two control ticks (GAP, us) and the heap free after a collection (FREE, bytes), until killed.
import asyncio
import gc
import sys

import upytest
from live import GAP, drive     # before the mock machine wraps `time`

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.services import console as C

PW = "bench-password-0123"


async def main(port, flash):
    from evse.services import web as W
    rig = Rig(config={"max_current": 32, "web_port": port, "web_password": PW}, flash_dir=flash)
    C.attach(rig.app, upytest.NullConsole())
    W.attach(rig.app)
    asyncio.create_task(rig.app.web.run())
    asyncio.create_task(drive(rig))
    await asyncio.sleep_ms(300)
    print("READY")
    while True:
        await asyncio.sleep_ms(200)
        gc.collect()
        print("GAP %d FREE %d" % (GAP[0], gc.mem_free()))
        GAP[0] = 0


asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
