"""The fourth audit of OCPP 1.6J Smart Charging (sections 3.13, 5.7, 5.10, 5.16, 7.13, 7.16), one
bench scenario each: the unmodified firmware (App, real core) on the virtual bench against the PyPI
`ocpp` central system that checks every frame against the official OCPP 1.6 schemas (octt_cs). The
pilot's offer (the core's output) is the proof that a limit reached the car."""
import json

from evse.ocpp.wallclock import format_iso
from octt_cs import call, charging, run_case

FREE = "GOOD"   # ocpp_free_id_tag (one the central system accepts): a session starts at plug-in


def offered(b):
    """Amperes the pilot offers now."""
    return b.app.charger.out.amps_x10 / 10


def profile(pid, purpose, periods, kind="Relative", b=None, unit="A", level=0):
    sched = {"chargingRateUnit": unit,
             "chargingSchedulePeriod": [{"startPeriod": s, "limit": a} for s, a in periods]}
    if kind == "Absolute":
        sched["startSchedule"] = format_iso(b.svc.cp_time(b.svc.ticks()) - 60)
    return {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": sched}


async def set_profile(cs, connector, prof):
    return (await cs.call("cp1", call.SetChargingProfile(connector_id=connector, cs_charging_profiles=prof))).status


async def composite_limits(cs, unit, duration=600):
    res = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=duration, charging_rate_unit=unit))
    assert res.status == "Accepted"
    return [(p["start_period"], p["limit"]) for p in res.charging_schedule["charging_schedule_period"]]


# -- 1. a Relative schedule counts from the transaction's start, also when the clock came after it -----

def test_a_relative_default_profile_keeps_its_first_hour_when_the_clock_arrives_during_the_session(tmp_path):
    """A TxDefaultProfile, Relative: 10 A for the first hour of a transaction, then 32 A (section
    3.13.3: Relative periods count from the start of the transaction). The charger reboots while
    the central system is unreachable, a car starts a session (the free idTag) and the pilot offers
    10 A: the charger's clock is its uptime. Two minutes into the session the central system is back
    and its BootNotification answer gives the wall time: the session is still in its first hour, so
    the pilot must go on offering 10 A (before the fix the transaction's start stayed on the uptime
    time line: 56 years into the schedule, 32 A at once)."""
    async def case(cs, power_on):
        b = await power_on()
        prof = profile(1, "TxDefaultProfile", [(0, 10), (3600, 32)])
        assert await set_profile(cs, 1, prof) == "Accepted"
        port = cs.port
        await cs.stop()                                     # the central system goes away ...
        b = await power_on(wait_accepted=False, ocpp_free_id_tag=FREE)   # ... and the charger reboots
        b.d.plug()
        b.d.ev("C")
        await b.until(lambda: b.d.coil, 10, "charging offline")
        await b.until(lambda: offered(b) == 10.0, 7, "the first hour's 10 A")
        await b.wait(120)
        assert not b.svc.wall.known()
        await cs.start(port)                                # back: its boot answer sets the clock
        await b.until(lambda: b.svc.accepted, 60, "boot accepted")
        assert b.svc.wall.known()
        await b.wait(8)                                     # past the 5 s raise rule
        assert offered(b) == 10.0, offered(b)
        assert b.d.coil
    run_case(tmp_path, case)


# -- 2. a profiles file of another shape costs its odd entries, never the OCPP service --------------

def test_a_profiles_file_with_an_entry_of_another_shape_keeps_ocpp_and_the_good_profiles(tmp_path):
    """The charge point keeps its ChargePointMaxProfile and TxDefaultProfiles on flash
    (ocpp/profiles.json) across a reboot. A file that still reads as JSON but holds an entry of
    another shape (another firmware's layout, a flipped bit in a key, an installer's edit) made the
    service's start raise: the app went on without OCPP at every boot (no BootNotification ever, no
    card accepted) until someone deleted the file. The odd entry is dropped; the good one, a
    ChargePointMaxProfile of 10 A, still caps the session."""
    async def case(cs, power_on):
        b = await power_on()
        assert await set_profile(cs, 0, profile(1, "ChargePointMaxProfile", [(0, 10)], "Absolute", b)) == "Accepted"
        await b.stop()
        path = tmp_path / "ocpp" / "profiles.json"
        saved = json.loads(path.read_text())
        assert len(saved) == 1
        odd = dict(saved[0][1], chargingSchedulf=saved[0][1]["chargingSchedule"])
        del odd["chargingSchedule"]
        path.write_text(json.dumps(saved + [[1, odd], [1], 7]))
        b = await power_on()                                # boots, answers, charges
        assert b.app.ocpp is not None
        await charging(b)
        await b.until(lambda: offered(b) == 10.0, 7, "the cap's 10 A")
    run_case(tmp_path, case)


