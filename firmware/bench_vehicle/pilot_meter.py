# Reads the pilot through the vehicle board's own divider: short bursts over several periods, the
# sample grid walked between them, give the two plateaus; then many sub-bursts (one PWM period each,
# with a dithered start) give the duty as the fraction of samples above the midpoint, and the
# frequency. Pure apart from the injected ADC and clock; the sampling loops allocate nothing.
NOMINAL_PERIOD_US = 1000    # facts 1: 1 kHz (980-1020 Hz allowed)
PLATEAU_BURSTS = 8          # one period each, grid walked between: a 40 us plateau (96 %) is hit
DUTY_PERIODS = 128          # rising-to-rising sub-bursts for the duty (see _duty)
PWM_SPLIT_V = 2.0           # plateaus closer than this: a constant level, no PWM
GOLDEN = 0.6180339887       # low-discrepancy dither of the sample grid against the edges
MAX_PERIODS_PER_EDGE = 4    # a sub-burst gives up after this many periods without edges
DUTY_RESOLUTION_PCT = 0.15  # what this meter promises at <= 40 us per sample (host tests)
DIODE_NEG_MAX_V = -10.5     # PWM running: the negative plateau must be near -12 V (facts 3)

# Positive-plateau bands as the vehicle sees them (facts 3; hysteresis zones split in the middle)
BAND_FAULT_V = 13.0
BAND_A_V = 10.5
BAND_B_V = 7.5
BAND_C_V = 4.5
BAND_D_V = 2.0
BAND_E_V = -1.0
BAND_F_V = -10.5


def duty_to_amps(duty):
    """Advertised current for a duty in percent (facts 2); 0 when it allows no charging."""
    if duty is None:
        return None
    if duty < 8.0 or duty > 97.0:
        return 0.0              # includes 5 % (high-level communication) and X1 / F
    if duty < 10.0:
        return 6.0
    if duty <= 85.0:
        return duty * 0.6
    if duty <= 96.0:
        return (duty - 64.0) * 2.5
    return 80.0


def amps_per_pct(duty):
    return 2.5 if duty is not None and duty > 85.0 else 0.6


def level_state(v):
    """State letter for a positive plateau or constant level in volts ('?': no valid state)."""
    if v > BAND_FAULT_V:
        return "?"
    if v >= BAND_A_V:
        return "A"
    if v >= BAND_B_V:
        return "B"
    if v >= BAND_C_V:
        return "C"
    if v >= BAND_D_V:
        return "D"
    if v >= BAND_E_V:
        return "E"
    if v <= BAND_F_V:
        return "F"
    return "?"


