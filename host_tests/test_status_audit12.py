"""Stop 47's audit of what the connector says it is (OCPP 1.6 edition 2, section 4.9
StatusNotification, 5.2 ChangeAvailability, 7.7 ChargePointErrorCode, 7.8 ChargePointStatus).

A car on the virtual bench (the unmodified firmware, octt_cs's schema-checking central system) is
driven through plug-in, authorize, charge, EV pause, EVSE pause, faults, unplug, ChangeAvailability
at every point, a reconnect and a reboot; every StatusNotification of connector 1 the central system
gets is checked against the table of allowed transitions of section 4.9 (the same table as
EVerest libocpp's v16 charge_point_state_machine.cpp; a transition into Faulted and out of it is
allowed from and to every status), and the errorCode against the core's fault."""
import pytest

from evse.core import vocab as V
from evse.ocpp import connection
from evse.ocpp.status import connector_status, error_code

from octt_cs import call, change_config, charging, run_case, schema_errors, status_is
from test_octt_core import _offline, _online, reboot

# Section 4.9's table: from -> the statuses it may go to (Faulted aside: any status may go to
# Faulted, and Faulted to any). A1-A9 ... I1-I9 in the spec; blank cells are not allowed.
ALLOWED = {
    "Available": {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Reserved", "Unavailable"},
    "Preparing": {"Available", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Unavailable"},
    "Charging": {"Available", "SuspendedEV", "SuspendedEVSE", "Finishing", "Unavailable"},
    "SuspendedEV": {"Available", "Charging", "SuspendedEVSE", "Finishing", "Unavailable"},
    "SuspendedEVSE": {"Available", "Charging", "SuspendedEV", "Finishing", "Unavailable"},
    "Finishing": {"Available", "Preparing", "Unavailable"},
    "Reserved": {"Available", "Preparing", "Unavailable"},
    "Unavailable": {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE"},
}
# (Preparing -> Unavailable: not in libocpp's first table, in its later one (Inoperative, reported
# Unavailable); ChangeAvailability Inoperative with a car plugged in and no transaction is Accepted
# (5.2: Scheduled only during a transaction), so it is allowed here.)

ERROR_CODES = {"ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
               "InternalError", "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure",
               "OverVoltage", "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure", "ResetFailure",
               "UnderVoltage", "WeakSignal"}


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


def connector_1(cs, since=0):
    """Connector 1's StatusNotifications after call `since`, as the central system got them."""
    return [p for a, p in cs.calls[since:] if a == "StatusNotification" and p["connectorId"] == 1]


def bad_transitions(sent):
    """Each step between two statuses in a row that section 4.9's table does not allow, and each
    status sent twice in a row with the same errorCode (a duplicate)."""
    bad = []
    for a, b in zip(sent, sent[1:]):
        s, t = a["status"], b["status"]
        if s == t:
            if a["errorCode"] == b["errorCode"] and a.get("info") == b.get("info"):
                bad.append((s, t, "duplicate"))
        elif "Faulted" not in (s, t) and t not in ALLOWED[s]:
            bad.append((s, t))
    return bad


def walk(sent):
    return [p["status"] for p in sent]


def last_code(cs, since):
    """The errorCode of connector 1's last StatusNotification after call `since` (None: none yet)."""
    sent = connector_1(cs, since)
    return sent[-1]["errorCode"] if sent else None


def test_after_a_scheduled_inoperative_operative_again_with_the_car_still_plugged_is_preparing(tmp_path):
    """ChangeAvailability Inoperative while charging: Scheduled; the transaction stopped remotely,
    the connector goes Unavailable with the car still plugged in. Operative again: the car is
    there, no transaction, a new user may start one: Preparing (H2). Finishing after Unavailable is
    a blank cell of the table (H6)."""
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        await charging(b)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert res.status == "Scheduled"
        txid = b.svc.tx["txid"]
        assert (await cs.call("cp1", call.RemoteStopTransaction(transaction_id=txid))).status == "Accepted"
        await status_is(b, "Unavailable")
        assert not b.d.coil or b.d.duty == 100.0
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=1, type="Operative"))
        assert res.status == "Accepted"
        await b.wait(3.0)
        sent = connector_1(cs, n)
        assert walk(sent)[-1] == "Preparing", walk(sent)
        assert not bad_transitions(sent), walk(sent)
        b.d.ev("B")
        b.d.unplug()
        await status_is(b, "Available")
        assert not bad_transitions(connector_1(cs, n)), walk(connector_1(cs, n))
    run_case(tmp_path, case)


def test_a_session_walked_through_every_status_only_allowed_transitions_none_twice(tmp_path):
    """Plug-in (Preparing), the card (a transaction: the car in B with PWM on, SuspendedEV), the car
    asks (Charging), stops asking (SuspendedEV: the EV side), asks again, a smart charging limit
    below 6 A (SuspendedEVSE: the EVSE side), the limit gone (Charging), the card again (Finishing),
    unplug (Available). Each step once, each allowed by section 4.9."""
    from test_octt_smart import profile, set_profile

    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        await charging(b)
        txid = b.svc.tx["txid"]
        b.d.ev("B")                                          # the car full (for now): PWM on, B
        await status_is(b, "SuspendedEV")
        b.d.ev("C")
        await status_is(b, "Charging")
        prof = profile(5, "TxProfile", 3, txid=txid)         # 3 A: under 6 A, nothing offered
        assert await set_profile(cs, 1, prof) == "Accepted"
        await status_is(b, "SuspendedEVSE")                  # X1 at once; the contactor opens within 6 s
        await b.until(lambda: not b.d.coil, 7, "contactor open")
        res = await cs.call("cp1", call.ClearChargingProfile(id=5))
        assert res.status == "Accepted"
        await status_is(b, "Charging", 15)
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})    # the card again: stop
        await status_is(b, "Finishing")
        b.d.ev("B")
        b.d.unplug()
        await status_is(b, "Available")
        sent = connector_1(cs, n)
        assert walk(sent) == ["Preparing", "SuspendedEV", "Charging", "SuspendedEV", "Charging", "SuspendedEVSE",
                              "Charging", "Finishing", "Available"], walk(sent)
        assert not bad_transitions(sent)
        assert all(p["errorCode"] == "NoError" and "info" not in p for p in sent), sent
    run_case(tmp_path, case)


