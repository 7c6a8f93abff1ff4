"""A site of chargers behind one supply (issue 12): eight chargers, each the unmodified firmware on
its own virtual bench in its own process, cars arriving, charging and leaving at random, and one
central system (PyPI `ocpp`) sharing a 30 A site limit with ChargePointMaxProfile. Not all eight
can have 6 A: who cannot is offered nothing. `make bench` runs the same with 50 chargers."""
import asyncio

from tools import site


def test_eight_chargers_share_a_30_a_site_and_the_sum_of_offers_never_exceeds_it():
    r = asyncio.run(site.run_site(chargers=8, seconds=50, site_amps=30))
    assert r["failed"] == [], r["failed"]
    assert r["booted"] == 8
    assert r["sessions"] >= 8               # every car started at least once
    assert r["over_outside_grace"] == 0, r     # (within 10 s of a change is allowed; counted)
    assert 24 <= r["sum_max_a"] <= 30, r    # the site is used, never exceeded
    assert r["cs_rss_growth_kb"] < 20 * 1024


def test_the_site_counts_an_offer_over_the_limit_unless_a_profile_was_just_sent():
    s = site.Site(site_amps=30)
    s.last_change = 100.0
    s.on_report({"id": "a", "a": 20.0}, 101.0)
    s.on_report({"id": "b", "a": 16.0}, 105.0)       # 36 A, 5 s after a change: allowed
    assert s.over == [] and s.over_in_grace == 1
    s.on_report({"id": "a", "a": 19.2}, 111.0)       # 35.2 A, 11 s after: a violation
    assert s.over == [(111.0, 35.2)] and s.sum_max == 36.0


def test_a_fair_share_is_at_least_6_a_and_who_cannot_have_it_gets_nothing():
    s = site.Site(site_amps=30)
    s.active = ["a", "b"]
    assert s.targets() == {"a": 15, "b": 15}
    s.active = ["a", "b", "c", "d", "e", "f"]
    assert s.targets() == {"a": 6, "b": 6, "c": 6, "d": 6, "e": 6, "f": 0}
    s.active = ["a"]
    assert s.targets() == {"a": 30 if site.MAX_A >= 30 else site.MAX_A}


def test_advertised_current_follows_iec_61851_table_a7():
    assert site.advertised_amps(10000) == 0.0 and site.advertised_amps(0) == 0.0
    assert abs(site.advertised_amps(5000) - 30.0) < 1e-9
    assert abs(site.advertised_amps(9000) - 65.0) < 1e-9
