"""Board files on the bench: every board file in boards/ passes the check; a technician's mistakes
(a coil on the PWM pin or a strapping pin, the pilot ADC on ADC2 or on a pin with no ADC, a missing
rating) are refused with the reason before anything is built; make flash takes a board by name or path."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

from tools import boardcheck as B
from tools import flash as F

ROOT = B.ROOT
BOARD_FILES = sorted(glob.glob(os.path.join(ROOT, "boards", "*.py")))


@pytest.mark.parametrize("path", BOARD_FILES, ids=os.path.basename)
def test_every_board_file_passes(path):
    assert B.check(path) == []


def test_the_check_covers_every_board_file():
    r = subprocess.run([sys.executable, "-m", "tools.boardcheck"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0, r.stdout
    assert sorted(r.stdout.split()) == sorted(["boards/%s:" % os.path.basename(p) for p in BOARD_FILES]
                                              + ["ok"] * len(BOARD_FILES))


def _variant(tmp_path, base, edits, name="my_board.py"):
    """boards/BASE.py with some lines replaced ({"CONTACTOR_PINS": "(12, 27)"}; None removes the line)."""
    with open(os.path.join(ROOT, "boards", base + ".py")) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        key = line.split("=")[0].strip()
        if key in edits and "=" in line:
            if edits[key] is not None:
                out.append("%s = %s" % (key, edits[key]))
            continue
        out.append(line)
    p = tmp_path / name
    p.write_text("\n".join(out) + "\n")
    return str(p)


BAD = [
    # (base board, the technician's edit, the reason expected in the refusal)
    ("esp32_devkitc", {"CONTACTOR_PINS": "(25, 27)"}, "CONTACTOR_PINS: pin 25 is already PILOT_PWM_PIN"),
    ("esp32_devkitc", {"CONTACTOR_PINS": "(12, 27)"}, "CONTACTOR_PINS: GPIO12 is a strapping pin"),
    ("esp32_devkitc", {"RCD_TEST_PIN": "15"}, "RCD_TEST_PIN: GPIO15 is a strapping pin"),
    ("esp32_devkitc", {"CONTACTOR_PINS": "(26, 38)"}, "CONTACTOR_PINS: GPIO38 is input-only"),
    ("esp32_devkitc", {"PILOT_PWM_PIN": "37"}, "PILOT_PWM_PIN: GPIO37 is input-only"),
    ("esp32_devkitc", {"PILOT_ADC_PIN": "15"}, "PILOT_ADC_PIN: GPIO15 is on ADC2, which cannot be read while Wi-Fi"),
    ("esp32_devkitc", {"PILOT_ADC_PIN": "21"}, "PILOT_ADC_PIN: GPIO21 has no ADC"),
    ("esp32_devkitc", {"FEEDBACK_PIN": "38"}, "FEEDBACK_PIN: GPIO38 has no internal pull-up"),
    ("esp32_devkitc", {"LED_PIN": "6"}, "LED_PIN: GPIO6 is wired to the module's SPI flash"),
    ("esp32_devkitc", {"MODBUS_TX_PIN": "1"}, "MODBUS_TX_PIN: GPIO1 is UART0 TX"),
    ("esp32_devkitc", {"S0_PIN": "20"}, "S0_PIN: GPIO20 does not exist"),
    ("esp32_devkitc", {"MODBUS_UART": "0"}, "MODBUS_UART: 0 is not one of (1, 2)"),
    ("esp32_devkitc", {"ADC_ATTEN": "None"}, "ADC_ATTEN: None is not one of"),
    ("esp32_devkitc", {"MAX_CURRENT_A": None}, "MAX_CURRENT_A: missing"),
    ("esp32_devkitc", {"MAX_CURRENT_A": "320"}, "MAX_CURRENT_A: 320 is not a rating of 6-80 A"),
    ("esp32_devkitc", {"MAX_CURRENT_A": "'32'"}, "MAX_CURRENT_A: '32' is not a rating"),
    ("esp32_devkitc", {"PWM_PORT": None}, "PWM_PORT: None is not one of"),
    ("esp32_devkitc", {"PWM_PORT": "'esp32s3'"}, "PWM_PORT: 'esp32s3' is not one of"),
    ("esp32_devkitc", {"ARCH": "'armv6m'"}, "ARCH: 'armv6m' does not match PWM_PORT 'esp32'"),
    ("esp32_devkitc", {"RCD_TRIP_PIN": None}, "RCD_TRIP_PIN: missing"),
    ("esp32_devkitc", {"PILOT_ADC_PIN": "None"}, "PILOT_ADC_PIN: None is not a pin number"),
    ("esp32_devkitc", {"FEEDBACK_ACTIVE": "2"}, "FEEDBACK_ACTIVE: 2 is not a pin level"),
    ("rpi_pico", {"PILOT_ADC_PIN": "22"}, "PILOT_ADC_PIN: GP22 has no ADC"),
    ("rpi_pico", {"CT_ADC_PINS": "(29,)"}, "CT_ADC_PINS: GP29 is the Pico's VSYS/3 measurement"),
    ("rpi_pico", {"CONTACTOR_PINS": "(15, 24)"}, "CONTACTOR_PINS: GP24 is the Pico's VBUS sense"),
    ("rpi_pico", {"RCD_TEST_PIN": "25"}, "RCD_TEST_PIN: GP25 is the Pico's LED"),
    ("rpi_pico", {"PP_ADC_PIN": "4"}, "PP_ADC_PIN: ADC 4 is the chip's temperature sensor"),
    ("rpi_pico", {"PP_ADC_PIN": "0"}, "PP_ADC_PIN: pin 26 is already PILOT_ADC_PIN"),   # ADC0 is GP26
    ("rpi_pico", {"MODBUS_TX_PIN": "4"}, "MODBUS_TX_PIN: GP4 is not UART0 TX"),
    ("rpi_pico", {"ADC_ATTEN": "3"}, "ADC_ATTEN: 3 is not one of (None,)"),
    ("sim", {"CONTACTOR_PINS": "(16, 16)"}, "CONTACTOR_PINS: pin 16 is already CONTACTOR_PINS"),
    ("sim", {"PWM_STEPS": None}, "PWM_STEPS: the sim PWM's counts per period"),
    ("sim", {"ARCH": "'xtensawin'"}, "ARCH: 'xtensawin' does not match PWM_PORT 'sim'"),
]


@pytest.mark.parametrize("base, edits, reason", BAD, ids=[r[2].split(":")[0] + "-" + r[0] for r in BAD])
def test_a_bad_board_file_is_refused_with_the_reason(tmp_path, base, edits, reason):
    problems = B.check(_variant(tmp_path, base, edits))
    assert any(p.startswith(reason) for p in problems), problems


@pytest.mark.parametrize("lines, reason", [
    ("LOCK_PINS = (19, 21)\nLOCK_FB_ACTIVE = 1\n", "LOCK_FB_PIN: missing (LOCK_PINS is set"),
    ("LOCK_PINS = (19,)\nLOCK_FB_PIN = 5\nLOCK_FB_ACTIVE = 1\n", "LOCK_PINS: (19,) is not (lock pin, unlock pin)"),
    ("LOCK_PINS = (12, 21)\nLOCK_FB_PIN = 5\nLOCK_FB_ACTIVE = 1\n", "LOCK_PINS: GPIO12 is a strapping pin"),
    ("LOCK_PINS = (19, 21)\nLOCK_FB_PIN = 36\nLOCK_FB_ACTIVE = 1\n", "LOCK_FB_PIN: pin 36 is already PILOT_ADC_PIN"),
    ("LOCK_PINS = (19, 21)\nLOCK_FB_PIN = 5\nLOCK_FB_ACTIVE = 2\n", "LOCK_FB_ACTIVE: 2 is not a pin level"),
])
def test_a_plug_lock_is_wired_whole_or_refused(tmp_path, lines, reason):
    """A Type 2 socket's plug lock (shell/socket_lock.py): its bridge's two outputs, low at reset,
    and its switch; a board without LOCK_PINS has none (every board file here)."""
    p = _variant(tmp_path, "esp32_devkitc", {})
    with open(p, "a") as f:
        f.write(lines)
    problems = B.check(p)
    assert any(x.startswith(reason) for x in problems), problems
    with open(p, "w") as f:
        f.write(open(_variant(tmp_path, "esp32_devkitc", {}, "ok.py")).read()
                + "LOCK_PINS = (19, 21)\nLOCK_FB_PIN = 5\nLOCK_FB_ACTIVE = 1\n")
    assert B.check(p) == []


def test_the_sim_board_takes_any_pin_number(tmp_path):
    assert B.check(_variant(tmp_path, "sim", {"CONTACTOR_PINS": "(6, 12)", "PILOT_ADC_PIN": "40"})) == []


def test_a_board_file_that_does_not_load(tmp_path):
    p = tmp_path / "broken.py"
    p.write_text("NAME = 'x'\nPILOT_PWM_PIN = \n")
    assert B.check(str(p))[0].startswith("does not load: SyntaxError")


def test_make_flash_refuses_a_bad_board_before_looking_for_the_board(tmp_path):
    if not shutil.which("make"):
        pytest.skip("no make")
    bad = _variant(tmp_path, "esp32_devkitc", {"CONTACTOR_PINS": "(12, 27)"})
    r = subprocess.run(["make", "-s", "flash", "BOARD=" + bad, "PORT=/dev/ttyNOPE0"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode != 0
    assert "flash: board file %s refused:" % bad in r.stdout
    assert "CONTACTOR_PINS: GPIO12 is a strapping pin" in r.stdout
    assert "no board at" not in r.stdout
    assert not os.path.exists(os.path.join(ROOT, "build", "flash", "my_board"))


def _built(files):
    return dict((dst, src) for src, dst in files)


def test_a_board_file_by_path_is_built(tmp_path):
    path = _variant(tmp_path, "esp32_devkitc", {"NAME": '"my_esp32"', "MAX_CURRENT_A": "16"}, "my_esp32.py")
    out = os.path.join(ROOT, "build", "flash", "my_esp32")
    try:
        assert F.board_info(path) == (path, "xtensawin")
        files = _built(F.build(path))
        assert files["board.mpy"] == os.path.join(out, "board.mpy")
        assert b"my_esp32" in open(files["board.mpy"], "rb").read()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_a_board_file_by_name_is_built(tmp_path, monkeypatch):
    _variant(tmp_path, "rpi_pico", {"NAME": '"my_pico"'}, "my_pico.py")
    monkeypatch.setattr(B, "BOARDS_DIR", str(tmp_path))       # as if it were boards/my_pico.py
    out = os.path.join(ROOT, "build", "flash", "my_pico")
    try:
        assert F.board_info("my_pico") == (str(tmp_path / "my_pico.py"), "armv6m")
        assert b"my_pico" in open(_built(F.build("my_pico"))["board.mpy"], "rb").read()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_an_unknown_board_name_lists_the_boards():
    with pytest.raises(F.FlashError, match=r"unknown board 'nope' \(boards: esp32_devkitc, rpi_pico, rpi_pico_w, sim, vboard"):
        F.board_info("nope")


def test_the_template_in_the_docs_passes(tmp_path):
    with open(os.path.join(ROOT, "docs", "flashing.md")) as f:
        template = f.read().split("```python\n")[1].split("```")[0]
    p = tmp_path / "my_esp32.py"
    p.write_text(template)
    assert B.check(str(p)) == []


# The Pico W: boards/rpi_pico.py's pins and numbers (its BASE), with the radio and the radio's LED.
PICO_W = os.path.join(ROOT, "boards", "rpi_pico_w.py")


def test_the_pico_w_is_the_pico_with_its_radio_and_no_number_written_twice():
    pico, pico_w = B.load(os.path.join(ROOT, "boards", "rpi_pico.py")), B.load(PICO_W)
    differ = sorted(k for k in set(pico) | set(pico_w) if not k.startswith("__") and pico.get(k) != pico_w.get(k))
    assert differ == ["BASE", "LED_PIN", "NAME", "TICK_LED", "WIFI"]
    assert (pico_w["NAME"], pico_w["WIFI"], pico_w["LED_PIN"], pico_w["ARCH"]) == ("rpi_pico_w", True, "LED", "armv6m")
    own = [line.split("=")[0].strip() for line in open(PICO_W) if "=" in line and not line.startswith("#")]
    assert sorted(own) == ["BASE", "LED_PIN", "NAME", "TICK_LED", "WIFI"]


def _pico_w_with(tmp_path, lines):
    """boards/rpi_pico_w.py with a technician's lines added (outside boards/: its BASE is still found)."""
    p = tmp_path / "my_pico_w.py"
    p.write_text(open(PICO_W).read() + "\n".join(lines) + "\n")
    return str(p)