# The core's faults and the ChargePointErrorCode each is reported with (7.6): the residual current
# device is the ground fault interrupter, the contactor the power switch; an impossible pilot level,
# the vehicle's diode missing and the pilot shorted to PE are Mode 3 communication with the vehicle
# failing (EVCommunicationError: "might be Mode 3 or other communication protocol problem"); a Type 2
# socket's plug lock that does not lock or unlock is ConnectorLockFailure. The rest have no code of their own: OtherError, the fault's name in info and vendorErrorCode.
FAULT_CODES = {
    V.FAULT_RCD: "GroundFailure", V.FAULT_RCD_DC: "GroundFailure", V.FAULT_RCD_EARLY: "GroundFailure",
    V.FAULT_RCD_SELFTEST: "GroundFailure", V.FAULT_RCD_LOCKOUT: "GroundFailure",
    V.FAULT_WELD: "PowerSwitchFailure", V.FAULT_NO_CLOSE: "PowerSwitchFailure",
    V.FAULT_OVERCURRENT: "OverCurrentFailure", V.FAULT_INTERNAL: "InternalError",
    V.FAULT_LOCK: "ConnectorLockFailure",
    V.FAULT_PILOT: "EVCommunicationError", V.FAULT_DIODE: "EVCommunicationError",
    V.FAULT_STATE_E: "EVCommunicationError",
    V.FAULT_STATE_F: "OtherError", V.FAULT_VENTILATION: "OtherError", V.FAULT_PP: "OtherError",
    V.FAULT_SETTINGS: "OtherError",
}


def test_every_fault_of_the_core_has_its_error_code_and_an_info_within_50_characters():
    faults = {getattr(V, n) for n in dir(V) if n.startswith("FAULT_")}
    assert faults == set(FAULT_CODES), faults ^ set(FAULT_CODES)     # a new fault gets a decision here
    for fault, want in sorted(FAULT_CODES.items()):
        code, info = error_code(fault)
        assert code == want, (fault, code)
        assert code in ERROR_CODES and code != "NoError"
        if code in ("OtherError", "EVCommunicationError"):
            assert info == fault                     # which of the faults sharing the code
        assert info is None or len(info) <= 50
        for state in (V.ST_FAULT, V.ST_B1, V.ST_C2, V.ST_A1):   # whatever the state: Faulted, that code
            assert connector_status(state, fault, False, True, True, False, True) == ("Faulted", code, info)
    assert error_code(None) == ("NoError", None)
    assert error_code("x" * 80)[1] == "x" * 50


