"""The boot path's heap on the MicroPython unix port (docs/design.md, "Memory"), against what a
fifth audit found: code loaded at every boot that a charger runs once or not at all. The figure
itself is test_boot_heap_upy.py's; here, what is loaded and what is not, in a fresh interpreter."""
import sys

from tools.sim import mock_machine as mm
mm.install()
from tools.sim.drive import Drive  # noqa: E402

import upytest  # noqa: E402


def test_a_charger_without_a_meter_loads_no_session_ring_nor_keeps_its_start_up_code():
    """The owner's charger with no meter: the session records' ring (1.9 KB of heap) is never
    loaded, and the code that started the services (none here) is gone once it has run. (Run
    first in its interpreter: under pytest another file may have loaded the ring before.)"""
    before = "evse.shell.ring" in sys.modules
    d = Drive(config={"max_current": 32})
    d.run(0.5).charge(amps=16).run(2.0)
    assert d.state == "C2" and d.coil == 1
    assert before or "evse.shell.ring" not in sys.modules
    assert "evse.startup" not in sys.modules
    assert d.app.sessions() == []


def test_the_same_charger_with_a_ct_meter_loads_the_ring_and_records_its_session():
    """The same charger with a CT meter: the ring is loaded with the meter, at boot, and the
    session is recorded when the car leaves."""
    d = Drive(config={"max_current": 32, "meter": "ct"})
    d.run(0.5)
    assert "evse.shell.ring" in sys.modules
    assert "evse.startup" not in sys.modules
    d.charge(amps=16).run(5.0)
    assert d.state == "C2" and d.coil == 1
    d.unplug()
    d.run(1.0)
    recs = d.app.sessions()
    assert len(recs) == 1, recs


if __name__ == "__main__":
    upytest.run(globals())
