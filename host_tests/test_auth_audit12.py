"""Who may charge, online and offline: the twelfth audit of OCPP 1.6 authorization (sections 3.5
Local Authorization & Offline Behavior, 4.1 Authorize, 4.8 StartTransaction, 4.10 StopTransaction,
5.3 ClearCache, 5.9 GetLocalListVersion, 5.15 SendLocalList, 9.1 the keys).

Bench scenarios as a site operator runs them: the unmodified firmware on the virtual bench, a car
plugged in on the simulated wires, cards presented on the console (the reader's path), and the
central system of octt_cs (PyPI `ocpp`, every frame checked against the official schemas) going
away and coming back."""
import json

import pytest
from ocpp.exceptions import InternalError

from evse.ocpp import connection
from evse.ocpp.wallclock import format_iso

from octt_cs import call, change_config, charging, offering, run_case, status_is, statuses
from test_octt_core import _offline, _online


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


async def present(b, tag):
    """A card held to the reader: the firmware's answer once decided ('Accepted' or the refusal;
    'stopping' or 'busy' during a transaction), waiting out an Authorize."""
    r = (await b.reply({"cmd": "authorize", "id_tag": tag}))["ocpp"]
    if r == "pending":
        await b.until(lambda: b.svc.last_auth and b.svc.last_auth[1] != "pending", 40, "decision on " + tag)
        return b.svc.last_auth[1]
    return "Accepted" if r == "accepted" else r


async def send_list(cs, version, entries, kind="Full"):
    return (await cs.call("cp1", call.SendLocalList(list_version=version, update_type=kind,
                                                    local_authorization_list=entries))).status


async def list_version(cs):
    return (await cs.call("cp1", call.GetLocalListVersion())).list_version


def entry(tag, status="Accepted", parent=None):
    info = {"status": status}
    if parent:
        info["parentIdTag"] = parent
    return {"idTag": tag, "idTagInfo": info}


async def configure(cs, **keys):
    for k, v in keys.items():
        assert await change_config(cs, k, v) == "Accepted", k


async def refused_no_energy(b, cs, seconds=2.0):
    """The car asks (C) and gets nothing: no transaction, the pilot at 100 %, the contactor open."""
    b.d.ev("C")
    await b.wait(seconds)
    assert not b.svc.tx and not b.d.coil and b.d.duty == 100.0


async def refused_offline(cs, b, tag, status):
    """The link cut, a car plugged in, the card presented: refused with that status, no energy."""
    await _offline(cs, b)
    b.d.plug()
    assert await present(b, tag) == status
    await refused_no_energy(b, cs)


# -- offline: the list, the cache, the unknown ----------------------------------------------------

def test_offline_a_listed_card_charges_and_a_stranger_is_refused(tmp_path):
    """LocalAuthorizeOffline (default true): the list decides offline. A card not on it is refused
    (AllowOfflineTxForUnknownId false, the default); the listed one charges at once, and its
    StartTransaction goes out when the central system is back."""
    async def case(cs, power_on):
        b = await power_on()
        assert await send_list(cs, 1, [entry("GOOD")]) == "Accepted"
        await refused_offline(cs, b, "STRANGER", "Invalid")
        assert await present(b, "good") == "Accepted"     # IdToken: a case-insensitive CiString20
        await b.until(lambda: offering(b), 8, "charging offline")
        await _online(cs, b)
        start = (await b.until(lambda: cs.actions("StartTransaction"), 30, "StartTransaction"))[0]
        assert start["idTag"] == "good" and not cs.actions("Authorize")
    run_case(tmp_path, case)


async def cached(b, cs, tag="GOOD"):
    """The card authorized online once, nobody plugged in: it lapses after ConnectionTimeOut and
    stays in the cache."""
    await configure(cs, ConnectionTimeOut="3")
    assert await present(b, tag) == "Accepted"
    await b.until(lambda: b.svc.auth_tag is None, 8, "authorization lapsed")


