"""evsectl as an operator uses it, against the firmware's console on the Rig (virtual time runs while
evsectl waits for a reply), a Python REPL that echoes, and a scripted central system's answers."""
import io
import json
import os
import re
import time

import pytest

from host_tests.test_console import MemStream, plug_in
from tools.evsectl import __main__ as ctl
from tools.evsectl.link import Link
from tools.sim.rig import Rig
from evse.core import protections as P
from evse.services import console as C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RigPort:
    """The board's USB serial port as pyserial gives it to evsectl: each read lets 20 ms of the
    charger's time run."""

    def __init__(self, rig):
        self.rig = rig
        self.con = MemStream()
        C.attach(rig.app, self.con)

    def write(self, data):
        self.con.feed(data)
        return len(data)

    def read(self, n):
        self.rig.run(0.02)
        d, self.con.tx = bytes(self.con.tx), bytearray()
        return d

    def close(self):
        pass


class Answering:
    """A port whose far side answers at once: each read takes all it wrote since the last (`out`)."""
    out = b""

    def read(self, n):
        d, self.out = self.out, b""
        return d

    def close(self):
        pass


class ReplPort(Answering):
    """A MicroPython REPL on the port: the terminal echoes the line (after the prompt, or alone as a
    pty's echo does), then the REPL evaluates it as Python."""

    def __init__(self, prompt):
        self.prompt = prompt
        self.out = prompt

    def write(self, data):
        line = data.rstrip(b"\n")
        self.out += line + b"\r\n" + repr(json.loads(line)).encode() + b"\r\n" + self.prompt
        return len(data)


class ScriptPort(Answering):
    """A firmware whose replies are given per command (a function of the request)."""

    def __init__(self, answers):
        self.answers = answers
        self.out = b""
        self.asked = []

    def write(self, data):
        req = json.loads(data)
        self.asked.append(req["cmd"])
        r = dict(self.answers[req["cmd"]](req), id=req["id"])
        self.out += (json.dumps(r) + "\n").encode()
        return len(data)


def run(port, *args):
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "2"] + list(args), out=out, stream=port)
    return rc, out.getvalue()


@pytest.fixture
def rig(tmp_path):
    r = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    r.run(1.0)
    return r


def test_status_says_why_the_limit_is_what_it_is_and_that_there_is_no_meter(rig):
    port = RigPort(rig)
    rc, out = run(port, "status")
    assert rc == 0
    assert "limit      20.0 A set by settings  (board 80, settings 20)" in out
    assert "energy     no meter" in out and "ocpp       not configured" in out
    assert run(port, "limit", "10")[0] == 0
    rc, out = run(port, "status")
    assert "20.0 A" not in out and "limit      10.0 A set by console" in out


def test_status_limit_by_temperature_when_derated(rig):
    rig.app.charger.thermal.level = P.THERMAL_HALF       # hot: half the lowest source's current
    r = rig.app.status(0)
    assert r["limit"] == 10.0 and r["limit_by"] == "temperature"


def test_status_shows_ocpp_in_words_and_the_transaction(tmp_path):
    rig = Rig(config={"max_current": 32, "ocpp_url": "ws://127.0.0.1:9/ocpp", "ocpp_id": "cp1"},
              flash_dir=str(tmp_path))
    rig.run(1.0)
    svc = rig.app.ocpp
    svc.last_error = "connect: OSError(111,)"       # MicroPython's repr of a refused connection
    rc, out = run(RigPort(rig), "status")
    assert rc == 0
    assert "ocpp       offline  last error: connect: connection refused (OSError 111)" in out
    assert "transaction none" in out
    svc.connected, svc.boot_status, svc.last_error = True, "Accepted", None
    svc.tx = {"ref": 1, "txid": 42, "tag": "04A1B2C3"}
    rc, out = run(RigPort(rig), "status")
    assert "ocpp       connected, boot Accepted  queued 0" in out
    assert "transaction 42 (tag 04A1B2C3)" in out