class PilotMeter:
    def __init__(self, adc, frontend, sample_us, clock=None, duty_periods=DUTY_PERIODS):
        if clock is None:
            import time as clock        # after mock_machine.install() on the host: virtual time
        self.ticks_us = clock.ticks_us
        self.ticks_diff = clock.ticks_diff
        self.sleep_us = clock.sleep_us
        self.adc = adc
        gain, offset, fullscale = frontend
        self._k = fullscale / 65535.0 / gain        # volts at CP per ADC count
        self._zero = offset / fullscale * 65535.0   # ADC count at 0 V on CP
        self.sample_us = sample_us
        self.per_burst = NOMINAL_PERIOD_US // max(1, sample_us) + 2    # a little over one period
        self.duty_periods = duty_periods

    def volts(self, u16):
        return (u16 - self._zero) * self._k

    def measure(self, duty=True):
        """One measurement: dict pos, neg (V), duty (%), amps, freq (Hz), pwm, state, diode. With
        duty False only the plateau bursts (about 8 periods): state, levels and whether a PWM runs. The
        state letter comes from the positive plateau alone: the negative one (40 us at 96 %) only
        tells that a PWM runs and whether the diode is there."""
        hi, lo, mean, per_us = self._plateaus()
        m = {"pos": None, "neg": None, "duty": None, "amps": None, "freq": None, "pwm": False,
             "state": "?", "diode": None}
        vhi = self.volts(hi)
        vlo = self.volts(lo)
        if vhi - vlo < PWM_SPLIT_V:
            v = self.volts(mean)
            letter = level_state(v)
            if v >= BAND_E_V:
                m["pos"] = _r(v)
            if v < BAND_D_V:
                m["neg"] = _r(v)
            m["duty"] = 100.0 if letter in ("A", "B", "C", "D") else 0.0 if letter == "F" else None
            m["amps"] = 0.0
            m["state"] = letter + "1" if letter in ("A", "B", "C", "D") else letter
            return m
        letter = level_state(vhi)
        m["pos"] = _r(vhi)
        m["neg"] = _r(vlo)
        m["pwm"] = True
        m["diode"] = "ok" if vlo <= DIODE_NEG_MAX_V else "short"
        m["state"] = letter + "2" if letter in ("A", "B", "C", "D") else letter
        if duty:
            d = self._duty((hi + lo) // 2, per_us)
            if d is None:               # the PWM stopped while measuring: say so, guess nothing
                m["pwm"] = None
                m["state"] = "?"
            else:
                m["duty"] = _r(d[0])
                m["amps"] = _r(duty_to_amps(d[0]))
                m["freq"] = _r(d[1])
        return m

    def _plateaus(self):
        """Second-highest and second-lowest reading (one glitch sample moves neither), the mean
        and the time per sample (us), over PLATEAU_BURSTS bursts of a little over one period.
        Between bursts a sleep walks the sample grid against the PWM (golden-ratio steps of a
        sample), so a grid locked to the PWM cannot keep missing a short plateau or keep landing
        on its edges."""
        read = self.adc.read_u16
        ticks_us = self.ticks_us
        n = self.per_burst
        hi1 = hi2 = -1
        lo1 = lo2 = 65536
        total = 0
        busy = 0
        g = 0.0
        for _ in range(PLATEAU_BURSTS):
            t0 = ticks_us()
            for _ in range(n):
                v = read()
                total += v
                if v > hi2:
                    if v > hi1:
                        hi2 = hi1
                        hi1 = v
                    else:
                        hi2 = v
                if v < lo2:
                    if v < lo1:
                        lo2 = lo1
                        lo1 = v
                    else:
                        lo2 = v
            busy += self.ticks_diff(ticks_us(), t0)
            g += GOLDEN * self.sample_us
            d = int(g)
            g -= d
            self.sleep_us(d)
        count = PLATEAU_BURSTS * n
        return hi2, lo2, total // count, max(1.0, busy / count)

    def _duty(self, thr, per_us):
        """(duty %, frequency Hz). Duty as high samples / all samples from one rising edge to the
        next, summed over many periods. Each sub-burst starts after a dither that walks the sample
        grid's offset to the edges through [0, one sample) in a low-discrepancy sequence, so the
        grid's quantisation averages out instead of repeating. The sample time cancels in the
        duty; the frequency takes it from the clock around each whole sub-burst (never inside)."""
        read = self.adc.read_u16
        ticks_us = self.ticks_us
        cap = MAX_PERIODS_PER_EDGE * NOMINAL_PERIOD_US // int(per_us) + 2
        high = 0
        total = 0
        reads = 0
        busy = 0
        g = 0.0
        for _ in range(self.duty_periods):
            t0 = ticks_us()
            # 0: wait for low, 1: wait for rise, 2: in high (count), 3: in low until next rise
            phase = 0
            h = n = 0
            k = 0
            for k in range(cap):
                up = read() > thr
                if phase == 0:
                    if not up:
                        phase = 1
                elif phase == 1:
                    if up:
                        phase = 2
                        h = n = 1
                elif phase == 2:
                    n += 1
                    if up:
                        h += 1
                    else:
                        phase = 3
                else:
                    if up:
                        phase = 4
                        break
                    n += 1
            busy += self.ticks_diff(ticks_us(), t0)
            if phase != 4:
                return None             # no edges: the PWM stopped during the measurement
            reads += k + 1
            high += h
            total += n
            # sleep GOLDEN of a sample, carrying the fraction the integer sleep cannot take
            g += GOLDEN * per_us
            d = int(g)
            g -= d
            self.sleep_us(d)
        return 100.0 * high / total, 1e6 * self.duty_periods / (total * busy / reads)


def _r(x):
    return None if x is None else int(x * 100 + (0.5 if x >= 0 else -0.5)) / 100
