"""The third OCPP audit's defects (offline behaviour of queued messages, configuration values,
the security extension), one bench scenario each: the OCPP service under CPython against the PyPI
`ocpp` central system (host_tests/ocpp_cs.py), which validates every frame against the official
OCPP 1.6 schemas. Section numbers: OCPP 1.6 edition 2; "whitepaper": the OCPP 1.6 Security
Whitepaper edition 2/3."""
import asyncio
import json

from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import Rig, booted, run, fast_reconnect  # noqa: F401 (fixture)


class DropOn(CentralSystem):
    """A central system whose link goes down (no answer, connection closed) the first time the
    charge point sends `action`: a Wi-Fi drop with that CALL on the wire."""

    def __init__(self, action, **kw):
        super().__init__(**kw)
        self.drop_action = action
        self.dropped = False
        cs = self

        class CP(self.cp_class):
            async def route_message(self, raw_msg):
                msg = json.loads(raw_msg)
                if msg[0] == 2 and msg[2] == cs.drop_action and not cs.dropped:
                    cs.dropped = True
                    cs.calls.append((msg[2], msg[3]))
                    await self._connection.close()
                    return
                await super().route_message(raw_msg)
        self.cp_class = CP


class Mute(CentralSystem):
    """A central system that reads but never answers `action` while `mute` is set."""

    def __init__(self, action, **kw):
        super().__init__(**kw)
        self.mute = False
        cs = self

        class CP(self.cp_class):
            async def route_message(self, raw_msg):
                msg = json.loads(raw_msg)
                if cs.mute and msg[0] == 2 and msg[2] == action:
                    cs.calls.append((msg[2], msg[3]))
                    cs.changed.set()
                    return
                await super().route_message(raw_msg)
        self.cp_class = CP


# -- 1. an Authorize still queued when the link drops is decided offline (section 4.1, 3.5) ------

def test_a_card_presented_while_the_link_hangs_is_decided_by_the_local_list_when_it_drops(tmp_path):
    """The central system stops answering (a StatusNotification hangs); the driver presents a card
    in the local list: its Authorize waits behind. The link then drops: the card must be decided by
    the offline rules (LocalAuthorizeOffline, local list: accepted), not left pending until the
    link comes back, and no stale Authorize may go out after the reconnection."""
    async def main():
        cs = Mute("StatusNotification", accepted_tags=())
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: cs.actions("SecurityEventNotification") and not rig.svc.immediate)
        await asyncio.sleep(0.3)                          # the boot's last answer is in: idle
        cs.mute = True
        rig.state("B1")                                   # Preparing goes out, never answered
        await cs.wait_for(lambda: cs.actions("StatusNotification")[-1]["status"] == "Preparing")
        assert rig.svc.present_id("LISTED") == "pending"  # its Authorize waits behind the status
        await cs.stop()                                   # the link drops
        await cs.wait_for(lambda: not rig.svc.connected)
        await asyncio.sleep(0.5)
        assert rig.svc.last_auth == ("LISTED", "Accepted"), rig.svc.last_auth
        assert rig.charger.authorized
        await cs.start(cs.port)                           # back: no stale Authorize goes out
        await cs.wait_for(lambda: rig.svc.accepted)
        await asyncio.sleep(0.3)
        assert "Authorize" not in cs.actions()
        await rig.kill()
        await cs.stop()
    run(main())


# -- 2. a security event on the wire when the link drops is sent again (whitepaper, A04) ---------

def test_a_security_event_lost_with_the_link_is_sent_again_after_the_reconnection(tmp_path):
    """StartupOfTheDevice goes out after the boot; the link drops before its answer. Security
    events are queued with guaranteed delivery while disconnected (whitepaper, use case A04): it
    goes out again once the central system has accepted the charge point again, in the same boot."""
    async def main():
        cs = DropOn("SecurityEventNotification")
        await cs.start()
        rig = await booted(cs, tmp_path)
        await cs.wait_for(lambda: cs.dropped)
        await cs.wait_for(lambda: cs.connections >= 2 and rig.svc.accepted)
        await cs.wait_for(lambda: len(cs.actions("SecurityEventNotification")) >= 2, timeout=3)
        assert [p["type"] for p in cs.actions("SecurityEventNotification")] == ["StartupOfTheDevice"] * 2
        await cs.wait_for(lambda: not rig.svc.state.get("sec"))      # answered: no longer kept
        await rig.kill()
        await cs.stop()
    run(main())


# -- 3. ChangeConfiguration checks ConnectorPhaseRotation's values (section 9.1.7) ----------------

