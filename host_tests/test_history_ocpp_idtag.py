"""Who charged, in the charging history (issue 14: "one record per session (start, stop, energy,
idTag or user, peak current, end reason)"). Under OCPP a session's user is the idTag its transaction
was started for, whichever way it was authorized: a card presented (the central system's Authorize
or the local list), RemoteStartTransaction, the free-vend idTag, and a car plugged back in while
its transaction went on. Without OCPP the console's tag (or the source) stays the user.

The charger is the unmodified firmware on the virtual bench (octt_cs: App, core, CT meter, console),
the central system the PyPI `ocpp` library; the history is read as CSV with the console's `history`
command, the path the web page and REST use too."""
import csv
import io
import json

import pytest

from evse.ocpp import connection
from evse.ocpp.corelink import CoreLink
from evse.ocpp.wallclock import format_iso
from octt_cs import call, change_config, charging, run_case, status_is
from host_tests.test_ocpp_bench import LineStream
from evse.services import console
from tools.sim.drive import Drive

METERED = {"meter": "ct", "meter_phases": 1}     # the history needs a meter
CARD = "04A1B2C3D4E5F6"


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)     # as in test_octt_core


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


async def history(b):
    return rows((await b.reply({"cmd": "history"}))["csv"])


async def charge_and_leave(b):
    """The car draws current for a while, then is unplugged: the session's record is written."""
    b.d.ev("C")
    await b.until(lambda: b.d.coil, 6, "contactor closed")
    await b.wait(3.0)
    b.d.unplug()
    await b.until(lambda: b.cs.actions("StopTransaction"), what="StopTransaction")
    await b.until(lambda: b.app.sessions(), 2, "the session's record")


