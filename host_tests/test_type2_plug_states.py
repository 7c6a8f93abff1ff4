"""A Type 2 socket reads the cable's coding resistor before it offers anything (facts 4): the
tick or two that takes is B1 (connected, nothing offered yet), not `paused`, which says the EVSE
holds back for a reason of its own (a limit under 6 A, temperature, the latch button) and which
OCPP reports as SuspendedEVSE in a transaction."""
from test_bench_audit6 import bench


def states(rows):
    return [r["state"] for r in rows if r["kind"] == "state"]


def test_a_type2_plug_in_goes_from_A_to_B_without_a_pause(tmp_path):
    r, rows, _ = bench(tmp_path, "config max_current=32 connector=type2-socket\nwait 1\nplug 680\n"
                                 "expect state B2 within 0.1\nexpect current 20\nunplug\nwait 0.5\n"
                                 "plug 100\nexpect state B2 within 0.1\nexpect current 32\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "paused" not in states(rows), states(rows)
    assert states(rows)[:3] == ["A1", "B1", "B2"]        # time 0: the charger booted (A1)


def test_a_limit_under_6A_is_still_a_pause(tmp_path):
    """A limit of its own under 6 A (here an operator's 5 A) keeps the EVSE-side pause."""
    r, rows, _ = bench(tmp_path, "config max_current=32 connector=type2-socket\nlimit 5\nwait 1\nplug 680\n"
                                 "wait 0.5\nexpect state paused\nexpect contactor open\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert states(rows)[-1] == "paused"
