"""The console as a hostile, clumsy or scripted user meets it (third audit): floods of requests,
lines that are not JSON, and evsectl's `raw` with the integrator's own id."""
import io
import json

from host_tests.test_console import make
from host_tests.test_evsectl import RigPort
from tools.evsectl import __main__ as ctl
from tools.sim.rig import Rig
from evse.services import console as C


def _replies(s):
    return [x for x in s.lines() if "ev" not in x]


def test_a_flood_of_requests_gets_every_answer_in_order(tmp_path):
    """docs/console.md: "a reply pushes out old event lines" and "`id` ... is echoed". A script that
    sends 200 status requests at once (6 KB, taken 256 B a poll) got 20 answers: each status reply
    (about 700 B) pushed the older replies out of the 4 KiB queue, and the 180 lost answers were
    counted as `{"ev": "dropped", "lines": 180}`, event lines (measured on the virtual board too: 16
    answers of 200, `dropped` 184). The console now takes the next request when the replies queued
    before it are on their way: the host's writes wait (flow control), no answer is lost."""
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    s.lines()
    for i in range(200):
        s.feed(json.dumps({"cmd": "status", "id": i}) + "\n")
    gaps = []
    for _ in range(60):
        rig.run(0.5)
        gaps.append(rig.app.status(0)["tick_gap_ms"])
    lines = s.lines()
    assert [x["id"] for x in lines if "id" in x] == list(range(200))
    assert not [x for x in lines if x.get("ev") == "dropped"]
    assert con.queued_bytes <= C.OUT_MAX and max(gaps) <= 20


def test_a_flood_of_large_replies_and_events_loses_only_events(tmp_path):
    """history replies (up to 4 KiB each) pipelined with status requests, while events arrive: every
    reply comes, whole and once; only event lines may be dropped (and counted)."""
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    s.lines()
    for i in range(30):
        s.feed(json.dumps({"cmd": "history" if i % 2 else "status", "id": i}) + "\n")
        con.on_event(("state", "B1"), 0)
    rig.run(15.0)
    lines = s.lines()
    assert [x["id"] for x in lines if "id" in x] == list(range(30))
    assert all(x["ok"] for x in lines if "id" in x)


def test_requests_on_one_line_each_after_the_other_without_waiting(tmp_path):
    """Ten requests in one write (one poll's read), answered in order, each with its id."""
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    s.lines()
    s.feed("".join(json.dumps({"cmd": "settings", "id": "r%d" % i}) + "\r\n" for i in range(10)))
    rig.run(2.0)
    assert [x["id"] for x in _replies(s)] == ["r%d" % i for i in range(10)]


def test_a_line_that_is_not_json_is_answered_with_the_id_it_began_with(tmp_path):
    """A scripted client's slip (a bare word where JSON wants a string, a trailing comma, Python's
    `NaN` from json.dumps, which MicroPython's json refuses) got `{"ok": false, "error": "not JSON"}`
    without the id: a client matching answers by id waited for ever. The id sent first is read from
    the line as for a line over 512 bytes (docs/console.md), and nothing changes."""
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    s.lines()
    for rid, line in ((7, '{"id": 7, "cmd": "set", "values": {"connector": nacs}}'),
                      ("a-1", '{"id": "a-1", "cmd": "limit", "amps": 16,}'),
                      (8, '{"id": 8, "cmd": "limit", "amps": 16'),
                      (None, 'status')):
        s.feed(line + "\n")
        rig.run(0.1)
        (r,) = _replies(s)
        assert r["ok"] is False and r["error"] == "not JSON" and r.get("id") == rid
    assert rig.app.charger.limits.get("console") is None


def test_evsectl_raw_keeps_the_id_the_integrator_gave(tmp_path):
    """docs/console.md: `raw JSON` prints the reply as JSON. `raw '{"cmd": "limit", "amps": 10,
    "id": "x"}'` set the limit (the console answered, with id "x") but evsectl waited for its own id,
    then said after --timeout that the firmware was not running (exit 3): the charger changed while
    the tool reported no connection."""
    rig = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    rig.run(1.0)
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "2", "raw", '{"cmd": "limit", "amps": 10, "id": "x"}'],
                  out=out, stream=RigPort(rig))
    r = json.loads(out.getvalue())
    assert rc == ctl.EXIT_OK and r["ok"] is True and r["id"] == "x" and r["limit"] == 10
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "2", "raw", '{"cmd": "log", "n": 99, "id": 5}'],
                  out=out, stream=RigPort(rig))
    r = json.loads(out.getvalue())
    assert rc == ctl.EXIT_REFUSED and r["ok"] is False and r["id"] == 5