def test_a_card_accepted_by_the_central_system_is_the_sessions_user(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        start = await charging(b, CARD)                # plug-in first, then Authorize
        assert start["idTag"] == CARD
        await b.wait(3.0)
        b.d.unplug()
        await b.until(lambda: b.app.sessions(), 4, "the session's record")
        (rec,) = await history(b)
        assert rec["user"] == CARD and float(rec["energy_wh"]) > 0, rec
    run_case(tmp_path, case, cs_kw={"accepted_tags": (CARD,)}, **METERED)


def test_a_card_on_the_local_list_is_the_sessions_user(tmp_path):
    """LocalPreAuthorize: the local list accepts it, no Authorize is sent."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "LocalPreAuthorize", "true") == "Accepted"
        listed = [{"idTag": "LISTED1", "idTagInfo": {"status": "Accepted"}}]
        res = await cs.call("cp1", call.SendLocalList(list_version=1, update_type="Full",
                                                      local_authorization_list=listed))
        assert res.status == "Accepted"
        r = await b.reply({"cmd": "authorize", "id_tag": "LISTED1"})
        assert r["ocpp"] == "accepted"
        b.d.plug()
        await charge_and_leave(b)
        assert not cs.actions("Authorize")
        assert [r["user"] for r in await history(b)] == ["LISTED1"]
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("LISTED1",)}, **METERED)


def test_a_remote_start_is_recorded_with_its_idtag(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="REMOTE7", connector_id=1))
        assert res.status == "Accepted"
        await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction")
        await charge_and_leave(b)
        assert [r["user"] for r in await history(b)] == ["REMOTE7"]
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("REMOTE7",)}, **METERED)


def test_a_free_vend_session_is_recorded_with_the_free_idtag(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "FREEVEND"
        await charge_and_leave(b)
        assert [r["user"] for r in await history(b)] == ["FREEVEND"]
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("FREEVEND",)}, ocpp_free_id_tag="FREEVEND", **METERED)


def test_a_reserved_connector_records_the_reservations_idtag(tmp_path):
    """A free-vend idTag is set, but the connector is reserved: the reserved card charges, and
    the session is its own."""
    async def case(cs, power_on):
        b = await power_on()
        expiry = format_iso(b.svc.wall.now(b.svc.ticks()) + 600)
        res = await cs.call("cp1", call.ReserveNow(connector_id=1, expiry_date=expiry, id_tag="RESV42",
                                                   reservation_id=7))
        assert res.status == "Accepted"
        await status_is(b, "Reserved")
        assert (await b.reply({"cmd": "authorize", "id_tag": "RESV42"}))["ocpp"] == "pending"
        b.d.plug()
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "RESV42" and start["reservationId"] == 7
        await charge_and_leave(b)
        assert [r["user"] for r in await history(b)] == ["RESV42"]
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("RESV42",)}, ocpp_free_id_tag="FREEVEND", **METERED)


def test_a_car_plugged_back_in_during_its_transaction_charges_for_the_same_idtag(tmp_path):
    """StopTransactionOnEVSideDisconnect false: unplugging suspends the transaction; the car's
    second session belongs to the same idTag (the StartTransaction's)."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "StopTransactionOnEVSideDisconnect", "false") == "Accepted"
        await charging(b, CARD)
        await b.wait(2.0)
        b.d.unplug()
        await b.until(lambda: len(b.app.sessions()) == 1, 4, "the first session's record")
        b.d.plug()
        b.d.ev("C")
        await b.until(lambda: b.d.coil, 8, "contactor closed again")
        await b.wait(2.0)
        b.d.unplug()
        await b.until(lambda: len(b.app.sessions()) == 2, 4, "the second session's record")
        assert [r["user"] for r in await history(b)] == [CARD, CARD]
        assert len(cs.actions("StartTransaction")) == 1
    run_case(tmp_path, case, cs_kw={"accepted_tags": (CARD,)}, **METERED)


# -- without OCPP, and what the OCPP link passes on ----------------------------------------------

def _console_bench(tmp_path, **cfg):
    d = Drive(config=dict({"max_current": 32}, **METERED, **cfg), flash_dir=str(tmp_path))
    port = LineStream()
    console.attach(d.app, port)

    def ask(obj):
        port.rx.extend((json.dumps(obj) + "\n").encode())
        d.run(0.1)
        return port.replies()[-1]
    return d, ask


def test_without_ocpp_the_consoles_tag_stays_the_user(tmp_path):
    d, ask = _console_bench(tmp_path, require_auth=True)
    assert ask({"cmd": "authorize", "id_tag": "alice"})["authorized"] is True
    d.run(0.5).charge(amps=16).run(3.0)
    d.unplug()
    d.run(0.5)
    assert [r["user"] for r in rows(ask({"cmd": "history"})["csv"])] == ["alice"]


def test_an_authorization_learned_after_the_session_opened_still_names_it(tmp_path):
    """The session opened with nobody named (no authorization needed); the idTag that arrives
    later is written into the open record, and onto flash at once: a power cut keeps it."""
    d, ask = _console_bench(tmp_path)
    d.run(0.5).charge(amps=16).run(1.0)
    d.app.command("authorize", "LATE0001", 0, "ocpp")
    d.run(0.5)
    d, ask = _console_bench(tmp_path)                  # power cut, and back
    d.run(0.5)
    (rec,) = rows(ask({"cmd": "history"})["csv"])
    assert rec["user"] == "LATE0001" and rec["end_reason"] == "power_loss", rec
    d.run(0.5).charge(amps=16).run(1.0)
    d.app.command("authorize", "LATE0002", 0, "ocpp")
    d.unplug()
    d.run(0.5)
    assert [r["user"] for r in rows(ask({"cmd": "history"})["csv"])] == ["LATE0001", "LATE0002"]


class _App:
    def __init__(self):
        self.charger = Drive().charger
        self.commands = []

    def command(self, verb, arg, now, source):
        self.commands.append((verb, arg, source))


@pytest.mark.parametrize("tag, passed", [("GOOD", "GOOD"), ("x" * 20, "x" * 20), ("x" * 21, None),
                                         ("", None), (42, None), (None, None)])
def test_the_ocpp_link_passes_on_only_an_ocpp_idtag(tag, passed):
    """An idTag is at most 20 characters (CiString20): anything else is not stored as given, and
    the record names the source, 'ocpp', as it did before."""
    app = _App()
    CoreLink(app, "ocpp").authorize(True, tag)
    CoreLink(app, "ocpp").authorize(False, tag)
    assert app.commands == [("authorize", passed, "ocpp"), ("deauthorize", None, "ocpp")]