def test_a_saved_profile_whose_numbers_are_not_numbers_is_dropped_and_never_lifts_the_limit(tmp_path):
    """Kept on flash: a ChargePointMaxProfile of 10 A and a TxDefaultProfile of 8 A. A third entry
    reads as JSON and has every key, but its stackLevel is the text "1" (a flipped bit, an edit):
    a TxDefaultProfile of 20 A. Before the fix it was kept, and comparing its stack level with the
    8 A one's raised in every evaluation of the limit: no OCPP limit ever reached the core, and the
    car charged at the installer's 32 A, past the charge point's 10 A cap. An entry whose numbers
    are not numbers is dropped at boot: the session runs at 8 A."""
    async def case(cs, power_on):
        b = await power_on()
        assert await set_profile(cs, 0, profile(1, "ChargePointMaxProfile", [(0, 10)], "Absolute", b)) == "Accepted"
        assert await set_profile(cs, 1, profile(2, "TxDefaultProfile", [(0, 8)], "Absolute", b)) == "Accepted"
        await b.stop()
        path = tmp_path / "ocpp" / "profiles.json"
        saved = json.loads(path.read_text())
        bad = json.loads(json.dumps(saved[1][1]))
        bad.update(chargingProfileId=3, stackLevel="1")
        bad["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 20
        path.write_text(json.dumps(saved + [[1, bad]]))
        b = await power_on()
        await charging(b)
        await b.wait(7.0)
        assert offered(b) == 8.0, offered(b)
        assert [it[1]["id"] for it in b.svc.profiles.items] == [1, 2]
    run_case(tmp_path, case)


# -- 3. GetCompositeSchedule: the schedule the charger will use, its own limits included -----------

def test_the_composite_schedule_never_reports_more_than_the_pilot_may_offer(tmp_path):
    """The installer set max_current to 16 A. A TxDefaultProfile allows 32 A for ten minutes,
    then 6 A. The composite schedule is "the result of the calculation of all active schedules
    and possible local limits" (section 3.13.4; GetCompositeSchedule, 5.10): the charger offers
    16 A, then 6 A, and that is what it must report, in A and in W (230 V, one phase). Before the
    fix it reported the profile's 32 A (7360 W), which the charger never offers: a central system
    sharing a site's supply counted 16 A that were not used."""
    async def case(cs, power_on):
        b = await power_on(max_current=16)
        prof = profile(1, "TxDefaultProfile", [(0, 32), (600, 6)], "Absolute", b)
        prof["chargingSchedule"]["startSchedule"] = format_iso(b.svc.cp_time(b.svc.ticks()))
        assert await set_profile(cs, 1, prof) == "Accepted"
        await charging(b)
        await b.until(lambda: offered(b) == 16.0, 7, "16 A")
        a = await composite_limits(cs, "A", 1200)
        w = await composite_limits(cs, "W", 1200)
        assert [x[1] for x in a] == [16, 6] and 590 <= a[1][0] <= 600, a
        assert [x[1] for x in w] == [3680, 1380], w
    run_case(tmp_path, case)


# -- 4. a long composite schedule: what does not fit is not reported, never reported wrong ---------

def test_a_week_long_composite_of_a_daily_profile_reports_only_true_periods(tmp_path):
    """A Recurring Daily TxDefaultProfile with 24 hourly periods (ChargingScheduleMaxPeriods):
    32 A at even UTC hours, 6 A at odd ones. The central system asks for the composite schedule
    of the next 7 days. The charger caps an answer at 96 periods (it must stay small): before the
    fix the 96th period, at 6 A, was stretched to the end of the week, so the answer said 6 A for
    days 4 to 7 where the charger offers 32 A half of the time. Every period reported must match an
    independent computation (datetime, UTC); the answer may be shorter than asked, never wrong."""
    from datetime import datetime, timedelta, timezone

    async def case(cs, power_on):
        b = await power_on()
        prof = profile(1, "TxDefaultProfile", [(h * 3600, 32 if h % 2 == 0 else 6) for h in range(24)])
        prof.update(chargingProfileKind="Recurring", recurrencyKind="Daily")
        prof["chargingSchedule"]["startSchedule"] = "2020-01-01T00:00:00Z"
        assert await set_profile(cs, 1, prof) == "Accepted"
        week = 7 * 86400
        res = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=week, charging_rate_unit="A"))
        sched = res.charging_schedule
        start = datetime.fromisoformat(res.schedule_start.replace("Z", "+00:00"))
        periods = [(p["start_period"], p["limit"]) for p in sched["charging_schedule_period"]]
        duration = sched["duration"]
        assert 86400 <= duration <= week, duration
        ends = [s for s, _ in periods[1:]] + [duration]
        for (s, limit), end in zip(periods, ends):
            for off in (s, end - 1):
                hour = (start + timedelta(seconds=off)).astimezone(timezone.utc).hour
                assert limit == (32 if hour % 2 == 0 else 6), (off, hour, limit, duration)
    run_case(tmp_path, case)


