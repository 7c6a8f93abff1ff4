# The pilot read at known phases of the PWM the firmware drives itself (rp2: the slice's counter).
# A blind burst must span a whole period to see both plateaus: about 60 reads a tick at 17 us each
# on the rp2 port, three times that for a short plateau. Here the PWM slice's counter (CHn_CTR) is
# read before and after each conversion: a sample counts for a plateau only when both readings lie
# inside it, past the edge's settling time, so no sample ever sits on an edge and a few per plateau
# suffice. Between the plateaus the loop only polls the counter (and serves the CT meter).
import time
from array import array

import machine
import micropython
from micropython import const

ticks_us = time.ticks_us
ticks_diff = time.ticks_diff

try:
    ptr16
except NameError:     # CPython: viper's casts are names only inside viper functions; an array indexes alike
    def ptr16(buf):
        return buf

    ptr32 = ptr16

SAMPLES = const(4)          # per plateau: the highest and lowest are dropped (one glitch each)
# Dropped extremes further than a level's noise from their plateau's middle pair, in one reading:
# a pilot whose samples glitch that often is wild even where the drop leaves a clean middle (half
# its samples wild, the middle of 4 read clean in most bursts); one glitch alone is dropped
_GLITCHES_WILD = const(2)
STRIDE_MAX = const(4)      # captured samples between two of a plateau (3 us each; pilot_dma.py)
SETTLE_US = const(13)      # facts 1: an edge settles within 13 us; nothing is sampled before
_MAX_PERIODS = const(3)     # a 40 us plateau (96 %) gives 1-2 samples a period on the rp2 port
_CT_ROUND_US = const(400)   # a CT meter's round on the rp2 port, with margin: taken in a wait only
                            # when it ends before the next window (a missed one costs a period)


def _ahead(c, hn, ln, cc, settle, steps):
    """Counts from c to the next window still wanted (0 when both are: an edge's settling)."""
    if hn >= SAMPLES:          # only the low plateau
        return cc + settle - c if c < cc + settle else 0
    if ln >= SAMPLES:          # only the high one: after the wrap
        return settle - c if c < settle else steps - c + settle
    return 0


class SideReads:
    """PP, temperature and contactor feedback, read once where the phased pilot read waits for
    its second plateau (it calls service() there, as it does a CT meter's; after it, if it had no
    such wait): about 0.2 ms of the Pico's tick no longer beside that wait. Here, not in hal.py:
    only a board whose pilot is read at known phases (rp2) loads it (0.5 KB of heap elsewhere)."""

    def __init__(self, hw):
        self.hw = hw
        self.m = None
        self.done = True

    def service(self):
        if not self.done:
            self.done = True
            self.hw.side_reads(self.m)


class PhaseSampler:
    """Each plateau's samples, then its sum, count, extremes, and how many samples sat on the
    wrong side of 0 V (noise across the middle, not a pilot)."""

    def __init__(self, adc, ctr_addr, zero, period_us, spread_max, k=1000):
        self._adc = adc
        self._ctr = ctr_addr       # a long int on a 32-bit port: made once, here
        self._period_us = period_us
        # What sums reads, in one array (an attribute each cost sums a lookup): the 0 V code, the
        # codes between a plateau's two middle samples at a level's most, uV per code
        self._c = array("i", (zero, spread_max, k))
        self._r = array("i", (0, 0, 0, 0))    # each plateau's samples across 0 V and wildness (_plateau)
        self.buf = array("H", bytes(4 * SAMPLES))     # high plateau, then low
        self.hn = self.ln = 0
        self.pos_mv = self.neg_mv = 0   # each plateau's mean less its extremes (one empty: the other's)
        self.mixed = 0
        self.wild = False          # a plateau's middle samples disagree: glitches, not a level

    @micropython.native
    def sample(self, cc, steps, ct):
        """A PWM high for counts [0, cc) of [0, steps): SAMPLES of each plateau, or what came
        within _MAX_PERIODS periods (a stuck counter: too few, the reading is not acted on)."""
        mem = machine.mem32
        addr = self._ctr
        adc = self._adc
        buf = self.buf
        settle = steps * SETTLE_US // self._period_us
        lo0 = cc + settle
        hn = ln = 0
        start = ticks_us()
        limit = _MAX_PERIODS * self._period_us
        ct_counts = steps * _CT_ROUND_US // self._period_us
        c0 = mem[addr]
        while hn < SAMPLES or ln < SAMPLES:
            if not ((hn < SAMPLES and settle <= c0 < cc) or (ln < SAMPLES and c0 >= lo0)):
                if ct is not None and _ahead(c0, hn, ln, cc, settle, steps) > ct_counts:
                    ct.service()      # a CT round (rate-limited by itself) only where it fits
                if ticks_diff(ticks_us(), start) > limit:
                    break
                c0 = mem[addr]
                continue
            v = adc.read_u16()
            c1 = mem[addr]
            if c1 < c0:               # the counter wrapped: a rising edge in between
                pass
            elif c0 >= lo0:
                buf[SAMPLES + ln] = v
                ln += 1
            elif c1 < cc:
                buf[hn] = v
                hn += 1
            c0 = c1
        self.hn = hn
        self.ln = ln
        self.sums()

    @micropython.viper
    def sums(self):
        """Each plateau's mV (one with no samples reads as the other), its samples on the wrong
        side of 0 V, and whether its samples are wild (_plateau). Attributes, nothing allocated.
        Viper: machine integers on the board (on the emulated Pico 180 -> 80 us with the call;
        native code was 1.6x faster than bytecode), the same arithmetic on CPython."""
        buf = self.buf
        c = self._c
        r = self._r
        hn = int(self.hn)
        ln = int(self.ln)
        pos = int(_plateau(buf, 0, hn, c, r, 0))
        neg = int(_plateau(buf, SAMPLES, ln, c, r, 2))
        p = ptr32(r)
        if not hn:
            pos = neg
        if not ln:
            neg = pos
        self.pos_mv = pos
        self.neg_mv = neg
        self.mixed = p[0] + p[2]
        self.wild = p[1] + p[3] >= _GLITCHES_WILD