@pytest.mark.parametrize("err, words", [
    ("connect: OSError(111,)", "connect: connection refused (OSError 111)"),
    ("connect: OSError(-202,)", "connect: host name not found (DNS) (OSError -202)"),
    ("receive: OSError(110,)", "receive: connection timed out (OSError 110)"),
    ("session: ValueError('bad frame',)", "session: ValueError('bad frame',)"),
])
def test_ocpp_errors_in_words(err, words):
    assert ctl.explain(err) == words


def test_sessions_is_a_command(rig):
    rc, out = run(RigPort(rig), "sessions")
    assert rc == 0 and out.strip() == "no meter: no session records"
    rc, out = run(RigPort(rig), "help")
    assert rc == 0 and "sessions" in out


def test_raw_prints_the_reply_as_json(rig):
    rc, out = run(RigPort(rig), "raw", '{"cmd": "log", "n": 2}')
    r = json.loads(out)
    assert rc == 0 and r["ok"] is True and r["records"] == []


def test_overlong_request_gets_its_error_not_a_time_out(rig):
    rc, out = run(RigPort(rig), "set", "ocpp_url=ws://" + "x" * 600)
    assert rc == ctl.EXIT_REFUSED and "line too long" in out


@pytest.mark.parametrize("prompt", [b">>> ", b""])
def test_a_repl_echo_is_never_a_reply(capsys, prompt):
    rc, out = run(ReplPort(prompt), "status")
    assert rc == ctl.EXIT_NO_REPLY and out == ""
    assert "REPL" in capsys.readouterr().err


def _authorize_cs(final):
    """A charger with OCPP: 'pending' at once, then the central system's answer in the status."""
    state = {"n": 0}

    def status(req):
        state["n"] += 1
        return {"ok": True, "ocpp": {"auth": ["BAD", "pending" if state["n"] < 3 else final]}}
    return ScriptPort({"authorize": lambda req: {"ok": True, "authorized": False, "id_tag": "BAD",
                                                  "ocpp": "pending"},
                       "status": status})


def test_authorize_waits_for_the_central_system_and_fails_on_a_rejection(capsys):
    port = _authorize_cs("Invalid")
    rc, out = run(port, "authorize", "BAD")
    assert rc == ctl.EXIT_REFUSED and '"ocpp": "Invalid"' in out
    assert "not accepted: Invalid" in capsys.readouterr().err
    assert port.asked.count("status") == 3
    rc, out = run(_authorize_cs("Accepted"), "authorize", "BAD")
    assert rc == ctl.EXIT_OK and '"authorized": true' in out


def test_authorize_without_ocpp_is_accepted_at_once(tmp_path):
    rig = Rig(config={"max_current": 32, "require_auth": True}, flash_dir=str(tmp_path))
    plug_in(rig)
    rig.run(1.0)
    rc, out = run(RigPort(rig), "authorize", "04A1B2C3")
    assert rc == ctl.EXIT_OK and rig.app.charger.authorized


@pytest.mark.parametrize("args, said", [(["limit", "abc"], "limit AMPS (a number, or none), not 'abc'"),
                                        (["log", "x"], "log [N] (a whole number), not 'x'"),
                                        (["raw", "notjson"], 'raw {"cmd": ...}')])
def test_a_bad_argument_is_answered_with_its_usage_not_pythons_words(rig, capsys, args, said):
    assert run(RigPort(rig), *args)[0] == ctl.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "evsectl: " + said        # "could not convert ..." before


def test_exit_codes(rig, tmp_path, capsys):
    assert run(RigPort(rig), "limit", "99")[0] == ctl.EXIT_REFUSED
    assert run(RigPort(rig), "limit", "sixteen")[0] == ctl.EXIT_USAGE
    assert run(RigPort(rig), "frobnicate")[0] == ctl.EXIT_USAGE
    with pytest.raises(SystemExit) as e:
        ctl.main(["status"])                                  # no --port: argparse's usage error
    assert e.value.code == ctl.EXIT_USAGE
    assert ctl.main(["--port", str(tmp_path / "ttyNONE"), "status"]) == ctl.EXIT_NO_REPLY
    silent = ScriptPort({})
    silent.write = lambda data: len(data)                     # the firmware not running
    assert run(silent, "--timeout", "0.3", "status")[0] == ctl.EXIT_NO_REPLY