def test_offline_a_cached_card_charges(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await cached(b, cs)
        await _offline(cs, b)
        b.d.plug()
        assert await present(b, "GOOD") == "Accepted"
        b.d.ev("C")
        await b.until(lambda: offering(b), 8, "charging offline")
    run_case(tmp_path, case)


def test_offline_an_unknown_card_only_with_allow_offline_tx_for_unknown_id(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await refused_offline(cs, b, "NEW", "Invalid")
        b.d.ev("B")
        await _online(cs, b)
        await b.until(lambda: b.svc.accepted, 20, "accepted again")
        await configure(cs, AllowOfflineTxForUnknownId="true")
        await _offline(cs, b)
        assert await present(b, "NEW") == "Accepted"
        b.d.ev("C")
        await b.until(lambda: offering(b), 8, "charging offline")
    run_case(tmp_path, case)


def test_offline_unknown_cards_allowed_but_revoked_ones_are_refused(tmp_path):
    """Section 3.5.4: Unknown Offline Authorization is for identifiers the list and the cache do
    not know; one the list holds as Blocked, or the cache as revoked, MUST be rejected, also with
    LocalAuthorizeOffline false (the list and cache then authorize nobody, but still know who is
    blocked). The firmware let them charge: AllowOfflineTxForUnknownId was asked before the list."""
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, LocalAuthorizeOffline="false", AllowOfflineTxForUnknownId="true")
        assert await send_list(cs, 1, [entry("STOLEN", "Blocked")]) == "Accepted"
        assert await present(b, "OLD") == "Expired"       # the central system's answer, cached
        await _offline(cs, b)
        b.d.plug()
        assert await present(b, "STOLEN") == "Blocked"
        assert await present(b, "OLD") == "Expired"
        await refused_no_energy(b, cs)
        assert await present(b, "NEW") == "Accepted"
        await b.until(lambda: offering(b), 8, "an unknown card charges offline")
    run_case(tmp_path, case, cs_kw={"tag_status": {"OLD": "Expired"}})


def test_offline_local_pre_authorize_does_not_overrule_local_authorize_offline_false(tmp_path):
    """LocalPreAuthorize is about the online case: start for a card the list accepts without
    waiting for the Authorize answer. Offline, LocalAuthorizeOffline false says the list and cache
    start nothing (section 9.1), whatever LocalPreAuthorize. The firmware took LocalPreAuthorize
    first, online or not, so the listed card charged offline anyway."""
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, LocalPreAuthorize="true", LocalAuthorizeOffline="false")
        assert await send_list(cs, 1, [entry("GOOD")]) == "Accepted"
        await refused_offline(cs, b, "GOOD", "Invalid")
    run_case(tmp_path, case)


def test_a_disabled_list_does_not_keep_its_cards_out_of_the_cache(tmp_path):
    """A card on a list since disabled (LocalAuthListEnabled false) is authorized online: the
    answer is cached like any other (section 3.5.1), so it charges offline. The firmware skipped
    the cache for any card on the stored list, enabled or not: offline it was a stranger."""
    async def case(cs, power_on):
        b = await power_on()
        assert await send_list(cs, 1, [entry("GOOD")]) == "Accepted"
        await configure(cs, LocalAuthListEnabled="false")
        assert await list_version(cs) == -1
        await cached(b, cs)
        await _offline(cs, b)
        b.d.plug()
        assert await present(b, "GOOD") == "Accepted"
    run_case(tmp_path, case)


