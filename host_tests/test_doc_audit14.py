"""The newcomer's audit of stop 49: what README.md and docs/ tell a user to write or run, held
against what the firmware and the tools do (test_doc_commands.py runs the commands for their exit
status, test_doc_newcomer.py checks figures; these check advice)."""
import json
import os
import re
import subprocess
import sys

from tools.waiting import free_port
from tools.webboard import WebBoard
from vboard_helpers import needs_vboard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(doc):
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        return re.sub(r"\s+", " ", f.read())


def _bench(scenario):
    r = subprocess.run([sys.executable, "-m", "tools.bench", "-", "-v"], input=scenario, cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return r.returncode, r.stdout


def test_every_opening_a_technician_writes_then_a_plug_gets_b2_at_once():
    """docs/bench.md once told technicians to open with `expect state A1 within 1` (or `wait 0.5`):
    followed by `plug` and `expect state B2 within 0.5`, it failed (got B1): the expect held in the
    tick the power-on check ended, before the pilot's first reading, so the plug was a car there at
    boot, held at X1 for 3 s. Time 0 is a booted charger now (docs/bench.md, "Time 0"): no opening,
    and each one the doc gave, followed by a plug, gives B2 within 0.1 s."""
    assert "is a booted charger" in read("docs/bench.md")
    for lines in ([], ["expect state A1 within 1"], ["wait 0.5"], ["wait 1", "expect state A1"]):
        rc, out = _bench("\n".join(lines + ["plug", "expect state B2 within 0.1", ""]))
        assert rc == 0, (lines, out)


@needs_vboard
def test_the_virtual_board_serving_its_page_answers_a_central_systems_call_and_the_consoles_log(tmp_path):
    """docs/web.md's `make vboard WEB=8080 ...`, then docs/ocpp.md's `set ocpp_url=... ocpp_id=garage`
    and `reboot`: the central system's first CALL (GetConfiguration, RemoteStartTransaction) dropped
    the link, `receive: MemoryError('memory allocation failed, allocating 2560 bytes')`, and so did
    every CALL after the reconnection; the console's `log`, `history` and `settings --schema` and the
    page's settings (`GET /api/v1/settings`: 500) failed the same way. The firmware as `.mpy` files
    with the web service and a connected OCPP service holds about 2,540 names, the unix port's qstr
    pools are full, and the next pool (2,560 names, about 28 KB in one piece on the 64-bit port) found
    no such block in the virtual board's 512 KB heap (150 KB free, in pieces of 5 KB at most)."""
    from test_cs_tool import CsProcess
    port = free_port()
    cs = CsProcess(port)
    b = None
    try:
        b = WebBoard(str(tmp_path), {"ocpp_url": "ws://127.0.0.1:%d/ocpp" % port, "ocpp_id": "garage"})
        cs.wait_for('"status":"Accepted"')
        cs.wait_for('"connectorId": 1')
        cs.send("get HeartbeatInterval")
        cs.wait_for('"key": "HeartbeatInterval"')
        code, body = b.post("/api/v1/settings", None, method="GET")
        assert code == 200 and "max_current" in body["settings"], (code, body)
        r = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", os.path.join(str(tmp_path), "tty"),
                            "log"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout
        assert "MemoryError" not in cs.text, cs.text[-3000:]
    finally:
        if b is not None:
            b.stop()
        cs.stop()


def test_evsectl_has_every_console_command_the_console_page_lists(tmp_path):
    """docs/console.md's table lists `unlock`, `grid` and `history`, and the README sends an operator
    to `evsectl` for the console: `evse ctl --port vboard history` (or `unlock`, `grid 1500`) said
    "evsectl: unknown command 'history'", exit 2 (a bad command line). Each console command the
    firmware's `help` lists is an evsectl command now: it reaches the firmware, whose answer is shown."""
    from test_evsectl import RigPort, run
    from tools.sim.rig import Rig
    rig = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    rig.run(1.0)
    port = RigPort(rig)
    rc, out = run(port, "help", "--json")
    commands = json.loads(out)["commands"]
    args = {"limit": ["16"], "authorize": ["TAG"], "set": ["max_current=20"], "grid": ["100"],
            "reboot": None}                                    # (a reboot would end the rig's app)
    refused = [c for c in commands if args.get(c, []) is not None and run(port, c, *args.get(c, []))[0] == 2]
    assert not refused, refused
    rc, out = run(port, "history")
    assert rc == 0 and out.startswith("session,start_utc,"), out    # the CSV, as the console gives it
    rc, out = run(port, "history", "3")
    assert rc == 0, out
    rc, out = run(port, "grid", "1500")                         # refused by the firmware, not by evsectl
    assert rc == 1 and "grid" in out, out
    rc, out = run(port, "unlock")
    assert rc == 1 and "no plug lock" in out, out
    assert run(port, "grid", "lots")[0] == 2 and run(port, "history", "x")[0] == 2


def _env_names():
    names = set()
    for top in ("tools", "firmware", "host_tests"):
        for path, _, files in os.walk(os.path.join(ROOT, top)):
            if "node_modules" in path:
                continue
            for n in files:
                if n.endswith((".py", ".mjs")):
                    with open(os.path.join(path, n), encoding="utf-8", errors="replace") as f:
                        names.update(re.findall(r"\bEVSE_[A-Z0-9_]+\b", f.read()))
    return names


def test_every_environment_variable_the_tools_read_is_in_the_docs():
    """A fresh clone not beside `../shared/rp2/` (the stock image and boot ROM): `make rp2emu-run`
    said "no /tmp/shared/rp2/micropython-v1.28.0-RPI_PICO.uf2 (... live beside the repository)" and
    docs/rp2emu.md named only that place, while `EVSE_RP2_DIR` names another. Every `EVSE_...`
    variable the tools and tests read is named in README.md or docs/, and the emulator's complaint
    names the variable."""
    docs = "".join(read(d) for d in ["README.md"] + ["docs/" + n for n in os.listdir(os.path.join(ROOT, "docs"))
                                                        if n.endswith(".md")])
    names = _env_names()
    assert "EVSE_RP2_DIR" in names
    assert sorted(n for n in names if n not in docs) == []
    from tools import rp2emu
    old = rp2emu.IMAGE, rp2emu.BOOTROM
    try:
        rp2emu.IMAGE, rp2emu.BOOTROM = "/nowhere/rp2/a.uf2", "/nowhere/rp2/b.bin"
        said = rp2emu.missing()
    finally:
        rp2emu.IMAGE, rp2emu.BOOTROM = old
    assert said and "EVSE_RP2_DIR" in said, said


def test_a_call_whose_handlers_cannot_load_is_answered_and_the_link_kept(tmp_path, monkeypatch):
    """On the virtual board's 512 KB heap the central system's first CALL found no room to load the
    handlers (`from . import operations`: a MemoryError), which ended the receive loop: the link
    dropped, the CALL was never answered, and each CALL after the reconnection did the same. A CALL
    that cannot be handled gets a CALLERROR InternalError, and the link stays."""
    import asyncio
    from test_ocpp_fuzz import _CaptureWS, _service
    from evse.ocpp import connection, operations

    def no_room(*a):
        raise MemoryError("memory allocation failed, allocating 2560 bytes")
    monkeypatch.setattr(operations, "dispatch", no_room)
    svc = _service(tmp_path)
    ws = _CaptureWS()
    asyncio.run(connection.handle_frame(svc, ws, json.dumps([2, "u1", "GetConfiguration", {}])))
    assert [json.loads(x)[:3] for x in ws.sent] == [[4, "u1", "InternalError"]], ws.sent


def test_the_solar_day_is_called_what_its_file_says_and_its_command_runs_as_written():
    """README: "On a recorded broken-cloud day the contactor cycles 29 times ... - `python -m
    tools.solar_day`", its figures table "a recorded broken-cloud day", docs/planner.md "## A recorded
    day": host_tests/data/solar_day.csv says it is synthesized ("No recording was available here"),
    and the command as written stopped at "the following arguments are required: csv"."""
    with open(os.path.join(ROOT, "host_tests", "data", "solar_day.csv"), encoding="utf-8") as f:
        assert "Synthesized" in f.read(600)
    for doc in ("README.md", "docs/planner.md"):
        text = read(doc)
        assert not re.search(r"recorded (broken-cloud )?day", text, re.I), doc
        for cmd in re.findall(r"`(python -m tools\.solar_day[^`]*)`", text):
            assert "solar_day.csv" in cmd, (doc, cmd)


def test_the_readmes_limits_do_not_deny_the_picos_dma_capture():
    """README's Limits: "on the Pico reads timed by polling the PWM counter ... (the RP2040's ADC
    FIFO with DMA was not tried)", while its own section "The Pico's pilot captured before the tick"
    and `evse/shell/pilot_dma.py` capture the pilot with the ADC's FIFO and a DMA channel."""
    assert os.path.exists(os.path.join(ROOT, "firmware", "evse", "shell", "pilot_dma.py"))
    limits = read("README.md").split("## Limits")[1]
    assert "DMA was not tried" not in limits
    assert "pilot_dma" in limits or "DMA channel" in limits


def _table_control_means():
    """The figures table's `rp2_control_cpu` means (ms) by state: the figure now."""
    row = [l for l in read("README.md").split(" | ") if "the control tick alone (`rp2_control_cpu`" in l][0]
    return dict((s, float(m)) for s, m in re.findall(r"\b(A|B|C|fault) ([\d.]+) / [\d.]+ / [\d.]+ ms", row))


def test_the_readme_says_of_the_1_ms_mean_what_its_figures_table_shows():
    """README: "**The 1 ms mean is met in every state**" and, in Limits, "0.73-0.99 ms mean per
    tick, within the Pico issue's 1 ms", while its figures table (stop 48's `make bench`, and this
    stop's run: A 0.78, B 0.99, C 1.04, fault 1.19 ms) shows C and fault above 1 ms."""
    means = _table_control_means()
    assert sorted(means) == ["A", "B", "C", "fault"], means
    text = read("README.md")
    over = [s for s, m in means.items() if m >= 1.0]
    if over:
        assert "The 1 ms mean is met in every state" not in text
        assert "within the Pico issue's 1 ms" not in text
    limits = text.split("## Limits")[1]
    m = re.search(r"the control tick's CPU on the Pico \(measured in the emulator\) is ([\d.]+)-([\d.]+) ms mean",
                  limits)
    assert m, "README's Limits no longer give the range"
    assert (float(m.group(1)), float(m.group(2))) == (min(means.values()), max(means.values())), (m.groups(), means)


def test_a_refused_mqtt_setting_on_the_console_says_nothing_of_mqtt_staying_off(tmp_path):
    """docs/mqtt.md: "A bad value is refused by the console's `set` with the reason; in a settings
    file it is reported (`...; MQTT stays off`)". `evse ctl --port vboard set 'mqtt_user=a b'` on a
    charger whose MQTT ran said "refused, nothing changed: mqtt_user: must be printable ASCII without
    spaces; MQTT stays off": nothing changed, MQTT ran on. The console says the reason only, as it
    does for the other consequences of a bad value on flash."""
    from test_evsectl import RigPort, run
    from tools.sim.rig import Rig
    rig = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    rig.run(1.0)
    rc, out = run(RigPort(rig), "set", "mqtt_user=a b")
    assert rc == 1 and "mqtt_user: must be printable ASCII without spaces" in out, out
    assert "stays off" not in out, out
