"""The pilot captured by the ADC and DMA before the tick (evse/shell/pilot_dma.py): the samples it
takes are plateau samples, on the host's arithmetic and on the real rp2 port.

Bench scenario, host: a 1 kHz PWM of any duty from 5 % to 96 %, sampled every 3 us from any phase of
its counter, with the edges' 13 us ramps; `collect` must take only samples inside a plateau, past the
edge's settling and not at the next edge, and 4 of each plateau from one capture.

Bench scenario, emulated Pico (stock MicroPython v1.28.0): the shell's modules as `make flash`
compiles them; a car in B then C at 6, 16, 32, 48 and 70 A. Each capture is started, the script
sleeps as the loop does, and the capture's reading is compared with the phased read's, taken right
after it from the same pilot; then a capture too old, one of another duty and one read before it
has finished."""
import subprocess
import sys
from array import array

import pytest
from hypothesis import example, given, settings, strategies as st

from tools import rp2emu
from evse.shell import pilot_dma as PD, pilot_phase as PP
from pilot_fakes import HI, LO, PERIOD_US, STEPS, capture as _capture, u16 as _u16

SAMPLE_US = PD.SAMPLE_US


def _pick(src, c0, cc, n):
    s = PP.PhaseSampler(None, 0, _u16(2048), PERIOD_US, 4000)
    PD.pick(s, src, n, c0, cc, STEPS, PERIOD_US)
    return s.hn, s.ln, s.buf


@settings(max_examples=400, deadline=None)
@given(c0=st.integers(0, STEPS - 1), duty=st.integers(50, 960), start_us=st.floats(0.0, 1.0))
@example(c0=35792, duty=533, start_us=1.0)       # a capture started just past the falling edge
@example(c0=64500, duty=960, start_us=0.0)       # the shortest low plateau, right before the wrap
@example(c0=0, duty=50, start_us=0.0)            # the shortest high plateau, from its edge
def test_a_capture_gives_four_settled_samples_of_each_plateau(c0, duty, start_us):
    cc = STEPS * duty // 1000
    n = PD.capture_len(PERIOD_US)
    hn, ln, dst = _pick(_capture(c0, cc, start_us, n), c0, cc, n)
    assert (hn, ln) == (PP.SAMPLES, PP.SAMPLES)
    assert list(dst) == [_u16(HI)] * PP.SAMPLES + [_u16(LO)] * PP.SAMPLES


def test_a_short_glitch_meets_one_sample_of_a_plateau():
    """The samples are spread over the plateau's window (12 us apart at most duties), as the
    phased read's are: a 9 us glitch right where the high plateau's window opens is one sample of
    four, which the read drops as an extreme."""
    cc = STEPS * 533 // 1000
    n = PD.capture_len(PERIOD_US)
    src = _capture(0, cc, 0.0, n)
    for i in range(n):
        if 14 <= i * SAMPLE_US < 23:
            src[i] = 0                     # a spike to -12 V and below, 9 us long
    hn, ln, dst = _pick(src, 0, cc, n)
    assert hn == PP.SAMPLES and list(dst[:PP.SAMPLES]).count(0) == 1, list(dst[:PP.SAMPLES])


def test_the_sums_of_a_capture_are_the_phased_reads_sums():
    """The sampler's plateaus from captured samples, glitch and spread checks included: each
    plateau's extremes dropped (a glitch to 3000 on the low one among them)."""
    s = PP.PhaseSampler(None, 0, _u16(2048), PERIOD_US, 4000, 1000)
    s.buf[:] = array("H", [_u16(v) for v in (HI, HI + 8, HI - 8, HI, LO, LO, 3000, LO)])
    s.hn = s.ln = PP.SAMPLES
    s.sums()
    assert (s.pos_mv, s.neg_mv) == (_u16(HI) - _u16(2048), _u16(LO) - _u16(2048))
    assert s.mixed == 1 and not s.wild           # one glitch across 0 V; the middle two agree


def test_a_plateau_with_no_samples_reads_as_the_other():
    s = PP.PhaseSampler(None, 0, _u16(2048), PERIOD_US, 4000, 1000)
    s.buf[:] = array("H", [_u16(v) for v in (HI, HI, 0, 0, LO, LO, LO, LO)])
    s.hn, s.ln = 0, PP.SAMPLES
    s.sums()
    assert s.pos_mv == s.neg_mv == _u16(LO) - _u16(2048)
    s.hn, s.ln = 2, 0
    s.sums()
    assert s.pos_mv == s.neg_mv == _u16(HI) - _u16(2048)


