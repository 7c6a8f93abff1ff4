"""The JSON-lines console against a real App on the Rig: commands change the charger's behaviour."""
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tools.sim.rig import Rig
from evse.services import console as C
from evse.services import settings as S


class MemStream:
    def __init__(self, write_limit=None):
        self.rx = bytearray()
        self.tx = bytearray()
        self.write_limit = write_limit

    def feed(self, data):
        self.rx.extend(data.encode() if isinstance(data, str) else data)

    def read(self, n):
        if not self.rx:
            return None
        d = bytes(self.rx[:n])
        del self.rx[:n]
        return d

    def write(self, data):
        if self.write_limit is not None:
            data = data[:self.write_limit]
        self.tx.extend(data)
        return len(data)

    def lines(self):
        out = [json.loads(x) for x in self.tx.decode().splitlines() if x.strip()]
        self.tx = bytearray()
        return out


def make(config=None, tmp_path=None):
    rig = Rig(config=config or {"max_current": 32}, flash_dir=str(tmp_path) if tmp_path else None)
    s = MemStream()
    con = C.attach(rig.app, s)
    return rig, s, con


def flash_files(d):
    """The settings on flash: the two sealed copies (and an import file, if one is left)."""
    return dict((n, (d / n).read_bytes()) for n in ("settings.json", "settings.a", "settings.b")
                if (d / n).exists())


def ask(rig, s, obj, run=0.05):
    s.feed((json.dumps(obj) if not isinstance(obj, (str, bytes)) else obj))
    s.feed("\n")
    rig.run(run)
    return [x for x in s.lines() if "ev" not in x]


def plug_in(rig, ohms=2740):
    if rig.now_s < 1.0:
        rig.run(1.0)          # booted (A1) first: an EV present at boot is handled differently
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, ohms, 150
    w.recompute()


