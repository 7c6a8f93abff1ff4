"""The Pico's pilot as its ADC and DMA capture it (evse/shell/pilot_dma.py), for the capture's tests
on both interpreters: host_tests/upy/test_pilot_capture_upy.py on the MicroPython unix port (which
finds this folder on its path; the mock machine installed first) and host_tests/test_pilot_capture.py
under pytest (conftest.py puts it on the path)."""
from array import array

from evse.shell.pilot_dma import SAMPLE_US

STEPS = 64516          # TOP + 1 on the rp2 port at 125 MHz
PERIOD_US = 1000
HI, LO = 3129, 33      # 12-bit codes of +9 V and -12 V through the Pico's front end


def capture(c0, cc, start_us, n):
    """What the ADC writes: sample i at start_us + 3 i us after the counter read c0; an edge ramps
    over 13 us (facts 1) from one level to the other."""
    out = array("H", bytes(2 * n))
    t_fall = cc * PERIOD_US / STEPS
    for i in range(n):
        t = (c0 * PERIOD_US / STEPS + start_us + i * SAMPLE_US) % PERIOD_US
        if t < 13:                                     # rising edge at the wrap
            v = LO + (HI - LO) * t / 13
        elif t < t_fall:
            v = HI
        elif t < t_fall + 13:
            v = HI - (HI - LO) * (t - t_fall) / 13
        else:
            v = LO
        out[i] = int(v)
    return out


def u16(code):
    """A 12-bit ADC code as read_u16 gives it."""
    return (code << 4) | (code >> 8)
