"""Stop 50, remote controllers that go silent: the central system that set the limit (a site's
back office, or evcc at home over OCPP) disappears while the charger charges at its limit.

OCPP 1.6 (3.13.x, offline behaviour of smart charging): a charge point that goes offline keeps the
TxProfile for the transaction and uses the profiles it has; it names no fallback. A house's main
breaker does not read OCPP: evcc's load management set 16 A while the heat pump was off, evcc died,
the heat pump came on (lbbrhzn/ocpp issue 492: "house main breaker opened after losing connexion").
OCPP 2.1 adds maxOfflineDuration to a profile for this; chargers sold for load management (an
installer's "safe current") fall back on a lost link. Here `fallback_timeout_s` watches the central
system too, once it set a limit: silence is no frame from it (a WebSocket Ping every third of the
timeout keeps a quiet link heard; a central system away with its socket still open answers none).

The bench: the unmodified firmware on the virtual bench (test_ocpp_bench.Bench) against PyPI
`ocpp` on 127.0.0.1, through a TCP path that can go silent without closing (a router that
rebooted, a NAT that dropped the flow): nothing passes, no FIN, no RST."""
import asyncio

from evse.ocpp import connection
from evse.services import console
from evse.shell.hal import ticks_ms
from live_bench import SPEED, run
from ocpp_cs import CentralSystem, call
from test_ocpp_bench import Bench, LineStream, statuses
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

TIMEOUT_S = 20


class SilentPath:
    """127.0.0.1:port -> the central system; go_silent() keeps every socket open and passes nothing
    (connections opened then too: the route is gone); back() lets new connections through."""

    def __init__(self, target_port):
        self.target = target_port
        self.silent = False
        self.server = None
        self.port = 0
        self.writers = []

    async def start(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def url(self):
        return "ws://127.0.0.1:%d/ocpp" % self.port

    def go_silent(self):
        self.silent = True

    def back(self):
        self.silent = False

    async def _conn(self, r, w):
        dead = [self.silent]              # this connection was opened into the silence: dead for good
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.close()
            return
        self.writers += [w, w2]
        await asyncio.gather(self._pipe(r, w2, dead), self._pipe(r2, w, dead), return_exceptions=True)

    async def _pipe(self, r, w, dead):
        while True:
            data = await r.read(4096)
            if not data:
                break
            if self.silent:
                dead[0] = True            # lost in the silence: this connection never recovers
            if dead[0]:
                continue
            w.write(data)
            await w.drain()
        w.close()

    async def stop(self):
        for w in self.writers:
            w.close()
        self.server.close()
        await self.server.wait_closed()


def _16a_default_profile():
    """What evcc sends (TxDefaultProfile on connector 1, stack level 0, in amperes)."""
    return call.SetChargingProfile(connector_id=1, cs_charging_profiles={
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}})


async def _charging_at_16a(tmp_path, cs, path, **settings):
    b = await Bench(cs, tmp_path, ocpp_url=path.url(), fallback_timeout_s=TIMEOUT_S,
                    fallback_current_a=6.0, ocpp_free_id_tag="GOOD", **settings).start()
    await b.until(lambda: b.svc.accepted, what="boot")
    await cs.wait_connected("cp1")
    assert (await cs.call("cp1", _16a_default_profile())).status == "Accepted"
    b.d.plug()
    b.d.ev("C")
    await b.until(lambda: b.d.coil and b.app.charger.out.amps_x10 == 160, 15, "charging at 16 A")
    return b


