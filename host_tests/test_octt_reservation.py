"""OCPP 1.6J compliance cases of the Reservation profile (OCTT test-case list, Charge Point side):
ReserveNow / CancelReservation on the one connector (and on connector 0), the Reserved status, the
expiry, who may use a reserved connector. The unmodified firmware on the virtual bench with a
scripted car; every frame checked against the official 1.6 schemas (octt_cs). Ids and titles as in
docs/ocpp.md, "Compliance cases"."""
import pytest

from evse.ocpp import connection
from evse.ocpp.wallclock import format_iso

from octt_cs import call, change_config, run_case, status_is, statuses

TAGS = {"accepted_tags": ("GOOD", "GOOD2", "OTHER")}


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)   # as test_octt_core: virtual time runs fast


def expiry(b, seconds):
    """The charger's wall time (from the central system's currentTime) plus `seconds`."""
    return format_iso(b.svc.wall.now(b.svc.ticks()) + seconds)


async def reserve(b, rid=7, connector=1, tag="GOOD", parent=None, seconds=600):
    kw = {"connector_id": connector, "expiry_date": expiry(b, seconds), "id_tag": tag, "reservation_id": rid}
    if parent:
        kw["parent_id_tag"] = parent
    return (await b.cs.call("cp1", call.ReserveNow(**kw))).status


async def reserved(b, **kw):
    """OCTT's reusable state Reserved: Accepted, StatusNotification Reserved."""
    assert await reserve(b, **kw) == "Accepted"
    await status_is(b, "Reserved")


async def plug_in_and_charge(b):
    b.d.plug()
    start = (await b.until(lambda: b.cs.actions("StartTransaction"), what="StartTransaction"))[-1]
    b.d.ev("C")
    await status_is(b, "Charging")
    await b.until(lambda: b.d.coil and b.d.duty < 100.0, 6, "current offered, contactor closed")
    return start


