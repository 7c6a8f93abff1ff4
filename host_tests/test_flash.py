"""tools/flash.py without hardware: the build, the copy plan, the no-board message; pyright with each
port's stubs catches a call the port does not have."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tools import flash as F

ROOT = F.ROOT


@pytest.mark.parametrize("board, arch_byte", [("esp32_devkitc", None), ("rpi_pico", None), ("vboard", None)])
def test_build_compiles_firmware_and_board(board, arch_byte):
    files = F.build(board)
    remote = [dst for _, dst in files]
    assert "main.py" in remote and "boot.py" in remote and "board.mpy" in remote
    assert "evse/app.mpy" in remote and "evse/services/console.mpy" in remote
    assert not any(r.startswith("boards/") for r in remote)
    for src, dst in files:
        assert os.path.getsize(src) > 0
        if dst.endswith(".mpy"):
            with open(src, "rb") as f:
                assert f.read(1) == b"M"            # mpy header


def test_board_arch_comes_from_the_board_file():
    assert F.board_info("esp32_devkitc")[1] == "xtensawin"
    assert F.board_info("rpi_pico")[1] == "armv6m"
    assert F.board_info("vboard") == (os.path.join(ROOT, "boards", "sim.py"), None)


def _files(tmp_path):
    out = []
    for name, text in (("main.py", "m"), ("board.mpy", "b"), ("evse/app.mpy", "a"), ("evse/ocpp/x.mpy", "x")):
        p = tmp_path / name.replace("/", "_")
        p.write_text(text)
        out.append((str(p), name))
    s = tmp_path / "settings.json"
    s.write_text("{}")
    return out, str(s)


def test_plan_on_an_empty_board_copies_everything(tmp_path):
    files, s = _files(tmp_path)
    steps, copied, removed = F.plan(files, {}, s, False)
    assert copied == ["board.mpy", "evse/app.mpy", "evse/ocpp/x.mpy", "main.py", "settings.json"]
    mk = [x[2] for x in steps if x[1] == "mkdir"]
    assert mk == [":evse", ":evse/ocpp"]
    assert removed == []


def test_plan_copies_only_what_changed_and_removes_stale(tmp_path):
    files, s = _files(tmp_path)
    remote = {dst: F.sha256(src) for src, dst in files}
    remote.update({"evse/": "", "evse/ocpp/": "", "settings.json": "whatever", "evse/app.py": "1",
                   "board.py": "2"})
    remote["evse/app.mpy"] = "old"
    steps, copied, removed = F.plan(files, remote, s, False)
    assert copied == ["evse/app.mpy"]                  # settings.json on the board is kept
    assert removed == ["board.py", "evse/app.py"]
    assert not [x for x in steps if x[1] == "mkdir"]
    steps, copied, removed = F.plan(files, remote, s, True)     # SETTINGS=... replaces it
    assert copied == ["evse/app.mpy", "settings.json"]


def test_plan_keeps_an_interrupted_settings_save(tmp_path):
    files, s = _files(tmp_path)
    _, copied, _ = F.plan(files, {"settings.json.tmp": "x"}, s, False)
    assert "settings.json" not in copied


@pytest.mark.parametrize("text, word", [
    ('{"max_current": 500}', "max_current: out of range"),
    ('{"max_current": 16, "connector": "nacs", "phases": 3}', "connector, phases: nacs carries one phase"),
])
def test_bad_settings_file_is_refused(tmp_path, text, word):
    p = tmp_path / "s.json"
    p.write_text(text)
    with pytest.raises(F.FlashError, match=word):
        F.settings_file("vboard", str(p))


def test_two_boards_flashed_at_once_each_get_their_own_settings(tmp_path):
    """A technician flashing two chargers of one type from one checkout, each with its own circuit's
    max_current: the second flash's settings never replace the first's before it is copied."""
    paths = []
    for amps in (16, 32):
        p = tmp_path / ("s%d.json" % amps)
        p.write_text(json.dumps({"max_current": amps}))
        paths.append(F.settings_file("rpi_pico", str(p)))
    try:
        assert paths[0] != paths[1]
        for path, amps in zip(paths, (16, 32)):
            with open(path, "rb") as f:
                assert b'"max_current": %d' % amps in f.read()
    finally:
        for path in paths:
            os.remove(path)


def test_a_board_that_goes_silent_mid_flash_is_met_once_more(monkeypatch, tmp_path):
    """A board that resets in the middle of a command (its watchdog, a brown-out) leaves mpremote
    waiting: after the time limit the flash meets the board again and finishes, instead of failing."""
    calls = []

    def board(port, args, timeout=F.MPREMOTE_TIMEOUT_S):
        calls.append(args[0])
        if args[0] == "exec" and calls.count("exec") == 1:
            raise F.BoardSilent("no answer from the board at %s within %d s (mpremote)" % (port, timeout))
        return "FLASHHASH-END\n" if args[0] == "exec" else ""
    monkeypatch.setattr(F, "mpremote", board)
    monkeypatch.setattr(F, "wait_for_repl", lambda port, timeout=None: True)
    tty = tmp_path / "tty"
    tty.write_text("")
    said = []
    copied, _ = F.flash("vboard", str(tty), log=said.append)
    assert calls.count("exec") == 2 and "main.py" in copied
    assert said[0].endswith("within 60 s (mpremote); once more"), said


def _run(*args):
    return subprocess.run([sys.executable, "-m", "tools.flash"] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)


def test_no_board_attached_is_one_clear_line():
    r = _run("--board", "esp32_devkitc", "--port", "/dev/ttyNOPE0")
    assert r.returncode == 1
    assert r.stdout.strip().splitlines() == ["flash: no board at /dev/ttyNOPE0 (mpremote: no device found)"]


def test_no_port_and_no_usb_board():
    from serial.tools import list_ports
    if any(p.vid is not None for p in list_ports.comports()):
        pytest.skip("a USB serial device is attached")
    r = _run("--board", "rpi_pico")
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flash: no board") and "no device found" in lines[0]


def test_make_flash_without_a_board_fails():
    if not shutil.which("make"):
        pytest.skip("no make")
    r = subprocess.run(["make", "-s", "flash", "BOARD=esp32_devkitc", "PORT=/dev/ttyNOPE0"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode != 0 and "flash: no board at /dev/ttyNOPE0" in r.stdout


# --- pyright against each port's stubs ---
PYRIGHT = os.path.join(os.path.dirname(sys.executable), "pyright")
WRONG = '''import machine
import time
{port_only}
machine.Pin(2, machine.Pin.OUT).value(1)          # fine on both
t = time.ticks_ms()                               # fine on both
time.monotonic()                                  # CPython only
machine.Pin(2).no_such_call()                     # no port has it
'''


def _pyright(tmp_path, port, body):
    stubs = os.path.join(ROOT, "build", "stubs", port)
    if not os.path.exists(PYRIGHT) or not os.path.isdir(os.path.join(stubs, "stdlib")):
        pytest.skip("pyright or the %s stubs not installed (make stubs)" % port)
    with open(os.path.join(ROOT, "tools", "pyright", port + ".json")) as f:
        cfg = json.load(f)
    d = tmp_path / port
    d.mkdir()
    (d / "wrong.py").write_text(body)
    cfg.update({"include": [str(d)], "exclude": [], "stubPath": stubs, "typeshedPath": stubs,
                "extraPaths": []})
    (d / "pyrightconfig.json").write_text(json.dumps(cfg))
    r = subprocess.run([PYRIGHT, "--outputjson", "-p", str(d / "pyrightconfig.json")], cwd=str(d),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    out = json.loads(r.stdout)
    return r.returncode, [(x["range"]["start"]["line"] + 1, x["rule"]) for x in out["generalDiagnostics"]
                          if x["severity"] == "error"]


@pytest.mark.parametrize("port, own, other", [("esp32", "import esp32", "import rp2"),
                                               ("rp2", "import rp2", "import esp32")])
def test_pyright_catches_calls_the_port_does_not_have(tmp_path, port, own, other):
    rc, errs = _pyright(tmp_path, port, WRONG.format(port_only=own + "\n" + other))
    assert rc == 1
    assert errs == [(4, "reportMissingImports"), (7, "reportAttributeAccessIssue"),
                    (8, "reportAttributeAccessIssue")], errs


def test_pyright_passes_a_correct_file(tmp_path):
    rc, errs = _pyright(tmp_path, "esp32", "import machine\nmachine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)\n")
    assert rc == 0 and errs == []


# --- manifest.py and package.json ---
def test_package_json_lists_every_firmware_file():
    """Out of date after adding a firmware file: python -m tools.flash --package-json"""
    with open(os.path.join(ROOT, "package.json")) as f:
        pkg = json.load(f)
    assert pkg == F.package_json()
    dests = [u[0] for u in pkg["urls"]]
    assert "main.py" in dests and "boot.py" in dests and "evse/services/console.py" in dests
    assert pkg["deps"] == []
    for dst, src in pkg["urls"]:
        assert os.path.exists(os.path.join(ROOT, src))


def test_manifest_freezes_firmware_and_the_board(tmp_path, monkeypatch):
    calls = []
    ns = {"__file__": os.path.join(ROOT, "manifest.py")}
    for fn in ("include", "package", "module", "require", "freeze"):
        ns[fn] = (lambda name: lambda *a, **k: calls.append((name, a, k)))(fn)
    monkeypatch.setenv("EVSE_BOARD", "rpi_pico")
    with open(os.path.join(ROOT, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), ns)
    assert ("package", ("evse",), {"base_path": "firmware"}) in calls
    assert [c[1][0] for c in calls if c[0] == "module"] == ["boot.py", "main.py", "board.py"]
    assert not [c for c in calls if c[0] == "require"]          # no third-party libraries needed
    board_dir = [c[2]["base_path"] for c in calls if c[0] == "module" and c[1][0] == "board.py"][0]
    with open(os.path.join(board_dir, "board.py")) as f:
        assert 'NAME = "rpi_pico"' in f.read()
