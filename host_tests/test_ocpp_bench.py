"""OCPP end to end on the virtual bench: the unmodified firmware (App, its real core and hal on the
mock machine, driven by tools.sim.drive) against a real central system (PyPI `ocpp` on 127.0.0.1).

The app creates the OcppService itself (ocpp_url is set) and hands it evse.shell.hal's clock, so the
service's timers run on the bench's virtual ticks, the same clock as the app's poll(now_ms) and
events. A driver task (live_bench.py) advances virtual time one control tick (10 ms) per asyncio
loop iteration, at most SPEED times faster than real time; the WebSocket and the central system
run on real asyncio time."""
import json

from host_tests.test_console import MemStream
from live_bench import LiveBench, run
from ocpp_cs import CentralSystem, call
from evse.services import console
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

# The loop's other tasks (the WebSocket, a download, the central system) get this many turns per
# tick at least: on a board they run freely between two ticks. With one turn, a loaded machine
# (the driver always behind its pace) stretched a 546 KB download (512 bytes and about three
# turns a chunk) past 30 s of virtual time: 32.7 s with the driver never pausing, 8.2 s with
# four turns (1.2-8 s on an idle machine).
TURNS_PER_TICK = 4
DUTY_PER_AMP = 1 / 0.6   # facts 2: duty % = A / 0.6 (6-51 A)


class StubMeter:
    """Used only when the rig has no meter of its own."""
    wh_total = 1000
    wh_session = 0
    amps = [0.0, 0.0, 0.0]
    power_w = 0
    volts = 230.0
    ok = True
    current_a = None


class LineStream(MemStream):
    """The console's serial port: requests in, JSON lines out."""

    def replies(self):
        done = self.tx[:self.tx.rfind(b"\n") + 1]     # whole lines only: 256 bytes go out per poll
        out = [json.loads(x) for x in done.decode().splitlines() if x.strip()]
        return [x for x in out if "ev" not in x]


class Bench(LiveBench):
    turns_per_tick = TURNS_PER_TICK

    def __init__(self, cs, tmp_path, board="sim", **settings):
        LiveBench.__init__(self)
        cfg = {"max_current": 32, "ocpp_url": cs.url(), "ocpp_id": "cp1",
               "ocpp_config": {"MeterValueSampleInterval": 1}}
        cfg.update(settings)
        self.cs = cs
        self.d = Drive(config=cfg, flash_dir=str(tmp_path), board=board)
        self.app = self.d.app
        self.svc = self.app.ocpp
        if self.app.meter is None:
            self.svc.meter = StubMeter()
        self.port = LineStream()
        console.attach(self.app, self.port)
        self.world = self.d.world
        self.world.follow_max = 32.0     # the car draws what the pilot offers, 2 s late

    def seen(self):
        return "calls %r" % (self.cs.actions(),)

    def ask(self, obj):
        self.port.rx.extend((json.dumps(obj) + "\n").encode())

    async def reply(self, obj):
        n = len(self.port.replies())
        self.ask(obj)
        await self.until(lambda: len(self.port.replies()) > n, 2, "console reply")
        return self.port.replies()[n]


def _l1(mv):
    for s in mv["meterValue"][0]["sampledValue"]:
        if s.get("measurand") == "Current.Import" and s.get("phase") == "L1":
            return float(s["value"])
    return None


def statuses(cs, connector=1):
    return [p["status"] for p in cs.actions("StatusNotification") if p["connectorId"] == connector]


def spy_commands(app):
    """Every App.command as (verb, source), in order."""
    seen, real = [], app.command

    def command(verb, arg, now, source="console"):
        seen.append((verb, source))
        return real(verb, arg, now, source)
    app.command = command
    return seen


def test_app_wires_ocpp_only_when_configured(tmp_path):
    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    d = Drive(config={"max_current": 32}, flash_dir=str(tmp_path / "off"))
    assert d.app.ocpp is None and d.app.cfg["require_auth"] is False
    d = Drive(config={"max_current": 32, "ocpp_url": "ws://127.0.0.1:9/ocpp"}, flash_dir=str(tmp_path / "on"))
    app = d.app
    assert app.ocpp in app.services and app.ocpp in app.listeners
    # Forced on the core, not written into the settings: turning it off there changes nothing.
    assert app.charger.auth_needed() and app.cfg["require_auth"] is False
    app.cfg["require_auth"] = False
    assert app.charger.auth_needed()
    d.plug()
    d.run(1.0)
    d.ev("C")
    d.run(3.0)      # no central system, no ID: never offered, never closed
    assert not d.coil_edges or all(lv == 0 for _, lv in d.coil_edges)
    assert d.state == "C1" and d.duty == 100.0


