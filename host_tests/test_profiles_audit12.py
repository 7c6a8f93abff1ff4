"""The twelfth audit: OCPP 1.6 smart charging checked against an independent reference.

`spec_limit` below is written from the words of OCPP 1.6 edition 2, not from schedule.py: it
evaluates one moment from the profiles as the central system sent them (JSON, ISO times).
    3.13.1  ChargePointMaxProfile (connector 0) caps; TxDefaultProfile (connector 0 = every
            connector, or one connector); TxProfile (one transaction) overrules TxDefaultProfile.
    3.13.2  "the prevailing charging profile SHALL be the charging profile with the highest
            stackLevel among the profiles that are valid at that point in time, as determined by
            their validFrom and validTo parameters". One whose schedule has no period at that
            moment (before its start, past its duration) gives no limit: the next one down rules
            (the reading that never lifts a limit; libocpp's too).
    3.13.4  the composite is the lower of the ChargePointMaxProfile's limit and the TxProfile's
            (or TxDefaultProfile's).
    7.9, 7.13  ChargingProfileKindType, ChargingSchedule. Absolute: from startSchedule ("If absent
            the schedule will be relative to start of charging"); Recurring: "restarts
            periodically at the first schedule period" (Daily, Weekly) from startSchedule, not
            before it (libocpp also repeats it backwards: the spec says neither); Relative: from
            the start of the transaction. duration: "If the duration is left empty, the last
            period will continue indefinitely". A limit in W is watts over the charger's phases
            at its voltage (the pilot offers one current on all of them).
    5.7     GetCompositeSchedule: connectorId 0 is "the total expected energy consumption for the
            whole Charge Point" (here its one connector); the answer in the unit asked for.
The firmware's Profiles.limit_at and Profiles.composite (and SetChargingProfile's answers) are
compared with it over hypothesis-generated profile sets; the bench scenarios at the end check that
the pilot follows the composite."""
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from evse.ocpp.schedule import Profiles
from evse.ocpp.wallclock import format_iso, parse_iso

DAY = 86400
WEEK = 7 * DAY
T0 = parse_iso("2026-01-03T22:00:00Z")   # a Saturday evening: midnight and a week's end follow
TXID = 7
MAX_LEVEL = 8
MAX_INSTALLED = 8


# -- the reference, from the spec's words -------------------------------------------------------

def _t(s):
    return None if s is None else parse_iso(s)


