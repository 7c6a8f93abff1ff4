"""The fourth audit of OCPP 1.6J: what earlier audits left as doubts, one bench scenario each. The
OCPP service runs under CPython against the PyPI `ocpp` central system (host_tests/ocpp_cs.py),
which validates every frame against the official OCPP 1.6 JSON schemas."""
import asyncio
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call_result

from ocpp_cs import CentralSystem, call
from host_tests import test_ocpp_cs
from host_tests.test_ocpp_cs import booted, charge_session, run, fast_reconnect  # noqa: F401 (fixture)
from evse.metering.energy import Energy
from evse.ocpp import connection, websocket
from evse.ocpp.chargepoint import HI_AHEAD_WH


def registers(cs):
    """Every energy register value the central system got, in order: meterStart, the
    Energy.Active.Import.Register sampled values, meterStop."""
    out = []
    for action, p in cs.calls:
        if action == "StartTransaction":
            out.append(p["meterStart"])
        elif action == "StopTransaction":
            out.append(p["meterStop"])
        elif action == "MeterValues":
            out += [int(float(s["value"])) for mv in p["meterValue"] for s in mv["sampledValue"]
                    if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"]
    return out


# -- 1. the energy register never goes back across a power cut (section 3.16, 9.1: a total) ------

def test_a_power_cut_never_sends_a_register_below_one_already_sent(tmp_path, monkeypatch):
    """The meter service's count (metering/energy.py) comes back at boot from its last checkpoint,
    written every 50 Wh or 60 s: energy counted after it is gone from the count. A car charges
    40 Wh past the checkpoint at 1000 Wh and a MeterValues reports the register at 1040 Wh; then the
    power is cut. After the reboot the count is 1000 Wh. Energy.Active.Import.Register is a total
    register: the power-loss StopTransaction, the next transaction's meterStart and its MeterValues
    must never be below the 1040 Wh the central system already has (a billing back end flags a
    register that goes back), and the energy charged after the cut adds on top of it, no more.
    Since stop 45 state.json keeps a ceiling HI_AHEAD_WH (50 Wh) above the register handed out
    during a transaction (written once per 50 Wh, not per sample): the register goes on from
    1090, at most 50 Wh above what was sent, never below."""
    flash = tmp_path / "flash"
    flash.mkdir()

    class EnergyMeter(test_ocpp_cs.FakeMeter):      # the fake meter over the real energy count
        def __init__(self):
            super().__init__()
            self.energy = Energy(str(flash))

        @property
        def wh_total(self):
            return self.energy.wh_total

        @wh_total.setter
        def wh_total(self, v):
            pass

    monkeypatch.setattr(test_ocpp_cs, "FakeMeter", EnergyMeter)

    async def main():
        cs = CentralSystem()
        await cs.start()
        e = Energy(str(flash))
        e.add_mwh(1000000, 0)
        e.checkpoint()                                  # the lifetime count on flash: 1000 Wh
        rig = await booted(cs, tmp_path / "ocpp")
        await charge_session(cs, rig)
        rig.meter.energy.add_mwh(40000, 1000)           # 40 Wh: below 50 Wh, within 60 s, no checkpoint
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))).status == "Accepted"
        await cs.wait_action("MeterValues")
        before = registers(cs)
        assert before == [1000, 1040], before
        await asyncio.sleep(0.2)
        await rig.kill()                                # power cut: the count is back at 1000 Wh
        rig2 = await test_ocpp_cs.Rig(cs, tmp_path / "ocpp").start()
        assert int(rig2.meter.wh_total) == 1000
        stop = (await cs.wait_action("StopTransaction"))[0]
        assert stop["reason"] == "PowerLoss" and stop["meterStop"] == 1040 + HI_AHEAD_WH, stop
        await cs.wait_for(lambda: rig2.svc.accepted)
        rig2.state("A1")
        assert rig2.svc.present_id("GOOD") == "pending"
        await cs.wait_for(lambda: rig2.charger.authorized)
        rig2.state("B2")
        start = (await cs.wait_action("StartTransaction", 2))[-1]
        assert start["meterStart"] == 1040 + HI_AHEAD_WH, start
        rig2.meter.energy.add_mwh(100000, 2000)         # 100 Wh charged after the cut
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues", connector_id=1))).status == "Accepted"
        await cs.wait_action("MeterValues", 2)
        after = registers(cs)
        assert after == [1000, 1040, 1090, 1090, 1190], after   # never back; the ceiling's 50 Wh, then 100 Wh
        assert all(b >= a for a, b in zip(after, after[1:])), after
        await rig2.kill()
        await cs.stop()
    run(main())