def test_session_with_smart_charging_limit_and_remote_stop_on_the_bench(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await Bench(cs, tmp_path).start()
        d, app = b.d, b.app
        commands = spy_commands(app)
        await b.until(lambda: b.svc.accepted, what="boot")
        await b.until(lambda: statuses(cs, 0) and statuses(cs), what="first status")
        assert cs.actions()[0] == "BootNotification" and statuses(cs) == ["Available"]
        # plug in: OCPP requires an ID, so the pilot stays at X1 (B1)
        d.plug()
        await b.until(lambda: statuses(cs)[-1:] == ["Preparing"], what="Preparing")
        assert d.state == "B1" and d.duty == 100.0
        # authorize from the console: asked online, then offered
        r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        assert r["ok"] and r["ocpp"] == "pending" and r["authorized"] is False
        await b.until(lambda: cs.actions("Authorize"), what="Authorize")
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "GOOD" and start["connectorId"] == 1
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="txid")
        txid = b.svc.tx["txid"]
        await b.until(lambda: d.state == "B2", what="B2")
        assert abs(d.duty - 32 * DUTY_PER_AMP) < 0.05       # the settings' 32 A
        # the EV asks for power: contactor closes, Charging
        d.ev("C")
        await b.until(lambda: d.coil, 3, "contactor closed")
        await b.until(lambda: statuses(cs)[-1:] == ["Charging"], what="Charging")
        # meter values of the transaction
        mv = await b.until(lambda: [m for m in cs.actions("MeterValues") if m.get("transactionId") == txid],
                           5, "MeterValues")
        names = [(s.get("measurand"), s.get("phase")) for s in mv[0]["meterValue"][0]["sampledValue"]]
        assert ("Energy.Active.Import.Register", None) in names and ("Current.Import", "L1") in names
        st = (await b.reply({"cmd": "status"}))
        assert st["ocpp"]["accepted"] and st["ocpp"]["tx"]["id"] == txid
        # smart charging: a 10 A TxProfile lowers the duty (at most one duty change per 5 s)
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles={
            "chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative", "transactionId": txid,
            "chargingSchedule": {"chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}}))
        assert res.status == "Accepted"
        t_set = mm.clock.us
        await b.until(lambda: app.charger.out.amps_x10 == 100, 7, "10 A advertised")
        assert abs(d.duty - 16.65) <= 0.05, d.duty                 # 10 / 0.6 %, PWM-quantised
        assert app.hw.duty_x100 <= 10 * DUTY_PER_AMP * 100          # rounded down, never more
        assert (mm.clock.us - t_set) / 1e6 <= 6.5
        assert app.charger.limit_x10() == 100 and d.coil
        await b.wait(3.0)        # the car follows (2 s late): still charging, no over-current
        assert d.coil and d.fault is None
        if app.meter is not None:    # the rig's own meter: the central system sees the car follow
            await b.until(lambda: abs(_l1(cs.actions("MeterValues")[-1]) - 10.0) < 0.5, 3, "10 A metered")
        # remote stop: PWM off at once, contactor opens when the car goes to B
        res = await cs.call("cp1", call.RemoteStopTransaction(transaction_id=txid))
        assert res.status == "Accepted"
        await b.until(lambda: d.duty == 100.0, 1, "PWM off")
        assert d.coil                       # never opened under load by a stop
        t_b = d.ev("B")
        await b.until(lambda: not d.coil, 1, "contactor open")
        assert (d.coil_change(0, t_b) - t_b) / 1e3 <= 100      # facts 4: within 100 ms of C to B
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["transactionId"] == txid and stop["reason"] == "Remote"
        assert stop["meterStop"] >= start["meterStart"]
        await b.until(lambda: statuses(cs)[-1:] == ["Finishing"], what="Finishing")
        # unplug: Available again, no new transaction
        d.unplug()
        await b.until(lambda: statuses(cs)[-1:] == ["Available"], what="Available")
        assert d.state == "A1"
        assert len(cs.actions("StartTransaction")) == 1 and len(cs.actions("StopTransaction")) == 1
        seq = statuses(cs)
        assert seq[0] == "Available" and seq.index("Preparing") < seq.index("Charging") < seq.index("Finishing")
        # OCPP steered the core only through the app's one command interface, under its own name
        assert set(v for v, source in commands if source == "ocpp") == {"authorize", "limit", "stop",
                                                                        "deauthorize"}
        await b.stop()
        await cs.stop()
    run(main())


def test_rejected_id_never_closes_the_contactor(tmp_path):
    async def main():
        cs = CentralSystem(accepted_tags=("GOOD",))
        await cs.start()
        b = await Bench(cs, tmp_path).start()
        d = b.d
        await b.until(lambda: b.svc.accepted, what="boot")
        d.plug()
        await b.wait(0.5)
        d.ev("C")                                  # the car asks at once
        for tag in ("BAD", "ALSO-BAD"):
            r = await b.reply({"cmd": "authorize", "id_tag": tag})
            assert r["ocpp"] == "pending"
            await b.until(lambda: b.svc.last_auth == (tag, "Invalid"), what="rejected " + tag)
        await b.wait(3.0)
        assert not any(lv for _, lv in d.coil_edges) and not d.coil
        assert d.state == "C1" and d.duty == 100.0 and not b.app.charger.authorized
        assert cs.actions("StartTransaction") == []
        st = await b.reply({"cmd": "status"})
        assert st["ocpp"]["auth"] == ["ALSO-BAD", "Invalid"] and st["authorized"] is False
        # a remote start for a tag the central system does not know is still a tag it sent: allowed
        # only with AuthorizeRemoteTxRequests, which is off by default, so nothing else to check here.
        await b.stop()
        await cs.stop()
    run(main())


def test_reset_stops_the_transaction_opens_under_control_then_reboots(tmp_path, monkeypatch):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await Bench(cs, tmp_path).start()
        d, app = b.d, b.app
        await b.until(lambda: b.svc.accepted, what="boot")
        d.plug()
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
        d.ev("C")       # the pilot may still hold X1 (3 s after boot) before it offers
        await b.until(lambda: d.coil, 6, "contactor closed")
        res = await cs.call("cp1", call.Reset(type="Soft"))
        assert res.status == "Accepted"
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "SoftReset"
        await b.wait(1.0)
        assert d.coil and not any("reset" in str(e[1]) for e in app.errors)  # EV still in C: wait
        t_b = d.ev("B")
        await b.until(lambda: any(e == ("ocpp", "reset Soft") for e in app.errors), 2, "reset")
        assert d.coil_change(0, t_b) is not None       # opened by the core before the reset
        # machine.reset() on the mock raises; the app's service guard reports it
        assert any("ResetRequested" in e[1] for e in app.errors)
        await b.stop()
        await cs.stop()
    run(main())