@micropython.viper
def _plateau(src, off: int, n: int, consts, res, i: int) -> int:
    """A plateau's n samples from src[off] -> its mV: the mean less the highest and lowest once
    it has more than 3, less the 0 V code, times uV per code, floored (as the HAL's _plateaus
    reads a burst). Into res[i] its samples on its minority side of 0 V; into res[i + 1] how wild
    it is: _GLITCHES_WILD when its two middle samples (of 4: those left when the extremes are
    dropped) lie further apart than a level's noise, with b + c and b^2 + c^2 from the sums less
    the extremes, (c - b)^2 = 2 (b^2 + c^2) - (b + c)^2, on 12-bit codes; else 1 for each dropped
    extreme that far from the middle pair (two glitches in a reading make it wild). Returned, not
    stored: a ptr32's word reads back unsigned on a 64-bit port."""
    buf = ptr16(src)
    c = ptr32(consts)
    out = ptr32(res)
    zero = int(c[0])
    sm = int(c[1]) >> 4
    s = 0
    mx = 0
    up = 0
    t = 0
    q = 0
    mn = 65535
    for j in range(off, off + n):
        v = int(buf[j])
        s += v
        w = v >> 4
        t += w
        q += w * w
        if v > mx:
            mx = v
        if v < mn:
            mn = v
        if v > zero:
            up += 1
    if n > 3:
        s = (s - mx - mn) // (n - 2)
    elif n:
        s = s // n
    out[i] = up if up < n - up else n - up
    out[i + 1] = 0
    if n == SAMPLES:
        a = mn >> 4
        d = mx >> 4
        bc = t - a - d
        if 2 * (q - a * a - d * d) - bc * bc > sm * sm:
            out[i + 1] = _GLITCHES_WILD
        else:
            out[i + 1] = int(2 * d - bc > 2 * sm) + int(bc - 2 * a > 2 * sm)
    return (s - zero) * int(c[2]) // 1000 if n else 0


@micropython.viper
def collect(src, dst, off: int, x0: int, k: int, n: int, lo: int, hi: int, steps: int) -> int:
    """Up to SAMPLES of a capture src (12-bit codes) whose phase lies in [lo, hi) counts of the
    PWM's [0, steps) into dst[off:], as read_u16 gives them (scaled to 16 bits), spread over the
    window (a short glitch then meets one of them, as in the phased read). Sample i's phase is
    ((x0 + i * k) >> 8) % steps (k: counts per sample, x256). Returns how many. Between the
    windows it jumps, so a capture of a period costs a few steps (pilot_dma.py)."""
    sp = ptr16(src)
    dp = ptr16(dst)
    stride = (hi - lo) * 256 // k // SAMPLES
    if stride > STRIDE_MAX:   # a capture's spare samples hold what a start part-way spills
        stride = STRIDE_MAX
    if stride < 1:
        stride = 1
    i = 0
    got = 0
    while got < SAMPLES and i < n:
        p = ((x0 + i * k) >> 8) % steps
        if lo <= p and p < hi:
            v = int(sp[i])
            dp[off + got] = (v << 4) | (v >> 8)
            got += 1
            i += stride
        else:
            d = lo - p if p < lo else steps - p + lo
            i += (d * 256 + k - 1) // k
    return got
