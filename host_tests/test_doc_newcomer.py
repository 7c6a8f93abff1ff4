"""What the docs tell a newcomer that a command shows, held against the command (the newcomer's audit).

test_doc_commands.py runs every command for its exit status; these check figures the docs give
for what a command prints."""
import os
import re

from tools import flash as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(doc):
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        return f.read()


def test_flashing_md_counts_the_files_make_flash_copies_to_the_virtual_board():
    """`make flash BOARD=vboard` prints `84 firmware files; 85 copied` on an empty board (the
    settings given beside them); the doc said 36, the count before OCPP, metering and the web."""
    text = read("docs/flashing.md")
    n = len(F.build("vboard"))
    said = re.findall(r"full flash \((\d+) files\)", text) + re.findall(r"every file differs, (\d+) copied", text)
    assert len(said) == 2, said
    assert said == [str(n)] * 2, "docs/flashing.md says %s files, make flash BOARD=vboard copies %d" % (said, n)
    # and what a full flash of an ESP32 sends over its serial port (the doc said about 100 KB)
    kb = sum(os.path.getsize(src) for src, _ in F.build("esp32_devkitc")) / 1024.0
    said = re.findall(r"115200-baud serial port \(about (\d+) KB\)", re.sub(r"\s+", " ", text))
    assert len(said) == 1 and abs(float(said[0]) - kb) < kb * 0.1, (said, kb)


def test_every_answer_under_the_api_says_no_store():
    """docs/web.md: "Every answer under /api/v1/ says Cache-Control: no-store". curl on the virtual
    board: OPTIONS /api/v1/status, a path nothing serves (404), a method a path does not take (405)
    and the WebSocket's address without its upgrade (400) came without it (microdot's own answers
    pass the after-error hook, not the after-request one)."""
    import asyncio
    from test_web_upy import Bench
    b = Bench()
    for method, path, code in (("OPTIONS", "status", 200), ("DELETE", "nothing", 404),
                               ("POST", "status", 405), ("GET", "ws", 400), ("GET", "status", 200)):
        r = asyncio.run(b.client.request(method, "/api/v1/" + path))
        assert r.status_code == code, (method, path, r.status_code)
        assert r.headers.get("Cache-Control") == "no-store", (method, path, r.headers)
    r = asyncio.run(b.client.request("GET", "/"))               # the page keeps its own
    assert r.headers.get("Cache-Control") != "no-store", r.headers


def test_the_readme_limits_do_not_deny_the_pages_network_card():
    """README's Limits said "the web page does not show the Wi-Fi status fields yet (the API has
    them)", while docs/web.md describes the page's Network card (the Wi-Fi state, why not joined,
    the set-up notice) and the page draws it from the status's wifi, wifi_error and setup_ap
    (test_web_page_network.py shows it in chromium)."""
    with open(os.path.join(ROOT, "firmware", "www", "index.html"), encoding="utf-8") as f:
        page = f.read()
    for field in ("s.wifi", "s.wifi_error", "s.setup_ap"):
        assert field in page, field
    assert "Network card" in read("docs/web.md")
    assert "does not show the Wi-Fi status" not in re.sub(r"\s+", " ", read("README.md"))


def test_the_page_size_the_docs_give_is_what_make_flash_writes():
    """README said the page is 4 KB gzipped, docs/web.md 4.7 KB: make flash writes 4,838 bytes
    (/www/index.html.gz on the virtual board's flash)."""
    from tools import webfiles
    path = webfiles.page_gz(os.path.join(ROOT, "build", "flash", "vboard", webfiles.PAGE_ON_FLASH))
    kb = "%.1f KB" % (os.path.getsize(path) / 1024.0)
    for doc, pattern in (("README.md", r"one small page \(([\d.]+ KB) gzipped"),
                         ("docs/web.md", r"/www/index\.html\.gz`, ([\d.]+ KB)")):
        said = re.findall(pattern, re.sub(r"\s+", " ", read(doc)))
        assert said == [kb], (doc, said, kb)


def test_the_central_systems_help_lists_use():
    """docs/ocpp.md: `evse cs` takes one command a line, "`help` lists them ... (`use ID` picks
    another)": help did not list `use`, and `use` with an id not connected said nothing."""
    import asyncio
    import io
    from tools import cs as cstool
    out = io.StringIO()
    cs = cstool.CentralSystem(tags=["GOOD"], out=out)
    asyncio.run(cs.command("help"))
    assert re.search(r"^\s*use ID\s", out.getvalue(), re.M), out.getvalue()
    asyncio.run(cs.command("use nobody"))
    assert "use: no charge point nobody connected" in out.getvalue(), out.getvalue()


