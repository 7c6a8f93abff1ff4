# Two commands from a fresh clone: `make sim` and `make test`. Everything else is installed here.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
# No PYTHONPATH: the venv has the tools installed (editable) with the `evse` command, and a .pth file
# with the repository's import roots (tools/toolchain/venv_paths.py). build/microdot: PyPI's microdot for the
# web service (make microdot; the .pth file puts it on the path, make flash copies it to /lib).

.PHONY: microdot browser ocpprpc all sim test test-py test-upy test-mpy test-rp2 test-ha bench venv debs clean flash firmware vboard pyright stubs rp2emu rp2emu-run

all: test

$(STAMP): requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e .
	$(PY) tools/toolchain/venv_paths.py
	touch $(STAMP)

venv: $(STAMP)

## PyPI's microdot (the web service's framework) as the board gets it: tools/flash.py copies these files
## onto the board's /lib, manifest.py freezes them; the tests import them from here. Never in the repo.
MICRODOT_VERSION := $(shell sed -n 's/^MICRODOT_VERSION = "\(.*\)".*/\1/p' tools/webfiles.py)
MICRODOT := build/microdot/.installed-$(MICRODOT_VERSION)
$(MICRODOT): | $(STAMP)
	rm -rf build/microdot
	$(PY) -m pip install -q --no-deps --target build/microdot microdot==$(MICRODOT_VERSION)
	touch $@

microdot: $(MICRODOT)

# Debian packages the trace tests run for real: sigrok-cli (the analyzer, the bench's VCD and the
# pwm decoder), gtkwave (its vcd2fst reads the bench's VCD with GTKWave's own parser), mosquitto
# (the MQTT broker the MQTT tests start on a free port) and chromium (the web page's browser test,
# driven by playwright-core: make browser).
DEBS := sigrok-cli gtkwave mosquitto chromium
debs:
	@command -v sigrok-cli >/dev/null 2>&1 && command -v vcd2fst >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && \
	  { command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS) >/dev/null; \
	  else echo "missing: sudo apt-get install $(DEBS) (their tests will be skipped)"; fi; }

## The firmware on the virtual bench with a default vehicle: plug in, charge, unplug.
sim: $(STAMP)
	$(PY) -m tools.sim

## Every test: CPython, the MicroPython unix port, mpy-cross for both board architectures,
## pyright against the ESP32 and RP2040 ports' APIs.
test: $(STAMP) debs test-py test-upy test-mpy pyright

## Two test workers by default (a test file stays on one worker: its fixtures are shared);
## TEST_JOBS=1 runs them one by one, TEST_JOBS=4 on a larger machine.
TEST_JOBS ?= 2
test-py: $(STAMP) stubs rp2emu $(MICRODOT) browser ocpprpc
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder host_tests

## The whole scenario library on the emulated Pico as well (make test runs its short scenarios only).
test-rp2: $(STAMP) rp2emu
	EVSE_RP2_ALL=1 $(PY) -m pytest -q host_tests/test_bench_rp2.py host_tests/test_bench_rp2_more.py

## Home Assistant itself (PyPI, pinned: the last release for Python 3.11) against the charger through
## mosquitto: about 400 MB and 2 minutes to install into build/ha-venv (675 MB once its first start has
## installed its components' requirements), so not in `make test`.
HA_VENV := build/ha-venv
$(HA_VENV)/.installed:
	python3 -m venv $(HA_VENV)
	$(HA_VENV)/bin/pip install -q "homeassistant==2024.3.3" "paho-mqtt==1.6.1"
	touch $@

test-ha: $(STAMP) debs $(HA_VENV)/.installed
	EVSE_HA_HASS=$(HA_VENV)/bin/hass $(PY) -m pytest -q host_tests/test_ha_live.py host_tests/test_ha_audit5.py \
	  host_tests/test_ha_audit7.py

test-upy: $(STAMP) $(MICRODOT)
	$(PY) -m tools.toolchain.upy_tests

test-mpy: $(STAMP)
	$(PY) -m tools.toolchain.mpy_build --check

## Figures, not pass/fail: latencies, CPU per tick, heap, .mpy sizes, simulation and analyzer speed.
bench: $(STAMP) debs rp2emu $(MICRODOT)
	$(PY) -m tools.benchmarks

## Build and copy the firmware to a board: make flash BOARD=esp32_devkitc|rpi_pico|rpi_pico_w|vboard PORT=/dev/ttyUSB0
## [SETTINGS=my-settings.json]. BOARD is a name under boards/ or a path to a board file, checked first
## (tools/boardcheck.py). Only changed files are copied (compared with the board's own hashes).
BOARD ?= esp32_devkitc
flash: $(STAMP) $(MICRODOT)
	$(PY) -m tools.flash --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(SETTINGS),--settings $(SETTINGS))

