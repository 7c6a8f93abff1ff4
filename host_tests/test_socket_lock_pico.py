"""The plug lock's drive on the real rp2 port (MicroPython v1.28.0 in the emulated RP2040): a drive
started by a tick ends LOCK_PULSE_MS later even while one long call in C holds the interpreter
(tools/rp2emu/lockhold.py): the driver's one-shot timer is a hard interrupt on this port."""
import pytest

from evse.core import limits as L
from tools import rp2emu

WHY = rp2emu.missing()


@pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)
def test_a_lock_drive_ends_on_time_inside_a_long_call_in_c_on_the_real_port():
    """The bolt driven in, then 1.7 s of big-number pow() (as mbedtls's key exchange: no tick, no
    soft timer runs): the lock pin falls LOCK_PULSE_MS after it rose, inside the call; the
    unlock pin never rises. Before, it stayed high until the call returned and the next tick."""
    from tools.rp2emu import lockhold
    r = lockhold.run()
    lock, unlock = lockhold.LOCK_PINS
    ups = [t for p, lv, t in r["edges"] if p == lock and lv == 1]
    downs = [t for p, lv, t in r["edges"] if p == lock and lv == 0 and ups and t > ups[0]]
    mark_up = [t for p, lv, t in r["edges"] if p == lockhold.MARK and lv == 1]
    mark_down = [t for p, lv, t in r["edges"] if p == lockhold.MARK and lv == 0]
    assert ups and downs and mark_up and mark_down, r["edges"]
    pulse_ms = (downs[0] - ups[0]) / 1000
    print("drive %.1f ms; the hold %.2f s" % (pulse_ms, (mark_down[-1] - mark_up[0]) / 1e6))
    assert L.LOCK_PULSE_MS <= pulse_ms <= L.LOCK_PULSE_MS + 5, pulse_ms
    assert mark_up[0] < downs[0] < mark_down[-1]            # inside the call in C
    assert not [t for p, lv, t in r["edges"] if p == unlock and lv == 1]
    assert r["hard"], r["out"]