def test_connector_phase_rotation_takes_only_the_values_section_9_1_7_defines(tmp_path):
    """NotApplicable, Unknown, RST, RTS, SRT, STR, TRS or TSR, alone or per connector as a
    comma-separated list `0.RST,1.RTS` (0: the grid meter; 1: the one connector): Accepted and
    reported; anything else Rejected and the value kept (section 5.3: a value not valid is Rejected)."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        await booted(cs, tmp_path)

        async def change(v):
            return (await cs.call("cp1", call.ChangeConfiguration(key="ConnectorPhaseRotation", value=v))).status

        async def value():
            res = await cs.call("cp1", call.GetConfiguration(key=["ConnectorPhaseRotation"]))
            return res.configuration_key[0]["value"]

        for bad in ("garbage", "1.XYZ", "2.RST", "1.RST,1.", "rst.1"):
            assert await change(bad) == "Rejected", bad
        assert await value() == "NotApplicable"
        for good in ("Unknown", "1.RST", "0.RST,1.TSR", "NotApplicable"):
            assert await change(good) == "Accepted", good
            assert await value() == good
        await cs.stop()
    run(main())


# -- 4. an idTag in the local list is never cached (section 3.5.3) -------------------------------

def test_a_listed_card_is_not_cached_so_taking_it_off_the_list_refuses_it_offline(tmp_path):
    """Section 3.5.3: identifiers known in the Local Authorization List SHALL NOT be added to the
    Authorization Cache. LISTED is on the list; presented online it is authorized by the central
    system. The central system then takes it off the list (Differential, no idTagInfo) and the
    link drops: offline, LISTED is an unknown card (AllowOfflineTxForUnknownId false): refused.
    A cached copy of the old answer accepted it."""
    async def main():
        cs = CentralSystem(accepted_tags=("LISTED",))
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        assert rig.svc.present_id("LISTED") == "pending"          # LocalPreAuthorize false: Authorize
        await cs.wait_for(lambda: rig.charger.authorized)
        assert "LISTED" not in rig.svc.auth.cache
        rig.svc.auth_tag = None
        rig.charger.authorize(False)
        res = await cs.call("cp1", call.SendLocalList(list_version=2, update_type="Differential",
                                                      local_authorization_list=[{"idTag": "LISTED"}]))
        assert res.status == "Accepted"
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        assert rig.svc.present_id("LISTED") == "Invalid"
        assert not rig.charger.authorized
        await rig.kill()
    run(main())


# -- 5. the central system contradicting the local list: LocalListConflict (section 3.5.2) -------

def test_an_authorize_answer_against_the_local_list_is_reported_as_local_list_conflict(tmp_path):
    """LISTED is Accepted in the local list; online (LocalPreAuthorize false) the Authorize answer
    says Invalid. The central system's answer decides (refused), and the conflict is reported: a
    StatusNotification for connector 0 with errorCode LocalListConflict (section 3.5.2: SHALL)."""
    async def main():
        cs = CentralSystem(accepted_tags=())
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        assert rig.svc.present_id("LISTED") == "pending"
        await cs.wait_for(lambda: rig.svc.last_auth == ("LISTED", "Invalid"))
        cp0 = await cs.wait_for(lambda: [p for p in cs.actions("StatusNotification")
                                         if p["connectorId"] == 0 and p["errorCode"] == "LocalListConflict"])
        assert cp0[0]["status"] == "Available"
        assert not rig.charger.authorized
        await rig.kill()
        await cs.stop()
    run(main())


# -- 6. idTags are case-insensitive (IdToken is a CiString20Type, section 7) ---------------------

def test_an_id_tag_matches_its_list_entry_and_its_transaction_whatever_the_letter_case(tmp_path):
    """The central system lists the card as 04A1B2C3; the reader gives its hex in lower case.
    IdToken is CiString20Type, a case-insensitive string: offline the list accepts 04a1b2c3, and
    the same card presented again (in upper case) ends its own transaction (reason Local)."""
    async def main():
        cs = CentralSystem(accepted_tags=())
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=[
            {"idTag": "04A1B2C3", "idTagInfo": {"status": "Accepted"}}]))
        assert res.status == "Accepted"
        await cs.stop()
        await cs.wait_for(lambda: not rig.svc.connected)
        assert rig.svc.present_id("04a1b2c3") == "accepted"
        rig.state("B2")
        await cs.wait_for(lambda: rig.svc.tx)
        assert rig.svc.present_id("04A1B2C3") == "stopping"
        assert rig.svc.tx is None
        await rig.kill()
    run(main())


# -- 7. a link that comes back is not a reboot (section 4.2) -------------------------------------

def test_a_link_that_comes_back_sends_no_boot_notification_and_the_session_goes_on(tmp_path):
    """Section 4.2: a BootNotification each time the charge point boots. A Wi-Fi drop in a session
    is no boot: a central system that takes a BootNotification for a reboot may end the session it
    believes lost. After the link comes back the connector's status is told again and the
    transaction's values go on under its id; a real reboot boots again."""
    from host_tests.test_ocpp_cs import charge_session

    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path, config={"MeterValueSampleInterval": 1})
        txid = await charge_session(cs, rig)
        await cs.stop()                                   # the link drops, the car charges on
        await cs.wait_for(lambda: not rig.svc.connected)
        before = len(cs.calls)
        await cs.start()
        await cs.wait_for(lambda: cs.connections == 2 and rig.svc.accepted)
        await cs.wait_for(lambda: any(a == "StatusNotification" and p["connectorId"] == 1
                                      for a, p in cs.calls[before:]))
        rig.meter.wh_total += 100
        await cs.wait_for(lambda: any(a == "MeterValues" for a, _ in cs.calls[before:]), timeout=5)
        assert len(cs.actions("BootNotification")) == 1, cs.actions()
        assert all(p["transactionId"] == txid for a, p in cs.calls[before:] if a == "MeterValues")
        await rig.kill()                                  # a power cut, then the boot
        rig2 = await Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: len(cs.actions("BootNotification")) == 2)
        await rig2.kill()
        await cs.stop()
    run(main())


