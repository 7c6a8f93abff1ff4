"""The emulated Pico and its controller go in lockstep: the chip stops at each event (a 10 ms tick,
an output's edge, a bench command's instant) and runs again only on the controller's "go" for that
event, so what the controller changes in the world applies at that instant, on every run alike.

Found on the Pico's C->B sweep: a bench command's instant that fell on a tick gave two events in one
step of the chip. Both went out at once, the "go" for the first let the chip run on, and the "go"
for the second arrived while it ran and released the next stop too: from then on every change of
the world applied one event late, at a moment that depended on the host's load (openings of 19-24
ms instead of 6-15 ms in some runs from a kept flash, never from a fresh one). Now the second event
waits in the emulator until the first is answered.

Drives emu.mjs by its line protocol (tools/rp2emu/__init__.py is its controller), on the stock
MicroPython image at its REPL: no firmware needed."""
import pytest

from tools import rp2emu

WHY = rp2emu.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)

QUIET_S = 0.3            # no event may come in this long while the controller has not answered


def test_two_events_of_one_step_reach_the_controller_one_at_a_time():
    link = rp2emu.Link(["--image", rp2emu.IMAGE, "--bootrom", rp2emu.BOOTROM])
    try:
        assert link.next(rp2emu.READY_TIMEOUT_S)["ev"] == "ready"
        assert link.next(10)["ev"] == "boot"
        link.send({"tick_ms": rp2emu.TICK_MS})
        link.send({"go": 1})
        first = link.next(30)
        assert first["ev"] == "tick", first
        at = first["t"] + 5 * rp2emu.TICK_MS * 1000          # the fifth tick from here: one step
        link.send({"at": at})
        seen = []
        while len(seen) < 8:
            link.send({"go": 1})
            ev = link.next(30)
            assert ev is not None, "no event after a go"
            seen.append((ev["t"], ev["ev"]))
            extra = link.next(QUIET_S)
            assert extra is None, "the chip ran on without our answer to %s: %s" % (seen[-1], extra)
        assert (at, "at") in seen and (at, "tick") in seen, seen
        assert [t for t, _ in seen] == sorted(t for t, _ in seen), seen
    finally:
        link.close()
