"""The fault log as a home owner, a site operator and a bench technician read it (the console's
`log`, REST /api/v1/log, the page's Fault log; docs/console.md, docs/web.md), against what a fourth
audit found: each test a bench scenario that failed before its fix."""
import json
from datetime import datetime, timezone

from test_web_upy import Bench
from tools.sim import mock_machine as mm
from evse.services import journal as J

NOW_UTC = int(datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp())


def _utc(iso):
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def _diode_fault(b):
    """A car whose pilot diode is shorted: the `diode` fault, journalled."""
    w = b.rig.world
    w.plugged, w.ev_ohms, w.diode_ok = True, 2740, False
    w.recompute()
    b.rig.run(2.0)
    assert b.app.charger.fault == "diode", b.app.charger.fault


def _log(b):
    code, r = b.call("GET", "log")
    assert code == 200, r
    return r


def test_a_fault_after_the_clock_is_set_says_when_it_happened_in_utc(tmp_path):
    """The owner finds the charger in fault in the evening: the log said [3012, "diode", "B1"], the
    board's ticks since power-on (which wrap after 2**30 ms, 12.4 days, and start again at 0 after a
    reboot), so nobody could say on which day it faulted. With the clock set (NTP, OCPP) each record
    now carries its UTC time, in ISO 8601 (the history's format)."""
    b = Bench(flash_dir=str(tmp_path))
    mm.set_rtc(NOW_UTC)                                  # NTP answered
    b.login()
    _diode_fault(b)
    rec = _log(b)["records"][-1]
    assert rec[1] == "diode" and len(rec) == 5, rec
    assert 0 <= _utc(rec[3]) - NOW_UTC <= 3, rec
    assert isinstance(rec[4], int), rec                  # the boot it happened in


def test_before_the_clock_is_set_the_time_is_null_never_a_guess(tmp_path):
    b = Bench(flash_dir=str(tmp_path))                   # the board's RTC reads 2000: not set
    b.login()
    _diode_fault(b)
    rec = _log(b)["records"][-1]
    assert rec[1] == "diode" and rec[3] is None, rec


def test_records_of_two_boots_are_told_apart_and_keep_their_time_across_the_reboot(tmp_path):
    """A technician reads two `diode` records, each a few seconds after a power-on: the log gave the
    same kind of tick for both, and nothing said they came from different boots (or which came
    first if the ticks had wrapped). Each record now has its boot's number and its UTC time, kept on
    flash with it."""
    b = Bench(flash_dir=str(tmp_path))
    mm.set_rtc(NOW_UTC)
    _diode_fault(b)
    b.rig.power_off()                                    # a power cut: the clock is lost too
    b = Bench(flash_dir=str(tmp_path))
    b.login()
    _diode_fault(b)
    first, second = _log(b)["records"][-2:]
    assert first[1] == second[1] == "diode"
    assert second[4] > first[4], (first, second)         # a later boot
    assert 0 <= _utc(first[3]) - NOW_UTC <= 3 and second[3] is None, (first, second)


def test_the_journal_of_the_previous_firmware_is_still_read_and_it_can_read_the_new_lines(tmp_path):
    """A firmware update must not lose the log: the old snapshot's records ([t_ms, reason, state])
    and its appended lines ([t_ms, reason, state] and [t_ms, reason, state, 1] for a latched fault)
    are read, with no time and no boot. A line written now keeps the latched flag where the old
    reader looks for it (its 4th item, 0 or 1), so a bundle rolled back reads it too."""
    p = tmp_path / "faults.json"
    p.write_text(json.dumps({"records": [[1000, "ventilation", "C2"]], "counters": {"ventilation": 1},
                             "latched": None}) + '\n[2000, "rcd", "C2"]\n[3000, "weld", "C2", 1]')
    j = J.Journal(str(p), clock=lambda: NOW_UTC)
    assert [r[:3] for r in j.records] == [[1000, "ventilation", "C2"], [2000, "rcd", "C2"], [3000, "weld", "C2"]]
    assert j.latched == "weld" and j.error is None
    j.add(4000, "diode", "B1")
    j.add(5000, "rcd_early", "C2", latched=True)
    lines = [json.loads(x) for x in p.read_text().split("\n")[-2:]]
    assert [x[3] for x in lines] == [0, 1]               # the old reader: len(item) > 3 and item[3]
    again = J.Journal(str(p))
    assert again.records[-2:] == [[4000, "diode", "B1", NOW_UTC, 1], [5000, "rcd_early", "C2", NOW_UTC, 1]]
    assert again.latched == "rcd_early" and again.counters == {"ventilation": 1, "rcd": 1, "weld": 1,
                                                              "diode": 1, "rcd_early": 1}
    with open(str(p), "a") as f:
        f.write("\n[6000]")                           # valid JSON, no record: skipped whole
    again = J.Journal(str(p), repair=False)
    assert len(again.records) == 5 and "1 damaged line" in again.error, (again.records, again.error)



def test_a_latched_fault_kept_across_reboots_is_one_trip_not_one_a_boot(tmp_path):
    """A welded contactor (latched: kept on flash until someone clears it) on a charger switched
    off and on three times while it waits for the electrician: the core sets the kept fault again
    at each boot (so that the console and OCPP say Faulted), and the journal took that for a new
    trip: 4 `weld` records and counters {"weld": 4} for one weld, each boot an append to flash, and
    the ring of 32 filled with copies. One weld is now one record and one count."""
    from tools.sim.rig import Rig
    r = Rig(config={"max_current": 32}, flash_dir=str(tmp_path))
    r.run(1.0)
    r.app.journal.add(500, "weld", "C2", latched=True)
    for _ in range(3):
        r.power_off()
        r.power_on()
        r.run(2.0)
        assert r.app.charger.fault == "weld"                  # still held after each boot
    j = r.app.journal
    assert j.counters == {"weld": 1} and [x[1] for x in j.records] == ["weld"], (j.counters, j.records)
    assert j.latched == "weld"