def test_status_at_boot_is_a1_x1(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    (r,) = ask(rig, s, {"cmd": "status", "id": 1})
    assert r["ok"] and r["id"] == 1
    assert r["state"] == "A1" and r["pilot"] == "X1" and r["duty"] == 100.0
    assert r["contactor"] is False and r["fault"] is None
    assert r["temp_c"] in (24, 25) and "energy" not in r


def test_events_on_every_change(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(1.0)
    evs = [x for x in s.lines() if "ev" in x]
    assert {"ev": "state", "state": "A1"}.items() <= evs[-1].items() or any(e.get("state") == "A1" for e in evs)
    plug_in(rig)
    rig.run(2.0)
    rig.world.ev_ohms, rig.world.follow_max = 882, 32.0
    rig.world.recompute()
    rig.run(3.0)
    evs = [x for x in s.lines() if "ev" in x]
    kinds = [e["ev"] for e in evs]
    assert "state" in kinds and "pwm" in kinds and "contactor" in kinds and "session" in kinds
    assert any(e["ev"] == "contactor" and e["closed"] for e in evs)
    assert all(isinstance(e["t"], int) for e in evs)


def test_limit_lowers_the_duty(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    plug_in(rig, 882)
    rig.world.follow_max = 32.0
    rig.run(3.0)
    (r,) = ask(rig, s, {"cmd": "status"})
    assert r["state"] == "C2" and r["amps"] == 32.0
    duty32 = r["duty"]
    (r,) = ask(rig, s, {"cmd": "limit", "amps": 16})
    assert r["ok"] and r["limit"] == 16
    rig.run(6.0)                            # the duty changes at most every 5 s
    (r,) = ask(rig, s, {"cmd": "status"})
    assert r["amps"] == 16.0 and r["duty"] < duty32 and abs(r["duty"] - 16 / 0.6) < 0.1
    (r,) = ask(rig, s, {"cmd": "limit", "amps": None})
    assert r["ok"]
    assert "console" not in rig.app.charger.limits


def test_disable_and_enable(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    plug_in(rig)
    rig.run(2.0)
    assert rig.app.charger.state == "B2"
    (r,) = ask(rig, s, {"cmd": "disable"}, run=1.0)
    assert r["enabled"] is False and rig.app.charger.state == "disabled"
    (r,) = ask(rig, s, {"cmd": "enable"}, run=4.0)   # X1 for 3 s first
    assert r["enabled"] is True and rig.app.charger.state == "B2"


def test_authorize_when_required(tmp_path):
    rig, s, con = make({"max_current": 32, "require_auth": True}, tmp_path)
    plug_in(rig)
    rig.run(2.0)
    assert rig.app.charger.state == "B1"
    (r,) = ask(rig, s, {"cmd": "authorize"})
    assert not r["ok"] and "id_tag" in r["error"]
    (r,) = ask(rig, s, {"cmd": "authorize", "id_tag": "04A1B2C3"}, run=2.0)
    assert r["ok"] and rig.app.charger.state == "B2" and con.id_tag == "04A1B2C3"
    (r,) = ask(rig, s, {"cmd": "stop"}, run=1.0)
    assert r["ok"] and rig.app.charger.state == "B1"


def test_clear_latched_fault_and_log(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    plug_in(rig, 882)
    rig.world.weld = True                  # the contactor welds: opens never again
    rig.run(3.0)
    rig.world.ev_ohms = 2740
    rig.world.recompute()
    rig.run(3.0)
    ch = rig.app.charger
    assert ch.fault == "weld"
    (r,) = ask(rig, s, {"cmd": "log"})
    assert r["latched"] == "weld" and r["counters"]["weld"] == 1
    assert r["records"][-1][1] == "weld"
    rig.world.weld = False
    (r,) = ask(rig, s, {"cmd": "clear"}, run=1.0)
    assert r["cleared"] == "weld"
    assert ch.fault is None and rig.app.journal.latched is None
    (r,) = ask(rig, s, {"cmd": "log", "n": 1})
    assert r["records"][-1][1] == "cleared" and len(r["records"]) == 1
    (r,) = ask(rig, s, {"cmd": "clear"})
    assert r["cleared"] is None


def test_a_fault_is_reported_before_the_journal_writes_flash(tmp_path):
    """A journal append can hold the loop for tens of ms (23.7 ms on the emulated Pico): the
    fault's lines are on the console first, and the journal holds the fault at once in RAM."""
    rig, s, con = make(tmp_path=tmp_path)
    plug_in(rig, 882)
    rig.run(3.0)
    journal = rig.app.journal
    on_console_at_save = []
    save = journal.save

    def watched_save():
        if journal.pending:
            on_console_at_save.append(s.tx.decode())
        save()
    journal.save = watched_save
    rig.world.diode_ok = False
    rig.world.recompute()
    rig.run(0.05)
    assert rig.app.charger.fault == "diode" and not rig.app.charger.out.contactor
    assert '"fault": "diode", "set": true' in on_console_at_save[0]
    assert journal.pending == [] and journal.records[-1][1] == "diode"
    assert "diode" in (tmp_path / "faults.json").read_text()         # and then on flash


def test_settings_read_and_change(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(0.5)
    (r,) = ask(rig, s, {"cmd": "settings", "schema": True}, run=0.3)   # ~2.6 KB at 256 bytes per poll
    assert r["settings"]["max_current"] == 32 and r["schema"]["phases"] == [1, 1, 3]
    (r,) = ask(rig, s, {"cmd": "set", "values": {"max_current": 20, "bc_qualify_ms": 400}})
    assert r["ok"] and r["reboot"] == ["bc_qualify_ms"]
    assert rig.app.cfg["max_current"] == 20 and rig.app.cfg["bc_qualify_ms"] == 300
    cfg, errs, blocked = S.load(str(tmp_path / "settings.json"))
    assert cfg["max_current"] == 20 and cfg["bc_qualify_ms"] == 400 and errs == [] and blocked == {}
    # a second live change keeps the pending reboot change in the file
    (r,) = ask(rig, s, {"cmd": "set", "values": {"require_auth": True}})
    assert r["reboot"] == []
    cfg, _, _ = S.load(str(tmp_path / "settings.json"))
    assert cfg["bc_qualify_ms"] == 400 and cfg["require_auth"] is True
    # live: the advertised current follows the new maximum
    plug_in(rig, 882)
    rig.run(1.0)                       # the card is presented after the plug-in
    (r,) = ask(rig, s, {"cmd": "authorize", "id_tag": "x"}, run=2.0)
    (r,) = ask(rig, s, {"cmd": "status"})
    assert r["amps"] == 20.0


@pytest.mark.parametrize("values, word", [
    ({"max_current": 200}, "max_current: out of range"),
    ({"max_current": "16"}, "max_current: must be a number"),
    ({"ventilation": 1}, "ventilation: must be true or false"),
    ({"nope": 1}, "nope: unknown key"),
    ({"temp_stop_c": 40}, "temp_"),
    ({}, "non-empty"),
    ([1], "non-empty"),
])
def test_set_rejects_bad_values_whole(tmp_path, values, word):
    rig, s, con = make(tmp_path=tmp_path)
    before = flash_files(tmp_path)
    cfg_before = dict(rig.app.cfg)
    (r,) = ask(rig, s, {"cmd": "set", "values": dict(values, max_current=10) if False else values})
    assert not r["ok"] and word in r["error"]
    assert flash_files(tmp_path) == before and rig.app.cfg == cfg_before


@pytest.mark.parametrize("values", [{"max_current": 100}, {"wifi_password": "short"}, {"tz": "Bogus"},
                                    {"temp_stop_c": 40}])
def test_a_refused_set_says_nothing_changed_not_what_a_bad_file_does_at_boot(tmp_path, values):
    """The check's words for a file at boot ("using the default", "nothing is offered until a valid
    value is set") told the user the opposite of a refused set, which changes nothing."""
    rig, s, con = make(tmp_path=tmp_path)
    (r,) = ask(rig, s, {"cmd": "set", "values": values})
    assert not r["ok"] and r["error"].startswith("set: refused, nothing changed: "), r
    assert "default" not in r["error"] and "offered" not in r["error"] and "ignored" not in r["error"], r


def test_a_settings_file_refused_by_the_flash_tool_says_why_not_what_the_board_would_do(tmp_path):
    from tools import flash as F
    p = tmp_path / "typo.json"
    p.write_text('{"max_curent": 32, "max_current": 32}')
    with pytest.raises(F.FlashError) as e:
        F.settings_file("vboard", str(p))
    assert str(e.value) == "settings %s refused: max_curent: unknown key" % p
    with pytest.raises(F.FlashError, match="No such file"):
        F.settings_file("vboard", str(tmp_path / "missing.json"))       # a traceback before


def test_set_reports_flash_failure(tmp_path, monkeypatch):
    rig, s, con = make(tmp_path=tmp_path)

    def boom(path, cfg):
        raise OSError(28)
    monkeypatch.setattr(S, "save", boom)
    (r,) = ask(rig, s, {"cmd": "set", "values": {"max_current": 10}})
    assert not r["ok"] and "set failed" in r["error"] and rig.app.cfg["max_current"] == 32


@pytest.mark.parametrize("line, word", [
    ("status", "not JSON"),
    ("{", "not JSON"),
    ("[1,2]", "not a JSON object"),
    ('{"cmd": "fly"}', "unknown command"),
    ('{"cmd": 3}', "unknown command"),
    ('{"nocmd": 1}', "unknown command"),
    ('{"cmd": "limit", "amps": "ten"}', "amps must be"),
    ('{"cmd": "limit", "amps": true}', "amps must be"),
    ('{"cmd": "limit", "amps": 81}', "amps must be"),
    ('{"cmd": "limit", "amps": -1}', "amps must be"),
    ('{"cmd": "log", "n": 99}', "n must be"),
    ('{"cmd": "status", "id": [1]}', "id must be"),
    (b'\xff\xfe\x00{', "not JSON"),
])
def test_malformed_lines_get_an_error_and_change_nothing(tmp_path, line, word):
    rig, s, con = make(tmp_path=tmp_path)
    rig.run(0.5)
    snap = _snapshot(rig)
    (r,) = ask(rig, s, line)
    assert r["ok"] is False and word in r["error"]
    assert _snapshot(rig) == snap


def test_overlong_line_is_discarded_then_next_works(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    s.feed('{"cmd": "disable", "pad": "' + "x" * 2000 + '"}\n{"cmd": "status", "id": 2}\n')
    rig.run(0.2)
    rs = [x for x in s.lines() if "ev" not in x]
    assert rs[0]["ok"] is False and "too long" in rs[0]["error"]
    assert rs[1]["id"] == 2 and rs[1]["enabled"] is True


def test_overlong_line_error_carries_the_id_sent_first(tmp_path):
    """evsectl sends the id first: the error for a cut line still reaches the request that made it."""
    rig, s, con = make(tmp_path=tmp_path)
    s.feed('{"id": 31, "cmd": "set", "values": {"ssid": "' + "x" * 700 + '"}}\n')
    rig.run(0.2)
    (r,) = [x for x in s.lines() if "ev" not in x]
    assert r == {"ok": False, "error": "line too long (max 512 bytes)", "id": 31}


def test_output_is_bounded_when_nobody_reads(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    s.write_limit = 0                 # the host stopped reading: nothing leaves
    for _ in range(200):
        con.on_event(("state", "B1"), 0)
    assert con.queued_bytes <= C.OUT_MAX and con.dropped > 0
    s.write_limit = None
    rig.run(1.0)
    lines = s.lines()
    assert any(x.get("ev") == "dropped" for x in lines)


def test_reading_is_bounded_per_poll(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    s.feed(b"x" * 10000)
    con.poll(0)
    assert len(s.rx) == 10000 - C.READ_PER_POLL


def _snapshot(rig):
    ch = rig.app.charger
    return (ch.state, ch.fault, dict(ch.limits), ch.enabled, ch.authorized, ch.stop_reason,
            dict(rig.app.cfg), rig.app.journal.latched, len(rig.app.journal.records),
            os.path.exists(rig.app.settings_path) and open(rig.app.settings_path, "rb").read())


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=700),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.dictionaries(st.sampled_from(["cmd", "id", "amps", "n", "values", "id_tag", "x"]),
                    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                              st.lists(st.integers(), max_size=3)), max_size=4)
      .filter(lambda d: d.get("cmd") not in C.COMMANDS).map(lambda d: json.dumps(d).encode())))
def test_fuzz_random_input_never_changes_state_or_raises(fuzz_rig, data):
    rig, s, con = fuzz_rig
    snap = _snapshot(rig)
    s.tx = bytearray()
    s.feed(data.replace(b"\n", b" ") + b"\n")
    for _ in range(4):
        con.poll(0)                     # no exception escapes poll
    out = [json.loads(x) for x in s.tx.decode().splitlines() if x.strip()]
    replies = [x for x in out if "ev" not in x]
    assert all(r["ok"] is False for r in replies)
    if bytes(b for b in data if b >= 32).strip():      # control bytes and blank lines are ignored
        assert len(replies) == 1
    assert _snapshot(rig) == snap


@pytest.fixture(scope="module")
def fuzz_rig(tmp_path_factory):
    rig = Rig(config={"max_current": 32}, flash_dir=str(tmp_path_factory.mktemp("fz")))
    s = MemStream()
    con = C.Console(rig.app, s)
    rig.run(0.5)
    return rig, s, con


def test_uart_stream_reads_what_is_there():
    from tools.sim import mock_machine as mm
    u = mm.UART(7)
    st_ = C.UartStream(u)
    assert st_.read(10) is None
    u.feed(b"abc")
    assert st_.read(2) == b"ab" and st_.read(10) == b"c"
    st_.write(b"x")
    assert bytes(u.sent) == b"x"


def test_log_lines_reach_the_console_and_the_file(tmp_path):
    rig, s, con = make(tmp_path=tmp_path)
    rig.app.log.warn("hot terminal")
    rig.app.log.info("hello")
    rig.app.log.debug("quiet")
    rig.run(1.5)
    logs = [x for x in s.lines() if x.get("ev") == "log"]
    assert [(x["level"], x["msg"]) for x in logs] == [("warn", "hot terminal"), ("info", "hello")]
    lines = rig.app.log.lines()
    assert len(lines) == 1 and lines[0].endswith("warn hot terminal")