@pytest.mark.parametrize("line, reason", [
    ("RCD_TEST_PIN = 23", "RCD_TEST_PIN: GP23 is the Pico W's radio power (WL_ON)"),
    ("FEEDBACK_PIN = 24", "FEEDBACK_PIN: GP24 is the Pico W's radio data (WL_D)"),
    ("LED_PIN = 25", "LED_PIN: GP25 is the Pico W's radio chip select (WL_CS)"),
    ("S0_PIN = 29", "S0_PIN: GP29 is the Pico W's radio clock"),
    ("CONTACTOR_PINS = ('LED', 14)", "CONTACTOR_PINS: 'LED' is not a pin number"),
])
def test_the_pico_ws_radio_pins_are_refused(tmp_path, line, reason):
    problems = B.check(_pico_w_with(tmp_path, [line]))
    assert any(p.startswith(reason) for p in problems), problems


def test_the_led_by_name_is_refused_on_a_pico_without_the_radio(tmp_path):
    problems = B.check(_variant(tmp_path, "rpi_pico", {"LED_PIN": '"LED"'}))
    assert any(p.startswith("LED_PIN: 'LED' is not a pin number") for p in problems), problems


def test_the_tick_light_on_the_radios_led_is_refused(tmp_path):
    """The tick's light switches twice a tick: the Pico W's LED, a pin of its radio, cannot be it."""
    problems = B.check(_pico_w_with(tmp_path, ["TICK_LED = True"]))
    assert any(p.startswith("TICK_LED: LED_PIN 'LED' is not a GPIO of the chip") for p in problems), problems
    assert B.check(PICO_W) == []