def test_a_fault_s_record_says_the_state_the_charger_was_in_not_fault():
    """A car charging (C2) whose diode shorts: the record said [.., "diode", "fault"], as every
    fault's record did (the state read after the tick that set the fault: always `fault`), so the
    log never told a fault while charging from one at plug-in. It now says C2."""
    from tools.sim.drive import Drive
    d = Drive(config={"max_current": 32}).run(1.0).charge().run(0.5)
    assert d.state == "C2", d.state
    d.set(diode_ok=False)
    d.run(0.5)
    rec = d.app.journal.records[-1]
    assert rec[1] == "diode" and rec[2] == "C2", rec


def test_evsectl_prints_each_record_with_its_time_and_boot():
    """`evse ctl log` printed each record with "%10s ms  %-16s %s" % tuple(record): a record with
    more than three items raised TypeError. It prints the time (or says it is unknown) and the boot,
    for the records of older firmware too."""
    from tools.evsectl.__main__ import show
    r = {"ok": True, "records": [[1000, "ventilation", "C2"], [3012, "diode", "C2", "2026-12-06T12:00:03Z", 4],
                                 [1500, "rcd", "C2", None, 5]], "counters": {"diode": 1}, "latched": None}
    lines = show("log", r, False).splitlines()
    assert lines[0].split() == ["time", "unknown", "boot", "?", "1000", "ms", "ventilation", "C2"], lines
    assert lines[1].split() == ["2026-12-06T12:00:03Z", "boot", "4", "3012", "ms", "diode", "C2"], lines
    assert lines[2].split()[:4] == ["time", "unknown", "boot", "5"], lines


def test_the_log_over_rest_says_what_each_fault_means(tmp_path):
    """The page says what the current fault means ("the vehicle's pilot diode is missing or
    shorted: ..."); the log gave only the names (`diode`, `cleared`, `watchdog_reset`): an owner had
    to look each up. REST's log now carries the plain words of every name in it, the clearing and a
    watchdog reset included."""
    b = Bench(flash_dir=str(tmp_path))
    b.login()
    _diode_fault(b)
    code, r = b.call("POST", "clear", {})
    assert code == 200 and r["cleared"] == "diode", r
    b.app.journal.add(0, "watchdog_reset", "boot")      # (as the App adds it at boot)
    r = _log(b)
    names = set(x[1] for x in r["records"])
    assert names >= {"diode", "cleared", "watchdog_reset"}, r
    causes = r.get("causes") or {}
    assert set(causes) >= names, r
    assert causes["diode"].startswith("the vehicle's pilot diode"), causes
    for name in names:
        assert not causes[name].startswith("fault "), causes     # words.fault's "unknown" form


def _page_answers(tmp):
    """A bench charger's answers: a diode fault with the clock set and its clearing, a power cut,
    then the same fault again before the clock is set (the log before and after it, the statuses)."""
    tmp.mkdir()
    b = Bench(flash_dir=str(tmp))
    mm.set_rtc(NOW_UTC)
    _diode_fault(b)
    b.login()
    assert b.call("POST", "clear", {})[1]["cleared"] == "diode"
    b.rig.power_off()
    b = Bench(flash_dir=str(tmp))
    b.login()
    out = {"settings": b.call("GET", "settings")[1], "idle": b.status(), "log_before": _log(b)}
    _diode_fault(b)
    out["fault"], out["log_after"] = b.status(), _log(b)
    return out


def test_the_page_shows_the_fault_log_with_dates_and_what_each_fault_means(tmp_path):
    """The page had no fault log at all: a home owner saw the fault of the moment and nothing of
    the ones before (the REST log needs a tool). It now lists the log, newest first: when (a date
    when the clock was set, the charger's local time: UTC here, its tz unset; else the seconds after
    that boot's power-on), the fault, what it means, the state it came in; and reads it again when
    a fault comes while it is open."""
    import os
    from vboard_helpers import page_in_browser
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    seen = page_in_browser("faultlog_audit4_test.mjs", lambda: _page_answers(tmp_path / "flash"), tmp_path,
                           os.path.join(root, "build", "web-faultlog.png"))
    head, cleared, diode = seen["before"]
    assert head == ["When (charger's time)", "Fault", "What it means", "State"], seen
    assert cleared[0].startswith("2026-12-06 12:00:") and cleared[0].endswith(" (UTC+00:00)"), seen
    assert cleared[1] == "cleared", seen
    assert cleared[2] == "a fault cleared by hand (the console, the web page or REST): diode", seen
    assert diode[0].startswith("2026-12-06 12:00:") and diode[1:] == [
        "diode", "the vehicle's pilot diode is missing or shorted: check the cable or adapter", "B2"], seen
    new = seen["after"][1]
    assert new[0].startswith("boot 2, ") and new[0].endswith("s after power-on (clock not set)"), seen
    assert new[1] == "diode" and len(seen["after"]) == 4, seen
    assert seen["page_width"] == [375, 375], seen
