"""The simulated bench, host only (CPython and the MicroPython unix port): the mock `machine` and
the world behind its pins (mock_machine/), the firmware on virtual time (rig.py), the test driver
(drive.py), the bench's runtime and traces (bench/), the bench vehicle on mock pins
(virtual_vehicle.py) and the latency sweep (latency.py). `python -m tools.sim` is `make sim`.

Nothing here installs itself on import: `mock_machine.install()` (which Rig() calls) puts the mock
in sys.modules as `machine`."""