def test_the_readmes_flash_after_a_flash_is_no_shorter_than_its_quiet_wait():
    """README: a flash right after a flash "now about 2.5 s"; on the virtual board it took 4.0-4.2 s
    with nothing to copy (7.2-7.4 s with a car in C): the Ctrl-C sent while the board resets is lost,
    the charger boots and prints its event lines, and make flash, having heard the board, sends its
    next Ctrl-C only after ANSWERED_QUIET_S of quiet. The figure can be no shorter than that wait."""
    m = re.search(r"raw-REPL timeout and now about ([\d.]+) s", re.sub(r"\s+", " ", read("README.md")))
    assert m, "README no longer gives the figure"
    assert float(m.group(1)) > F.ANSWERED_QUIET_S, (m.group(1), F.ANSWERED_QUIET_S)


def test_the_design_and_ocpp_pages_name_every_firmware_module():
    """docs/design.md's house named 6 of the 19 services ("(later: MQTT)" beside MQTT, Home
    Assistant, the planner, the web's HTTPS and update), 5 of the 12 shell modules and 10 of the 14
    core ones; docs/ocpp.md's code layout left out config, corelink, rpc, store, wallclock and
    websocket. A firmware engineer finds each module where the layer is described."""
    house = read("docs/design.md").split("## The host side")[0]
    missing = []
    for layer in ("services", "shell", "core", "metering"):
        for name in sorted(os.listdir(os.path.join(ROOT, "firmware", "evse", layer))):
            if name.endswith(".py") and name != "__init__.py" and not re.search(r"\b%s\b" % name[:-3], house):
                missing.append("docs/design.md: evse/%s/%s" % (layer, name))
    layout = read("docs/ocpp.md").split("## Code layout")[1].split("\n## ")[0]
    for name in sorted(os.listdir(os.path.join(ROOT, "firmware", "evse", "ocpp"))):
        if name.endswith(".py") and name != "__init__.py" and "`%s`" % name not in layout:
            missing.append("docs/ocpp.md, Code layout: evse/ocpp/%s" % name)
    assert not missing, "\n".join(missing)
    assert "later: MQTT" not in house


def test_the_readme_names_every_debian_package_make_test_installs():
    """README: "as root, make test installs Debian's sigrok-cli and gtkwave": the Makefile's DEBS
    also has mosquitto and chromium."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        debs = re.search(r"^DEBS := (.*)$", f.read(), re.M).group(1).split()
    quick = re.sub(r"\s+", " ", read("README.md").split("## Quick start")[1].split("Then:")[0])
    assert debs and all("`%s`" % d in quick for d in debs), (debs, quick)


def _virtual_s(scenario):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "tools.bench", "host_tests/scenarios/%s.scn" % scenario], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    return float(re.search(r"virtual time ([\d.]+) s", r.stdout).group(1))


def test_the_docs_give_the_rcd_scenarios_virtual_time_as_the_bench_runs_them():
    """README: `rcd_lockout` "for its 31 min of virtual time", docs/rp2emu.md: `rcd_trip_retry`
    (307 s): that was with 5 min retries; since UL 2231-2's 15 min (4 retries, the 5th trip a
    lockout) the bench ends them at 4530 s (75.5 min) and 908 s."""
    said = re.findall(r"(?:its|lasts) ([\d.]+) min of virtual time", re.sub(r"\s+", " ", read("README.md")))
    assert "%.1f" % (_virtual_s("rcd_lockout") / 60) in said, said
    said = re.findall(r"`rcd_trip_retry` \(.*?; (\d+) s since", re.sub(r"\s+", " ", read("docs/rp2emu.md")))
    assert said == ["%.0f" % _virtual_s("rcd_trip_retry")], said


def test_the_readme_layout_names_every_command_line_under_tools():
    """README's Layout lists the command lines under tools/: uf2 (docs/flashing.md), webload
    (docs/web.md) and bench_vehicle (docs/bench-vehicle.md) were missing."""
    layout = re.sub(r"\s+", " ", read("README.md").split("## Layout")[1].split("\n## ")[0])
    tools = os.path.join(ROOT, "tools")
    names = []
    for name in sorted(os.listdir(tools)):
        path = os.path.join(tools, name)
        if name.endswith(".py") and name != "cli.py":
            with open(path) as f:
                if "__name__ == \"__main__\"" in f.read():
                    names.append(name[:-3])
        elif os.path.isdir(path) and (os.path.exists(os.path.join(path, "__main__.py")) or
                                      os.path.exists(os.path.join(path, "host.py"))):
            names.append(name)
    missing = [n for n in names if not re.search(r"\b%s\b" % n, layout)]
    assert names and not missing, missing


def test_every_file_the_docs_copy_with_mpremote_is_there():
    """docs/bench-vehicle.md: `cd firmware`, then `mpremote cp evse/core/__init__.py ...`: the
    charger has no empty __init__.py files any more (README, the heap), so mpremote stopped on a file
    that is not there. Each local file of an `mpremote cp` (or `fs cp`) in the docs exists, from the
    directory the document's `cd` left (the repository root at first)."""
    import shlex
    from test_doc_commands import DOCS, FIXTURES, bare, commands
    missing = []
    for doc in DOCS:
        cwd = ROOT
        for n, c in commands(doc):
            words = shlex.split(bare(c))
            if words[:1] == ["cd"] and os.path.isdir(os.path.join(cwd, words[1])):
                cwd = os.path.join(cwd, words[1])
            if words[:1] != ["mpremote"]:
                continue
            parts, part = [], []
            for w in words[1:] + ["+"]:
                if w == "+":
                    parts.append(part)
                    part = []
                else:
                    part.append(w)
            for part in parts:
                if part[:1] == ["fs"]:
                    part = part[1:]
                if part[:1] != ["cp"]:
                    continue
                for arg in part[1:]:
                    if not arg.startswith((":", "-")) and arg not in FIXTURES and \
                            not os.path.exists(os.path.join(cwd, arg)):
                        missing.append("%s:%d: %s" % (doc, n, arg))
    assert not missing, "\n".join(missing)