def test_a_central_system_gone_silent_after_its_limit_falls_back_after_the_timeout(tmp_path, monkeypatch):
    # the MeterValues on the wire when the path went silent waits CALL_TIMEOUT_MS of real time
    # (asyncio's clock, as on a board): scaled to the bench's virtual seconds, 30 s
    monkeypatch.setattr(connection, "CALL_TIMEOUT_MS", 30000 // SPEED)

    async def main():
        cs = CentralSystem()
        await cs.start()
        path = await SilentPath(cs.port).start()
        b = await _charging_at_16a(tmp_path, cs, path)
        app, d = b.app, b.d
        path.go_silent()          # the socket stays open: the charger hears nothing more
        t0 = mm.clock.us
        await b.until(lambda: app.charger.out.amps_x10 == 60, TIMEOUT_S + 8, "the fallback's 6 A")
        gone = (mm.clock.us - t0) / 1e6
        assert TIMEOUT_S - 2 <= gone <= TIMEOUT_S + 2, gone   # the last frame was at most 1 s before
        st = app.status(mm.clock.us // 1000)
        assert st["limit_by"] == "fallback" and st["limits"]["ocpp"] == 16.0
        assert d.coil and d.fault is None                     # lowered, not stopped: 6 A is allowed
        assert b"central system" in bytes(b.port.tx) and b"6.0 A" in bytes(b.port.tx)   # said
        # the route comes back: the charger reconnects, the central system is heard, 16 A again
        path.back()
        await b.until(lambda: app.charger.out.amps_x10 == 160, 120, "16 A after the central system's return")
        assert "fallback" not in app.charger.limits
        await b.stop()
        await path.stop()
        await cs.stop()
    run(main())


def test_a_quiet_healthy_link_is_no_silence(tmp_path):
    """Heartbeat every 300 s, no meter values, no WebSocketPingInterval: the charger's own Pings
    keep a central system that has nothing to say heard."""
    async def main():
        cs = CentralSystem(heartbeat=300)
        await cs.start()
        path = await SilentPath(cs.port).start()
        b = await _charging_at_16a(tmp_path, cs, path, ocpp_config={"MeterValueSampleInterval": 0})
        await b.wait(3 * TIMEOUT_S)
        assert b.app.charger.out.amps_x10 == 160 and "fallback" not in b.app.charger.limits
        assert statuses(b.cs)[-1] == "Charging"
        await b.stop()
        await path.stop()
        await cs.stop()
    run(main())


def test_a_silent_rest_controller_is_named_when_its_fallback_starts_and_ends(tmp_path):
    """A load balancer posting /api/v1/limit stops: the cap at 6 A was in the status's limits, but
    the console and the log on flash said nothing of it; now they name who went silent, and when it
    is heard again."""
    d = Drive(config={"max_current": 32, "fallback_timeout_s": 10, "fallback_current_a": 6.0},
              flash_dir=str(tmp_path))
    port = LineStream()
    console.attach(d.app, port)
    d.app.console.answer({"cmd": "limit", "amps": 16}, ticks_ms(), "rest")
    d.plug()
    d.ev("C")
    d.run(5.0)
    assert d.coil and d.app.charger.out.amps_x10 == 160
    d.run(6.0)                      # 11 s without a word
    assert d.app.charger.out.amps_x10 == 60 and d.coil
    said = bytes(port.tx)
    assert b"fallback: the REST controller silent for 10 s" in said and b"at most 6.0 A" in said
    d.app.console.answer({"cmd": "limit", "amps": 16}, ticks_ms(), "rest")
    d.run(6.0)                      # a rise waits out the pilot's 5 s between duty changes
    assert d.app.charger.out.amps_x10 == 160
    assert b"fallback: the REST controller heard again or its limit removed: the cap lifted" in bytes(port.tx)
    with open(tmp_path / "log.txt") as f:
        kept = f.read()
    assert "REST controller silent" in kept and "REST controller heard again" in kept


def test_a_frozen_broker_pauses_a_solar_charge_and_caps_the_mqtt_limit(tmp_path, mosquitto):
    """Solar mode on MQTT's grid power, a 16 A MQTT limit: the broker hangs (SIGSTOP: its sockets
    stay open, nothing comes). The surplus it last carried is stale after grid_timeout_s: the charge
    pauses (SmartEVSE stops on a mains meter silent for 10 s, OpenEVSE's shaper pauses after
    current_shaper_data_maxinterval), and the MQTT controller's fallback is said."""
    import os
    import signal
    from mqtt_broker import Subscriber
    from test_mqtt_bench import Bench as MqttBench
    broker = mosquitto()

    async def main():
        ctl = await Subscriber(broker.port).start()
        b = await MqttBench(broker.port, tmp_path, solar_mode="solar", grid_source="mqtt",
                            solar_smoothing_s=0, min_charge_s=0, min_pause_s=0, grid_timeout_s=10,
                            fallback_timeout_s=TIMEOUT_S, fallback_current_a=6.0).start()
        port = LineStream()
        console.attach(b.app, port)
        d = b.d
        feeding = [True]

        async def controller():      # a solar controller: the grid's export and its limit, often
            while feeding[0]:
                await ctl.publish("garage/evse/grid/set", "-5000")
                await ctl.publish("garage/evse/limit/set", "16")
                await asyncio.sleep(0.05)
        task = asyncio.create_task(controller())
        try:
            await b.until(lambda: b.svc.status().get("connected"), what="connected")
            d.plug()
            d.ev("C")
            await b.until(lambda: d.coil and b.app.charger.out.amps_x10 == 160, 20, "charging at 16 A")
            os.kill(broker.proc.pid, signal.SIGSTOP)
            t0 = mm.clock.us
            await b.until(lambda: b.app.charger.out.amps_x10 == 0, 20, "nothing offered on the stale surplus")
            assert (mm.clock.us - t0) / 1e6 <= 10 + 2      # grid_timeout_s, and the planner's second
            await b.until(lambda: not d.coil, 10, "the contactor open once the car stopped")
            st = b.app.status(mm.clock.us // 1000)
            assert st["limit_by"] == "surplus" and "no grid reading" in st["planner"]["surplus"]["why"]
            await b.until(lambda: b"the MQTT controller silent" in bytes(port.tx), TIMEOUT_S + 5, "said")
            assert "fallback" in b.app.charger.limits and d.fault is None
        finally:
            feeding[0] = False
            os.kill(broker.proc.pid, signal.SIGCONT)
            task.cancel()
            await b.stop()
    run(main())


def test_a_kept_controller_whose_service_was_turned_off_does_not_cap_for_ever(tmp_path):
    """fallback.json names MQTT (its controller went silent before the reboot), and the owner then
    turned MQTT off (mqtt_url empty): nothing could ever speak for it, and the charger stayed at the
    fallback's 6 A for good. A controller that can no longer speak is forgotten at boot."""
    (tmp_path / "fallback.json").write_text('"mqtt"')
    d = Drive(config={"max_current": 32, "fallback_timeout_s": 30}, flash_dir=str(tmp_path))
    d.plug()
    d.ev("C")
    d.run(60.0)
    assert d.coil and d.app.charger.out.amps_x10 == 320 and "fallback" not in d.app.charger.limits
    assert (tmp_path / "fallback.json").read_text().strip() == "null"    # forgotten on flash too
