"""The charger behind a second, independent central system: npm `ocpp-rpc` (tools/ocpprpc/cs.mjs) in
strict mode, which validates every frame in both directions with ajv over the official OCPP 1.6
JSON schemas (the security extension's too) and checks their formats (date-time, uri), where the
other tests' central system is PyPI `ocpp`. The charger is the unmodified firmware on the virtual
bench, on real sockets: under CPython paced to real time, and on the MicroPython unix port (its
json, its float formatting, its asyncio and sockets). The central system answers everything the charger
sends, then calls 24 of the 26 actions a central system has (configuration, the local list, the cache,
DataTransfer, TriggerMessage and ExtendedTriggerMessage of each kind, certificates, a reservation,
charging profiles and composite schedules, a remote start with its profile, MeterValues, a remote
stop, availability, unlock; then diagnostics, a log and two firmware updates from a port where
nothing listens), and asks the car to plug in, charge and leave.

Done when: no frame failed the other implementation's validation either way, every call was
answered, and the transaction it started remotely ended with a StopTransaction on its id."""
import asyncio
import json
import os
import shutil
import tempfile

import pytest

from tools.waiting import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
CS_DIR = os.path.join(os.path.dirname(HERE), "tools", "ocpprpc")
INSTALLED = os.path.join(CS_DIR, "node_modules", ".installed")
DEADLINE_S = 300          # the whole exchange, on a loaded 2-core machine (about 40 s alone)

pytestmark = pytest.mark.skipif(not (shutil.which("node") and os.path.exists(INSTALLED)),
                                reason="node or tools/ocpprpc's packages missing (make ocpprpc)")


def _flash_with_a_log(prefix):
    """A board's flash dir that has logged: diagnostics to send."""
    flash = tempfile.mkdtemp(prefix=prefix)
    with open(os.path.join(flash, "log.txt"), "w") as f:
        f.write("0 boot: power on\n")
    return flash


async def _charger(url, car_orders, stop):
    """The firmware on its bench, paced to real time, with a car that does what the central system's
    {"car": ...} lines ask: plug in, ask for power (C) once offered, go back to B and leave."""
    from tools.sim.drive import Drive
    from tools.sim.pace import paced
    flash = _flash_with_a_log("ocpprpc-")
    d = Drive(config={"max_current": 32, "meter": "ct", "meter_phases": 1, "ocpp_url": url, "ocpp_id": "CP-RPC-1"},
              flash_dir=flash)
    d.world.follow_max = 32.0

    async def car():
        while True:
            order = await car_orders.get()
            if order == "plug":
                d.plug()
            elif order == "charge":
                while not d.duty:
                    await asyncio.sleep(0.05)
                d.ev("C")
            elif order == "leave":
                d.ev("B")
                await asyncio.sleep(0.5)
                d.unplug()
    tasks = [asyncio.create_task(t) for t in (d.app.ocpp.run(), paced(d), car())]
    try:
        await stop.wait()
    finally:
        d.app.ocpp.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        shutil.rmtree(flash, ignore_errors=True)


async def _upy_charger(url, car_orders, stop):
    """The same firmware on the MicroPython unix port (host_tests/upy_live/ocpp_rpc.py), its car's
    orders passed on through a file. 1 MB of heap: not a board's budget (there the modules are frozen
    in flash; here every module this exchange loads, about 180 KB of bytecode, and the bench's world
    are on the heap), measured 420 KB in use at the most."""
    from tools.toolchain import upy_tests as U
    assert not U.precompile()
    flash = _flash_with_a_log("ocpprpc-upy-")
    orders = os.path.join(flash, "car-orders.txt")
    open(orders, "w").close()
    p = await asyncio.create_subprocess_exec(U.micropython(), "-X", "heapsize=1m",
                                             os.path.join(HERE, "upy_live", "ocpp_rpc.py"), url, flash, orders,
                                             env=U.upy_env(), cwd=U.ROOT, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.STDOUT)
    said = []

    async def read():
        async for line in p.stdout:
            said.append(line.decode())
    reader = asyncio.create_task(read())

    async def orders_on():
        while True:
            order = await car_orders.get()
            with open(orders, "a") as f:
                f.write(order + "\n")
    forward = asyncio.create_task(orders_on())
    try:
        await stop.wait()
    finally:
        forward.cancel()
        if p.returncode is None:
            p.kill()
        await p.wait()
        await asyncio.gather(reader, forward, return_exceptions=True)
        shutil.rmtree(flash, ignore_errors=True)
    assert not any("Traceback" in x or "Error" in x for x in said), "".join(said)


