"""The virtual bench against its contract again, as an outsider tests it (stop 48): scenarios written from
../shared/reference/bench-contract.md and evse-facts.md alone, on both targets, judged on the exit
status and the JSON-lines log they leave."""
import pytest

from rp2_bench import WHY, run

rp2 = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)


def contactor_expects_ahead_of_their_line(rows):
    """The `expect contactor ...` lines that held while the log's last `contactor` line still said
    the other thing: the log shows the expect holding before the change it saw."""
    closed, bad = False, []
    for r in rows:
        if r["kind"] == "contactor":
            closed = r["closed"]
        elif r["kind"] == "expect" and r["ok"] and r["text"].split()[1] == "contactor":
            if (r["text"].split()[2] == "closed") != closed:
                bad.append((r["line"], r["t"]))
    return bad


CLOSE_OPEN = """# a technician's short session: each contactor expect holds on the coil's change
config max_current=32
wait 0.5
plug
ev C
expect contactor closed within 1
wait 0.5
ev B
expect contactor open within 0.1
wait 0.2
"""


@rp2
def test_the_log_says_the_contactor_changed_before_the_expect_that_saw_it_on_both_targets(tmp_path):
    """Contract, traces: events in time order, several may share one t. On the Pico `expect
    contactor` reads the coil pin at its edge, and the firmware's `contactor` line for that edge
    came over the console a tick later: the log had `expect contactor closed` ok, then the next
    commands, then `contactor {closed: true}`, all at one t (lines 6 and 9 here), where the host
    writes the change first. Now the change is logged first on both."""
    path = tmp_path / "close_open.scn"
    path.write_text(CLOSE_OPEN)
    for target in ("host", "rp2"):
        rc, rows, _ = run(str(path), tmp_path, target)
        assert rc == 0, target
        assert contactor_expects_ahead_of_their_line(rows) == [], (target, rows)
        assert [r["closed"] for r in rows if r["kind"] == "contactor"] == [True, False], target


TYPE2_100 = """config connector=type2-socket max_current=80 phases=%d
wait 0.5
plug 100
expect current %d within 0.1
expect duty %s
ev C
expect contactor closed within 1
"""


def test_a_100_ohm_type2_cable_allows_70_a_on_one_phase_and_63_a_on_three(tmp_path):
    """evse-facts 5 (IEC 61851-1 Table B.2): the 100 ohm coding is a 63 A three-phase / 70 A
    one-phase cable. A one-phase Type 2 socket rated 80 A offered 63 A (89.2 %) on it."""
    for phases, amps, duty in ((1, 70, "92.0"), (3, 63, "89.2")):
        path = tmp_path / ("t2_%d.scn" % phases)
        path.write_text(TYPE2_100 % (phases, amps, duty))
        rc, rows, _ = run(str(path), tmp_path, "host")
        assert rc == 0, (phases, [r for r in rows if r["kind"] in ("pwm", "expect")])


THREE_PHASE = """config connector=type2-socket phases=3 max_current=16
wait 0.5
plug
ev C
expect contactor closed within 1
draw 10 3
wait 36
"""


def test_the_meter_lines_count_every_phase_of_a_three_phase_session(tmp_path):
    """Contract: `meter {amps, wh}`, `wh` the session's energy. The sim board has a CT on each phase,
    but the bench left `meter_phases` at 1: a car drawing 10 A on each of three phases for 35 s logged
    22.2 Wh, a third of the 67 Wh it took (230 V); now 66.5 Wh (the CT's first window)."""
    path = tmp_path / "three.scn"
    path.write_text(THREE_PHASE)
    rc, rows, _ = run(str(path), tmp_path, "host")
    assert rc == 0
    meter = [r for r in rows if r["kind"] == "meter"]
    closed = [r["t"] for r in rows if r["kind"] == "contactor" and r["closed"]][0]
    drawn = 3 * 230 * 10 * (meter[-1]["t"] - closed) / 3600       # the car draws from the closing
    assert abs(meter[-1]["wh"] - drawn) < 0.02 * drawn, (meter[-1], drawn)


BAD = ("wait -1", "wait soon", "wait 1e-3", "config max_current=16", "plug -220", "plug 150 extra",
       "unplug 3", "ev X", "ev -5", "diode open", "cp long", "draw lots", "draw 10 4", "draw 10 1.5",
       "draw follow -3", "button push", "pp closed", "rcd 20 xx", "rcd -3", "weld maybe", "temp hot",
       "noise -1", "power cycle", "limit -1", "limit", "expect happiness", "expect state FOO",
       "expect fault FOO", "expect contactor ajar", "expect duty", "expect state A1 within -1", "jump 3")


@pytest.mark.parametrize("bad", BAD)
def test_every_verbs_bad_argument_is_refused_at_its_line_and_nothing_runs(bad, tmp_path, capsys):
    """Contract: exit 2 for a bad verb or argument (or config after the first wait), the line
    number (comments and blank lines counted) and the reason, nothing run: no log is written."""
    from tools.bench.__main__ import main as bench_main
    path = tmp_path / "bad.scn"
    path.write_text("# an outsider's typo on line 5\n\nwait 0.5\nplug\n%s\nwait 1\n" % bad)
    log = tmp_path / "bad.jsonl"
    assert bench_main([str(path), "--log", str(log)]) == 2
    assert "%s:5: " % path in capsys.readouterr().err
    assert not log.exists()
