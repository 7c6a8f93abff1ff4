"""The frozen image (`make firmware`, docs/flashing.md): the UF2 writer, what the target says when
something is missing, and, when a built image is given, the image itself on the emulated Pico.

The MicroPython source tree is not part of `make test`: the build itself is checked by hand
(docs/flashing.md says what was run). EVSE_FROZEN_IMAGE=build/firmware/rpi_pico/firmware.uf2 boots
that image: a new Pico with the charger frozen in, nothing on its filesystem, gets its rating over
the console, shows A1, and B2 at the duty for 32 A when a car is plugged in."""
import json
import os
import random
import shutil
import struct
import subprocess

import pytest

from tools import rp2emu, uf2

ROOT = rp2emu.ROOT
NODE_UF2 = os.path.join(ROOT, "tools", "rp2emu", "node_modules", "uf2")
FROZEN = os.environ.get("EVSE_FROZEN_IMAGE") and os.path.join(ROOT, os.environ["EVSE_FROZEN_IMAGE"])


def _image(n_bytes, seed=11):
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(n_bytes))


# --- the UF2 writer ---
def test_uf2_blocks_carry_256_byte_pages_at_the_flash_address():
    data = _image(600)                                 # two whole pages and a part of a third
    blocks = uf2.blocks(data)
    assert len(blocks) == 3 and all(len(b) == 512 for b in blocks)
    for n, b in enumerate(blocks):
        head = struct.unpack("<8I", b[:32])
        assert head == (0x0A324655, 0x9E5D5157, 0x2000, 0x10000000 + 256 * n, 256, n, 3, 0xE48BFF56)
        assert struct.unpack("<I", b[508:])[0] == 0x0AB16F30
        assert b[32 + 256:508] == bytes(476 - 256)     # the rest of the data field is zeros
    assert blocks[2][32:32 + 88] == data[512:] and blocks[2][32 + 88:32 + 256] == bytes(168)
    with pytest.raises(ValueError):
        uf2.blocks(b"")