def test_an_overlong_line_with_binary_bytes_in_its_id_is_answered_and_the_next_request_too(tmp_path):
    """A line over 512 bytes whose id holds bytes that are no UTF-8 (a wrong baud rate, line noise):
    reading its id for the error raised UnicodeDecodeError out of the console's poll (reported as
    `Console: UnicodeDecodeError(...)`), the line got no answer, and the request after it in the same
    read was lost too. Now: the error without an id, then the next request's answer."""
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    s.lines()
    s.feed(b'{"id": "\xff\xfe", "cmd": "set", "values": {"ocpp_url": "' + b"x" * 600 + b'"}}\n'
           + b'{"cmd": "status", "id": 2}\n')
    rig.run(0.5)
    lines = s.lines()
    assert not [x for x in lines if x.get("ev") == "log"]
    r1, r2 = [x for x in lines if "ev" not in x]
    assert r1 == {"ok": False, "error": "line too long (max %d bytes)" % C.MAX_LINE}
    assert r2["ok"] is True and r2["id"] == 2 and r2["state"] == "A1"


def test_evsectl_raw_refuses_an_id_the_console_would_not_echo(tmp_path, capsys):
    """An id the console refuses ("id must be a number or a string", answered without it) would
    leave evsectl waiting for an answer it cannot match: a bad command line (exit 2), nothing sent."""
    rig = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    rig.run(1.0)
    for rid in ("true", "1.5", "[1]"):
        rc = ctl.main(["--port", "test", "--timeout", "1", "raw", '{"cmd": "limit", "amps": 6, "id": %s}' % rid],
                      out=io.StringIO(), stream=RigPort(rig))
        assert rc == ctl.EXIT_USAGE and '"id" must be' in capsys.readouterr().err
    assert rig.app.charger.limits.get("console") is None


def _fill_sessions(rig, n):
    ring = rig.app.meter.energy.ring
    for i in range(n):
        ring.append({"sid": i + 1, "start": 1767225600 + i * 86400, "end": 1767229200 + i * 86400,
                     "dur_s": 3600, "wh": 11234.567, "max_a": 31.9, "reason": "unplugged",
                     "user": "04A1B2C3D4E5F6"})


def test_sessions_of_a_full_ring_are_answered_not_dropped(tmp_path):
    """docs/console.md: `sessions`, `n` 0-50, default 50 (the ring keeps 50). With 50 records of an
    authorized session each (about 170 B), the reply is 8.5 KB, over the 4 KiB queue: it was dropped
    whole, the host saw only `{"ev": "dropped", "lines": 1}`, and evsectl `sessions` said after its
    --timeout that the firmware was not running (exit 3). 25 records (4,053 B) still went out. A reply
    longer than the queue now goes alone; its bytes are made before it is queued anyway."""
    rig, s, con = make(config={"max_current": 32, "meter": "ct"}, tmp_path=tmp_path)
    rig.run(1.0)
    _fill_sessions(rig, 50)
    s.lines()
    s.feed('{"cmd": "sessions", "id": 50}\n{"cmd": "status", "id": 51}\n')
    rig.run(2.0)
    lines = s.lines()
    r, st = [x for x in lines if "ev" not in x]
    assert r["id"] == 50 and r["ok"] and len(r["sessions"]) == 50 and r["sessions"][-1]["sid"] == 50
    assert len(json.dumps(r)) > C.OUT_MAX
    assert st["id"] == 51 and st["ok"]
    assert not [x for x in lines if x.get("ev") == "dropped"]


def test_evsectl_sessions_on_a_full_ring(tmp_path):
    rig = Rig(config={"max_current": 32, "meter": "ct"}, flash_dir=str(tmp_path))
    rig.run(1.0)
    _fill_sessions(rig, 50)
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "2", "sessions"], out=out, stream=RigPort(rig))
    lines = out.getvalue().splitlines()
    assert rc == ctl.EXIT_OK and len(lines) == 51 and lines[-1].split()[0] == "50"


def test_settings_with_the_schema_is_answered_with_long_values_waiting_for_a_reboot(tmp_path):
    """`settings` with the schema is 3,934 B with the defaults; a 167-character OCPP URL and a
    43-character charge point id, saved and waiting for the reboot (listed twice: running and
    pending), took it over 4 KiB: dropped, no answer."""
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    s.feed(json.dumps({"cmd": "set", "id": 1, "values": {"ocpp_url": "ws://example.com/" + "a" * 150,
                                                         "ocpp_id": "cp-" + "x" * 40}}) + "\n")
    s.feed('{"cmd": "settings", "schema": true, "id": 2}\n')
    rig.run(2.0)
    r1, r2 = _replies(s)
    assert r1["ok"] and r2["id"] == 2 and r2["ok"] and "ocpp_url" in r2["pending"] and "meter" in r2["schema"]