async def _session(charger_of):
    port = free_port()
    cs = await asyncio.create_subprocess_exec("node", "cs.mjs", str(port), str(free_port()), cwd=CS_DIR,
                                              stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    lines, car_orders, stop = [], asyncio.Queue(), asyncio.Event()
    try:
        first = json.loads(await asyncio.wait_for(cs.stdout.readline(), 60))
        assert first == {"listening": port}, first
        charger = asyncio.create_task(charger_of("ws://127.0.0.1:%d/ocpp" % port, car_orders, stop))

        async def read():
            while True:
                raw = await cs.stdout.readline()
                if not raw:
                    return
                m = json.loads(raw)
                lines.append(m)
                if "car" in m:
                    car_orders.put_nowait(m["car"])
                if "done" in m:
                    return
        await asyncio.wait_for(read(), DEADLINE_S)
        stop.set()
        await charger
    finally:
        if cs.returncode is None:
            cs.kill()
        await cs.wait()
    return lines


@pytest.fixture(scope="module", params=["cpython", "micropython"])
def exchange(request):
    """The whole exchange, with the firmware under CPython and on the MicroPython unix port."""
    return asyncio.run(_session(_charger if request.param == "cpython" else _upy_charger))


def test_the_whole_exchange_ran_to_its_end(exchange):
    assert exchange[-1] == {"done": True}, exchange[-3:]
    assert exchange[0]["connected"] == "CP-RPC-1" and exchange[0]["protocol"] == "ocpp1.6"


def test_no_frame_failed_the_other_implementations_validation_either_way(exchange):
    failures = [m["strict"] for m in exchange if "strict" in m]
    assert failures == [], json.dumps(failures, indent=1)


def test_every_call_of_the_central_system_was_answered(exchange):
    calls = [m for m in exchange if "call" in m]
    assert len(calls) >= 35
    errors = [m for m in calls if "error" in m]
    assert errors == [], json.dumps(errors, indent=1)


def test_the_remote_transaction_started_metered_and_stopped_on_its_id(exchange):
    sent = [m for m in exchange if "in" in m]
    start = [m["params"] for m in sent if m["in"] == "StartTransaction"]
    stops = [m["params"] for m in sent if m["in"] == "StopTransaction"]
    samples = [m["params"] for m in sent if m["in"] == "MeterValues" and m["params"].get("transactionId") == 4242]
    assert len(start) == 1 and start[0]["idTag"] == "TAG1" and start[0]["connectorId"] == 1
    assert len(stops) == 1 and stops[0]["transactionId"] == 4242 and stops[0]["reason"] == "Remote", stops
    assert stops[0]["meterStop"] >= start[0]["meterStart"]
    assert len(samples) >= 2


def test_the_answers_say_what_a_charge_point_does(exchange):
    def result(action, **params):
        for m in exchange:
            if m.get("call") == action and all(m["params"].get(k) == v for k, v in params.items()):
                return m.get("result")
        raise AssertionError("no %s %r" % (action, params))
    assert result("ChangeConfiguration", key="MeterValueSampleInterval") == {"status": "Accepted"}
    assert result("ChangeConfiguration", key="NoSuchKey") == {"status": "NotSupported"}
    assert result("ChangeConfiguration", key="HeartbeatInterval") == {"status": "Rejected"}
    assert result("GetConfiguration", key=["HeartbeatInterval", "NoSuchKey"])["unknownKey"] == ["NoSuchKey"]
    assert result("RemoteStartTransaction") == {"status": "Accepted"}
    assert result("RemoteStopTransaction") == {"status": "Accepted"}
    assert result("SendLocalList") == {"status": "Accepted"}
    assert result("ReserveNow") == {"status": "Accepted"}
    assert result("CancelReservation") == {"status": "Accepted"}
    assert result("InstallCertificate") == {"status": "Rejected"}
    assert result("SignedUpdateFirmware") == {"status": "InvalidCertificate"}
    assert result("GetDiagnostics")["fileName"].startswith("diagnostics-CP-RPC-1-")


def test_each_transfer_to_nowhere_ended_in_its_failure_notification(exchange):
    sent = [(m["in"], m["params"].get("status")) for m in exchange if "in" in m]
    for action, ends in (("DiagnosticsStatusNotification", ("Uploading", "UploadFailed")),
                         ("LogStatusNotification", ("Uploading", "UploadFailure")),
                         ("FirmwareStatusNotification", ("Downloading", "DownloadFailed"))):
        said = [st for a, st in sent if a == action and st != "Idle"]
        assert said == list(ends), (action, said)
    assert ("SecurityEventNotification", None) in sent