def test_a_base_that_is_not_a_board_name_is_refused(tmp_path):
    p = tmp_path / "odd.py"
    p.write_text("BASE = 3\nNAME = 'odd'\n")
    assert B.check(str(p))[0].startswith("does not load: ValueError: BASE: 3 is not the name of a board")


def test_make_flash_builds_the_pico_w_and_its_board_py_is_the_pico_then_its_own_lines():
    out = os.path.join(ROOT, "build", "flash", "rpi_pico_w")
    try:
        assert F.board_info("rpi_pico_w") == (PICO_W, "armv6m")
        files = _built(F.build("rpi_pico_w"))
        mpy = open(files["board.mpy"], "rb").read()
        assert mpy[:2] == b"M\x06" and b"rpi_pico_w" in mpy and b"LED" in mpy
        ns = {}
        exec(open(os.path.join(out, "board.py")).read(), ns)       # what mpy-cross compiled
        assert ns["NAME"] == "rpi_pico_w" and ns["WIFI"] is True and ns["CONTACTOR_PINS"] == (15, 14)
        assert "evse/shell/net.mpy" in files
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_the_pico_w_image_is_micropythons_pico_w_board():
    from tools import firmware
    assert firmware.board_file("rpi_pico_w") == (PICO_W, "rp2", "RPI_PICO_W")
    assert firmware.board_file("rpi_pico")[1:] == ("rp2", "RPI_PICO")


