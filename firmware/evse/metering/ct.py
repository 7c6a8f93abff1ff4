"""Current transformers on ADC pins: true RMS over whole mains cycles, 1-3 phases.

Front end (docs/metering.md): CT secondary across a burden resistor, one end biased to mid-rail,
so the ADC sees bias +- I * burden / ratio. Each due poll takes one burst: `cycles` whole mains
cycles, `spc` rounds per cycle, every channel read once per round (interleaved), into a
preallocated array('H'). Sample times are spread over exactly cycles * period with integer math,
so the window holds whole cycles and every harmonic below spc/2 is measured exactly.

Per channel, integer sums of (x - offset) and (x - offset)^2; the RMS is taken about the burst's
own mean, which over whole cycles is the DC bias (CTs carry no DC). The tracked offset (slow IIR
of the mean, fixed point) keeps the samples centred so the sum of squares stays a small int on a
32-bit board (no heap), and flags a broken bias network.
The window's results are integers too (mA, mV, mW: `ma`, `mv`, `power_mw`), from an integer
square root and fixed-point calibration factors made once at start: a window allocates nothing
(a float is a heap object on the boards). `amps`, `volts`, `power_w` are floats made on reading,
for people and tests. Every intermediate stays under 2^30 (a small int on a 32-bit board) for
any signal short of clipping; see rms_scaled() and _channel_timed().
Mains frequency: `mains_hz` 50 or 60, or 0 to detect it once from rising zero crossings.
Voltage: an optional ADC channel (RMS, `volts_per_count`), else the nominal voltage.
Power: one phase with the voltage channel, the active power (the mean of v x i over the window,
from the covariance of the two channels: power factor and harmonics counted as a billing meter
does, IEC 62053-21); otherwise V x I per phase (the nominal voltage without a voltage channel; one
voltage channel says nothing of the other phases' angle): EV chargers have PFC, power factor
> 0.98, see docs/metering.md.

Sliced mode (slice_us > 0, what the firmware uses): a burst never blocks the control loop. Each
poll samples only until `deadline_us` (the shell sets it just before the next control tick) or
for slice_us; the shell also calls `service()` from inside its control tick (between chunks of
the pilot burst), so samples are never more than about one slot apart. Each round is
time-stamped, and the RMS is the time-weighted (trapezoid) integral over exactly one mains
period: exact on any grid with gaps under a slot, shown by host_tests/test_meter_integration.py.
"""
import math
from array import array

from ..core.limits import METER_MAX_A, METER_MAX_V
from .energy import MilliUnits
from ..core.ticks import ticks_diff