def test_TC_046_1_CS_reservation_of_a_connector_local_start_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await reserved(b)
        r = await b.reply({"cmd": "authorize", "id_tag": "OTHER"})   # not the reserved idTag
        assert r["ocpp"] == "Reserved" and not b.svc.auth_tag
        await b.wait(1.0)
        assert not cs.actions("Authorize")                        # step 5: no Authorize for it
        b.d.plug()                                                # the other driver plugs in anyway
        await b.wait(2.0)
        assert not cs.actions("StartTransaction") and b.d.duty == 100.0 and not b.d.coil
        b.d.unplug()
        await status_is(b, "Reserved")
        r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: cs.actions("Authorize"), what="Authorize")
        await status_is(b, "Preparing")
        start = await plug_in_and_charge(b)
        assert start["idTag"] == "GOOD" and start["reservationId"] == 7
        # the other car came and went; the transaction starts at plug-in, the car in B for a moment
        # (SuspendedEV: section 4.9, Preparing is before a transaction)
        assert [s for s in statuses(cs) if s != "SuspendedEV"] == [
            "Available", "Reserved", "Preparing", "Reserved", "Preparing", "Charging"], statuses(cs)
        assert b.svc.state["resv"] is None                        # used: the reservation ended
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_046_2_CS_reservation_of_a_connector_remote_start_transaction(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await reserved(b)
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="OTHER", connector_id=1))
        assert res.status == "Rejected"                           # only the reserved idTag
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Accepted"
        start = await plug_in_and_charge(b)
        assert start["idTag"] == "GOOD" and start["reservationId"] == 7
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_047_CS_reservation_of_a_connector_expire(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await reserved(b, seconds=20)
        await b.wait(15.0)
        assert statuses(cs)[-1] == "Reserved"
        await status_is(b, "Available", 10.0)                     # the driver never came
        await b.reply({"cmd": "authorize", "id_tag": "OTHER"})    # the tool charges with another tag
        start = await plug_in_and_charge(b)
        assert start["idTag"] == "OTHER" and "reservationId" not in start
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_048_1_CS_reservation_of_a_connector_faulted(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.set(cp_short=True)                                    # pilot shorted to PE: Faulted
        await status_is(b, "Faulted")
        assert await reserve(b) == "Faulted"
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_048_2_CS_reservation_of_a_connector_occupied(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()                                                # SetConnectorOccupied
        await status_is(b, "Preparing")
        assert await reserve(b) == "Occupied"
        await b.reply({"cmd": "authorize", "id_tag": "OTHER"})
        await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction")
        assert await reserve(b) == "Occupied"                     # in a transaction too
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_048_3_CS_reservation_of_a_connector_unavailable(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert (await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))).status == "Accepted"
        await status_is(b, "Unavailable")
        assert await reserve(b) == "Unavailable"
    run_case(tmp_path, case, cs_kw=TAGS)


def test_reserve_now_rejected_for_an_unknown_connector_or_a_date_past(tmp_path):
    """ReserveNow's Rejected: no connector 2, an expiryDate already past; a second reservation
    while one holds the connector: Occupied; the same reservationId replaces it."""
    async def case(cs, power_on):
        b = await power_on()
        assert await reserve(b, connector=2) == "Rejected"
        assert await reserve(b, seconds=-5) == "Rejected"
        await reserved(b, rid=1)
        assert await reserve(b, rid=2, tag="OTHER") == "Occupied"
        assert await reserve(b, rid=1, tag="GOOD2") == "Accepted"     # replaced
        assert b.svc.state["resv"]["tag"] == "GOOD2"
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_049_CS_reservation_of_a_charge_point_transaction(tmp_path):
    """Connector 0 (ReserveConnectorZeroSupported true): the only connector is held for the idTag
    (*CSMS page* TC_049_CSMS)."""
    async def case(cs, power_on):
        b = await power_on()
        conf = await cs.call("cp1", call.GetConfiguration(key=["ReserveConnectorZeroSupported",
                                                               "SupportedFeatureProfiles"]))
        keys = {k["key"]: k["value"] for k in conf.configuration_key}
        assert keys["ReserveConnectorZeroSupported"] == "true" and "Reservation" in keys["SupportedFeatureProfiles"]
        await reserved(b, connector=0, rid=9)
        assert (await b.reply({"cmd": "authorize", "id_tag": "OTHER"}))["ocpp"] == "Reserved"
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        start = await plug_in_and_charge(b)
        assert start["reservationId"] == 9 and start["connectorId"] == 1
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_050_3_CS_reservation_of_a_charge_point_unavailable(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert (await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Inoperative"))).status == "Accepted"
        await status_is(b, "Unavailable")
        assert await reserve(b, connector=0) == "Unavailable"
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_051_CS_cancel_reservation(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await reserved(b, rid=3)
        assert (await cs.call("cp1", call.CancelReservation(reservation_id=3))).status == "Accepted"
        await status_is(b, "Available")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD2"})    # Charging with another valid tag
        start = await plug_in_and_charge(b)
        assert start["idTag"] == "GOOD2" and "reservationId" not in start
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_052_CS_cancel_reservation_rejected(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await reserved(b, rid=3)
        assert (await cs.call("cp1", call.CancelReservation(reservation_id=4))).status == "Rejected"
        await b.wait(1.0)
        assert statuses(cs)[-1] == "Reserved" and b.svc.state["resv"]["id"] == 3
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_053_CS_use_a_reserved_connector_with_parent_id_tag(tmp_path):
    """Reserved for GOOD with parentIdTag FLEET; GOOD2 (unknown locally) is authorized online and
    its answer gives parent FLEET: it may use the reservation. OTHER (parent elsewhere) may not."""
    async def case(cs, power_on):
        parents = {"GOOD2": "FLEET", "OTHER": "ELSEWHERE"}
        plain = cs.respond

        def respond(action, kw):
            res = plain(action, kw)
            if action == "Authorize" and kw["id_tag"] in parents:
                res.id_tag_info["parent_id_tag"] = parents[kw["id_tag"]]
            return res
        cs.respond = respond
        b = await power_on()
        assert await change_config(cs, "AuthorizationCacheEnabled", "false") == "Accepted"   # parent from the answer
        await reserved(b, parent="FLEET")
        await b.reply({"cmd": "authorize", "id_tag": "OTHER"})
        await b.until(lambda: b.svc.last_auth == ("OTHER", "Reserved"), what="OTHER refused")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD2"})
        await b.until(lambda: b.svc.auth_tag == "GOOD2", what="GOOD2 accepted")
        start = await plug_in_and_charge(b)
        assert start["idTag"] == "GOOD2" and start["reservationId"] == 7
        assert [p["idTag"] for p in cs.actions("Authorize")] == ["OTHER", "GOOD2"]
    run_case(tmp_path, case, cs_kw=TAGS)