def schedule_limit(prof, t, charging_start, volts, phases):
    """The limit (A) one profile's schedule sets at t, or None where it sets none."""
    vf, vt = _t(prof.get("validFrom")), _t(prof.get("validTo"))
    if (vf is not None and t < vf) or (vt is not None and t >= vt):
        return None                                  # not valid at t (3.13.2)
    s = prof["chargingSchedule"]
    kind = prof["chargingProfileKind"]
    start = _t(s.get("startSchedule"))
    if kind == "Relative" or (kind == "Absolute" and start is None):
        start = charging_start                       # "relative to start of charging"
    elif kind == "Recurring":
        every = DAY if prof["recurrencyKind"] == "Daily" else WEEK
        if t >= start:                               # restarts at each day / week since startSchedule
            start = start + ((t - start) // every) * every
    if t < start:
        return None
    into = t - start
    if s.get("duration") is not None and into >= s["duration"]:
        return None
    limit = None
    for p in s["chargingSchedulePeriod"]:            # the period that started last before t
        if p["startPeriod"] <= into and (limit is None or p["startPeriod"] >= limit[0]):
            limit = (p["startPeriod"], p["limit"])
    if limit is None:
        return None
    return limit[1] if s["chargingRateUnit"] == "A" else limit[1] / (volts * phases)


def prevailing(installed, purpose, connectors, t, charging_start, volts, phases, txid=None):
    """Highest stackLevel first (a connector's own before connector 0's at the same level); the
    first that sets a limit at t."""
    cands = [(p["stackLevel"], c != 0, p) for c, p in installed
             if c in connectors and p["chargingProfilePurpose"] == purpose
             and (purpose != "TxProfile" or p.get("transactionId", txid) == txid)]
    for _, _, p in sorted(cands, key=lambda x: (x[0], x[1]), reverse=True):
        lim = schedule_limit(p, t, charging_start, volts, phases)
        if lim is not None:
            return lim
    return None


def spec_limit(installed, t, charging_start, volts, phases, in_tx, txid):
    """The composite limit (A) at t on connector 1, or None where no profile limits."""
    cap = prevailing(installed, "ChargePointMaxProfile", (0,), t, charging_start, volts, phases)
    lim = prevailing(installed, "TxProfile", (1,), t, charging_start, volts, phases, txid) if in_tx else None
    if lim is None:
        lim = prevailing(installed, "TxDefaultProfile", (0, 1), t, charging_start, volts, phases)
    if cap is not None and (lim is None or cap < lim):
        lim = cap
    return lim


def spec_set(installed, connector, prof, txid):
    """SetChargingProfile (5.16, 3.13): (status, installed after)."""
    purpose = prof["chargingProfilePurpose"]
    s = prof["chargingSchedule"]
    starts = [p["startPeriod"] for p in s["chargingSchedulePeriod"]]
    bad = (connector > 1 or (purpose == "ChargePointMaxProfile" and connector != 0)
           or (purpose == "TxProfile" and (connector == 0 or txid is None
                                           or prof.get("transactionId", txid) != txid))
           or prof["stackLevel"] > MAX_LEVEL
           or min(starts) != 0 or len(set(starts)) != len(starts)
           or (prof["chargingProfileKind"] == "Recurring"
               and ("recurrencyKind" not in prof or "startSchedule" not in s)))
    if bad:
        return "Rejected", installed
    # 3.13.2: "the existence of multiple Charging Profiles with the same stackLevel and Purposes in
    # a Charge Point is not allowed" (5.16: same id, or same stackLevel / purpose, replaces)
    kept = [(c, p) for c, p in installed if p["chargingProfileId"] != prof["chargingProfileId"] and not (
        p["chargingProfilePurpose"] == purpose and p["stackLevel"] == prof["stackLevel"])]
    if len(kept) >= MAX_INSTALLED:
        return "Rejected", installed
    return "Accepted", kept + [(connector, prof)]


def change_points(installed, lo, hi, charging_start):
    """Every second at which a profile may change what it sets, in [lo, hi): the reference is
    constant between two of them, so checking at each of them checks every second."""
    pts = {lo}
    for _, p in installed:
        s = p["chargingSchedule"]
        for key in ("validFrom", "validTo"):
            if p.get(key):
                pts.add(_t(p[key]))
        start = _t(s.get("startSchedule"))
        if p["chargingProfileKind"] == "Relative" or start is None:
            start = charging_start
        every = {"Daily": DAY, "Weekly": WEEK}.get(p.get("recurrencyKind")) \
            if p["chargingProfileKind"] == "Recurring" else None
        a = start
        if every:
            a = start + max(0, (lo - start) // every) * every
        while a < hi:
            for sp in s["chargingSchedulePeriod"]:
                pts.add(a + sp["startPeriod"])
            if s.get("duration") is not None:
                pts.add(a + s["duration"])
            if not every:
                break
            a += every
    return sorted(x for x in pts if lo <= x < hi)


# -- generated profile sets ---------------------------------------------------------------------

def _iso_near(draw, lo, hi, step=900):
    return format_iso(T0 + draw(st.integers(lo // step, hi // step)) * step)


@st.composite
def a_profile(draw, pid):
    purpose = draw(st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]))
    kind = draw(st.sampled_from(["Absolute", "Recurring", "Relative"]))
    unit = draw(st.sampled_from(["A", "W"]))
    n = draw(st.integers(1, 4))
    gaps = draw(st.lists(st.sampled_from([60, 600, 1800, 3600, 4 * 3600, 9 * 3600]), min_size=n - 1, max_size=n - 1))
    starts = [0]
    for g in gaps:
        starts.append(starts[-1] + g)
    if unit == "A":
        limits = draw(st.lists(st.integers(0, 400).map(lambda x: x / 10), min_size=n, max_size=n))
    else:
        limits = draw(st.lists(st.integers(0, 2400).map(lambda x: x * 10), min_size=n, max_size=n))
    sched = {"chargingRateUnit": unit,
             "chargingSchedulePeriod": [{"startPeriod": s, "limit": l} for s, l in zip(starts, limits)]}
    if draw(st.booleans()):
        sched["duration"] = draw(st.sampled_from([60, 1800, 3600, 5 * 3600, DAY, 2 * DAY, 9 * DAY]))
    if kind != "Relative" and draw(st.integers(0, 5)):
        sched["startSchedule"] = _iso_near(draw, -9 * DAY, 2 * DAY)
    prof = {"chargingProfileId": pid, "stackLevel": draw(st.sampled_from([0, 1, 2, 3, 9])),
            "chargingProfilePurpose": purpose, "chargingProfileKind": kind, "chargingSchedule": sched}
    if kind == "Recurring" and draw(st.integers(0, 5)):
        prof["recurrencyKind"] = draw(st.sampled_from(["Daily", "Weekly"]))
    if draw(st.booleans()):
        prof["validFrom"] = _iso_near(draw, -3 * DAY, 2 * DAY)
    if draw(st.booleans()):
        prof["validTo"] = _iso_near(draw, -DAY, 3 * DAY)
    if purpose == "TxProfile" and draw(st.booleans()):
        prof["transactionId"] = draw(st.sampled_from([TXID, TXID + 1]))
    return prof


@st.composite
def a_bench(draw):
    """(the profiles sent, each with its connector; the transaction's start or None; phases)."""
    sent = []
    for _ in range(draw(st.integers(1, 7))):
        prof = draw(a_profile(draw(st.integers(1, 9))))
        purpose = prof["chargingProfilePurpose"]
        usual = 0 if purpose == "ChargePointMaxProfile" else 1
        if purpose == "TxDefaultProfile":
            usual = draw(st.sampled_from([0, 1]))
        connector = usual if draw(st.integers(0, 9)) else draw(st.sampled_from([0, 1, 2]))
        sent.append((connector, prof))
    tx_start = draw(st.one_of(st.none(), st.integers(0, 2 * DAY // 60).map(lambda m: T0 - m * 60)))
    return sent, tx_start, draw(st.sampled_from([1, 3]))


def install(sent, tx_start, phases, volts=230):
    """The firmware's Profiles and the reference's list, fed the same SetChargingProfile requests;
    their answers must agree."""
    pr = Profiles(None, volts, phases, MAX_LEVEL, MAX_INSTALLED)
    ref = []
    txid = TXID if tx_start is not None else None
    for connector, prof in sent:
        want, ref = spec_set(ref, connector, prof, txid)
        got = pr.add(connector, prof, txid, 1)
        assert got == want, (connector, prof, got, want)
    return pr, ref


CASES = {"limit": 0, "composite": 0, "moments": 0}
SLACK = 1e-9


@hsettings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(bench=a_bench())
def test_the_limit_in_force_is_the_specs_at_every_change_of_every_profile(bench):
    """At every second where a profile may change what it sets (and the second before), over four
    days from a Saturday evening, limit_at is the reference's limit: same stacking, same purposes,
    same recurrences, same validity edges, W over the charger's phases."""
    sent, tx_start, phases = bench
    pr, ref = install(sent, tx_start, phases)
    in_tx = tx_start is not None
    txid = TXID if in_tx else None
    CASES["limit"] += 1
    for t in change_points(ref, T0 - DAY, T0 + 3 * DAY, tx_start if in_tx else T0):
        for x in (t - 1, t):
            want = spec_limit(ref, x, tx_start if in_tx else x, 230, phases, in_tx, txid)
            got = pr.limit_at(x, 1, tx_start, True, txid, in_tx)
            CASES["moments"] += 1
            assert (got is None) == (want is None) and (want is None or abs(got - want) < SLACK), \
                (format_iso(x), got, want)


def _composite_at(sched, t0, x):
    lim = None
    for p in sched["chargingSchedulePeriod"]:
        if p["startPeriod"] <= x - t0:
            lim = p["limit"]
    return lim


@hsettings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(bench=a_bench(), connector=st.sampled_from([1, 1, 0]), unit=st.sampled_from(["A", "W"]),
       duration=st.sampled_from([600, 3600, 6 * 3600, DAY, 2 * DAY]), local=st.sampled_from([16.0, 32.0, 80.0]),
       later=st.integers(0, DAY // 60).map(lambda m: m * 60))
def test_the_composite_schedule_is_the_specs_limit_at_every_second_it_covers(bench, connector, unit, duration, local,
                                                                            later):
    """GetCompositeSchedule from t0 for `duration`: at every second it covers its period's limit is
    the reference's (capped by the charger's other limits, in the unit asked for, rounded down to
    0.1, never above; the service always has a local limit, the board's rating if nothing less);
    connector 0 answers for the whole charger, i.e. its one connector. Without
    a transaction a Relative schedule (or an Absolute one without startSchedule) counts from t0:
    what a session that started now would be given."""
    sent, tx_start, phases = bench
    pr, ref = install(sent, tx_start, phases)
    in_tx = tx_start is not None
    txid = TXID if in_tx else None
    t0 = T0 + later
    sched = pr.composite(t0, duration, connector, tx_start, True, txid, in_tx, unit, local)
    CASES["composite"] += 1
    assert sched["chargingRateUnit"] == unit and 0 < sched["duration"] <= duration
    periods = sched["chargingSchedulePeriod"]
    starts = [p["startPeriod"] for p in periods]
    assert starts == sorted(set(starts)) and all(0 <= s < sched["duration"] for s in starts)
    assert all(a["limit"] != b["limit"] for a, b in zip(periods, periods[1:])), periods
    per = 230 * phases if unit == "W" else 1
    for t in change_points(ref, t0, t0 + sched["duration"], tx_start if in_tx else t0):
        want = spec_limit(ref, t, tx_start if in_tx else t0, 230, phases, in_tx, txid)
        if want is None or want > local:   # the charger's other limits (the board's 80 A at most)
            want = local
        got = _composite_at(sched, t0, t)
        CASES["moments"] += 1
        want *= per
        assert got is not None and want - 0.1 - 1e-6 <= got <= want + 1e-6, (format_iso(t), got, want, periods)


# -- the two disagreements found, as bench scenarios ---------------------------------------------

def test_a_relative_default_profile_before_any_session_is_reported_as_a_session_starting_now():
    """No car yet. A TxDefaultProfile, Relative: 6 A for the first hour of a session, then 32 A.
    The central system asks for the next two hours' composite: a session starting now gets 6 A,
    then 32 A an hour later (OCPP 1.6 ChargingProfileKindType: Relative periods count from the
    session's start;
    libocpp assumes a session starting now too). Before the fix each moment was evaluated as if a
    session started at that moment: "6 A for two hours", which the charger does not keep once a car
    arrives; a central system sharing a site's supply counted 26 A that would be drawn."""
    pr = Profiles(None, 230, 1)
    prof = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 6}, {"startPeriod": 3600, "limit": 32}]}}
    assert pr.add(1, prof, None) == "Accepted"
    sched = pr.composite(T0, 7200, 1, None, True, None, False, "A", 32.0)
    assert [(p["startPeriod"], p["limit"]) for p in sched["chargingSchedulePeriod"]] == [(0, 6), (3600, 32)]


def test_the_composite_schedule_of_connector_0_is_what_the_whole_charger_will_draw():
    """A ChargePointMaxProfile of 10 A and a TxDefaultProfile of 8 A on the one connector. Asked for
    connectorId 0, the charger "SHALL report the total expected energy consumption for the whole
    Charge Point" (OCPP 1.6 5.7): 8 A, the most its one connector will take. Before the fix it
    reported the 10 A cap alone (or, with no ChargePointMaxProfile, the installer's 32 A)."""
    pr = Profiles(None, 230, 1)
    for c, pid, purpose, amps in ((0, 1, "ChargePointMaxProfile", 10), (1, 2, "TxDefaultProfile", 8)):
        prof = {"chargingProfileId": pid, "stackLevel": 0, "chargingProfilePurpose": purpose,
                "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}
        assert pr.add(c, prof, None) == "Accepted"
    for connector in (0, 1):
        sched = pr.composite(T0, 600, connector, None, True, None, False, "A", 32.0)
        assert [(p["startPeriod"], p["limit"]) for p in sched["chargingSchedulePeriod"]] == [(0, 8)]


def test_the_composite_schedule_of_a_single_phase_charger_says_one_phase():
    """A single-phase charger (phases 1) limited to 16 A by a TxDefaultProfile. Its composite
    schedule in A said 16 A and no numberPhases, and OCPP 1.6 7.14 reads an absent numberPhases
    as 3 ("numberPhases=3 will be assumed unless another number is given"): a central system
    sharing a site's supply counted 11 kW (3 x 16 A x 230 V) for a charger that takes 3.7 kW.
    Each period now says the charger's phases (libocpp reports them too)."""
    for phases in (1, 3):
        pr = Profiles(None, 230, phases)
        prof = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}
        assert pr.add(1, prof, None) == "Accepted"
        for unit, limit in (("A", 16), ("W", 16 * 230 * phases)):
            assert pr.composite(T0, 600, 1, None, True, None, False, unit, 32.0)["chargingSchedulePeriod"] == \
                [{"startPeriod": 0, "limit": limit, "numberPhases": phases}]


def test_a_default_profile_for_the_whole_charger_replaces_the_connectors_at_the_same_stack_level():
    """The central system sets a TxDefaultProfile of 6 A on connector 1 at stack level 0, later one
    of 16 A on connector 0 (every connector) at stack level 0, to raise the limit. OCPP 1.6 3.13.2:
    "the existence of multiple Charging Profiles with the same stackLevel and Purposes in a Charge
    Point is not allowed. Whenever a Charge Point receives a Charging Profile with a stackLevel and
    Purpose that already exists in the Charge Point, the Charge Point SHALL replace the existing
    profile." Before the fix both were kept and the connector's 6 A went on ruling; now the 16 A
    one replaced it: 16 A, one profile installed, and clearing connector 1's finds nothing."""
    pr = Profiles(None, 230, 1)
    for c, pid, amps in ((1, 1, 6), (0, 2, 16)):
        prof = {"chargingProfileId": pid, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}
        assert pr.add(c, prof, None) == "Accepted"
    assert pr.limit_at(T0, 1) == 16.0
    assert [(c, o["chargingProfileId"]) for c, _, o in pr.items] == [(0, 2)]
    assert pr.clear(connector=1) == "Unknown"


# -- ClearChargingProfile (5.5): "either a specific charging profile (denoted by id) or a selection
# of charging profiles that match with the values of the optional connectorId, stackLevel and
# chargingProfilePurpose fields"; Unknown when none matched ------------------------------------------

@hsettings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(bench=a_bench(), pid=st.one_of(st.none(), st.integers(1, 9)),
       connector=st.one_of(st.none(), st.sampled_from([0, 1])),
       purpose=st.one_of(st.none(), st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"])),
       level=st.one_of(st.none(), st.integers(0, 3)))
def test_clear_charging_profile_removes_what_the_spec_selects(bench, pid, connector, purpose, level):
    sent, tx_start, phases = bench
    pr, ref = install(sent, tx_start, phases)

    def chosen(c, p):
        if pid is not None:
            return p["chargingProfileId"] == pid
        return (connector in (None, c) and purpose in (None, p["chargingProfilePurpose"])
                and level in (None, p["stackLevel"]))
    left = [(c, p) for c, p in ref if not chosen(c, p)]
    assert pr.clear(pid, connector, purpose, level) == ("Unknown" if len(left) == len(ref) else "Accepted")
    assert sorted((c, o["chargingProfileId"]) for c, _, o in pr.items) == \
        sorted((c, p["chargingProfileId"]) for c, p in left)
    in_tx = tx_start is not None
    for t in change_points(left, T0, T0 + DAY, tx_start if in_tx else T0):
        want = spec_limit(left, t, tx_start if in_tx else t, 230, phases, in_tx, TXID if in_tx else None)
        got = pr.limit_at(t, 1, tx_start, True, TXID if in_tx else None, in_tx)
        assert (got is None) == (want is None) and (want is None or abs(got - want) < SLACK)


# -- on the bench: the pilot the car sees follows the composite schedule -------------------------

def test_the_pilot_follows_the_composite_of_a_watts_schedule_on_a_single_phase_charger(tmp_path):
    """A single-phase 230 V charger (phases 1), 32 A installed, a session running. The central
    system sends a TxProfile in W: 3680 W, at 1 min 1150 W, at 2 min 2300 W, 2 s later 4600 W, at
    3 min 7360 W, i.e. 16 A, 5 A, 10 A, 20 A, 32 A on one phase (W / (230 V x 1), not x 3: a third of the power asked).
    GetCompositeSchedule reports those amperes, and watts back unchanged. Sampled every quarter of
    a second for four and a half minutes, the pilot never offers more than the composite (a
    lowering is followed within the one-second evaluation), during the 5 A minute it pauses at X1
    (below 6 A; never a duty under 10 %), and it raises at most once per 5 s (facts section 2)."""
    from evse.core import limits as L
    from octt_cs import call, charging, run_case

    async def case(cs, power_on):
        b = await power_on(phases=1, nominal_volts=230)
        await charging(b)
        await b.wait(8)
        now = b.svc.cp_time(b.svc.ticks())
        starts = [0, 60, 120, 122, 180]
        watts = [3680, 1150, 2300, 4600, 7360]
        prof = {"chargingProfileId": 5, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute", "transactionId": b.svc.tx["txid"],
                "chargingSchedule": {"chargingRateUnit": "W", "startSchedule": format_iso(now),
                                     "chargingSchedulePeriod": [{"startPeriod": s, "limit": w}
                                                                for s, w in zip(starts, watts)]}}
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=prof))
        assert res.status == "Accepted"
        got = {}
        for unit in ("A", "W"):
            res = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=300, charging_rate_unit=unit))
            got[unit] = [(p["start_period"], p["limit"]) for p in res.charging_schedule["charging_schedule_period"]]
        t_asked = b.svc.cp_time(b.svc.ticks())
        assert [x[1] for x in got["A"]] == [16, 5, 10, 20, 32], got
        assert [x[1] for x in got["W"]] == watts, got
        assert all(abs(t_asked + s - (now + s0)) <= 2 for s0, (s, _) in zip(starts[1:], got["A"][1:])), got

        def composite_at(t):
            lim = None
            for s, a in got["A"]:
                if t_asked + s <= t:
                    lim = float(a)
            return lim

        samples = []   # (time s, composite A at that moment, offered A, pilot mode, duty %)
        end = now + 270
        while b.svc.cp_time(b.svc.ticks()) < end:
            await b.wait(0.25)
            out = b.app.charger.out
            t = b.svc.ticks() / 1000
            samples.append((t, composite_at(b.svc.cp_time(b.svc.ticks())), out.amps_x10 / 10, out.pilot_mode, b.d.duty))
        changes = [(t, a) for (t, _, a, _, _), (_, _, p, _, _) in zip(samples[1:], samples) if a != p]
        for t, lim, amps, mode, duty in samples:
            recent = [s for s in samples if t - 1.5 <= s[0] <= t]   # the limit evaluated once a second
            assert amps <= max(s[1] for s in recent), (t, lim, amps)
            assert mode != L.PILOT_PWM or 10 <= duty <= max(s[1] for s in recent) / 0.6 + 0.01, (t, duty)
            if lim is not None and lim < 6:
                assert mode == L.PILOT_X1 or t - recent[0][0] < 1.5, (t, mode)
        raises = [t for (t, a), (_, p) in zip(changes[1:], changes) if a > p and p > 0]
        for (t1, _), (t2, _) in zip(changes, changes[1:]):
            if t2 in raises:
                assert t2 - t1 >= 5 - 0.26, changes
        assert [a for _, a in changes] == [0.0, 10.0, 20.0, 32.0], changes
        assert samples[-1][2] == 32.0 and any(m == L.PILOT_X1 for _, _, _, m, _ in samples), changes
        print("bench: %d samples, offer changes %s" % (
            len(samples), [(round(t - samples[0][0], 2), a) for t, a in changes]))
    run_case(tmp_path, case)


# -- a reboot offline: no wall time, the profiles kept on flash -----------------------------------

@hsettings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(bench=a_bench(), uptime=st.integers(0, 3 * DAY // 60).map(lambda m: m * 60 + 1000))
def test_without_the_wall_time_no_profile_is_lifted_above_what_any_true_time_would_give(bench, uptime):
    """The charger rebooted offline: its schedule time line is its uptime, Absolute and Recurring
    profiles and validity dates cannot be placed. Whatever the true time turns out to be (every
    second a profile may change, over four days), the limit used meanwhile is never above the
    reference's at that true time: a missing time never raises a limit (docs/ocpp.md). What a
    reboot keeps: ChargePointMaxProfiles and TxDefaultProfiles (TxProfiles end with their
    transaction and come from a central system, whose boot answer gives the time first)."""
    sent, tx_start, phases = bench
    sent = [(c, p) for c, p in sent if p["chargingProfilePurpose"] != "TxProfile"]
    pr, ref = install(sent, tx_start, phases)
    in_tx = tx_start is not None
    txid = TXID if in_tx else None
    for shift in (0, DAY // 2, 3 * DAY // 2):    # now, or later
        u = uptime + shift
        ran = None if tx_start is None else T0 - tx_start + shift     # the session's age
        got = pr.limit_at(u, 1, None if ran is None else u - ran, False, txid, in_tx)
        CASES["moments"] += 1
        for t in change_points(ref, T0 - DAY, T0 + 3 * DAY, T0):
            for x in (t - 1, t):       # a true time it may be: the session started `ran` before it
                want = spec_limit(ref, x, x if ran is None else x - ran, 230, phases, in_tx, txid)
                if want is not None:
                    assert got is not None and got <= want + SLACK, (u, format_iso(x), got, want)