ADC_SHIFT = 4                  # read_u16() is 16-bit; boards have 12-bit converters
ADC_COUNTS = 4096
ADC_MID = ADC_COUNTS // 2
ADC_CLIP_LOW = 2               # a sample at the rails means the signal is clipped
ADC_CLIP_HIGH = ADC_COUNTS - 3
MAX_ROUNDS = 240               # samples per channel: 240 * 2048^2 < 2^30 keeps sums small ints
DEFAULT_SPC = 40               # rounds per mains cycle
DEFAULT_CYCLES = 1
DEFAULT_INTERVAL_MS = 500      # one burst (one cycle: 20 ms at 50 Hz) every half second
OFFSET_FRAC_BITS = 8           # offset kept in 1/256 count
OFFSET_IIR_SHIFT = 3           # offset follows the burst mean with a time constant of 8 bursts
BIAS_MIN = ADC_COUNTS // 4     # bias outside a quarter..three quarters of the range: wiring fault
BIAS_MAX = 3 * ADC_COUNTS // 4
DETECT_SPAN_US = 100000        # frequency detection window: 5 cycles at 50 Hz, 6 at 60 Hz
DETECT_MIN_COUNTS = 12         # RMS (counts) needed to trust zero crossings (~0.9 A at defaults)
DETECT_HYST = 6                # counts of hysteresis around the mean for a zero crossing
HZ_50_60_SPLIT = 55            # detected frequency below: 50 Hz grid, above: 60 Hz
WMS2_PER_MWH = 7200           # 1 mWh = 3600 W*ms; energy is summed as 2 x W*ms (trapezoid)
T_BITS = 12                    # timed windows: sample times in 1/4096 of the window
MS_FRAC = 8                    # mean squares in 1/256 count^2
CAL_MAX = 1 << 15              # fixed-point factors below 2^15: a 14-bit root times one < 2^29
SLOT_MIN_NUM = 3               # service() samples once 3/4 of a slot has passed since the last one
SLOT_MIN_DEN = 4
MAX_GAP_SLOTS = 3              # a gap over 3 slots (GC, a slow service): the burst is retaken
BURST_TIMEOUT_MS = 200         # a sliced burst still open this long after its window: retaken
STARVED_MAX = 8                # that many retaken bursts in a row: blind (ok=False)
CREEP_COUNTS = 6               # a phase under this RMS (counts; 0.44 A at the defaults) counts no power: ADC
CREEP_VAR = (CREEP_COUNTS * CREEP_COUNTS) << MS_FRAC   # noise with no load is no energy (IEC 62053-21 no-load test)
PF_BITS = 14                   # active / apparent power in 1/2^14 (one phase and the voltage channel)
PF_ONE = 1 << PF_BITS


def amps_per_count(ratio, burden_ohms, vref, cal=1.0):
    """Primary amps per ADC count for a CT of `ratio` turns across `burden_ohms`, ADC full scale vref."""
    return ratio / burden_ohms * vref / ADC_COUNTS * cal


def sample_burst(adcs, buf, rounds, span_us, ticks_us, diff=ticks_diff):
    """Fill buf[0:rounds*len(adcs)] with 12-bit readings, round r taken at t0 + r*span_us/rounds.
    Allocation-free: integer targets, busy wait on the tick counter."""
    i = 0
    t0 = ticks_us()
    for r in range(rounds):
        target = t0 + (r * span_us) // rounds
        while diff(ticks_us(), target) < 0:
            pass
        for a in adcs:
            buf[i] = a.read_u16() >> ADC_SHIFT
            i += 1
    return i


def channel_sums(buf, stride, first, rounds, ref, out):
    """out[0:4] = sum of d, sum of d*d, min, max, with d = sample - ref, for one interleaved
    channel. Fills a caller's list rather than returning a tuple: no allocation."""
    s1 = 0
    s2 = 0
    lo = ADC_COUNTS
    hi = -1
    i = first
    end = first + rounds * stride
    while i < end:
        x = buf[i]
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        d = x - ref
        s1 += d
        s2 += d * d
        i += stride
    out[0] = s1
    out[1] = s2
    out[2] = lo
    out[3] = hi


def rms_from_sums(s1, s2, n):
    """RMS about the mean of n samples, in counts (float; mains detection only, once)."""
    m = s1 / n
    v = s2 / n - m * m
    return math.sqrt(v) if v > 0 else 0.0


def fixed(x):
    """(k, shift) with x ~ k / 2^shift and k < CAL_MAX: a calibration factor in small ints.
    Float work, once at start. NaN, inf, negative or absurd: k = -1, every reading implausible."""
    if not 0 <= x <= 1e12:
        return -1, 0
    shift = 0
    while shift < 30 and x * (1 << (shift + 1)) < CAL_MAX:
        shift += 1
    return int(x * (1 << shift) + 0.5), shift