# -- 2. a link that went silent is noticed by its unanswered ping (RFC 6455 5.5.2-3) --------------

class Blackhole:
    """A TCP hop between charger and central system that can go silent both ways without closing
    anything: a NAT entry that timed out, a router rebooted behind a modem (no FIN, no RST)."""

    def __init__(self, port):
        self.port, self.silent, self.listen = port, False, 0
        self.late_s = 0              # bytes to the charger arrive this late (a reader held up)

    async def start(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.listen = self.server.sockets[0].getsockname()[1]
        return self

    async def _conn(self, r, w):
        if self.silent:              # a new connection gets no further than its SYN-ACK
            await asyncio.sleep(3600)
        ur, uw = await asyncio.open_connection("127.0.0.1", self.port)
        await asyncio.gather(self._pump(r, uw), self._pump(ur, w, True), return_exceptions=True)

    async def _pump(self, r, w, to_charger=False):
        while True:
            data = await r.read(4096)
            if not data:
                w.close()
                return
            if self.silent:          # silent: the bytes vanish, the sockets stay open
                continue
            if to_charger and self.late_s:
                asyncio.get_running_loop().call_later(self.late_s, w.write, data)   # in order
            else:
                w.write(data)
                await w.drain()

    def stop(self):
        self.server.close()


async def behind_a_hole(tmp_path, ping_interval_s):
    """A charger booted against a central system that asks for a Heartbeat once an hour (the pings
    keep the link up), through a path the test can silence or slow down."""
    cs = CentralSystem(heartbeat=3600)
    await cs.start()
    hole = await Blackhole(cs.port).start()
    rig = await booted(cs, tmp_path, ocpp_url="ws://127.0.0.1:%d/ocpp" % hole.listen,
                       config={"WebSocketPingInterval": ping_interval_s})
    await cs.wait_for(lambda: cs.actions("SecurityEventNotification") and not rig.svc.immediate)
    return cs, hole, rig


def test_a_link_that_goes_silent_is_offline_within_ping_interval_and_a_pong_timeout(tmp_path, monkeypatch):
    """WebSocketPingInterval 2 s and a central system that asks for a Heartbeat once an hour (it
    keeps the link up with the pings). The path to the central system goes silent without closing
    (no FIN). The charger sends its pings into the void and gets no Pong (RFC 6455 5.5.3: a Pong
    answers every Ping): it must call the link dead (offline, so transactions go on the queue and
    an idTag is decided by the offline rules) within the ping interval plus the pong's time-out, not
    stay "connected" until some CALL of its own times out an hour later; and when the path comes
    back it reconnects and the StartTransaction of a session begun meanwhile goes out."""
    monkeypatch.setattr(websocket, "CONNECT_TIMEOUT_S", 2)   # a dial into the silent path gives up sooner
    monkeypatch.setattr(connection, "PONG_MIN_MS", 2000)     # the pong's wait at its 2 s interval (10 s on boards)

    async def main():
        cs, hole, rig = await behind_a_hole(tmp_path, ping_interval_s=2)
        await asyncio.sleep(2.5)                          # a ping and its pong went through
        assert rig.svc.connected
        hole.silent = True
        t0 = asyncio.get_running_loop().time()
        while rig.svc.connected and asyncio.get_running_loop().time() - t0 < 8:
            await asyncio.sleep(0.05)
        took = asyncio.get_running_loop().time() - t0
        assert not rig.svc.connected, "still connected %.1f s after the link went silent" % took
        print("offline %.2f s after the link went silent" % took)
        assert took < 6, took                             # at most 2 s to the ping, 2 s for its pong (and a loaded machine)
        rig.state("B2")                                   # offline: a session with the free-of-charge tag
        rig.svc.settings["ocpp_free_id_tag"] = "FREE"
        await cs.wait_for(lambda: rig.svc.tx is not None, 3)
        assert rig.svc.status()["queued"] >= 1
        hole.silent = False                               # the path is back
        start = (await cs.wait_action("StartTransaction", timeout=15))[-1]
        assert start["idTag"] == "FREE"
        await rig.kill()
        hole.stop()
        await cs.stop()
    run(main())


def test_pongs_that_come_late_at_a_short_ping_interval_do_not_end_a_live_link(tmp_path):
    """WebSocketPingInterval 1 s and every byte to the charger 3 s late (on a board: the reader held
    by a slow handler, a congested uplink). The Pongs come, late: the link is alive and stays up; a
    Pong is awaited at least PONG_MIN_MS (10 s), not one ping interval."""
    async def main():
        cs, hole, rig = await behind_a_hole(tmp_path, ping_interval_s=1)
        hole.late_s = 3
        t0 = asyncio.get_running_loop().time()
        while rig.svc.connected and asyncio.get_running_loop().time() - t0 < 8:
            await asyncio.sleep(0.05)
        assert rig.svc.connected, "a live link with late pongs called dead after %.1f s" % (
            asyncio.get_running_loop().time() - t0)
        await rig.kill()
        hole.stop()
        await cs.stop()
    run(main())


# -- 3. a CALL whose uniqueId is too long is answered, not ignored (OCPP-J 1.6 4.1.3, 4.2.3) -------

def test_a_call_with_a_uniqueid_over_36_characters_gets_a_callerror_with_that_id(tmp_path):
    """OCPP-J 1.6 4.1.3: a uniqueId is at most 36 characters. 4.2.3 names "unique identifier too
    long" among the CALLs that get a CALLERROR. A central system that sends a 37-character id must
    get its CALLERROR (FormationViolation, with the id it sent, which is how it matches the answer)
    at once and nothing done, not wait for its own time-out; a 36-character id is an ordinary CALL."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        long_id, ok_id = "x" * 37, "y" * 36
        frame = '[2,"%s","ChangeConfiguration",{"key":"HeartbeatInterval","value":"77"}]'
        ans = await cs.send_raw("cp1", frame % long_id, uid=long_id)
        assert ans is not None, "no answer: the central system waits for its time-out"
        assert ans[:3] == [4, long_id, "FormationViolation"], ans
        assert rig.svc.config.get("HeartbeatInterval") != 77
        ans = await cs.send_raw("cp1", frame % ok_id, uid=ok_id)
        assert ans == [3, ok_id, {"status": "Accepted"}], ans
        assert rig.svc.connected
        await rig.kill()
        await cs.stop()
    run(main())


# -- 4. the central system moving the clock is a security event (Security Whitepaper, appendix 1) --

def test_the_central_system_moving_the_clock_is_the_security_event_setting_system_time(tmp_path):
    """The charger's clock is set by the BootNotification answer. An hour later by its own clock,
    a Heartbeat answer says it is 2 hours later (a central system whose clock was wrong, or someone
    rewinding a charger's clock to replay authorizations): the whitepaper's appendix 1 lists
    SettingSystemTime, a critical event, for "the system time on the Charge Point was changed". A
    Heartbeat answer within a second of the charger's own time is no such change."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        await cs.wait_for(lambda: cs.actions("SecurityEventNotification") and not rig.svc.immediate)
        kinds = lambda: [p["type"] for p in cs.actions("SecurityEventNotification")]
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
        await cs.wait_action("Heartbeat")
        await asyncio.sleep(0.3)
        assert kinds() == ["StartupOfTheDevice"], kinds()     # the same time: no event
        later = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cs.overrides["Heartbeat"] = lambda kw: call_result.Heartbeat(current_time=later)
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
        ev = await cs.wait_for(lambda: [p for p in cs.actions("SecurityEventNotification") if p["type"] == "SettingSystemTime"], 5)
        assert ev[0]["techInfo"] in ("+7199 s", "+7200 s", "+7201 s"), ev   # the central system's time has whole seconds
        await rig.kill()
        await cs.stop()
    run(main())


# -- 5. the AuthorizationKey is never read back (Security Whitepaper: write-only) -----------------

def test_the_authorization_key_set_by_the_central_system_is_never_read_back(tmp_path):
    """The central system sets AuthorizationKey (TC_073's key); GetConfiguration of every key and
    of that key alone must not give its value back (the whitepaper makes it write-only, "so that
    it cannot be accidentally stored in plaintext by the Central System")."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        key = "4F43415F4F4354545F61646D696E5F74657374"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="AuthorizationKey", value=key))).status == "Accepted"
        await cs.wait_for(lambda: rig.svc.accepted, 10)
        every = await cs.call("cp1", call.GetConfiguration())
        one = await cs.call("cp1", call.GetConfiguration(key=["AuthorizationKey"]))
        assert key not in str(every) and key not in str(one)
        assert not one.unknown_key and one.configuration_key == [{"key": "AuthorizationKey", "readonly": False}]
        await rig.kill()
        await cs.stop()
    run(main())
