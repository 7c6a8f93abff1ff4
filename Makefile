# Two commands from a fresh clone: `make sim` and `make test`. Everything else is installed here.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/firmware:$(CURDIR):$(CURDIR)/tools/hostlib

.PHONY: all sim test test-py test-upy test-mpy bench venv sigrok clean

all: test

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# sigrok-cli is a Debian package: the analyzer and bench tests run the real one.
sigrok:
	@command -v sigrok-cli >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sigrok-cli >/dev/null; \
	  else echo "sigrok-cli missing: sudo apt-get install sigrok-cli (its tests will be skipped)"; fi; }

## The firmware on the virtual bench with a default vehicle: plug in, charge, unplug.
sim: $(STAMP)
	$(PY) -m tools.sim

## Every test: CPython, the MicroPython unix port, mpy-cross for both board architectures.
test: $(STAMP) sigrok test-py test-upy test-mpy

test-py: $(STAMP)
	$(PY) -m pytest -q host_tests

test-upy: $(STAMP)
	$(PY) -m tools.upy_tests

test-mpy: $(STAMP)
	$(PY) -m tools.mpy_build --check

## Figures, not pass/fail: latencies, CPU per tick, heap, .mpy sizes, simulation and analyzer speed.
bench: $(STAMP) sigrok
	$(PY) -m tools.benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
