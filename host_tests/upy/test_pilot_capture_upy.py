"""The Pico's captured pilot read (evse/shell/pilot_dma.py, pick; pilot_phase.collect and sums in
viper) under CPython and the MicroPython unix port, where the viper code is machine code as on the
board: from captures started at counter phases across a whole period and duties from 5 % to 96 %,
4 settled samples of each plateau and the right levels (in mV), with nothing allocated (the heap locked).
The Hypothesis sweep and the run on the emulated Pico are host_tests/test_pilot_capture.py."""

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from evse.shell import pilot_dma as PD, pilot_phase as PP
import micropython
import upytest
from pilot_fakes import HI, LO, PERIOD_US, STEPS, capture, u16


def test_captures_from_any_phase_give_four_settled_samples_of_each_plateau():
    n = PD.capture_len(PERIOD_US)
    s = PP.PhaseSampler(None, 0, u16(2048), PERIOD_US, 4000, 424)
    lock = getattr(micropython, "heap_lock", None)          # CPython's stand-in has none
    unlock = getattr(micropython, "heap_unlock", None)
    for duty in (50, 100, 533, 800, 960):
        cc = STEPS * duty // 1000
        for c0 in range(0, STEPS, 1499):
            src = capture(c0, cc, 1, n)
            if lock is not None:
                lock()
            try:
                PD.pick(s, src, n, c0, cc, STEPS, PERIOD_US)
            finally:
                if lock is not None:
                    unlock()
            assert (s.hn, s.ln) == (PP.SAMPLES, PP.SAMPLES), (duty, c0, s.hn, s.ln)
            assert list(s.buf) == [u16(HI)] * PP.SAMPLES + [u16(LO)] * PP.SAMPLES, (duty, c0, list(s.buf))
            assert s.mixed == 0 and not s.wild
            # each plateau in mV, floored as Python floors (the negative one too, in viper)
            assert (s.pos_mv, s.neg_mv) == ((u16(HI) - u16(2048)) * 424 // 1000,
                                            (u16(LO) - u16(2048)) * 424 // 1000), (s.pos_mv, s.neg_mv)


if __name__ == "__main__":
    upytest.run(globals())