def rms_scaled(v, k, shift):
    """round(sqrt(v / 256) * k / 2^shift): an RMS from a variance in 1/256 count^2 (< 2^30), times
    a fixed-point factor. v is brought to [2^26, 2^28) by factors of 4 first, so the root has 14
    significant bits at any level and the product stays under 2^29."""
    if v <= 0:
        return 0
    s = MS_FRAC // 2 + shift
    while v < (1 << 26):
        v <<= 2
        s += 1
    while v >= (1 << 28):
        v >>= 2
        s -= 1
    x = 1 << 14                     # above the root of v < 2^28: Newton from there, floor(sqrt)
    y = (x + v // x) >> 1
    while y < x:
        x = y
        y = (x + v // x) >> 1
    r = x * k
    return (r + (1 << (s - 1))) >> s if s > 0 else r << -s


def variance(m256, ms256):
    """ms - m^2 in 1/256 count^2, from the mean (1/256 count) and the mean square (1/256 count^2).
    The tracked offset keeps the mean within a few counts: squared exactly while |m| < 64."""
    if -(1 << 14) < m256 < (1 << 14):
        return ms256 - ((m256 * m256) >> 8)
    m16 = m256 >> 4
    return ms256 - m16 * m16


def cross_sums(buf, stride, ci, cv, rounds, ri, rv, out):
    """out[0:3] = sums of di, dv and di*dv over the rounds of two interleaved channels, with
    di = current sample - ri, dv = voltage sample - rv. No allocation."""
    si = 0
    sv = 0
    sp = 0
    i = 0
    end = rounds * stride
    while i < end:
        di = buf[i + ci] - ri
        dv = buf[i + cv] - rv
        si += di
        sv += dv
        sp += di * dv
        i += stride
    out[0] = si
    out[1] = sv
    out[2] = sp


def covariance(mi256, mv256, mp256):
    """E[di dv] - E[di] E[dv] in 1/256 count^2 from the means (1/256 count) and the mean product:
    the mean of v(t) x i(t) about the biases (as variance())."""
    if -(1 << 14) < mi256 < (1 << 14) and -(1 << 14) < mv256 < (1 << 14):
        return mp256 - ((mi256 * mv256) >> 8)
    return mp256 - (mi256 >> 4) * (mv256 >> 4)


def ratio_q14(num, den):
    """num / den in 1/2^14, within +-1 (num is a covariance, den the product of the two RMS:
    Cauchy-Schwarz), 0 for den <= 0. den is brought to 15 bits first: small ints."""
    if den <= 0:
        return 0
    while den >= (1 << 15):
        den >>= 1
        num >>= 1
    r = (num << PF_BITS) // den
    return PF_ONE if r > PF_ONE else (-PF_ONE if r < -PF_ONE else r)


def scale_q14(p, f):
    """p * f / 2^14 for 0 <= p < 2^28 (mW), 0 <= f <= 2^14, in small ints (split at bit 14)."""
    return (p >> PF_BITS) * f + (((p & (PF_ONE - 1)) * f) >> PF_BITS)


def rising_crossings(buf, stride, first, rounds, mid, hyst):
    """(count, first index, last index) of rising crossings through mid, with hysteresis."""
    count = 0
    first_at = last_at = -1
    armed = False
    for r in range(rounds):
        x = buf[first + r * stride]
        if x < mid - hyst:
            armed = True
        elif armed and x >= mid:
            armed = False
            if count == 0:
                first_at = r
            last_at = r
            count += 1
    return count, first_at, last_at


class CtMeter(MilliUnits):
    """Source object for the meter service: `poll(now_ms)` -> True when new figures are out.

    adcs: 1-3 ADC-like objects (read_u16) for the phase CTs; vadc: optional ADC for mains voltage.
    """

    def __init__(self, adcs, ticks_us, amps_per_count_list, vadc=None, volts_per_count=0.0,
                 nominal_volts=230.0, mains_hz=50, spc=DEFAULT_SPC, cycles=DEFAULT_CYCLES,
                 interval_ms=DEFAULT_INTERVAL_MS, diff=ticks_diff, slice_us=0, sleep_us=None):
        if not 1 <= len(adcs) <= 3:
            raise ValueError("ct: 1 to 3 current channels")
        if mains_hz not in (0, 50, 60):
            raise ValueError("ct: mains_hz must be 50, 60 or 0 (detect)")
        self._chans = tuple(adcs) + ((vadc,) if vadc is not None else ())
        self.phases = len(adcs)
        self._has_v = vadc is not None
        self._ka = [fixed(a * 1000) for a in amps_per_count_list]      # mA per count
        self._kv = fixed(volts_per_count * 1000)                       # mV per count
        self._nominal_mv = int(nominal_volts * 1000 + 0.5) if 0 <= nominal_volts <= 1e6 else -1
        self._ticks_us = ticks_us
        self._diff = diff
        self.mains_hz = mains_hz if mains_hz else 50
        self.hz_detected = mains_hz != 0
        self._cycles = cycles
        self.interval_ms = interval_ms
        self._rounds = min(spc * cycles, MAX_ROUNDS)
        detect_rounds = MAX_ROUNDS
        self._buf = array("H", bytes(2 * max(self._rounds * len(self._chans), detect_rounds)))
        self._offset_q = [ADC_MID << OFFSET_FRAC_BITS] * len(self._chans)
        self._seeded = [False] * len(self._chans)
        self._sums = [0, 0, 0, 0]
        self.ma = [0] * self.phases                      # the window's results, small ints
        self.mv = [self._nominal_mv] * self.phases
        self.power_mw = 0
        self.ok = True
        self.error = None
        self._err = None            # the window's error so far (set by the channel functions)
        self._last_ms = None
        self._e_res = 0             # energy not yet a whole mWh, in 2 x W*ms
        self._mwh = 0
        self._prev_w = 0
        self._peak_q = 0            # largest current RMS of the last burst, in 1/16 count
        # sliced mode: a burst in progress across polls (see the module docstring)
        self.slice_us = slice_us
        self._sleep_us = sleep_us
        self.deadline_us = None      # set by the shell before each poll: stop sampling by then
        self.active = False          # a sliced burst is in progress (the shell's service() hook)
        self.sampled = False         # this poll sampled up to the deadline: no time left after it
        self.starved = 0             # bursts retaken in a row because of a gap
        self.retaken = 0             # total, for figures
        self._cap = 0
        if slice_us:
            # rounds are at least 3/4 slot apart: a window never holds more than this
            need = MAX_ROUNDS // 2 if mains_hz == 0 else self._rounds
            self._cap = need * SLOT_MIN_DEN // SLOT_MIN_NUM + 4
            self._buf = array("H", bytes(2 * self._cap * len(self._chans)))
            self._tbuf = array("i", bytes(4 * self._cap))
        self._n = 0
        self._t0 = 0
        self._last_t = 0
        self._slot = 0
        self._min_gap = 0
        self._span = 0
        self._detecting = False
        self._begin_ms = 0

    def offsets(self):
        """Tracked bias of each channel in ADC counts (for calibration display)."""
        return [q / (1 << OFFSET_FRAC_BITS) for q in self._offset_q]

    def span_us(self):
        return (self._cycles * 1000000) // self.mains_hz

    def poll(self, now_ms):
        if self.slice_us:
            return self._poll_sliced(now_ms)
        if self._last_ms is not None and self._diff(now_ms, self._last_ms) < self.interval_ms:
            return False
        self._burst()
        if not self.hz_detected and (self._has_v or self._peak_q >= DETECT_MIN_COUNTS << 4):
            # once: a long burst finds 50 or 60 Hz, then this burst is taken again on whole cycles
            if self._detect_hz():
                self._burst()
        self._integrate(now_ms)
        return True

    # --- sliced mode ---------------------------------------------------------------------------
    def _poll_sliced(self, now_ms):
        self.sampled = False
        if not self.active and self._n:
            return self._finish(now_ms)  # service() completed the window inside the tick
        if not self.active:
            if self.starved == 0 and self._last_ms is not None \
                    and self._diff(now_ms, self._last_ms) < self.interval_ms:
                return False
            self._begin(now_ms)
        elif self._diff(now_ms, self._begin_ms) > BURST_TIMEOUT_MS + self._span // 1000:
            self._retake("gaps")        # never a whole window without a hole: retake it
            return False
        self.sampled = True             # the meter service keeps flash work off this poll
        self._slice()
        if self.active and self._n >= self._cap:
            self._retake("ct burst overflow")
        return False                    # a covered window is computed by the next poll, which
                                        # starts right after a tick with the idle time ahead

    def _slice(self):
        """Samples on the window's slots until the window is covered or the slice's budget ends."""
        tus = self._ticks_us
        d = self._diff
        start = tus()
        end = self.deadline_us           # the shell's next tick (minus a guard) ends the slice
        if end is None:
            end = start + self.slice_us
        slot = self._slot
        while self.active and self._n < self._cap:
            if self._n:
                nxt = self._last_t + slot
                if d(end, nxt) < 0:
                    break               # the next sample would fall after the budget: next poll
                wait = d(nxt, tus())
                sleep = self._sleep_us
                if wait > 0 and sleep is not None:
                    sleep(wait)
            self._take(tus())

    def service(self):
        """Take one round if one is due: the shell calls this inside its control tick.
        Integer work into preallocated arrays only."""
        if not self.active:
            return
        now = self._ticks_us()
        if self._n == 0 or self._diff(now, self._last_t) >= self._min_gap:
            if self._n < self._cap:
                self._take(now)

    def _begin(self, now_ms):
        self._begin_ms = now_ms
        self._detecting = not self.hz_detected and (self._has_v or self._peak_q >= DETECT_MIN_COUNTS << 4)
        self._span = DETECT_SPAN_US if self._detecting else self.span_us()
        rounds = self._rounds if not self._detecting else MAX_ROUNDS // 2
        self._slot = self._span // rounds
        self._min_gap = self._slot * SLOT_MIN_NUM // SLOT_MIN_DEN
        self._n = 0
        self.active = True

    def _take(self, now):
        n = self._n
        if n == 0:
            self._t0 = now
        else:
            gap = self._diff(now, self._last_t)
            if gap > MAX_GAP_SLOTS * self._slot:
                self._n = 0             # a hole in the window: start again from this sample
                self.retaken += 1
                self._t0 = now
                n = 0
        chans = self._chans
        buf = self._buf
        k = len(chans)
        i = n * k
        c = 0
        while c < k:
            buf[i + c] = chans[c].read_u16() >> ADC_SHIFT
            c += 1
        self._tbuf[n] = self._diff(now, self._t0)
        self._last_t = now
        self._n = n + 1
        if self._tbuf[n] >= self._span:
            self.active = False         # the window is covered: poll() computes

    def _retake(self, why):
        self.active = False
        self._n = 0
        self.starved += 1
        self.retaken += 1
        if self.starved >= STARVED_MAX:
            self.ok = False
            self.error = "ct sampling starved (%s)" % why

    def _finish(self, now_ms):
        if self.active or self._n == 0:
            return False
        n = self._n
        self._n = 0
        if self._detecting:
            self._detect_timed(n)
            self.starved = 0
            return False
        self.starved = 0
        self.measure(n, True)
        self._integrate(now_ms)
        return True

    def _channel_timed(self, c, rounds):
        """Like _channel, over time-stamped rounds: trapezoid integrals of d and d^2 over exactly
        one window (the last segment is cut at the window's end), in small ints. Times are taken
        in 1/4096 of the window, so the weights sum to exactly 2^12; d^2 terms (< 2^25) are split
        at bit 12 into two sums that each stay under 2^26 (2^25 for the low one)."""
        k = len(self._chans)
        buf = self._buf
        tb = self._tbuf
        span = self._span
        ref = self._offset_q[c] >> OFFSET_FRAC_BITS
        s1 = 0
        s2_hi = 0
        s2_lo = 0
        pt = 0                      # previous time, us
        pq = 0                      # previous time, 1/4096 window
        x = buf[c]
        pd = x - ref
        lo = hi = x
        for r in range(1, rounds):
            x = buf[r * k + c]
            if x < lo:
                lo = x
            if x > hi:
                hi = x
            d = x - ref
            t = tb[r]
            if t > span:                # cut the last segment at the window's end
                d = pd + (d - pd) * (span - pt) // (t - pt)
                t = span
            q = (t << T_BITS) // span
            w = q - pq
            s1 += (pd + d) * w
            e = pd * pd + d * d
            s2_hi += (e >> 12) * w
            s2_lo += (e & 0xFFF) * w
            pt = t
            pq = q
            pd = d
        # means over the window: sum / 2^(T_BITS + 1); then in 1/256 count (^2)
        m256 = s1 >> (T_BITS + 1 - OFFSET_FRAC_BITS)
        ms256 = (s2_hi << (12 + MS_FRAC - T_BITS - 1)) + (s2_lo >> (T_BITS + 1 - MS_FRAC))
        self._track_offset(c, m256 + (ref << OFFSET_FRAC_BITS))
        self._range_error(c, lo, hi)
        return variance(m256, ms256)

    def _detect_timed(self, rounds):
        """Lock 50 or 60 Hz from a sliced 100 ms burst (time stamps give the period)."""
        self._detecting = False
        k = len(self._chans)
        best = k - 1 if self._has_v else -1
        best_rms = 0.0
        best_mean = ADC_MID
        for c in range(k):
            channel_sums(self._buf, k, c, rounds, ADC_MID, self._sums)
            rms = rms_from_sums(self._sums[0], self._sums[1], rounds)
            if (best < 0 or not self._has_v) and rms > best_rms:
                best, best_rms, best_mean = c, rms, ADC_MID + self._sums[0] // rounds
            elif c == best:
                best_rms, best_mean = rms, ADC_MID + self._sums[0] // rounds
        if best < 0 or best_rms < DETECT_MIN_COUNTS:
            return False
        count, first, last = rising_crossings(self._buf, k, best, rounds, best_mean, DETECT_HYST)
        if count < 3:
            return False
        period_us = (self._tbuf[last] - self._tbuf[first]) // (count - 1)
        if period_us <= 0:
            return False
        self.mains_hz = 50 if 1000000 // period_us < HZ_50_60_SPLIT else 60
        self.hz_detected = True
        return True

    def _burst(self):
        n = sample_burst(self._chans, self._buf, self._rounds, self.span_us(), self._ticks_us, self._diff)
        self.measure(n // len(self._chans))

    def measure(self, rounds, timed=False):
        """Compute ma/mv/power_mw from the burst in the buffer (timed: sliced, time-stamped).
        Small ints only: nothing allocated unless an error text is made."""
        k = len(self._chans)
        self._err = None
        mv = self._nominal_mv
        vv = 0
        if self._has_v:
            v = vv = self._channel_timed(k - 1, rounds) if timed else self._channel(k - 1, rounds)
            mv = rms_scaled(v, self._kv[0], self._kv[1]) if self._kv[0] >= 0 else -1
        p = 0
        peak = 0
        self._peak_q = 0
        sane = 0 <= mv <= METER_MAX_V * 1000
        for c in range(self.phases):
            v = self._channel_timed(c, rounds) if timed else self._channel(c, rounds)
            if not self.hz_detected:        # the level that may start the mains detection
                q = rms_scaled(v, 16, 0)
                if q > self._peak_q:
                    self._peak_q = q
            ka = self._ka[c]
            a = rms_scaled(v, ka[0], ka[1]) if ka[0] >= 0 else -1
            self.ma[c] = a
            self.mv[c] = mv
            p += self._phase_mw(a, mv, v, vv, rounds, timed)
            if a > peak:
                peak = a
            if not 0 <= a <= METER_MAX_A * 1000:
                sane = False
        err = self._err
        bias_bad = err is not None and err.startswith("ct bias")
        # garbage in: count no energy (the meter service reports the implausible value, blind)
        self.power_mw = p if sane and not bias_bad else 0
        self.ok = not bias_bad
        self.error = err
        return peak

    def _phase_mw(self, a, mv, var_i, var_v, rounds, timed):
        """A phase's power in mW from its mA, mV and variances (counts^2, var_v 0: no voltage)."""
        if var_i < CREEP_VAR:
            return 0                    # noise with no load is no energy
        pw = ((a + 5) // 10) * ((mv + 50) // 100)   # cA x dV = mW
        if var_v > 0 and self.phases == 1 and 0 <= pw < (1 << 28):
            # its own voltage: the active power, mean of v x i (IEC 62053-21 tests power factors
            # 0.5 and 0.8 and harmonics, where V x I reads up to twice as high)
            pw = scale_q14(pw, self._active_q14(var_i, var_v, rounds, timed))
        return pw

    def _active_q14(self, var_i, var_v, rounds, timed):
        """Active over apparent power of phase 1 (the voltage channel's phase), in 1/2^14. Its
        size: a CT clamped the other way round gives the negative, and a charger only draws."""
        v = len(self._chans) - 1
        cov = self._cross_timed(0, v, rounds) if timed else self._cross(0, v, rounds)
        f = ratio_q14(cov, rms_scaled(var_i, 16, 0) * rms_scaled(var_v, 16, 0))
        return f if f >= 0 else -f

    def _cross(self, ci, cv, rounds):
        """Covariance of two channels over a burst, in 1/256 count^2 (the sums stay under 2^30
        as the squares do: |d| < 2^11 over at most MAX_ROUNDS rounds)."""
        s = self._sums
        cross_sums(self._buf, len(self._chans), ci, cv, rounds, self._offset_q[ci] >> OFFSET_FRAC_BITS,
                   self._offset_q[cv] >> OFFSET_FRAC_BITS, s)
        q = s[2] // rounds
        mp256 = (q << MS_FRAC) + ((s[2] - q * rounds) << MS_FRAC) // rounds
        return covariance((s[0] << OFFSET_FRAC_BITS) // rounds, (s[1] << OFFSET_FRAC_BITS) // rounds, mp256)

    def _cross_timed(self, ci, cv, rounds):
        """Like _cross over time-stamped rounds: trapezoid integrals over exactly one window, the
        products split at bit 12 (as _channel_timed's squares)."""
        k = len(self._chans)
        buf = self._buf
        tb = self._tbuf
        span = self._span
        ri = self._offset_q[ci] >> OFFSET_FRAC_BITS
        rv = self._offset_q[cv] >> OFFSET_FRAC_BITS
        si = 0
        sv = 0
        sp_hi = 0
        sp_lo = 0
        pt = 0
        pq = 0
        pi = buf[ci] - ri
        pv = buf[cv] - rv
        for r in range(1, rounds):
            di = buf[r * k + ci] - ri
            dv = buf[r * k + cv] - rv
            t = tb[r]
            if t > span:                # cut the last segment at the window's end
                di = pi + (di - pi) * (span - pt) // (t - pt)
                dv = pv + (dv - pv) * (span - pt) // (t - pt)
                t = span
            q = (t << T_BITS) // span
            w = q - pq
            si += (pi + di) * w
            sv += (pv + dv) * w
            e = pi * pv + di * dv
            sp_hi += (e >> 12) * w
            sp_lo += (e & 0xFFF) * w
            pt = t
            pq = q
            pi = di
            pv = dv
        sh = T_BITS + 1 - OFFSET_FRAC_BITS
        mp256 = (sp_hi << (12 + MS_FRAC - T_BITS - 1)) + (sp_lo >> (T_BITS + 1 - MS_FRAC))
        return covariance(si >> sh, sv >> sh, mp256)

    def _channel(self, c, rounds):
        k = len(self._chans)
        ref = self._offset_q[c] >> OFFSET_FRAC_BITS
        sums = self._sums
        channel_sums(self._buf, k, c, rounds, ref, sums)
        s1 = sums[0]
        s2 = sums[1]
        # burst mean in 1/256 counts, then the slow IIR (seeded by the first burst)
        m256 = (s1 << OFFSET_FRAC_BITS) // rounds
        self._track_offset(c, m256 + (ref << OFFSET_FRAC_BITS))
        self._range_error(c, sums[2], sums[3])
        q = s2 // rounds                    # s2 < 2^30: the mean square in two steps
        ms256 = (q << MS_FRAC) + ((s2 - q * rounds) << MS_FRAC) // rounds
        return variance(m256, ms256)

    def _track_offset(self, c, mean_q):
        if self._seeded[c]:
            self._offset_q[c] += (mean_q - self._offset_q[c]) >> OFFSET_IIR_SHIFT
        else:
            self._offset_q[c] = mean_q
            self._seeded[c] = True

    def _range_error(self, c, lo, hi):
        """Note in _err a broken bias (first one wins over a clip) or a clipped channel."""
        bias = self._offset_q[c] >> OFFSET_FRAC_BITS
        if not BIAS_MIN <= bias <= BIAS_MAX:
            if self._err is None or not self._err.startswith("ct bias"):
                self._err = "ct bias out of range (channel %d: %d counts)" % (c, bias)
        elif (lo <= ADC_CLIP_LOW or hi >= ADC_CLIP_HIGH) and self._err is None:
            self._err = "ct over range (channel %d clipped)" % c

    def _detect_hz(self):
        """One long burst (voltage channel if fitted, else the CTs); lock 50 or 60 Hz. True if found."""
        ch = (self._chans[-1],) if self._has_v else self._chans
        k = len(ch)
        rounds = MAX_ROUNDS // k
        sample_burst(ch, self._buf, rounds, DETECT_SPAN_US, self._ticks_us, self._diff)
        best = -1
        best_rms = 0.0
        best_mean = ADC_MID
        for c in range(k):
            channel_sums(self._buf, k, c, rounds, ADC_MID, self._sums)
            s1, s2 = self._sums[0], self._sums[1]
            rms = rms_from_sums(s1, s2, rounds)
            if rms > best_rms:
                best, best_rms, best_mean = c, rms, ADC_MID + s1 // rounds
        if best < 0 or best_rms < DETECT_MIN_COUNTS:
            return False
        count, first, last = rising_crossings(self._buf, k, best, rounds, best_mean, DETECT_HYST)
        if count < 3:
            return False
        period_us = (last - first) * DETECT_SPAN_US // (rounds * (count - 1))
        if period_us <= 0:
            return False
        hz = 1000000 // period_us
        self.mains_hz = 50 if hz < HZ_50_60_SPLIT else 60
        self.hz_detected = True
        return True

    def _integrate(self, now_ms):
        """Energy since the previous burst (trapezoid of the two power readings)."""
        w = (self.power_mw + 500) // 1000
        if self._last_ms is not None:
            dt = self._diff(now_ms, self._last_ms)
            if dt > 0:              # small ints up to 2 x 66 kW x 8 s (the largest EV supply)
                self._e_res += (self._prev_w + w) * dt
                whole = self._e_res // WMS2_PER_MWH
                self._mwh += whole
                self._e_res -= whole * WMS2_PER_MWH
        self._prev_w = w
        self._last_ms = now_ms

    def take_mwh(self):
        """Energy (int mWh) measured since the last call."""
        m = self._mwh
        self._mwh = 0
        return m