# -- 5. RemoteStartTransaction with a TxProfile the charger cannot use -----------------------------

def test_a_remote_start_whose_tx_profile_cannot_be_installed_is_rejected_not_run_unlimited(tmp_path):
    """RemoteStartTransaction with a TxProfile of 8 A (section 5.11: the charge point SHALL use it
    for the transaction). Three such profiles the charger refuses in SetChargingProfile: a stack
    level above ChargeProfileMaxStackLevel (8), more periods than ChargingScheduleMaxPeriods (24),
    and a transactionId (section 5.16.2: not set in a RemoteStartTransaction). Before the fix the
    request was Accepted, the profile then silently refused when the transaction started, and the
    car charged at the full 32 A. The request is Rejected: no transaction, the pilot offers
    nothing; a usable profile is Accepted and caps the session at 8 A."""
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        level9 = dict(profile(31, "TxProfile", [(0, 8)]), stackLevel=9)
        long = profile(32, "TxProfile", [(60 * i, 8) for i in range(25)])
        with_tx = dict(profile(33, "TxProfile", [(0, 8)]), transactionId=5)
        for prof in (level9, long, with_tx):
            res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1, charging_profile=prof))
            assert res.status == "Rejected", prof
            await b.wait(2.0)
            assert not cs.actions("StartTransaction") and offered(b) == 0.0
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1,
                                                               charging_profile=profile(34, "TxProfile", [(0, 8)])))
        assert res.status == "Accepted"
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction id")
        b.d.ev("C")
        await b.until(lambda: b.d.coil, 6, "contactor closed")
        await b.wait(7.0)
        assert offered(b) == 8.0
    run_case(tmp_path, case)


# -- 7. a site's cap kept on flash holds after a reboot offline, before the clock can place it ------

def test_a_sites_absolute_cap_holds_after_a_reboot_with_the_central_system_away(tmp_path):
    """An Absolute ChargePointMaxProfile, the site's connection: 10 A now, 20 A from an hour on.
    The charger reboots while the central system is away: no currentTime, so the schedule cannot
    be placed in time. Before, it was ignored until the central system answered and the car was
    offered the installer's 32 A, past the site's cap; a cap that cannot be placed is its lowest
    period (10 A): a missing value never raises a limit. Once the clock comes, the schedule
    applies as written."""
    async def case(cs, power_on):
        b = await power_on()
        cap = profile(1, "ChargePointMaxProfile", [(0, 10), (3600, 20)], "Absolute", b)
        assert await set_profile(cs, 0, cap) == "Accepted"
        port = cs.port
        await cs.stop()
        b = await power_on(wait_accepted=False, ocpp_free_id_tag=FREE)
        b.d.plug()
        b.d.ev("C")
        await b.until(lambda: b.d.coil, 10, "charging offline")
        await b.wait(3)
        assert not b.svc.wall.known()
        assert offered(b) == 10.0, offered(b)
        await cs.start(port)
        await b.until(lambda: b.svc.accepted, 60, "boot accepted")
        await b.wait(3)
        assert offered(b) == 10.0, offered(b)              # the first hour of the schedule, placed
    run_case(tmp_path, case)


# -- 8. a profile the evaluation cannot read stops the offer, it never lifts the limit --------------

def test_a_profile_that_cannot_be_evaluated_offers_nothing_and_says_why(tmp_path):
    """A ChargePointMaxProfile of 10 A caps the session. Then one installed profile cannot be
    evaluated any more (a fault of this firmware, a profile of a shape no check foresaw: here its
    periods are no list). Before, the evaluation raised at every second, no OCPP limit reached the
    core again and the last one stood, or none after a reboot (32 A past the 10 A cap in the
    audit's case); a limit that cannot be known is no charging, and the status says why."""
    async def case(cs, power_on):
        b = await power_on()
        assert await set_profile(cs, 0, profile(1, "ChargePointMaxProfile", [(0, 10)], "Absolute", b)) == "Accepted"
        await charging(b)
        await b.until(lambda: offered(b) == 10.0, 7, "the cap's 10 A")
        b.svc.profiles.items[0][1]["periods"] = None
        await b.until(lambda: offered(b) == 0.0, 3, "nothing offered")
        assert "charging profiles" in (b.svc.status()["error"] or "")
    run_case(tmp_path, case)