def test_a_card_blocked_under_another_spelling_is_blocked_offline(tmp_path):
    """The cache matches a card whatever its letter case (IdToken is a CiString20), so it keeps
    one entry a card: the newest answer. A card cached Accepted as the door reader spells it
    (04A1B2C3), then blocked in an answer for the phone app's spelling (04a1b2c3), is refused
    offline. The firmware cached the second spelling beside the first, and offline the reader's
    spelling found its own, stale, Accepted entry."""
    async def case(cs, power_on):
        b = await power_on()
        await cached(b, cs, "04A1B2C3")
        cs.tag_status["04a1b2c3"] = "Blocked"             # the operator blocks the card
        assert await present(b, "04a1b2c3") == "Blocked"
        await refused_offline(cs, b, "04A1B2C3", "Blocked")
        cache = dict(json.loads((tmp_path / "ocpp" / "authcache.json").read_text()))
        assert [k.upper() for k in cache] == ["04A1B2C3"]
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("04A1B2C3",)})


def test_a_card_blocked_on_the_list_then_taken_off_it_is_not_accepted_offline(tmp_path):
    """An employee's card, cached Accepted, is reported stolen: the central system lists it as
    Blocked, then (its list being the valid cards) sends a Full list without it. Offline the card
    is unknown, not Accepted: a card the list names leaves the cache (section 3.5.3: what the list
    knows is not the cache's), so it does not come back from a cache entry older than the list.
    The firmware kept the old Accepted entry and let the stolen card charge offline."""
    async def case(cs, power_on):
        b = await power_on()
        await cached(b, cs)
        assert await send_list(cs, 1, [entry("GOOD", "Blocked"), entry("OTHER")]) == "Accepted"
        cs.accepted_tags.discard("GOOD")
        cs.tag_status["GOOD"] = "Blocked"
        assert await present(b, "GOOD") == "Blocked"
        assert await send_list(cs, 2, [entry("OTHER")]) == "Accepted"
        await refused_offline(cs, b, "GOOD", "Invalid")
    run_case(tmp_path, case)


# -- the StartTransaction answer of a transaction begun offline ----------------------------------

async def started_offline_then_blocked(cs, b):
    await configure(cs, AllowOfflineTxForUnknownId="true")
    await _offline(cs, b)
    b.d.plug()
    assert await present(b, "LOST") == "Accepted"
    b.d.ev("C")
    await b.until(lambda: offering(b), 8, "charging offline")
    await _online(cs, b)
    await b.until(lambda: cs.actions("StartTransaction"), 30, "StartTransaction")


def test_started_offline_answered_blocked_stops_with_stop_transaction_on_invalid_id(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await started_offline_then_blocked(cs, b)
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 10, "StopTransaction"))[0]
        assert stop["reason"] == "DeAuthorized"
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        # the answer is cached: offline again the card is refused
        await _offline(cs, b)
        b.d.unplug()
        await b.wait(1.0)
        b.d.plug()
        assert await present(b, "LOST") == "Blocked"
    run_case(tmp_path, case, cs_kw={"tag_status": {"LOST": "Blocked"}})


def test_started_offline_answered_blocked_without_stop_transaction_on_invalid_id(tmp_path):
    """StopTransactionOnInvalidId false: the transaction stays open, the energy stops
    (SuspendedEVSE). MaxEnergyOnInvalidId, optional, is not offered (GetConfiguration names it
    unknown, ChangeConfiguration NotSupported): the energy allowed after the refusal is none, not
    the meter's worth of a key nobody set."""
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, StopTransactionOnInvalidId="false")
        res = await cs.call("cp1", call.GetConfiguration(key=["MaxEnergyOnInvalidId"]))
        assert res.unknown_key == ["MaxEnergyOnInvalidId"] and not res.configuration_key
        assert await change_config(cs, "MaxEnergyOnInvalidId", "1000") == "NotSupported"
        await started_offline_then_blocked(cs, b)
        await b.until(lambda: b.d.duty == 100.0, 3, "no energy")
        b.d.ev("B")
        await b.until(lambda: not b.d.coil, 2, "contactor open")
        await status_is(b, "SuspendedEVSE")
        b.d.ev("C")
        await b.wait(3.0)
        assert not b.d.coil and not cs.actions("StopTransaction") and b.svc.tx
    run_case(tmp_path, case, cs_kw={"tag_status": {"LOST": "Blocked"}})