@pytest.mark.parametrize("fault, world, clear", [
    ("rcd", {"rcd_ma": 40.0}, None),        # retried after 15 min (UL 2231-2): it stays Faulted here
    ("diode", {"diode_ok": False}, {"diode_ok": True}),
    ("state_e", {"cp_short": True}, {"cp_short": False}),
    ("weld", {"weld": True}, None),         # found once the car stops asking (below); latched
])
def test_a_fault_while_charging_reaches_the_central_system_with_its_code_then_the_car_leaves(tmp_path, fault, world,
                                                                                                clear):
    """Charging; the fault on the wires: Faulted with the fault's errorCode (the fault's name in info
    and vendorErrorCode where the code is shared), the contactor open; the cause gone and the car
    unplugged: Available. Every step allowed by the table, none twice."""
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        await charging(b)
        b.d.set(**world)
        if fault == "weld":
            b.d.ev("B")                     # the contactor commanded open, its feedback stays closed
        await status_is(b, "Faulted")
        await b.until(lambda: not b.d.coil, 2, "contactor open (commanded)")
        got, core = connector_1(cs, n)[-1], b.d.fault
        assert core.startswith(fault) and got["errorCode"] == FAULT_CODES[core], (core, got)
        assert (got.get("info"), got.get("vendorErrorCode")) == error_code(core)[1:] * 2, got
        if clear:
            b.d.set(**clear)
            b.d.ev("B")
            b.d.unplug()
            await status_is(b, "Available", 30)
        sent = connector_1(cs, n)
        assert not bad_transitions(sent), walk(sent)
    run_case(tmp_path, case, ocpp_config={"MeterValueSampleInterval": 1, "StopTransactionOnEVSideDisconnect": True})


@pytest.mark.parametrize("connector", [1, 0])
def test_a_scheduled_inoperative_survives_a_power_cut_during_the_transaction(tmp_path, connector):
    """ChangeAvailability Inoperative while charging: Scheduled (5.2: applied once the transaction
    ends). The power goes before it ends: the transaction ends with the power (StopTransaction
    PowerLoss after the boot), so the change is due then. Back on, the connector (and with
    connector 0 the charge point) is Unavailable, the car left plugged in does not start a new
    transaction, and the state is persistent (5.2) across the next reboot too."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=connector, type="Inoperative"))
        assert res.status == "Scheduled"
        n = len(cs.calls)
        b = await power_on(wait_accepted=False)     # power cut while charging, the car still there
        b.d.plug()
        await b.until(lambda: b.svc.accepted, what="boot accepted")
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 20, "StopTransaction"))[0]
        assert stop["reason"] == "PowerLoss"
        await b.wait(2.0)
        after = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert (1, "Unavailable") in after and (connector, "Unavailable") in after, after
        assert (1, "Preparing") not in after and (1, "Finishing") not in after, after
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Rejected" and not b.svc.tx and not b.d.coil
        n = len(cs.calls)
        b = await power_on()                        # and once more: still Unavailable
        after = [(p["connectorId"], p["status"]) for a, p in cs.calls[n:] if a == "StatusNotification"]
        assert (1, "Unavailable") in after and (connector, "Unavailable") in after, after
    run_case(tmp_path, case)


def test_statuses_while_offline_only_the_latest_goes_out_once_back_online(tmp_path):
    """Charging, the central system gone; offline the car stops asking, asks again, stops again
    (SuspendedEV, Charging, SuspendedEV). Back online: connector 1's latest status, once, none of
    the ones in between (4.9: the latest status of a connector whose status changed), and the
    walk the central system saw is one the table allows. Then online again every change once."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        await _offline(cs, b)
        for ev in ("B", "C", "B"):
            b.d.ev(ev)
            await b.wait(3.0)
        n = len(cs.calls)
        await _online(cs, b)
        await b.wait(3.0)
        back = connector_1(cs, n)
        assert walk(back) == ["SuspendedEV"], walk(back)
        b.d.ev("C")
        await status_is(b, "Charging")
        await b.wait(2.0)
        sent = connector_1(cs)
        assert walk(sent)[-3:] == ["Charging", "SuspendedEV", "Charging"], walk(sent)
        assert not bad_transitions(sent), walk(sent)
    run_case(tmp_path, case)


async def availability(cs, connector, kind):
    return (await cs.call("cp1", call.ChangeAvailability(connector_id=connector, type=kind))).status


