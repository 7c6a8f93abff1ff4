"""The fifth audit of OCPP 1.6J (edition 2, the Security Whitepaper edition 3): time, security
events and configuration keys, one bench scenario each. The OCPP service runs under CPython against
the PyPI `ocpp` central system (host_tests/ocpp_cs.py), which validates every frame against the
official OCPP 1.6 JSON schemas."""
import asyncio
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call_result

from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import Rig, booted, run, fast_reconnect  # noqa: F401 (fixture)


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- 1. the AuthorizationKey is a known key, listed without its value ------------------------------

def test_get_configuration_lists_the_authorization_key_without_its_value(tmp_path):
    """The Security Whitepaper makes AuthorizationKey write-only "so that it cannot be accidentally
    stored in plaintext by the Central System when it reads out all configuration keys": the key
    is supported (ChangeConfiguration takes it), so GetConfiguration lists it as a recognized key
    (OCPP 1.6 5.8: only unrecognized keys go to unknownKey) with no value (KeyValue.value is
    optional). Answering unknownKey told the central system the charger had no such key."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        one = await cs.call("cp1", call.GetConfiguration(key=["AuthorizationKey"]))
        assert not one.unknown_key, one
        assert one.configuration_key == [{"key": "AuthorizationKey", "readonly": False}], one
        key = "4F43415F4F4354545F61646D696E5F74657374"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="AuthorizationKey", value=key))).status == "Accepted"
        await cs.wait_for(lambda: rig.svc.accepted, 10)
        every = await cs.call("cp1", call.GetConfiguration())
        one = await cs.call("cp1", call.GetConfiguration(key=["authorizationkey"]))
        assert key not in str(every) and key not in str(one)
        assert {"key": "AuthorizationKey", "readonly": False} in every.configuration_key, every
        assert one.configuration_key == [{"key": "AuthorizationKey", "readonly": False}], one
        await rig.kill()
        await cs.stop()
    run(main())


# -- 2. a central system that rejects the charger does not set its clock ---------------------------

def test_a_rejected_boot_notification_sets_no_clock(tmp_path):
    """OCPP 1.6 4.2: the clock is synchronized with currentTime "when the Central System responds
    with a BootNotification.conf with a status Accepted". A central system that rejects this
    charger (one that does not know it: a wrong URL or identity) answers with a time 300 days off:
    neither the service's time nor the board's clock take it. Once the right central system
    accepts the charger its time is the clock's first setting this boot, no SettingSystemTime (the
    old code set the clock from the rejection, then raised a critical SettingSystemTime of
    +25920000 s and had the board's clock (fault log, history, charging windows) 300 days off
    meanwhile)."""
    async def main():
        cs = CentralSystem(boot_status=("Rejected",))
        wrong = _iso(datetime.now(timezone.utc) - timedelta(days=300))
        cs.overrides["BootNotification"] = lambda kw: call_result.BootNotification(
            current_time=wrong, interval=1, status="Rejected")
        await cs.start()
        rig = Rig(cs, tmp_path)
        board = []
        rig.svc.set_utc = board.append                  # the board's clock (hal.set_utc)
        await rig.start()
        await cs.wait_for(lambda: len(cs.actions("BootNotification")) >= 2)
        assert not rig.svc.wall.known() and board == [], (rig.svc.wall.now(rig.svc.ticks()), board)
        del cs.overrides["BootNotification"]            # the charger is registered: Accepted
        cs.boot_status = ["Accepted"]
        await cs.wait_for(lambda: rig.svc.accepted, 10)
        now = datetime.now(timezone.utc).timestamp()
        assert abs(rig.svc.wall.now(rig.svc.ticks()) - now) <= 3
        assert len(board) == 1 and abs(board[0] - now) <= 3, board
        await cs.wait_for(lambda: cs.actions("SecurityEventNotification"))
        assert [p["type"] for p in cs.actions("SecurityEventNotification")] == ["StartupOfTheDevice"]
        await rig.kill()
        await cs.stop()
    run(main())


# -- 3. currentTime with an ISO 8601 offset written +hhmm or +hh -----------------------------------

def test_a_current_time_with_a_basic_format_offset_sets_the_clock(tmp_path):
    """OCPP 1.6, "Time notations": ISO 8601, and "message receivers must be able to
    handle fractional seconds and time zone offsets". A central system that writes its time as
    Java's SimpleDateFormat "Z" does, 2026-12-06T16:11:30.123+0100, or with an hour-only offset,
    was not understood: the charger had no clock and stamped its StatusNotification and
    StartTransaction 1970-01-01T00:00:00Z."""
    async def main():
        cs = CentralSystem()
        here = datetime.now(timezone(timedelta(hours=1)))
        cs.overrides["BootNotification"] = lambda kw: call_result.BootNotification(
            current_time=here.strftime("%Y-%m-%dT%H:%M:%S.123%z"), interval=300, status="Accepted")
        await cs.start()
        rig = await booted(cs, tmp_path)
        st = await cs.wait_action("StatusNotification")
        now = datetime.now(timezone.utc)
        for p in st:
            t = datetime.strptime(p["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            assert abs((t - now).total_seconds()) <= 3, p
        cs.overrides["Heartbeat"] = lambda kw: call_result.Heartbeat(
            current_time=(datetime.now(timezone(timedelta(hours=-5))) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S-05"))
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
        ev = await cs.wait_for(lambda: [p for p in cs.actions("SecurityEventNotification") if p["type"] == "SettingSystemTime"])
        assert abs(int(ev[0]["techInfo"].split()[0]) - 7200) <= 3, ev
        await rig.kill()
        await cs.stop()
    run(main())


# -- 4. a triggered BootNotification answered Pending or Rejected keeps the heartbeat -------------

def test_a_triggered_boot_notification_not_accepted_keeps_the_heartbeat_interval(tmp_path):
    """OCPP 1.6 4.2: the heartbeat interval follows the answer's interval when the status is
    Accepted; "if the Central System returns something other than Accepted, the value of the
    interval field indicates the minimum wait time before sending a next BootNotification". The
    central system triggers a BootNotification (TriggerMessage) and answers it Pending, 7 s: the
    HeartbeatInterval stays the 300 s of the accepted boot (it became 7 s: a Heartbeat every 7 s)."""
    async def main():
        cs = CentralSystem(heartbeat=300, boot_interval=7)
        await cs.start()
        rig = await booted(cs, tmp_path)
        for st in ("Pending", "Rejected"):
            cs.boot_status = [st]
            n = len(cs.actions("BootNotification"))
            assert (await cs.call("cp1", call.TriggerMessage(requested_message="BootNotification"))).status == "Accepted"
            await cs.wait_for(lambda: len(cs.actions("BootNotification")) > n)
            await asyncio.sleep(0.3)                    # the answer is in
            conf = await cs.call("cp1", call.GetConfiguration(key=["HeartbeatInterval"]))
            assert conf.configuration_key[0]["value"] == "300", (st, conf)
        cs.boot_status = ["Accepted"]
        cs.heartbeat = 120
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="BootNotification"))).status == "Accepted"
        await cs.wait_for(lambda: rig.svc.config.get("HeartbeatInterval") == 120)
        await rig.kill()
        await cs.stop()
    run(main())


# -- 5. InvalidMessages: a frame or payload that is no valid OCPP message --------------------------

def test_invalid_messages_are_a_security_event_once_a_boot(tmp_path):
    """The Security Whitepaper's appendix 1 lists InvalidMessages (the charge point received
    messages that are not valid OCPP messages). A central system (or whoever holds the link)
    sends a frame that is no JSON, then a ChangeConfiguration without its value: each is answered
    as before (FormationViolation, the CALL's error) and the first is the security event, in the
    security log and sent, once this boot (a fuzzing peer must not fill the flash). It was none."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        await cs.wait_for(lambda: cs.actions("SecurityEventNotification"))     # StartupOfTheDevice
        await cs.send_raw("cp1", '[2, "x1", "Heartbeat"', None, timeout=0.3)
        reply = await cs.send_raw("cp1", '[2, "x2", "ChangeConfiguration", {"key": "HeartbeatInterval"}]', "x2")
        assert reply[0] == 4 and reply[1] == "x2", reply
        ev = await cs.wait_for(lambda: [p for p in cs.actions("SecurityEventNotification") if p["type"] == "InvalidMessages"])
        assert "FormationViolation" in ev[0]["techInfo"], ev
        await asyncio.sleep(0.5)
        assert len([p for p in cs.actions("SecurityEventNotification") if p["type"] == "InvalidMessages"]) == 1
        with open(tmp_path / "security.log") as f:
            assert " InvalidMessages " in f.read()
        await rig.kill()
        await cs.stop()
    run(main())


# -- 6. no clock: a StatusNotification without its optional timestamp, not 1970 --------------------

def test_a_status_notification_without_a_clock_has_no_timestamp(tmp_path):
    """StatusNotification.req's timestamp is optional (OCPP 1.6 6.47: "if absent time of receipt
    of the message will be assumed"). A central system whose currentTime cannot be read (here no
    date at all) leaves the charger without a clock: its statuses went out stamped
    1970-01-01T00:00:00Z, which a back end files 56 years back; they now leave the time out."""
    async def main():
        cs = CentralSystem()
        cs.overrides["BootNotification"] = lambda kw: call_result.BootNotification(
            current_time="now", interval=300, status="Accepted")
        await cs.start()
        rig = await booted(cs, tmp_path)
        st = await cs.wait_action("StatusNotification", 2)
        assert [p.get("timestamp") for p in st] == [None, None], st
        await rig.kill()
        await cs.stop()
    run(main())