# -- expiry, Blocked list entries, LocalPreAuthorize ---------------------------------------------

def test_an_expired_cache_entry_is_refused_offline_and_asked_for_online(tmp_path):
    """The cache keeps the answer's expiryDate: past it the entry is Expired. Offline the card is
    refused; online with LocalPreAuthorize it is not taken from the cache but asked for again."""
    async def case(cs, power_on):
        b = await power_on()
        svc = b.svc
        expiry = svc.wall.now(svc.ticks()) + 20
        plain = cs.respond

        def respond(action, kw):
            res = plain(action, kw)
            if action == "Authorize":
                res.id_tag_info["expiry_date"] = format_iso(expiry)
            return res
        cs.respond = respond
        await configure(cs, LocalPreAuthorize="true")
        await cached(b, cs)
        assert svc.auth.lookup("GOOD", svc.wall.now(svc.ticks())) == ("Accepted", "cache")
        await b.until(lambda: svc.wall.now(svc.ticks()) > expiry, 40, "past the expiry")
        n = len(cs.actions("Authorize"))
        assert await present(b, "GOOD") == "Accepted"        # asked again, the answer says yes
        assert len(cs.actions("Authorize")) == n + 1
        await b.until(lambda: svc.auth_tag is None, 8, "authorization lapsed")
        await b.until(lambda: svc.wall.now(svc.ticks()) > expiry + 25, 40, "past the new expiry")
        await refused_offline(cs, b, "GOOD", "Expired")
    run_case(tmp_path, case)


def test_a_blocked_list_entry_online_is_refused_and_never_pre_authorized(tmp_path):
    """LocalPreAuthorize true: a card the list holds as Blocked is not started locally; it is asked
    for, and the central system's Blocked refuses it: no transaction."""
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, LocalPreAuthorize="true")
        assert await send_list(cs, 1, [entry("STOLEN", "Blocked")]) == "Accepted"
        b.d.plug()
        await status_is(b, "Preparing")
        assert await present(b, "STOLEN") == "Blocked"
        assert [p["idTag"] for p in cs.actions("Authorize")] == ["STOLEN"]
        await refused_no_energy(b, cs)
        assert not cs.actions("StartTransaction")
    run_case(tmp_path, case, cs_kw={"tag_status": {"STOLEN": "Blocked"}})


def test_local_pre_authorize_starts_a_listed_card_at_once(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, LocalPreAuthorize="true")
        assert await send_list(cs, 1, [entry("GOOD")]) == "Accepted"
        b.d.plug()
        await status_is(b, "Preparing")
        r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        assert r["ocpp"] == "accepted"                      # decided here, nothing asked
        await b.until(lambda: cs.actions("StartTransaction"), 2, "StartTransaction at once")
        assert not cs.actions("Authorize")
    run_case(tmp_path, case)


# -- who may stop --------------------------------------------------------------------------------

def test_offline_a_card_of_the_same_group_stops_an_unrelated_one_does_not(tmp_path):
    """Section 4.10: the card that started it, or one with the same parentIdTag, stops it; the
    list knows both groups, so offline the charger decides alone."""
    async def case(cs, power_on):
        b = await power_on()
        assert await send_list(cs, 1, [entry("GOOD", parent="FLEET"), entry("GOOD2", parent="FLEET"),
                                       entry("OTHER", parent="ELSEWHERE")]) == "Accepted"
        await _offline(cs, b)
        b.d.plug()
        assert await present(b, "GOOD") == "Accepted"
        b.d.ev("C")
        await b.until(lambda: offering(b), 8, "charging offline")
        assert await present(b, "OTHER") == "busy"
        await b.wait(2.0)
        assert offering(b) and b.svc.tx
        assert await present(b, "GOOD2") == "stopping"
        await b.until(lambda: b.d.duty == 100.0, 2, "PWM off")
        await _online(cs, b)
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 30, "StopTransaction"))[0]
        assert stop["idTag"] == "GOOD2" and stop["reason"] == "Local"
        assert not cs.actions("Authorize")
    run_case(tmp_path, case)