def test_uf2_is_what_npm_uf2_encodes_and_decodes(tmp_path):
    """The same file as the `uf2` package (the emulator's) builds from the same pages, block by block."""
    if not (shutil.which("node") and os.path.isdir(NODE_UF2)):
        pytest.skip("npm uf2: no node or tools/rp2emu/node_modules (make rp2emu)")
    data = _image(1000)
    (tmp_path / "a.bin").write_bytes(data)
    assert uf2.main([str(tmp_path / "a.bin"), str(tmp_path / "a.uf2")]) == 0
    script = """
const { encodeBlock, decodeBlock } = require(process.argv[1]);
const fs = require('fs');
const bin = fs.readFileSync(process.argv[2]), ours = fs.readFileSync(process.argv[3]);
const n = Math.ceil(bin.length / 256), out = [];
for (let i = 0; i < n; i++) {
  const payload = new Uint8Array(256); payload.set(bin.subarray(i * 256, (i + 1) * 256));
  const theirs = encodeBlock({ flags: 0x2000, flashAddress: 0x10000000 + i * 256, payload,
                               blockNumber: i, totalBlocks: n, boardFamily: 0xe48bff56 });
  const mine = ours.subarray(i * 512, (i + 1) * 512), d = decodeBlock(mine);
  out.push({ same: Buffer.from(theirs).equals(mine), addr: d.flashAddress, family: d.boardFamily,
             size: d.payload.length });
}
console.log(JSON.stringify({ blocks: out, bytes: ours.length }));
"""
    r = subprocess.run(["node", "-e", script, NODE_UF2, str(tmp_path / "a.bin"), str(tmp_path / "a.uf2")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["bytes"] == 4 * 512
    assert [b["addr"] for b in got["blocks"]] == [0x10000000 + 256 * i for i in range(4)]
    assert all(b["same"] and b["family"] == 0xE48BFF56 and b["size"] == 256 for b in got["blocks"])


def test_uf2_rewrites_the_stock_image_byte_for_byte():
    """../shared/rp2's stock image, its pages taken out and written again: the same file."""
    if not os.path.exists(rp2emu.IMAGE):
        pytest.skip("no %s" % rp2emu.IMAGE)
    with open(rp2emu.IMAGE, "rb") as f:
        stock = f.read()
    pages = b"".join(stock[o + 32:o + 32 + 256] for o in range(0, len(stock), 512))
    assert b"".join(uf2.blocks(pages)) == stock


# --- make firmware: every missing piece in one line ---
def make_firmware(board, mpy=None, path=None):
    cmd = [shutil.which("make"), "-s", "firmware", "BOARD=" + board] + (["MICROPYTHON=" + mpy] if mpy else [])
    env = dict(os.environ, PATH=path) if path is not None else None
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    said = [line for line in r.stderr.splitlines() if line.startswith("firmware:")]
    return r.returncode, said


def _fake_tree(tmp_path, files):
    tree = tmp_path / "micropython"
    for rel in ["py/mpconfig.h"] + files:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("")
    return str(tree)


def test_make_firmware_without_a_micropython_tree_says_so(tmp_path):
    rc, said = make_firmware("rpi_pico")
    assert rc != 0 and said == [
        "firmware: give the MicroPython source tree: make firmware BOARD=... MICROPYTHON=/path/to/micropython"]
    rc, said = make_firmware("rpi_pico", str(tmp_path))
    assert rc != 0 and said == ["firmware: %s is not a MicroPython source tree (no py/mpconfig.h)" % tmp_path]


def test_make_firmware_names_the_missing_submodule_and_toolchain(tmp_path):
    tree = _fake_tree(tmp_path, [])
    rc, said = make_firmware("rpi_pico", tree)
    assert rc != 0 and said == ["firmware: %s: no lib/pico-sdk/pico_sdk_init.cmake (the port's submodules: "
                                "git submodule update --init lib/pico-sdk)" % tree]
    tree = _fake_tree(tmp_path, ["lib/pico-sdk/pico_sdk_init.cmake", "lib/tinyusb/src/tusb.h",
                                 "lib/micropython-lib/micropython/README"])
    empty = tmp_path / "bin"
    empty.mkdir()
    rc, said = make_firmware("rpi_pico", tree, path=str(empty) + os.pathsep + "/nonexistent")
    assert rc != 0 and said == ["firmware: no arm-none-eabi-gcc on PATH "
                                "(Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"]


def test_make_firmware_for_esp32_needs_esp_idf(tmp_path):
    if shutil.which("idf.py"):
        pytest.skip("ESP-IDF is installed here: the ESP32 build would run")
    tree = _fake_tree(tmp_path, ["lib/micropython-lib/micropython/README"])
    rc, said = make_firmware("esp32_devkitc", tree)
    assert rc != 0 and said == ["firmware: no idf.py on PATH (ESP-IDF v5.5.1 (ports/esp32/README.md): "
                                "./install.sh esp32, then . ./export.sh in this shell)"]


def test_make_firmware_refuses_a_board_without_a_port(tmp_path):
    rc, said = make_firmware("vboard", _fake_tree(tmp_path, []))
    assert rc != 0 and said == ["firmware: board vboard: PWM_PORT 'sim' has no MicroPython port to build "
                                "(rp2 or esp32)"]


# --- the built image on the emulated Pico (only when one is given) ---
def _wait_state(pico, want):
    st = None
    for _ in range(300):
        st = pico.console({"cmd": "status"})
        if st["state"] == want:
            return st
        pico.pump(emu_s=0.1, wall_s=60)
    raise AssertionError("no %s: %s" % (want, st))


def _exec(pico, code):
    """`mpremote connect PORT resume exec CODE` on the running board: Ctrl-C, then the raw REPL."""
    proc = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "mpremote"), "connect", pico.port, "resume",
                             "exec", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert pico.pump(until=lambda: proc.poll() is not None, wall_s=300), "mpremote hung"
    out = proc.stdout.read().decode()
    assert proc.returncode == 0, out
    return out


@pytest.mark.skipif(not FROZEN, reason="frozen image: set EVSE_FROZEN_IMAGE to a built firmware.uf2 (make firmware)")
def test_frozen_image_runs_the_charger_from_flash():
    why = rp2emu.missing()
    if why:
        pytest.skip("emulated Pico: %s" % why)
    board = rp2emu.load_board("rpi_pico")
    with rp2emu.Pico(board, image=FROZEN, realtime=True) as pico:
        pico.pump(emu_s=1.0, wall_s=300)
        # A new board: the charger starts from the image itself, with no rating it offers nothing.
        st = pico.console({"cmd": "status"}, wall_s=300)
        assert st["state"] == "fault" and st["fault"] == "settings" and st["duty"] == 0.0, st
        assert pico.console({"cmd": "set", "values": {"max_current": 32}})["ok"]
        pico.realtime(False)
        st = _wait_state(pico, "A1")
        assert st["duty"] == 100.0, st
        w = pico.world
        w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
        w.recompute()
        _wait_state(pico, "B2")
        pico.pump(emu_s=0.05, wall_s=60)
        regs = pico.pwm[board.PILOT_PWM_PIN]
        amps = 0.6 * 100.0 * regs["cc"] / (regs["top"] + 1)
        assert 32 - 0.1 < amps <= 32, regs
        # Nothing of the firmware on the filesystem: it ran from the image.
        pico.realtime(True)
        out = _exec(pico, "import os, gc, evse.app\ngc.collect()\n"
                          "print('LS', sorted(os.listdir('/')), 'FREE', gc.mem_free())\n")
    listing = out.split("LS", 1)[1].split("FREE")[0]
    for name in ("evse", "main.py", "boot.py", "board.py", "board.mpy"):
        assert "'%s'" % name not in listing, out
    print("frozen image: gc.mem_free() at the REPL after Ctrl-C: %s" % out.split("FREE", 1)[1].strip())