@pytest.mark.parametrize("connector", [1, 0])
def test_change_availability_at_every_point_of_a_session_only_allowed_transitions(tmp_path, connector):
    """ChangeAvailability Inoperative then Operative (of the connector, or of the whole charge point:
    connector 0 applies to all) at each point: no car (Accepted: Unavailable, then Available),
    reserved (the reservation ends: Unavailable, then Available), a car plugged in (Unavailable, then
    Preparing), charging (Scheduled: Charging holds; an Operative withdraws it), Finishing
    (Unavailable, then Preparing: the car is there), Faulted (Faulted holds; the fault gone and the
    car left, Unavailable; Operative: Available). Every step the table allows, none twice;
    connector 0 reports Unavailable and Available with its own changes only."""
    from test_octt_reservation import expiry

    async def both(kind, want, answer="Accepted"):
        assert await availability(cs_, connector, kind) == answer
        await status_is(b_, want, 5)

    async def case(cs, power_on):
        nonlocal cs_, b_
        b = b_ = await power_on()
        cs_ = cs
        n = len(cs.calls)
        await both("Inoperative", "Unavailable")
        await both("Operative", "Available")
        res = await cs.call("cp1", call.ReserveNow(connector_id=1, expiry_date=expiry(b, 600), id_tag="GOOD",
                                                   reservation_id=3))
        assert res.status == "Accepted"
        await status_is(b, "Reserved")
        await both("Inoperative", "Unavailable")
        await both("Operative", "Available")                  # the reservation ended with it (5.13)
        b.d.plug()
        await status_is(b, "Preparing")
        await both("Inoperative", "Unavailable")
        await both("Operative", "Preparing")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})   # (X1 for 3 s after Operative: SuspendedEVSE)
        b.d.ev("C")
        await status_is(b, "Charging")
        assert await availability(cs, connector, "Inoperative") == "Scheduled"
        assert await availability(cs, connector, "Operative") == "Accepted"     # withdrawn
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})                   # the card: stop
        await status_is(b, "Finishing")
        b.d.ev("B")
        await b.wait(1.0)
        await both("Inoperative", "Unavailable")
        await both("Operative", "Preparing")
        b.d.set(cp_short=True)                                  # pilot shorted to PE
        await status_is(b, "Faulted")
        await both("Inoperative", "Faulted")                    # Faulted and Inoperative: Faulted
        b.d.set(cp_short=False)
        b.d.unplug()
        await status_is(b, "Unavailable", 30)                   # the fault gone: Unavailable
        await both("Operative", "Available")
        sent = connector_1(cs, n)
        assert not bad_transitions(sent), walk(sent)
        assert walk(sent) == ["Unavailable", "Available", "Reserved", "Unavailable", "Available", "Preparing",
                              "Unavailable", "Preparing", "SuspendedEVSE", "Charging", "Finishing", "Unavailable",
                              "Preparing", "Faulted", "Unavailable", "Available"], " ".join(walk(sent))
        zero = [p["status"] for a, p in cs.calls[n:] if a == "StatusNotification" and p["connectorId"] == 0]
        assert zero == (["Unavailable", "Available"] * 5 if connector == 0 else []), zero
    cs_ = b_ = None
    run_case(tmp_path, case, cs_kw={"accepted_tags": ("GOOD",)})


