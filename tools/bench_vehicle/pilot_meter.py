# Reads the pilot through the vehicle board's own divider: a burst of ADC reads gives the two
# plateaus, then many sub-bursts (one PWM period each, with a dithered start) give the duty as the
# fraction of samples above the midpoint. Pure apart from the injected ADC and clock.
import array

NOMINAL_PERIOD_US = 1000    # facts 1: 1 kHz (980-1020 Hz allowed)
PLATEAU_PERIODS = 3         # the first burst spans this many periods
MAX_PLATEAU_SAMPLES = 400
DUTY_PERIODS = 128          # rising-to-rising sub-bursts for the duty (see _duty)
PLATEAU_K = 2               # k-th highest / lowest reading: one glitch sample does not move it
PWM_SPLIT_V = 2.0           # plateaus closer than this: a constant level, no PWM
GOLDEN = 0.6180339887       # low-discrepancy dither of the sample grid against the edges
MAX_PERIODS_PER_EDGE = 4    # a sub-burst gives up after this many periods without edges
DUTY_RESOLUTION_PCT = 0.15  # what this meter promises at <= 40 us per sample (host test)
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
            import time as clock        # after mock_machine.register() on the host: virtual time
        self.ticks_us = clock.ticks_us
        self.ticks_diff = clock.ticks_diff
        self.sleep_us = clock.sleep_us
        self.adc = adc
        gain, offset, fullscale = frontend
        self._k = fullscale / 65535.0 / gain        # volts at CP per ADC count
        self._zero = offset / fullscale * 65535.0   # ADC count at 0 V on CP
        self.sample_us = sample_us
        n = PLATEAU_PERIODS * NOMINAL_PERIOD_US // max(1, sample_us) + 1
        n = max(4 * PLATEAU_K + 8, min(MAX_PLATEAU_SAMPLES, n))
        self.buf = array.array("H", [0] * n)
        self.duty_periods = duty_periods

    def volts(self, u16):
        return (u16 - self._zero) * self._k

    def measure(self, duty=True):
        """One measurement: dict pos, neg (V), duty (%), amps, pwm, state, diode. With duty False
        only the plateau burst (3 periods): state, levels and whether a PWM runs."""
        buf = self.buf
        n = len(buf)
        read = self.adc.read_u16
        t0 = self.ticks_us()
        for i in range(n):
            buf[i] = read()
        span = self.ticks_diff(self.ticks_us(), t0)
        s = sorted(buf)
        hi = s[n - PLATEAU_K]
        lo = s[PLATEAU_K - 1]
        m = {"pos": None, "neg": None, "duty": None, "amps": None, "pwm": False,
             "state": "?", "diode": None}
        vhi = self.volts(hi)
        vlo = self.volts(lo)
        if vhi - vlo < PWM_SPLIT_V:
            v = self.volts(s[n // 2])
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
            d = self._duty((hi + lo) // 2, max(1, span // n))
            if d is None:               # the PWM stopped while measuring: say so, guess nothing
                m["pwm"] = None
                m["state"] = "?"
            else:
                m["duty"] = _r(d)
                m["amps"] = _r(duty_to_amps(d))
        return m

    def _duty(self, thr, per_us):
        """Duty as high samples / all samples from one rising edge to the next, summed over many
        periods. Each sub-burst starts after a dither that walks the sample grid's offset to the
        edges through [0, one sample) in a low-discrepancy sequence, so the grid's quantisation
        averages out instead of repeating. The sample time cancels in the ratio."""
        read = self.adc.read_u16
        cap = MAX_PERIODS_PER_EDGE * NOMINAL_PERIOD_US // per_us + 2
        high = 0
        total = 0
        g = 0.0
        for _ in range(self.duty_periods):
            # 0: wait for low, 1: wait for rise, 2: in high (count), 3: in low until next rise
            phase = 0
            h = n = 0
            for _ in range(cap):
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
            if phase != 4:
                return None             # no edges: the PWM stopped during the measurement
            high += h
            total += n
            # sleep GOLDEN of a sample, carrying the fraction the integer sleep cannot take
            g += GOLDEN * per_us
            d = int(g)
            g -= d
            self.sleep_us(d)
        return 100.0 * high / total


def _r(x):
    return None if x is None else int(x * 100 + (0.5 if x >= 0 else -0.5)) / 100