def test_the_stop_answer_updates_the_cache(tmp_path):
    """Section 4.10: the idTagInfo in StopTransaction's answer is about the card that stopped it,
    and goes into the cache: a fleet card blocked since it was cached is refused offline after."""
    async def case(cs, power_on):
        from ocpp_cs import call_result
        b = await power_on()
        plain = cs.respond
        parents = {"GOOD": "FLEET", "GOOD2": "FLEET"}

        def respond(action, kw):
            if action == "StopTransaction":
                return call_result.StopTransaction(id_tag_info={"status": "Blocked", "parent_id_tag": "FLEET"})
            res = plain(action, kw)
            if action in ("Authorize", "StartTransaction"):
                res.id_tag_info["parent_id_tag"] = parents[kw["id_tag"]]
            return res
        cs.respond = respond
        await cached(b, cs, "GOOD2")
        await charging(b)
        assert await present(b, "GOOD2") == "stopping"          # its cached entry: same group
        await b.until(lambda: cs.actions("StopTransaction"), 5, "StopTransaction")
        await b.until(lambda: b.svc.auth.lookup("GOOD2", None)[0] == "Blocked", 5, "cache updated")
        await _offline(cs, b)
        b.d.unplug()
        await b.wait(1.0)
        b.d.plug()
        assert await present(b, "GOOD2") == "Blocked"
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "GOOD2")})


@pytest.mark.parametrize("authorize_remote", ["true", "false"])
def test_remote_start_of_a_blocked_card_with_and_without_authorize_remote_tx_requests(tmp_path, authorize_remote):
    """AuthorizeRemoteTxRequests true: the remote start's idTag is authorized as a presented card
    (Authorize, Blocked: no transaction); false: the central system's request is the authorization
    (section 5.11), the transaction starts without an Authorize."""
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, AuthorizeRemoteTxRequests=authorize_remote)
        b.d.plug()
        await status_is(b, "Preparing")
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="LOST", connector_id=1))
        assert res.status == "Accepted"
        if authorize_remote == "true":
            await b.until(lambda: b.svc.last_auth == ("LOST", "Blocked"), 5, "refused")
            await refused_no_energy(b, cs)
            assert [p["idTag"] for p in cs.actions("Authorize")] == ["LOST"]
        else:
            await b.until(lambda: cs.actions("StartTransaction"), 5, "StartTransaction")
            assert not cs.actions("Authorize")
    run_case(tmp_path, case, cs_kw={"tag_status": {"LOST": "Blocked"}})


def test_online_an_unrelated_card_does_not_stop_the_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        assert await present(b, "GOOD2") == "busy"
        await b.wait(2.0)
        assert offering(b) and not cs.actions("StopTransaction") and not cs.actions("Authorize")[1:]
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "GOOD2")})


# -- bounds, ClearCache, versions ----------------------------------------------------------------

def test_the_lists_bounds(tmp_path):
    """SendLocalListMaxLength entries a message, LocalAuthListMaxLength on the charger: a Full list
    of 100 is taken, 101 in one message is Failed, and a Differential update that would make 101
    is Failed with the list and its version as they were."""
    async def case(cs, power_on):
        b = await power_on()
        res = await cs.call("cp1", call.GetConfiguration(key=["LocalAuthListMaxLength", "SendLocalListMaxLength"]))
        assert {k["key"]: k["value"] for k in res.configuration_key} == {
            "LocalAuthListMaxLength": "100", "SendLocalListMaxLength": "100"}
        hundred = [entry("T%03d" % i) for i in range(100)]
        assert await send_list(cs, 2, hundred + [entry("T100")]) == "Failed"
        assert await list_version(cs) == 0
        assert await send_list(cs, 3, hundred) == "Accepted"
        assert await send_list(cs, 4, [entry("T100")], "Differential") == "Failed"
        assert await list_version(cs) == 3 and len(b.svc.auth.local) == 100
        assert await send_list(cs, 4, [{"idTag": "T000"}, entry("T100")], "Differential") == "Accepted"
        assert "T000" not in b.svc.auth.local and "T100" in b.svc.auth.local
    run_case(tmp_path, case)


