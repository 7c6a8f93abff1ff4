"""Reservation cases on connector 0 (OCTT TC_050_1_CS / TC_050_2_CS by the pattern of TC_048_1/2 and
TC_050_3) and a reservation around a reboot; the set-up of test_octt_reservation.py."""
import pytest

from evse.ocpp import connection

from octt_cs import call, run_case, status_is, statuses
from test_octt_reservation import TAGS, reserve, reserved, plug_in_and_charge


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def test_TC_050_1_CS_reservation_of_a_charge_point_faulted(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.set(cp_short=True)
        await status_is(b, "Faulted")
        assert await reserve(b, connector=0) == "Faulted"
    run_case(tmp_path, case, cs_kw=TAGS)


def test_TC_050_2_CS_reservation_of_a_charge_point_occupied(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        assert await reserve(b, connector=0) == "Occupied"
    run_case(tmp_path, case, cs_kw=TAGS)


def test_a_reservation_survives_a_reboot_and_is_used(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await reserved(b)
        n = len(cs.calls)
        b = await power_on()
        after = [p["status"] for a, p in cs.calls[n:] if a == "StatusNotification" and p["connectorId"] == 1]
        assert after and after[-1] == "Reserved", after
        r = await b.reply({"cmd": "authorize", "id_tag": "OTHER"})
        assert r["ocpp"] == "Reserved"
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        start = await plug_in_and_charge(b)
        assert start["reservationId"] == 7
    run_case(tmp_path, case, cs_kw=TAGS)