@settings(max_examples=300, deadline=None)
@given(hi=st.lists(st.integers(0, 4095), min_size=1, max_size=PP.SAMPLES),
       lo=st.lists(st.integers(0, 4095), min_size=1, max_size=PP.SAMPLES),
       k=st.integers(1, 2000), zero=st.integers(0, 65535))
def test_the_sums_give_each_plateaus_millivolts(hi, lo, k, zero):
    """Each plateau's mV from its samples: the mean less the highest and lowest once there are 4,
    less the 0 V code, times uV per code, floored (the HAL's reading of a burst, hal._plateaus)."""
    s = PP.PhaseSampler(None, 0, zero, PERIOD_US, 4000, k)
    s.buf[:] = array("H", [_u16(v) for v in (hi + [0] * (PP.SAMPLES - len(hi)) + lo
                                             + [0] * (PP.SAMPLES - len(lo)))])
    s.hn, s.ln = len(hi), len(lo)
    s.sums()

    def mv(codes):
        u = sorted(_u16(c) for c in codes)
        if len(u) > 3:
            u = u[1:-1]
        return (sum(u) // len(u) - zero) * k // 1000
    assert (s.pos_mv, s.neg_mv) == (mv(hi), mv(lo))


SCRIPT = r"""
import machine, time, board
from evse.core import limits as L
from evse.shell import hal

class M:
    pass

hw = hal.Hardware(board)
cap = hw.capture
print("CAPTURE", cap is not None)

def pair():
    used = cap.used
    a = M()
    hw.measure(a)                 # the tick's read: the capture when it is there to take
    b = M()
    hw.sample_pilot(b, False)     # the phased read, on the same pilot
    c = M()
    hw.side_reads(c)              # PP, temperature, feedback through read_u16 and Pin.value
    print("SIDE", a.pp_ohms, c.pp_ohms, a.temp_c, c.temp_c, a.feedback, c.feedback)
    return cap.used - used, a, b

def dropped_by_measure():
    d = cap.dropped
    hw.measure(M())
    return cap.dropped - d

mark = machine.Pin(6, machine.Pin.OUT, value=0)
for car in (0, 1):
    mark.value(car)               # the host sets the car: B, then C
    time.sleep_ms(20)
    for amps in (60, 160, 320, 480, 700):
        hw.set_pilot(L.PILOT_PWM, amps)
        hw.kick_pilot()           # a changed duty: the old one runs until the counter wraps
        print("SOON", int(cap.armed))
        time.sleep_ms(3)
        for k in range(4):
            time.sleep_us(137 * k + 50 * amps % 1000)     # captures from other phases
            hw.kick_pilot()
            time.sleep_ms(2)
            used, a, b = pair()
            print("PAIR", car, amps, used, int(a.pilot_ok), a.pilot_pos, a.pilot_neg,
                  int(b.pilot_ok), b.pilot_pos, b.pilot_neg)
hw.kick_pilot()
time.sleep_ms(6)
print("OLD", dropped_by_measure())
hw.kick_pilot()
hw.set_pilot(L.PILOT_PWM, 200)
print("OTHER", dropped_by_measure())
time.sleep_ms(3)
hw.kick_pilot()                   # the first kick after a change only notes the new duty
print("NOTED", int(cap.armed))
hw.kick_pilot()
used, a, b = pair()
print("EARLY", used, int(a.pilot_ok), a.pilot_pos, b.pilot_pos)
hw.set_pilot(L.PILOT_X1, 0)
print("X1", int(hw.capture_wanted))
print("COUNTS", cap.used, cap.dropped)
"""


def _run_on_pico(script, car_pin=None):
    """script run by mpremote on an emulated Pico with the shell's modules and a car in B; writing
    car_pin high or low puts the car in C or B."""
    from tools.rp2emu import hold
    from tools.sim import mock_machine as mm
    board = rp2emu.load_board("rpi_pico")
    with rp2emu.Pico(board, realtime=True) as pico:
        w = pico.world
        w.plugged, w.pp_ohms, w.ev_ohms = True, 150, 2740      # B
        w.recompute()
        pico.push()
        pico.pump(emu_s=1.0, wall_s=120)
        hold.install(pico)
        pico.realtime(False)
        if car_pin is not None:
            pico.watch([car_pin])

        def car(pin, level):
            if pin == car_pin:
                w.ev_ohms = 882 if level else 2740             # C, B
                w.recompute()
                pico.push()
        mm.output_hooks.append(car)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", script],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            assert pico.pump(until=lambda: proc.poll() is not None, wall_s=600), "mpremote hung"
        finally:
            mm.output_hooks.remove(car)
        out = proc.stdout.read().decode()
    assert proc.returncode == 0, out
    return out


@pytest.mark.skipif(rp2emu.missing() is not None, reason="emulated Pico: %s" % rp2emu.missing())
def test_the_capture_reads_the_pilot_as_the_phased_read_on_the_emulated_pico():
    out = _run_on_pico(SCRIPT, car_pin=6)
    lines = dict((x.split()[0], x.split()[1:]) for x in out.splitlines()
                 if x and x.split()[0] not in ("PAIR", "SOON", "SIDE"))
    assert [x for x in out.splitlines() if x.startswith("SOON")] == ["SOON 0"] * 10, out
    assert lines["CAPTURE"] == ["True"], out
    pairs = [list(map(int, x.split()[1:])) for x in out.splitlines() if x.startswith("PAIR")]
    assert len(pairs) == 40
    for car_c, amps, ok, a_ok, a_pos, a_neg, b_ok, b_pos, b_neg in pairs:
        assert ok and a_ok and b_ok, (car_c, amps)
        want = 6000 if car_c else 9000                           # C 6 V, B 9 V
        assert abs(a_pos - want) < 400 and abs(a_pos - b_pos) < 300, (car_c, amps, a_pos, b_pos)
        assert abs(a_neg + 12000) < 400 and abs(a_neg - b_neg) < 300, (car_c, amps, a_neg, b_neg)
    assert lines["OLD"] == ["1"] and lines["OTHER"] == ["1"], out      # too old, another duty
    assert lines["NOTED"] == ["0"], out
    early = list(map(int, lines["EARLY"]))
    assert early[0] == 1 and early[1] == 1 and abs(early[2] - early[3]) < 300, out   # waited for it
    assert lines["X1"] == ["0"], out                             # no PWM: nothing to capture
    assert list(map(int, lines["COUNTS"])) == [41, 2], out
    # The side readings the capture's end took, in machine code, read as read_u16 and Pin.value
    # read them: the PP's 150 Ohm, the temperature and the feedback alike
    side = [x.split()[1:] for x in out.splitlines() if x.startswith("SIDE")]
    assert len(side) == 41, out
    for pp_a, pp_c, t_a, t_c, fb_a, fb_c in side:
        assert abs(int(pp_a) - int(pp_c)) <= 2 and abs(int(pp_c) - 150) < 15, side
        assert fb_a == fb_c, side
    # the temperature: one conversion each, 0.47 C a code, the emulated ADC's 2 codes RMS of noise
    t_a = [int(t) for _, _, t, _, _, _ in side]
    t_c = [int(t) for _, _, _, t, _, _ in side]
    assert abs(sum(t_a) / len(t_a) - 25) < 1.5 and abs(sum(t_c) / len(t_c) - 25) < 1.5, side


NO_DMA = r"""
import rp2, time, board
from evse.core import limits as L
from evse.shell import hal

class M:
    pass

taken = []
while True:                       # every channel claimed, as other code on a board may
    try:
        taken.append(rp2.DMA())
    except Exception:
        break
print("CHANNELS", len(taken))
hw = hal.Hardware(board)
print("CAPTURE", hw.capture is not None)
hw.set_pilot(L.PILOT_PWM, 160)
print("WANTED", int(hw.capture_wanted))
time.sleep_ms(3)
for k in range(3):
    hw.kick_pilot()               # what the loop does: nothing to start
    time.sleep_ms(2)
    m = M()
    hw.measure(m)                 # the phased read
    print("READ", int(m.pilot_ok), m.pilot_pos, m.pilot_neg)
"""


@pytest.mark.skipif(rp2emu.missing() is not None, reason="emulated Pico: %s" % rp2emu.missing())
def test_a_pico_with_no_free_dma_channel_boots_and_reads_the_pilot_itself():
    out = _run_on_pico(NO_DMA)
    lines = [x.split() for x in out.splitlines() if x]
    assert ["CHANNELS", "12"] in lines, out                      # the RP2040 has 12
    assert ["CAPTURE", "False"] in lines and ["WANTED", "0"] in lines, out
    reads = [list(map(int, x[1:])) for x in lines if x[0] == "READ"]
    assert len(reads) == 3, out
    for ok, pos, neg in reads:
        assert ok and abs(pos - 9000) < 400 and abs(neg + 12000) < 400, out   # B: 9 V / -12 V
