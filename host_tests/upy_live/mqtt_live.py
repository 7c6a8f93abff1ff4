# The MQTT service on the MicroPython unix port against a real broker (run by
# host_tests/test_mqtt_bench.py with: port, mqtt or mqtts, and for mqtts a flash dir holding ca.pem): the firmware on the Rig, virtual ticks
# driven from the same asyncio loop as the service. Prints HEAP, STATE and DUTY lines for the test,
# then waits to be killed (the broker then publishes the last will).
import asyncio
import gc
import sys

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig


def used():
    gc.collect()
    return gc.mem_alloc()


HELD = [0]     # the longest real time (us) the loop spent away from the driver: MQTT's own steps


async def drive(rig):
    import time
    while True:
        rig.run(0.01)
        t0 = time.time_ns()
        await asyncio.sleep_ms(0)
        held = (time.time_ns() - t0) // 1000
        if held > HELD[0]:
            HELD[0] = held


async def until(pred, s):
    for _ in range(int(s * 100)):
        if pred():
            return True
        await asyncio.sleep_ms(10)
    return False


async def main(port, scheme, flash_dir):
    base = {"max_current": 32, "meter": "ct"}
    rig = Rig(config=base)           # the firmware's modules imported once, without MQTT
    rig = None
    off = [m for m in ("evse.services.mqtt", "evse.services.mqtt_wire", "evse.services.ha", "evse.services.mqtt_cfg",
                       "evse.core.fallback", "evse.services.history") if m in sys.modules]
    print("NOT_CONFIGURED_IMPORTED", off)
    a0 = used()
    rig = Rig(config=base)           # what one more app without MQTT costs: subtracted below
    a1 = used()
    rig = None
    b0 = used() + (a1 - a0)
    cfg = dict(base, mqtt_url="%s://127.0.0.1:%d" % (scheme, port), mqtt_prefix="upy/evse",
               serial="UPY1")
    if scheme == "mqtts":
        cfg["mqtt_ca_file"] = "ca.pem"       # the test put it in flash_dir
    rig = Rig(config=cfg, flash_dir=flash_dir)
    print("HEAP mqtt_idle %d (modules and service, not connected)" % (used() - b0))
    app, svc = rig.app, rig.app.mqtt
    w = rig.world
    asyncio.create_task(svc.run())
    asyncio.create_task(drive(rig))
    ok = await until(lambda: svc.sent.get("state") == "A1", 10)
    print("CONNECTED", ok, svc.last_error)
    print("HELD_US connect %d" % HELD[0])
    print("HEAP connected %d" % (used() - b0))
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    ok = await until(lambda: svc.sent.get("state") == "B2", 10)
    print("STATE", svc.sent.get("state"))
    ok = await until(lambda: app.charger.limits.get("mqtt") == 100, 15)
    await until(lambda: app.charger.out.amps_x10 == 100, 2)
    print("DUTY %d" % app.hw.duty_x100)
    print("HEAP after_commands %d" % (used() - b0))
    print("READY")
    while True:
        await asyncio.sleep_ms(100)


asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