def test_make_firmware_for_the_pico_w_names_the_radios_missing_submodule(tmp_path, monkeypatch):
    from tools import firmware
    monkeypatch.setattr(firmware.shutil, "which", lambda tool: "/usr/bin/" + tool)  # the compilers: not what is tested
    tree = tmp_path / "micropython"
    for rel in ["py/mpconfig.h"] + firmware.NEEDS["rp2"][0]:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("")
    firmware.check(str(tree), "rp2", "RPI_PICO")                    # the plain Pico's tree is complete
    with pytest.raises(firmware.Refused, match="no lib/cyw43-driver/src/cyw43.h .*git submodule update --init lib/cyw43-driver"):
        firmware.check(str(tree), "rp2", "RPI_PICO_W")


def test_the_source_of_a_board_is_what_the_board_imports(capsys):
    assert B.main(["--source", "rpi_pico_w"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(open(os.path.join(ROOT, "boards", "rpi_pico.py")).read())
    assert text.endswith(open(PICO_W).read())


def test_a_frozen_image_of_the_pico_w_freezes_the_pico_then_its_own_lines(monkeypatch):
    ns = {"__file__": os.path.join(ROOT, "manifest.py")}
    modules = []
    for fn in ("include", "package", "require", "freeze"):
        ns[fn] = lambda *a, **k: None
    ns["module"] = lambda name, base_path: modules.append(os.path.join(base_path, name))
    monkeypatch.setenv("EVSE_BOARD", "rpi_pico_w")
    with open(os.path.join(ROOT, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), ns)
    frozen = {}
    exec(open([m for m in modules if m.endswith("board.py")][0]).read(), frozen)
    assert (frozen["NAME"], frozen["LED_PIN"], frozen["PILOT_PWM_PIN"]) == ("rpi_pico_w", "LED", 16)


def test_the_firmware_charges_on_the_bench_with_the_pico_ws_board_file_and_its_wifi():
    from tools.sim.drive import Drive
    from tools.sim.rig import load_board
    b = load_board("rpi_pico_w")                              # boards/rpi_pico.py, then its own lines
    assert (b.NAME, b.MAX_CURRENT_A, b.PILOT_PWM_PIN, b.WIFI) == ("rpi_pico_w", 32, 16, True)
    d = Drive(config={"max_current": 40}, board=b)
    d.run(0.5).charge()
    assert d.state == "C2" and d.coil and abs(d.duty - 32 / 0.6) < 0.1     # the Pico's 32 A rating
    assert d.app.net is not None and d.app.errors == []
