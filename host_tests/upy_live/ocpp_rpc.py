# The charger on the MicroPython unix port behind the second central system, for
# host_tests/test_ocpp_rpc_strict.py (arguments: the central system's URL, the flash dir, a file the
# test appends the car's orders to: plug, charge, leave). The firmware's App on the Rig with a CT
# meter and OCPP on real sockets, the control ticks driven from the same asyncio loop. Prints READY,
# then each order as it is carried out, until killed.
import asyncio
import sys

from live import drive     # before the mock machine wraps `time`

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig

B_OHMS, C_OHMS = 2740, 882          # the car's pilot resistance in B and in C (evse-facts 3)


async def car(rig, orders):
    """The car does what the orders file says, one line each, as the lines come."""
    done = 0
    w = rig.world
    while True:
        await asyncio.sleep_ms(100)
        with open(orders) as f:
            lines = f.read().split()
        for order in lines[done:]:
            if order == "plug":
                w.plugged, w.ev_ohms, w.pp_ohms = True, B_OHMS, 150
            elif order == "charge":
                while not rig.app.hw.duty_x100:           # ask for power once offered
                    await asyncio.sleep_ms(50)
                w.ev_ohms = C_OHMS
            elif order == "leave":
                w.ev_ohms = B_OHMS
                w.recompute()
                await asyncio.sleep_ms(500)
                w.plugged, w.pp_ohms = False, None
            w.recompute()
            print("CAR", order)
        done = len(lines)


async def main(url, flash, orders):
    rig = Rig(config={"max_current": 32, "meter": "ct", "meter_phases": 1, "ocpp_url": url,
                      "ocpp_id": "CP-RPC-1"}, flash_dir=flash)
    rig.world.follow_max = 32.0
    asyncio.create_task(rig.app.ocpp.run())
    asyncio.create_task(drive(rig))
    print("READY")
    await car(rig, orders)


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
