# upy-heap: 320k
# (256k left 25 KB free after the requests, yet CI once ran out there: the requests' peak, fragmented)
# The web service's heap: none while web_port is 0 (never imported), and what it costs when on
# (printed by the MicroPython run: python -m tools.toolchain.upy_tests host_tests/upy/test_web_heap_upy.py,
# and by make bench). Each upy test file is its own process, so the "off" check sees a clean slate.
import asyncio    # before the rig: asyncio keeps the real clock (the mock's is virtual)
import gc
import sys

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.app import attach_services
import upytest

PW = "bench-password-0123"
ON_BUDGET = 90000        # bytes, 64-bit unix port, microdot as .mpy in RAM (measured about 62 KB)


def _fresh():
    return "evse.services.web" not in sys.modules and "microdot" not in sys.modules


def test_1_off_costs_nothing():
    clean = _fresh()
    rig = Rig(config={"max_current": 32})           # web_port: its default, 0
    attach_services(rig.app, upytest.NullConsole())
    rig.run(0.5)
    assert rig.app.web is None
    if clean:                                        # pytest may have imported it for another file
        assert _fresh(), "the web service was imported while web_port is 0"


def test_2_on_costs_what_is_printed():
    rig = Rig(config={"max_current": 32, "web_port": 8080, "web_password": PW})
    from evse.services import console
    console.attach(rig.app, upytest.NullConsole())
    rig.run(0.5)
    gc.collect()
    free0 = gc.mem_free() if hasattr(gc, "mem_free") else 0
    from evse.services import web
    web.attach(rig.app)
    gc.collect()
    free1 = gc.mem_free() if hasattr(gc, "mem_free") else 0
    from microdot.test_client import TestClient
    client = TestClient(rig.app.web.http, host="evse.local")   # a foreign Host may not log in
    gc.collect()
    free2 = gc.mem_free() if hasattr(gc, "mem_free") else 0
    r = asyncio.run(client.request("POST", "/api/v1/login", body={"password": PW}))
    auth = {"Authorization": "Bearer " + r.json["token"]}
    for _ in range(20):
        assert asyncio.run(client.request("GET", "/api/v1/status")).status_code == 200
        assert asyncio.run(client.request("POST", "/api/v1/limit", headers=auth, body={"amps": 10})).status_code == 200
        rig.run(0.02)
    gc.collect()
    free3 = gc.mem_free() if hasattr(gc, "mem_free") else 0
    if sys.implementation.name == "micropython":
        print("web heap: import+attach %d bytes, retained after 41 requests %d bytes, free %d"
              % (free0 - free1, free2 - free3, free3))
        assert free0 - free1 < ON_BUDGET


if __name__ == "__main__":
    upytest.run(globals())