# -- 8. SendLocalList: a Full list's entries need idTagInfo; versions as GetLocalListVersion says --

def test_a_full_list_entry_without_id_tag_info_fails_and_an_empty_list_counts_as_version_0(tmp_path):
    """Section 7.2 AuthorizationData: idTagInfo is required in a Full update (a Full list of a
    card without its status is a broken list, not a list that grants nothing: Failed, the list kept).
    Section 5.10: an empty list reports version 0, so a central system that read 0 and sends a
    Differential of version 1 is not refused VersionMismatch against the emptied list's old number."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        ok = {"status": "Accepted"}
        res = await cs.call("cp1", call.SendLocalList(list_version=5, update_type="Full", local_authorization_list=[
            {"idTag": "A", "idTagInfo": ok}]))
        assert res.status == "Accepted"
        res = await cs.call("cp1", call.SendLocalList(list_version=6, update_type="Full", local_authorization_list=[
            {"idTag": "B", "idTagInfo": ok}, {"idTag": "C"}]))
        assert res.status == "Failed"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 5      # kept
        res = await cs.call("cp1", call.SendLocalList(list_version=7, update_type="Full", local_authorization_list=[]))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 0
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Differential",
                                                      local_authorization_list=[{"idTag": "D", "idTagInfo": ok}]))
        assert res.status == "Accepted"
        assert (await cs.call("cp1", call.GetLocalListVersion())).list_version == 1
        await rig.kill()
        await cs.stop()
    run(main())


# -- 9. a reservation's idTag whatever the letter case (section 7, CiString20) ------------------

def test_a_reservation_admits_its_id_tag_and_its_group_whatever_the_letter_case(tmp_path):
    async def main():
        cs = CentralSystem(accepted_tags=("04a1b2c3", "OTHER"))
        await cs.start()
        rig = await booted(cs, tmp_path)
        res = await cs.call("cp1", call.ReserveNow(connector_id=1, expiry_date="2099-01-01T00:00:00Z",
                                                   id_tag="04A1B2C3", reservation_id=7))
        assert res.status == "Accepted"
        assert rig.svc.present_id("OTHER") == "Reserved"                   # not the reserved card
        await asyncio.sleep(0.3)
        assert not rig.charger.authorized
        rig.svc.present_id("04a1b2c3")                                    # the reserved card, lower case
        await cs.wait_for(lambda: rig.charger.authorized)
        await rig.kill()
        await cs.stop()
    run(main())


def test_configuration_keys_are_matched_whatever_the_letter_case(tmp_path):
    """GetConfiguration's and ChangeConfiguration's keys are CiString50 (sections 6.23, 6.3:
    case-insensitive): a key in another case is the same key, reported as the charge point spells
    it; an unknown one stays unknown (NotSupported, unknownKey)."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        await booted(cs, tmp_path)
        res = await cs.call("cp1", call.ChangeConfiguration(key="heartbeatinterval", value="120"))
        assert res.status == "Accepted"
        res = await cs.call("cp1", call.GetConfiguration(key=["HEARTBEATINTERVAL", "NoSuchKey"]))
        assert res.configuration_key == [{"key": "HeartbeatInterval", "readonly": False, "value": "120"}]
        assert res.unknown_key == ["NoSuchKey"]
        res = await cs.call("cp1", call.ChangeConfiguration(key="nosuchkey", value="1"))
        assert res.status == "NotSupported"
        res = await cs.call("cp1", call.ChangeConfiguration(key="numberofconnectors", value="2"))
        assert res.status == "Rejected"                       # read-only, in any case
        await cs.stop()
    run(main())
