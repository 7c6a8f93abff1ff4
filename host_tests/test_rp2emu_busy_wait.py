"""The emulator skips the turns of a time.sleep_us busy wait (emu.mjs skipBusyWait: a quarter of its
instructions in the library's scenarios were the CT meter's slices polling the timer) and the chip
does the same as when every turn runs: the same edges at the same microseconds.

Bench scenario: the stock MicroPython image at its REPL raises GP2, waits 900 us with
time.sleep_us (the port busy-waits below a millisecond), drops it, raises it again, waits 333 us,
drops it; once with the skip, once with
EVSE_RP2_NO_SKIP=1. No firmware needed."""
import pytest

from tools import rp2emu

WHY = rp2emu.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)

PIN = 2
AT_REPL_US = 1500000          # the stock image is at its REPL well before this (about 1 s)
SCRIPT = ("from machine import Pin;import time;p=Pin(%d,Pin.OUT);p(1);time.sleep_us(900);p(0);"
          "p(1);time.sleep_us(333);p(0)\r" % PIN)
EDGES = 6                     # Pin() (low), low, then high, low, high, low


def _edges():
    """GP2's edges (emulated us, level) and the turns the emulator skipped by the next tick."""
    link = rp2emu.Link(["--image", rp2emu.IMAGE, "--bootrom", rp2emu.BOOTROM])
    edges, skipped, sent = [], None, False
    try:
        assert link.next(rp2emu.READY_TIMEOUT_S)["ev"] == "ready"
        assert link.next(10)["ev"] == "boot"
        link.send({"tick_ms": rp2emu.TICK_MS, "watch": [PIN]})
        while True:
            link.send({"go": 1})
            ev = link.next(30)
            assert ev is not None, "the emulated Pico stopped answering"
            if ev["ev"] == "tick":
                skipped = ev["skipped"]
                if len(edges) == EDGES:              # the count at the tick after the script
                    break
                assert ev["t"] < 3 * AT_REPL_US, "the script did not run: %s" % edges
                if not sent and ev["t"] >= AT_REPL_US:
                    link.send({"serial": SCRIPT})     # at the instant the chip stands at
                    sent = True
            elif ev["ev"] == "out":
                edges.append((ev["t"], ev["v"]))
    finally:
        link.close()
    return edges, skipped


def test_a_sleep_us_busy_wait_skipped_gives_the_same_edges_as_every_turn_run(monkeypatch):
    fast, skipped = _edges()
    monkeypatch.setenv("EVSE_RP2_NO_SKIP", "1")
    slow, none = _edges()
    assert skipped > 2000 and none == 0, (skipped, none)
    assert fast == slow, (fast, slow)
    (up1, _), (down1, _), (up2, _), (down2, _) = fast[2:]
    assert [v for _, v in fast[2:]] == [1, 0, 1, 0], fast
    assert 900 <= down1 - up1 < 950 and 333 <= down2 - up2 < 383, fast