def test_the_cache_holds_64_cards_dropping_the_oldest(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        for i in range(65):
            assert await present(b, "C%02d" % i) == "Invalid"
        cache = dict(json.loads((tmp_path / "ocpp" / "authcache.json").read_text()))
        assert len(cache) == 64 and "C00" not in cache and cache["C64"] == {"status": "Invalid"}
    run_case(tmp_path, case)


def test_clear_cache_forgets_the_cache_not_the_list(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await send_list(cs, 7, [entry("LISTED")]) == "Accepted"
        await cached(b, cs)
        assert (await cs.call("cp1", call.ClearCache())).status == "Accepted"
        assert json.loads((tmp_path / "ocpp" / "authcache.json").read_text()) == []
        assert await list_version(cs) == 7
        await _offline(cs, b)
        b.d.plug()
        assert await present(b, "GOOD") == "Invalid"
        assert await present(b, "LISTED") == "Accepted"
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "LISTED")})


def test_send_local_list_version_rules(tmp_path):
    """Section 5.15 and 5.9: a Differential update not newer than the list is VersionMismatch; a
    Full one replaces the list whatever its version; an entry without idTagInfo in a Differential
    update removes the card; the empty list is version 0; a Full entry without idTagInfo is Failed;
    the list disabled: -1 and NotSupported."""
    async def case(cs, power_on):
        b = await power_on()
        assert await list_version(cs) == 0
        assert await send_list(cs, 5, [entry("A"), entry("B")]) == "Accepted"
        assert await send_list(cs, 5, [entry("C")], "Differential") == "VersionMismatch"
        assert await send_list(cs, 3, [entry("C")]) == "Accepted"               # Full: any version
        assert await list_version(cs) == 3 and set(b.svc.auth.local) == {"C"}
        assert await send_list(cs, 4, [{"idTag": "c"}], "Differential") == "Accepted"
        assert await list_version(cs) == 0 and b.svc.auth.local == {}
        assert await send_list(cs, 6, [{"idTag": "D"}]) == "Failed"
        await configure(cs, LocalAuthListEnabled="false")
        assert await list_version(cs) == -1
        assert await send_list(cs, 8, [entry("E")]) == "NotSupported"
    run_case(tmp_path, case)


# -- flash: reboot, corruption -------------------------------------------------------------------