def test_the_sites_central_system_answers_what_a_charger_sends_unasked():
    """`python -m tools.site` (README, docs/ocpp.md "A site of chargers") printed a traceback per
    charger at its boot: the firmware sends SecurityEventNotification (StartupOfTheDevice) and the
    site's central system had no handler (the ocpp library's NotImplementedError, a CALLERROR back).
    Every action the firmware sends without being asked has one now."""
    from ocpp.routing import create_route_map
    from tools import site as S
    cp = S.central_system_class(S.Site(30))("cp", None)
    unasked = {"BootNotification", "Heartbeat", "StatusNotification", "Authorize", "StartTransaction",
               "StopTransaction", "MeterValues", "SecurityEventNotification"}
    assert unasked <= set(create_route_map(cp)), unasked - set(create_route_map(cp))


def test_the_bundle_figures_the_docs_give_are_the_firmwares():
    """README: a bundle's manifest line "the whole firmware's is 7.8 KB"; docs/ocpp.md: "the
    firmware as source is about 530 KB, as .mpy 190 KB". `python -m tools.bundle` of the virtual
    board's build (the page's update test's bundle) has a 10.6 KB manifest line; the source is
    675 KB, its .mpy 240 KB."""
    import subprocess
    import sys
    import tempfile
    import shutil

    def kb(top, ext):
        return sum(os.path.getsize(os.path.join(p, n)) for p, _, names in os.walk(top) for n in names
                   if n.endswith(ext)) / 1024.0
    with tempfile.TemporaryDirectory() as d:
        # the build's files copied first: another test worker may be compiling into build/flash/vboard
        # (its mpy-cross writes NAME.PID.tmp there), which the bundle would list and the sizes count
        flash = os.path.join(d, "flash")
        for src, rel in F.build("vboard"):
            os.makedirs(os.path.dirname(os.path.join(flash, rel)), exist_ok=True)
            shutil.copyfile(src, os.path.join(flash, rel))
        out = os.path.join(d, "fw.bin")
        subprocess.run([sys.executable, "-m", "tools.bundle", out, "--version", "9.9.9", "--from", flash],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        with open(out, "rb") as f:
            manifest_kb = len(f.readline()) / 1024.0
        mpy = kb(os.path.join(flash, "evse"), ".mpy")
    said = re.search(r"the whole firmware's is ([\d.]+) KB", re.sub(r"\s+", " ", read("README.md")))
    assert said and abs(float(said.group(1)) - manifest_kb) < 0.3, (said and said.group(1), manifest_kb)

    source = kb(os.path.join(ROOT, "firmware", "evse"), ".py")
    m = re.search(r"the firmware as source is about (\d+) KB, as `\.mpy` (\d+) KB", read("docs/ocpp.md"))
    assert m, "docs/ocpp.md no longer gives them"
    assert abs(float(m.group(1)) - source) < source * 0.05, (m.group(1), source)
    assert abs(float(m.group(2)) - mpy) < mpy * 0.05, (m.group(2), mpy)
