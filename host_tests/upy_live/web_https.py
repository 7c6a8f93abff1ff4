# The web page over HTTPS on the MicroPython unix port (run by host_tests/test_web_https.py with: the
# port, the flash dir holding certs/web_cert.pem and web_key.pem, the redirect port): the firmware's
# App on the Rig with its console and web service (web_tls on), the control ticks driven from the
# same asyncio loop. Prints HEAP (what HTTPS costs) and READY, then serves until killed, printing every 0.2 s
# the longest gap between two control ticks (GAP, us).
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


def used():
    gc.collect()
    return gc.mem_alloc()


def board(flash, port, tls):
    from evse.services import web as W
    rig = Rig(config={"max_current": 32, "web_port": port, "web_password": PW, "web_tls": tls}, flash_dir=flash)
    C.attach(rig.app, upytest.NullConsole())
    W.attach(rig.app)
    return rig


async def main(port, flash, redirect_port):
    from evse.services import webtls
    webtls.REDIRECT_PORT = redirect_port
    rig = board(flash, port, False)           # the modules loaded once, and the plain service's heap
    rig = None
    a = used()
    rig = board(flash, port, False)
    plain = used() - a
    rig = None
    a = used()
    rig = board(flash, port, True)
    print("HEAP web_tls %d bytes more than plain (the server context and its certificate)" % (used() - a - plain))
    print("HTTPS", rig.app.web.https)
    asyncio.create_task(rig.app.web.run())
    asyncio.create_task(drive(rig))
    await asyncio.sleep_ms(300)
    print("READY")
    while True:                               # the longest gap since the last line
        await asyncio.sleep_ms(200)
        print("GAP %d" % GAP[0])
        GAP[0] = 0


asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