## A MicroPython image with the charger frozen in (manifest.py), from a MicroPython source tree:
## make firmware BOARD=rpi_pico|esp32_devkitc MICROPYTHON=/path/to/micropython -> build/firmware/BOARD/
## (firmware.uf2 for the Pico; firmware.bin for the ESP32, which needs ESP-IDF's idf.py). docs/flashing.md
firmware: $(STAMP)
	$(PY) -m tools.firmware --board $(BOARD) $(if $(MICROPYTHON),--micropython $(MICROPYTHON))

## The virtual board (MicroPython unix port + mock machine): a tty at build/vboard/tty, TCP=PORT for socket://
## WEB=PORT: the firmware and its web page flashed, web_port set, the page at http://127.0.0.1:PORT/
vboard: $(STAMP) $(if $(WEB),$(MICRODOT))
	$(PY) -m tools.vboard $(if $(TCP),--tcp $(TCP)) $(if $(WEB),--web $(WEB)) $(if $(WEB_PASSWORD),--web-password $(WEB_PASSWORD))

## The emulated Raspberry Pi Pico (Node: rp2040js and uf2 as pinned in tools/rp2emu/package-lock.json).
## It boots ../shared/rp2/'s stock MicroPython image; `make rp2emu-run [TCP=PORT]` runs one with its
## USB serial at socket://127.0.0.1:PORT (then make flash BOARD=rpi_pico PORT=socket://127.0.0.1:PORT).
## IMAGE=build/firmware/rpi_pico/firmware.uf2 boots the frozen image of `make firmware` instead.
RP2EMU := tools/rp2emu/node_modules/.installed
$(RP2EMU): tools/rp2emu/package.json tools/rp2emu/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd tools/rp2emu && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	  else echo "missing: node and npm (the emulated Pico's tests will be skipped)"; fi

rp2emu: $(RP2EMU)

## The web page's browser test: playwright-core as pinned in tools/webtest/package-lock.json (Debian's
## chromium comes from make debs).
WEBTEST := tools/webtest/node_modules/.installed
$(WEBTEST): tools/webtest/package.json tools/webtest/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd tools/webtest && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	  else echo "missing: node and npm (the web page's browser test will be skipped)"; fi

browser: $(WEBTEST)

## A second central system for the OCPP tests: npm ocpp-rpc in strict mode (every frame checked by
## ajv against the official OCPP 1.6 schemas), as pinned in tools/ocpprpc/package-lock.json.
OCPPRPC := tools/ocpprpc/node_modules/.installed
$(OCPPRPC): tools/ocpprpc/package.json tools/ocpprpc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd tools/ocpprpc && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	  else echo "missing: node and npm (the test against ocpp-rpc will be skipped)"; fi

ocpprpc: $(OCPPRPC)

rp2emu-run: $(STAMP) $(RP2EMU)
	$(PY) -m tools.rp2emu $(if $(TCP),--tcp $(TCP)) $(if $(IMAGE),--image $(IMAGE)) --link build/rp2emu/tty

## MicroPython stubs, each port in its own directory (pyright's stubPath and typeshedPath).
STUBS := build/stubs
$(STUBS)/esp32/.installed: | $(STAMP)
	rm -rf $(STUBS)/esp32
	$(PY) -m pip install -q --target $(STUBS)/esp32 micropython-esp32-esp32-generic-stubs
	touch $@

$(STUBS)/rp2/.installed: | $(STAMP)
	rm -rf $(STUBS)/rp2
	$(PY) -m pip install -q --target $(STUBS)/rp2 micropython-rp2-rpi-pico-stubs
	touch $@

$(STUBS)/rp2w/.installed: | $(STAMP)
	rm -rf $(STUBS)/rp2w
	$(PY) -m pip install -q --target $(STUBS)/rp2w micropython-rp2-rpi-pico-w-stubs
	touch $@

stubs: $(STUBS)/esp32/.installed $(STUBS)/rp2/.installed $(STUBS)/rp2w/.installed

## firmware/ and boards/ against each port's API (tools/pyright/*.json); the board file is /board.py.
pyright: $(STAMP) stubs $(MICRODOT)
	mkdir -p build/pyright/esp32 build/pyright/rp2 build/pyright/rp2w
	cp boards/esp32_devkitc.py build/pyright/esp32/board.py
	cp boards/rpi_pico.py build/pyright/rp2/board.py
	$(PY) -m tools.boardcheck --source rpi_pico_w > build/pyright/rp2w/board.py
	$(VENV)/bin/pyright -p tools/pyright/esp32.json; a=$$?; \
	  $(VENV)/bin/pyright -p tools/pyright/rp2.json; b=$$?; \
	  $(VENV)/bin/pyright -p tools/pyright/rp2w.json; c=$$?; exit $$((a | b | c))

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