def test_a_meter_without_a_reading_is_power_meter_failure_with_the_status_it_has(tmp_path):
    """Charging; the meter loses its reading (ok False: metering/meter.py) and keeps it lost: the
    central system learns it, errorCode PowerMeterFailure (7.6: "Failure to read electrical/energy/
    power meter") with the connector's status as it is (Charging: the meter is no reason to stop;
    Faulted is for what stops the energy). One missed reading is no failure: nothing then. The
    reading back: NoError again, once."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        m = b.svc.meter
        n = len(cs.calls)
        m.ok = False
        await b.wait(1.0)
        m.ok = True                                             # one missed reading: nothing
        await b.wait(2.0)
        assert connector_1(cs, n) == []
        m.ok = False
        await b.until(lambda: connector_1(cs, n), 20, "a status for the lost meter")
        await b.wait(2.0)
        got = connector_1(cs, n)
        assert [(p["status"], p["errorCode"]) for p in got] == [("Charging", "PowerMeterFailure")], got
        m.ok = True
        await b.until(lambda: len(connector_1(cs, n)) > 1, 5, "the meter back")
        await b.wait(2.0)
        got = connector_1(cs, n)
        assert [(p["status"], p["errorCode"]) for p in got][1:] == [("Charging", "NoError")], got
        assert b.d.coil
    run_case(tmp_path, case)


def test_a_sleeping_car_woken_in_a_transaction_stays_suspended_ev(tmp_path):
    """The car plugged in and the card taken: a transaction, current offered, but the car sleeps in
    B2 without ever asking (SuspendedEV). After wakeup_after_s the EVSE wakes it (state F for 4 s,
    IEC 61851-1 Annex A: the core's 'wakeup'). The connector is in its transaction, the car still
    connected: never Preparing ("no ongoing Transaction (yet)", 4.9; SuspendedEV -> Preparing is a
    blank cell, D2). The car wakes and asks: Charging."""
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        b.d.plug()
        await status_is(b, "Preparing")
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await status_is(b, "SuspendedEV", 10)
        await b.until(lambda: b.d.state == V.ST_WAKEUP, 40, "the wake-up")
        await b.until(lambda: b.d.state != V.ST_WAKEUP, 6, "the wake-up over")
        await b.wait(1.0)
        b.d.ev("C")
        await status_is(b, "Charging")
        sent = connector_1(cs, n)
        assert walk(sent) == ["Preparing", "SuspendedEV", "Charging"], walk(sent)
        assert not bad_transitions(sent)
    run_case(tmp_path, case, wakeup_after_s=10)


def test_a_temperature_stop_is_suspended_evse_with_high_temperature_and_a_reconnect_repeats_nothing_new(tmp_path):
    """Charging, the enclosure heats past TEMP_STOP_C: the core pauses (nothing offered), an EVSE
    side suspension: SuspendedEVSE with errorCode HighTemperature (7.6; no Faulted: the core has no
    temperature fault, and EVerest reports its HighTemperature the same way); cooled down, Charging
    with NoError. Then the link drops and comes back with nothing changed: what connector 1 reports
    then is its status as it is (a repeat the central system may have missed when the link went,
    4.9 forbids only the history), never a step it did not take."""
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        await charging(b)
        b.d.set(temp_c=66.0)                                 # derating (half current): no error
        await b.wait(3.0)
        b.d.set(temp_c=80.0)
        await status_is(b, "SuspendedEVSE", 10)
        await b.until(lambda: not b.d.coil, 8, "contactor open")
        b.d.set(temp_c=30.0)
        await status_is(b, "Charging", 20)
        sent = connector_1(cs, n)
        assert walk(sent) == ["Preparing", "SuspendedEV", "Charging", "SuspendedEVSE", "Charging"], walk(sent)
        assert [p["errorCode"] for p in sent] == ["NoError"] * 3 + ["HighTemperature", "NoError"], sent
        assert not bad_transitions(sent)
        await _offline(cs, b)
        m = len(cs.calls)
        await _online(cs, b)
        await b.wait(3.0)
        assert walk(connector_1(cs, m)) in ([], ["Charging"]), walk(connector_1(cs, m))
    run_case(tmp_path, case)


def test_an_idle_charger_too_hot_says_so_and_a_dead_sensor_is_no_high_temperature(tmp_path):
    """No car: the enclosure past TEMP_STOP_C is Available with HighTemperature (a car plugged in
    now would get nothing), NoError once cooled. Then the sensor dies (reads below -40 C): OtherError
    with info temp_sensor; it reads again, a normal temperature: NoError, with no HighTemperature
    on the way (the stop it caused was the sensor's, not heat)."""
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.calls)
        b.d.set(temp_c=80.0)
        await b.until(lambda: last_code(cs, n) == "HighTemperature", 10, "HighTemperature")
        b.d.set(temp_c=30.0)
        await b.until(lambda: last_code(cs, n) == "NoError", 10, "NoError again")
        m = len(cs.calls)
        b.d.set(temp_c=-60.0)
        await b.until(lambda: last_code(cs, m) == "OtherError", 10, "the sensor's error")
        assert connector_1(cs, m)[-1]["info"] == "temp_sensor", connector_1(cs, m)
        b.d.set(temp_c=25.0)
        await b.until(lambda: last_code(cs, m) == "NoError", 10, "NoError again")
        await b.wait(2.0)
        sent = connector_1(cs, n)
        assert set(walk(sent)) == {"Available"}, walk(sent)
        assert [p["errorCode"] for p in sent] == ["HighTemperature", "NoError", "OtherError", "NoError"], sent
    run_case(tmp_path, case)


def test_the_charge_point_and_its_connector_both_scheduled_inoperative_both_apply(tmp_path):
    """Charging: ChangeAvailability Inoperative of the charge point (connector 0), then of connector
    1: Scheduled both times. The transaction ends: connector 0 and connector 1 Unavailable (the
    second request did not undo the first: it asked for less, not for Operative)."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        assert await availability(cs, 0, "Inoperative") == "Scheduled"
        assert await availability(cs, 1, "Inoperative") == "Scheduled"
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})        # the card: stop
        await status_is(b, "Unavailable")
        await b.wait(1.0)
        zero = [p["status"] for a, p in cs.calls if a == "StatusNotification" and p["connectorId"] == 0]
        assert zero[-1] == "Unavailable", zero
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Rejected"
        assert await availability(cs, 0, "Operative") == "Accepted"  # connector 0 Operative: all of it
        await status_is(b, "Preparing")
    run_case(tmp_path, case)
