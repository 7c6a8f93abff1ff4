"""A MicroPython image with the charger frozen in (manifest.py), for a board under boards/:

    make firmware BOARD=rpi_pico MICROPYTHON=/path/to/micropython
    make firmware BOARD=esp32_devkitc MICROPYTHON=/path/to/micropython      # needs ESP-IDF

writes build/firmware/BOARD/firmware.uf2 (and .bin) for an RP2040, build/firmware/BOARD/firmware.bin
for an ESP32. MICROPYTHON is a MicroPython source tree (v1.28 was used) with the port's submodules;
the port's build directory goes inside it (ports/PORT/build-MPBOARD-evse), nothing of it into this
repository. Every missing piece is said in one line and the exit status is 1 (docs/flashing.md).
"""
import argparse
import os
import shutil
import subprocess
import sys

from tools import uf2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "manifest.py")
# The board file's PWM_PORT -> the MicroPython port and its board this firmware was measured on.
PORTS = {"rp2": ("rp2", "RPI_PICO"), "esp32": ("esp32", "ESP32_GENERIC")}
# What each port's build needs from the source tree (its submodules) and on PATH.
NEEDS = {
    "rp2": (["lib/pico-sdk/pico_sdk_init.cmake", "lib/tinyusb/src/tusb.h",
             "lib/micropython-lib/micropython"], ["arm-none-eabi-gcc", "cmake", "make"]),
    "esp32": (["lib/micropython-lib/micropython"], ["idf.py", "make"]),
}
# ...and what the port's board with a radio needs besides (its cyw43 driver, TCP/IP and Bluetooth stacks).
BOARD_NEEDS = {"RPI_PICO_W": ["lib/cyw43-driver/src/cyw43.h", "lib/lwip/src/include/lwip/init.h",
                              "lib/btstack/src/btstack.h"]}
HINTS = {
    "arm-none-eabi-gcc": "Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "cmake": "Debian: apt-get install cmake",
    "idf.py": "ESP-IDF v5.5.1 (ports/esp32/README.md): ./install.sh esp32, then . ./export.sh in this shell",
}


class Refused(Exception):
    """What stands in the way, in one line."""


def board_file(board):
    """(path, port, MicroPython board) of a board name or path, once the board check passes."""
    from tools import boardcheck
    path = boardcheck.resolve(board)
    if not os.path.exists(path):
        raise Refused("unknown board %r (boards: %s, or a path to a board file)"
                      % (board, ", ".join(boardcheck.names())))
    problems = boardcheck.check(path)
    if problems:
        raise Refused("board file %s refused:\n  %s" % (path, "\n  ".join(problems)))
    b = boardcheck.load(path)
    pwm_port = b.get("PWM_PORT")
    if pwm_port not in PORTS:
        raise Refused("board %s: PWM_PORT %r has no MicroPython port to build (rp2 or esp32)"
                      % (board, pwm_port))
    if pwm_port == "rp2" and b.get("WIFI"):
        return path, "rp2", "RPI_PICO_W"           # the port's board with the CYW43 driver and lwIP
    return (path,) + PORTS[pwm_port]


def check(mpy, port, mpboard=None):
    """Refused when the source tree or a tool is missing (the first thing missing)."""
    if not mpy:
        raise Refused("give the MicroPython source tree: make firmware BOARD=... MICROPYTHON=/path/to/micropython")
    if not os.path.isfile(os.path.join(mpy, "py", "mpconfig.h")):
        raise Refused("%s is not a MicroPython source tree (no py/mpconfig.h)" % mpy)
    files, tools = NEEDS[port]
    for rel in files + BOARD_NEEDS.get(mpboard, []):
        if not os.path.exists(os.path.join(mpy, rel)):
            raise Refused("%s: no %s (the port's submodules: git submodule update --init %s)"
                          % (mpy, rel, "/".join(rel.split("/")[:2])))
    for tool in tools:
        if not shutil.which(tool):
            raise Refused("no %s on PATH (%s)" % (tool, HINTS.get(tool, "install it")))


def _run(cmd, cwd, env):
    print("firmware: " + " ".join(cmd), flush=True)
    if subprocess.call(cmd, cwd=cwd, env=env):
        raise Refused("failed: %s (in %s)" % (" ".join(cmd), cwd))


def build_rp2(mpy, mpboard, env, out, jobs):
    """pico-sdk 2.x fetches picotool at configure time and writes the UF2 with it: without network,
    configure without picotool and write the UF2 from the .bin here."""
    build = os.path.join(mpy, "ports", "rp2", "build-%s-evse" % mpboard)
    _run(["cmake", "-S", "ports/rp2", "-B", build, "-DMICROPY_BOARD=" + mpboard, "-DPICO_NO_PICOTOOL=1",
          "-DPICO_BUILD_DOCS=0", "-DMICROPY_FROZEN_MANIFEST=" + MANIFEST], mpy, env)
    _run(["make", "-C", build, "-j%d" % jobs], mpy, env)
    shutil.copyfile(os.path.join(build, "firmware.bin"), os.path.join(out, "firmware.bin"))
    n = uf2.convert(os.path.join(out, "firmware.bin"), os.path.join(out, "firmware.uf2"))
    return os.path.join(out, "firmware.uf2"), n


def build_esp32(mpy, mpboard, env, out, jobs):
    """The port's own make wrapper around idf.py, with the manifest (ports/esp32/README.md)."""
    port = os.path.join(mpy, "ports", "esp32")
    build = "build-%s-evse" % mpboard
    _run(["make", "-j%d" % jobs, "BOARD=" + mpboard, "BUILD=" + build, "FROZEN_MANIFEST=" + MANIFEST],
         port, env)
    shutil.copyfile(os.path.join(port, build, "firmware.bin"), os.path.join(out, "firmware.bin"))
    return os.path.join(out, "firmware.bin"), None


def build(board_name, mpy, jobs=2):
    """Builds the image; returns its path. Raises Refused."""
    path, port, mpboard = board_file(board_name)
    mpy = os.path.abspath(mpy) if mpy else mpy
    check(mpy, port, mpboard)
    out = os.path.join(ROOT, "build", "firmware", os.path.basename(path)[:-3])
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, EVSE_BOARD=path)          # manifest.py freezes this file as `board`
    image, blocks = (build_rp2 if port == "rp2" else build_esp32)(mpy, mpboard, env, out, jobs)
    size = os.path.getsize(os.path.join(out, "firmware.bin"))
    print("firmware: %s (%d bytes of image%s)" % (
        os.path.relpath(image, ROOT), size, ", %d UF2 blocks" % blocks if blocks else ""), flush=True)
    return image


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.firmware", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", required=True, help="a name under boards/ (rpi_pico, esp32_devkitc) or a path to a board file")
    ap.add_argument("--micropython", default=None, help="the MicroPython source tree")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    try:
        build(a.board, a.micropython, a.jobs)
    except Refused as e:
        print("firmware: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