def test_docs_give_the_same_exit_codes():
    with open(os.path.join(ROOT, "docs", "console.md")) as f:
        doc = f.read()
    table = dict((int(n), text) for n, text in re.findall(r"^\| (\d) \| (.+) \|$", doc, re.M))
    assert table.keys() == {ctl.EXIT_OK, ctl.EXIT_REFUSED, ctl.EXIT_USAGE, ctl.EXIT_NO_REPLY}
    assert "refused" in table[ctl.EXIT_REFUSED] and "command line" in table[ctl.EXIT_USAGE]
    assert "no reply" in table[ctl.EXIT_NO_REPLY] and "REPL" in table[ctl.EXIT_NO_REPLY]
    assert "Exit status: 0 ok; 1 refused" in ctl.__doc__ and "2 bad command line" in ctl.__doc__


def test_watch_shows_the_limit_ocpp_and_energy_as_they_change(rig):
    port = RigPort(rig)
    link = Link("test", 2.0, stream=port)
    out = io.StringIO()
    ticks = {"n": 0}
    real_read = port.read

    def read(n):                       # a car plugs in, the operator lowers the limit, then Ctrl-C
        ticks["n"] += 1
        if ticks["n"] == 10:
            plug_in(rig)
        if ticks["n"] == 80:
            rig.app.charger.set_limit("console", 8)
        if ticks["n"] == 200:
            raise KeyboardInterrupt
        time.sleep(0.005)              # 120 reads after the change: several status polls
        return real_read(n)
    port.read = read
    assert ctl.watch(link, 0, out, every=0.05) == ctl.EXIT_OK
    text = out.getvalue()
    head, events = text.split("-" * 60)
    assert "energy     no meter" in head and "ocpp       not configured" in head
    assert "state      B2" in events                      # an event line
    assert re.search(r"\d+\.\d{3} s  limit      8\.0 A set by console", events)


def test_watch_goes_on_while_the_board_reboots():
    """After `evsectl reboot` the status goes unanswered for a while: watch keeps printing events."""
    status = {"ok": True, "state": "A1", "pilot": "X1", "duty": 100.0, "amps": 0.0, "limit": 32.0,
              "contactor": False, "enabled": True, "authorized": False, "session": False, "t": 0}
    port = ScriptPort({"status": lambda req: status})
    link = Link("test", 0.1, stream=port)
    out = io.StringIO()
    n = {"reads": 0}
    script_read = port.read

    def read(k):                               # rebooting: requests go unanswered, then an event
        n["reads"] += 1
        if n["reads"] == 1:
            return script_read(k)
        if n["reads"] == 40:
            return b'{"ev": "state", "state": "A1", "t": 900}\n'
        if n["reads"] == 60:
            raise KeyboardInterrupt
        time.sleep(0.01)
        return b""
    port.read = read
    script_write = port.write
    port.write = lambda data: len(data) if port.asked else script_write(data)   # only the first
    assert ctl.watch(link, 0, out, every=0.05) == ctl.EXIT_OK
    assert "0.900 s  state      A1" in out.getvalue()


def test_settings_show_a_saved_value_waiting_for_a_reboot_beside_the_running_one(rig):
    port = RigPort(rig)
    rc, out = run(port, "set", "connector=type2-tethered", "phases=3")
    assert rc == 0
    rc, out = run(port, "settings")
    assert rc == 0
    assert "phases           1   (saved 3: applies after a reboot)" in out.splitlines()
    assert "max_current      20.0" in out.splitlines()           # (live: nothing waits)


def test_three_phases_on_a_j1772_plug_are_refused_naming_both_keys(rig):
    """The installer types phases=3 on the default J1772 connector (one phase only): refused with
    the reason, nothing saved."""
    port = RigPort(rig)
    rc, out = run(port, "set", "phases=3")
    assert rc == ctl.EXIT_REFUSED
    assert "connector, phases: j1772 carries one phase of at most 250 V" in out, out
    rc, out = run(port, "settings")
    assert "phases           1" in out.splitlines() and "saved" not in out
