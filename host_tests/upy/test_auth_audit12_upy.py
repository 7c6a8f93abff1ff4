"""The authorization cache across a reboot on the board's Python: runs under CPython (pytest) and
the MicroPython unix port (python -m tools.toolchain.upy_tests host_tests/upy/test_auth_audit12_upy.py),
where a dict keeps no insertion order."""
import json

from evse.ocpp.auth import CACHE_MAX, AuthStore
from ocpp_fakes import tmpdir


def test_a_full_cache_drops_its_oldest_card_after_a_reboot_too():
    """A workplace's 64 cards cached, the charger reboots, a 65th card is answered: the card
    answered first goes, the one answered just before the reboot stays. On the board the order
    was the dict's (hash order) after a reboot: any card could go, the last one answered too."""
    d = tmpdir("auth12")
    a = AuthStore(d + "/c.json", d + "/l.json")
    cards = ["C%02d" % i for i in range(CACHE_MAX)]
    for c in cards:
        a.remember(c, {"status": "Accepted"})
    b = AuthStore(d + "/c.json", d + "/l.json")          # the reboot
    b.remember("NEW", {"status": "Accepted"})
    assert len(b.cache) == CACHE_MAX
    assert "C00" not in b.cache and "C63" in b.cache and "C01" in b.cache
    for i in range(1, 4):                                 # and on in the order they were answered
        b.remember("NEW%d" % i, {"status": "Accepted"})
        assert "C%02d" % i not in b.cache and "C%02d" % (i + 1) in b.cache


def test_a_card_answered_again_is_not_the_one_dropped():
    """The card of a regular, answered again alike every day, is not dropped for a visitor's: the
    one answered longest ago goes. The firmware kept a card's first place when its answer did not
    change, so a full cache dropped the card used every day first. Answered alike, the file is not
    written again (flash wear); its order is the one of the last change."""
    d = tmpdir("auth12")
    a = AuthStore(d + "/c.json", None)
    for i in range(CACHE_MAX):
        a.remember("C%02d" % i, {"status": "Accepted"})
    with open(d + "/c.json") as f:
        before = f.read()
    a.remember("C00", {"status": "Accepted"})            # the regular, this morning
    with open(d + "/c.json") as f:
        assert f.read() == before
    a.remember("VISITOR", {"status": "Accepted"})
    assert "C00" in a.cache and "C01" not in a.cache and a.order[-2:] == ["C00", "VISITOR"]


def test_the_cache_file_written_before_still_reads():
    """authcache.json as stops before wrote it (idTag -> idTagInfo) is read, in its file's order."""
    d = tmpdir("auth12")
    with open(d + "/c.json", "w") as f:
        f.write(json.dumps({"OLD": {"status": "Blocked"}}))
    a = AuthStore(d + "/c.json", None)
    assert a.lookup("OLD", None) == ("Blocked", "cache")
    a.remember("NEW", {"status": "Accepted"})
    assert AuthStore(d + "/c.json", None).lookup("OLD", None) == ("Blocked", "cache")



def test_a_card_the_list_names_leaves_the_cache():
    """Section 3.5.3: the list's cards are not the cache's. Taken off the list later, a card is
    unknown, not the Accepted of a cache entry older than the list (also across a reboot)."""
    d = tmpdir("auth12")
    a = AuthStore(d + "/c.json", d + "/l.json")
    a.remember("04A1B2C3", {"status": "Accepted"})
    a.remember("KEEP", {"status": "Accepted"})
    assert a.send_local_list(1, [{"idTag": "04a1b2c3", "idTagInfo": {"status": "Blocked"}}], "Full") == "Accepted"
    assert a.lookup("04A1B2C3", None) == ("Blocked", "list")
    assert a.send_local_list(2, [], "Full") == "Accepted"
    assert a.lookup("04A1B2C3", None) == (None, None) and a.lookup("KEEP", None) == ("Accepted", "cache")
    b = AuthStore(d + "/c.json", d + "/l.json")
    assert b.lookup("04A1B2C3", None) == (None, None) and b.order == ["KEEP"]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
