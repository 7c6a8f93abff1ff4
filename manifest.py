# Freeze the charger firmware into a custom MicroPython image (docs/flashing.md):
#   cd micropython/ports/esp32 && make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/repo/manifest.py \
#       EVSE_BOARD=esp32_devkitc          (rp2: ports/rp2, BOARD=RPI_PICO, EVSE_BOARD=rpi_pico)
# Frozen: the evse package, the board's pin map as the module `board`, boot.py and main.py.
# Third-party MicroPython libraries: only the web service's, PyPI's microdot, frozen from where
# `make microdot` installs it (build/microdot; never copied into the repository). The page itself,
# www/index.html.gz, is a file on flash (make flash copies it). asyncio, json, select are built in.
import os

include("$(PORT_DIR)/boards/manifest.py")       # the port's own frozen modules (asyncio, ...)

package("evse", base_path="firmware")
module("boot.py", base_path="firmware")
module("main.py", base_path="firmware")
_microdot = os.path.join(os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else ".",
                         "build", "microdot")
if os.path.isdir(os.path.join(_microdot, "microdot")):
    package("microdot", files=["__init__.py", "microdot.py", "helpers.py", "websocket.py"], base_path=_microdot)
else:
    print("manifest.py: microdot not installed (make microdot): the web page will not start")

# The pin map is frozen under the name main.py imports: a copy of boards/EVSE_BOARD.py (or of the
# board file EVSE_BOARD names by its path, as `make firmware` passes it) as board.py.
# MicroPython runs a manifest with its own folder as the current directory (no __file__ there).
_board = os.environ.get("EVSE_BOARD", "esp32_devkitc")
_here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else "."
_src_path = _board if _board.endswith(".py") else os.path.join(_here, "boards", _board + ".py")
_dir = os.path.join(_here, "build", "freeze", os.path.basename(_src_path)[:-3])
os.makedirs(_dir, exist_ok=True)
import sys                                       # noqa: E402  boardcheck.source: with its BASE board's lines
sys.path.insert(0, _here)
from tools.boardcheck import source             # noqa: E402
with open(os.path.join(_dir, "board.py"), "w") as _dst:
    _dst.write(source(_src_path))
module("board.py", base_path=_dir)
