"""`evse cs`, the central system an operator runs to try a charger (tools/cs.py): it accepts the
boot, answers Authorize from its list, and sends what its command lines ask, every frame printed.
First against the `ocpp` library's own charge point (each frame validated against the OCPP 1.6
schemas), then a whole transaction with the firmware on the virtual board and its car."""
import asyncio
import io
import os
import select
import subprocess
import sys
import time

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.client import connect

from tools import cs as cstool
from vboard_helpers import ROOT, VBoard, make_flash, needs_vboard, status_when
from tools.waiting import free_port

CS_TIMEOUT_S = 60


class LibCharger(ChargePoint):
    """The library's charge point: records what the central system asks and says yes."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.asked = []

    @on("RemoteStartTransaction")
    def _start(self, **kw):
        self.asked.append(("RemoteStartTransaction", kw))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("SetChargingProfile")
    def _profile(self, **kw):
        self.asked.append(("SetChargingProfile", kw))
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def _clear(self, **kw):
        self.asked.append(("ClearChargingProfile", kw))
        return call_result.ClearChargingProfile(status="Accepted")


async def _session(out):
    cs = cstool.CentralSystem(tags=["GOOD"], out=out)
    from websockets.asyncio.server import serve
    async with serve(cs.handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect("ws://127.0.0.1:%d/ocpp/lib-cp" % port, subprotocols=["ocpp1.6"]) as ws:
            cp = LibCharger("lib-cp", ws)
            task = asyncio.ensure_future(cp.start())
            boot = await cp.call(call.BootNotification(charge_point_model="m", charge_point_vendor="v"))
            good = await cp.call(call.Authorize(id_tag="GOOD"))
            bad = await cp.call(call.Authorize(id_tag="BAD"))
            for line in ("start GOOD", "limit 10", "limit none", "stop", "fly", "accept BAD"):
                await cs.command(line)
            late = await cp.call(call.Authorize(id_tag="BAD"))
            task.cancel()
    return boot, good, bad, late, cp.asked, cs


def test_boot_authorize_and_commands_against_the_library_charge_point():
    out = io.StringIO()
    boot, good, bad, late, asked, cs = asyncio.run(_session(out))
    assert boot.status == "Accepted" and boot.interval == cstool.HEARTBEAT_S
    assert good.id_tag_info["status"] == "Accepted" and bad.id_tag_info["status"] == "Invalid"
    assert late.id_tag_info["status"] == "Accepted"            # `accept BAD` took effect
    assert [a for a, _ in asked] == ["RemoteStartTransaction", "SetChargingProfile", "ClearChargingProfile"]
    assert asked[0][1]["id_tag"] == "GOOD" and asked[0][1]["connector_id"] == 1
    period = asked[1][1]["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"]
    assert period == [{"start_period": 0, "limit": 10.0}]
    text = out.getvalue()
    assert 'lib-cp <- [2,' in text and '"BootNotification"' in text     # every frame, both ways
    assert 'lib-cp -> [3,' in text and 'lib-cp -> [2,' in text
    assert "stop: no open transaction" in text and "unknown command 'fly'" in text


class CsProcess:
    """`python -m tools.cs` as a user runs it: command lines on its stdin, frames on its stdout."""

    def __init__(self, port):
        self.p = subprocess.Popen([sys.executable, "-m", "tools.cs", "--port", str(port), "--accept", "GOOD"],
                                  cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.text = ""
        self.wait_for("central system at")

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait_for(self, what, timeout=CS_TIMEOUT_S):
        end = time.monotonic() + timeout
        while what not in self.text:
            assert time.monotonic() < end, "no %r from the central system:\n%s" % (what, self.text[-3000:])
            if select.select([self.p.stdout], [], [], 0.2)[0]:
                data = os.read(self.p.stdout.fileno(), 65536)      # unbuffered: select sees it all
                assert data, self.text[-3000:]
                self.text += data.decode()
        return self.text

    def stop(self):
        self.p.stdin.close()
        self.p.terminate()
        self.p.wait(10)


def car(sock, *words):
    r = subprocess.run([sys.executable, "-m", "tools.vboard.car", "--socket", sock] + list(words), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 0, r.stdout


@needs_vboard
def test_a_whole_transaction_from_the_central_system_and_the_car(tmp_path):
    port = free_port()
    settings = tmp_path / "s.json"
    settings.write_text('{"max_current": 32, "ocpp_url": "ws://127.0.0.1:%d/ocpp", "ocpp_id": "garage"}' % port)
    cs = CsProcess(port)
    b = VBoard(tmp_path)
    sock = os.path.join(str(tmp_path), "car.sock")
    try:
        r = make_flash(b.tty, "SETTINGS=" + str(settings))
        assert r.returncode == 0, r.stdout
        cs.wait_for('"status":"Accepted"')                      # the boot, accepted
        cs.wait_for('"connectorId": 1')
        car(sock, "plug")
        status_when(b.tty, lambda st: st["state"] == "B1", "the car plugged in")
        cs.wait_for('"Preparing"')
        cs.send("start GOOD")
        cs.wait_for('"StartTransaction"')
        car(sock, "ask", "32")
        status_when(b.tty, lambda st: st["state"] == "C2" and st["contactor"], "charging")
        cs.send("limit 10")
        cs.wait_for('"SetChargingProfile"')
        status_when(b.tty, lambda st: abs(st["amps"] - 10) < 0.1, "10 A advertised")
        car(sock, "stop")
        car(sock, "unplug")
        text = cs.wait_for('"StopTransaction"')
        assert '"idTag": "GOOD"' in text and "garage <- " in text and "garage -> " in text
    finally:
        b.stop()
        cs.stop()