def test_list_and_cache_survive_a_power_cut_and_serve_offline(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert await send_list(cs, 9, [entry("LISTED"), entry("STOLEN", "Blocked")]) == "Accepted"
        await cached(b, cs)
        await cs.stop()
        b = await power_on(wait_accepted=False)            # the power back, the central system not
        await b.wait(2.0)
        assert not b.svc.accepted and b.svc.auth.list_version == 9
        assert await present(b, "STOLEN") == "Blocked"     # no car yet: nothing starts
        assert await present(b, "LISTED") == "Accepted"
        assert await present(b, "GOOD") == "Accepted"
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD", "LISTED")})


@pytest.mark.parametrize("cache_text,list_text", [
    ('{"GOOD": {"status": "Acc', '{"v": 4, "l": {"GO'),               # cut off mid-write
    ('["GOOD"]', '{"v": 4}'),                                       # JSON, not the shape
    ('{"GOOD": "Accepted"}', '{"v": 4, "l": {"GOOD": "Accepted"}}'),  # entries not idTagInfo
    ('7', '[4, {"GOOD": {"status": "Accepted"}}]'),
])
def test_a_corrupted_cache_or_list_file_is_an_empty_one(tmp_path, cache_text, list_text):
    """A damaged authcache.json or locallist.json reads as empty: OCPP still starts (the firmware
    failed to start the service at all on a file of the wrong shape, a charger the central system
    could not reach to send a new list) and no card is accepted because of the damage; the
    central system sees version 0 and sends the list again."""
    (tmp_path / "ocpp").mkdir()
    (tmp_path / "ocpp" / "authcache.json").write_text(cache_text)
    (tmp_path / "ocpp" / "locallist.json").write_text(list_text)

    async def case(cs, power_on):
        b = await power_on()
        assert await list_version(cs) == 0
        await refused_offline(cs, b, "GOOD", "Invalid")
        await _online(cs, b)
        await b.until(lambda: b.svc.accepted, 20, "accepted again")
        assert await send_list(cs, 5, [entry("GOOD")]) == "Accepted"
        assert await present(b, "GOOD") == "Accepted"
    run_case(tmp_path, case)


# -- the keys as GetConfiguration reports them ---------------------------------------------------

AUTH_KEYS = {"AllowOfflineTxForUnknownId": ("false", False), "AuthorizationCacheEnabled": ("true", False),
             "AuthorizeRemoteTxRequests": ("false", False), "ConnectionTimeOut": ("60", False),
             "LocalAuthListEnabled": ("true", False), "LocalAuthListMaxLength": ("100", True),
             "LocalAuthorizeOffline": ("true", False), "LocalPreAuthorize": ("false", False),
             "SendLocalListMaxLength": ("100", True), "StopTransactionOnInvalidId": ("true", False)}


def test_the_authorization_keys_as_get_configuration_reports_them(tmp_path):
    """Each key with its default and read-only flag as docs/ocpp.md lists them; a change is read
    back and survives a power cut; a read-only one is Rejected."""
    async def case(cs, power_on):
        await power_on()
        res = await cs.call("cp1", call.GetConfiguration(key=sorted(AUTH_KEYS) + ["MaxEnergyOnInvalidId"]))
        got = {k["key"]: (k["value"], k["readonly"]) for k in res.configuration_key}
        assert got == AUTH_KEYS and res.unknown_key == ["MaxEnergyOnInvalidId"]
        await configure(cs, LocalPreAuthorize="true", AllowOfflineTxForUnknownId="true")
        assert await change_config(cs, "LocalAuthListMaxLength", "5") == "Rejected"
        await power_on()
        res = await cs.call("cp1", call.GetConfiguration(key=["LocalPreAuthorize", "AllowOfflineTxForUnknownId"]))
        assert {k["key"]: k["value"] for k in res.configuration_key} == {
            "LocalPreAuthorize": "true", "AllowOfflineTxForUnknownId": "true"}
    run_case(tmp_path, case)


def test_an_authorize_answered_with_an_error_is_a_refusal_not_the_offline_rules(tmp_path):
    """The central system is there but answers Authorize with a CALLERROR (InternalError, its
    database down): no idTagInfo, and the charger is not offline. The offline rules (3.5.4: unknown
    identifiers while offline) are not for that; EVerest libocpp answers Invalid. The firmware took
    the error for no answer, and with AllowOfflineTxForUnknownId true a stranger charged."""
    async def case(cs, power_on):
        b = await power_on()
        await configure(cs, AllowOfflineTxForUnknownId="true")

        def database_down(kw):
            raise InternalError("database down")
        cs.overrides["Authorize"] = database_down
        b.d.plug()
        assert await present(b, "STRANGER") == "Invalid"
        assert cs.actions("Authorize")
        await refused_no_energy(b, cs)
    run_case(tmp_path, case)
