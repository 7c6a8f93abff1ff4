"""S0 pulse input (IEC 62053-31): an energy meter's open-collector output, N impulses per kWh.

The shell's pin interrupt calls `on_pulse(ticks_us())`: integers only, no allocation, bounces
closer than the debounce interval are dropped, and so are edges 30-40 ms after a pulse (the
bouncing trailing edge of the shortest pulse the standard allows; an edge 20-30 ms in is counted:
noise at an impossible rate shows as one). `poll(now_ms)` turns pulses into energy (int mWh,
remainder carried exactly) and estimates power from the last pulse interval, decaying as
1 / (time since the last pulse) when pulses stop (0 after MAX_INTERVAL_MS). Current is
power / (volts x phases): an estimate. The poll runs every control tick: small ints only (mW, mA,
through ratio()), the floats `power_w` and `amps` are made on reading.
An S0 line cannot tell "no power" from "wire cut", so `ok` stays True.
"""
from .energy import MilliUnits
from ..core.ticks import ticks_diff

S0_DEBOUNCE_US = 20000           # IEC 62053-31 pulses are >= 30 ms: anything closer is a bounce
S0_TRAIL_FROM_US = 30000         # 4.1.3.3-4: ON >= 30 ms, an edge bounces for <= 5 ms: a 30 ms pulse's
S0_TRAIL_TO_US = 40000           # trailing edge shows rising edges 30-35 ms in; no pulse either
S0_MAX_POWER_W = 50000           # fastest pulse rate expected; debounce is kept under half of it
US_W_PER_KWH_PULSE = 3600000000000   # interval_us * power_W * imp_per_kWh = 3.6e12
MWH_PER_KWH = 1000000
MAX_INTERVAL_MS = 500000         # longer gaps: the us tick counter may have wrapped (2^30 us)

NUM_MAX = 1 << 29


def mantissa(x):
    """(m, e) with x ~ m * 2^e and m < 2^29: a large constant as small ints (float work, once)."""
    e = 0
    while x >= NUM_MAX:
        x /= 2
        e += 1
    return int(x + 0.5), e


def ratio(num, den):
    """round(m * 2^e / den) for num = (m, e), 0 < den < 2^30, in small ints: den is brought to
    15 bits (3e-5), the quotient carries 28."""
    m, e = num
    while den >= 1 << 15:
        den >>= 1
        e -= 1
    while den < 1 << 14:
        den <<= 1
        e += 1
    q = m // den                            # < 2^15
    q = (q << 14) + ((m - q * den) << 14) // den
    e -= 14
    return q << e if e >= 0 else (q + (1 << (-e - 1))) >> -e


class S0Meter(MilliUnits):
    def __init__(self, imp_per_kwh, nominal_volts=230.0, phases=1, debounce_us=None, diff=ticks_diff):
        if imp_per_kwh <= 0:
            raise ValueError("s0_imp_per_kwh must be > 0")
        self.imp = int(imp_per_kwh)
        fastest = US_W_PER_KWH_PULSE // (self.imp * S0_MAX_POWER_W)
        self.debounce_us = debounce_us if debounce_us is not None else min(S0_DEBOUNCE_US, fastest // 2)
        self._trail_to = min(S0_TRAIL_TO_US, fastest // 2) if debounce_us is None else 0
        self._diff = diff
        self.phases = phases
        e_mw_us = US_W_PER_KWH_PULSE * 1000 / self.imp         # one pulse in mW x us
        self._n_mw = mantissa(e_mw_us)
        self._n_ma = mantissa(e_mw_us * 1000 / (nominal_volts * 1000 * phases))   # mA x us
        self._nominal_mv = int(nominal_volts * 1000 + 0.5)
        # written by the interrupt handler only
        self.count = 0
        self.bounces = 0
        self._last_us = 0
        self._interval_us = 0
        # poll side
        self._seen = 0
        self._acc = 0
        self._mwh = 0
        self._last_pulse_ms = None
        self._gap_ms = 0
        self.ma = [0] * phases
        self.mv = [self._nominal_mv] * phases
        self.power_mw = 0
        self.ok = True
        self.error = None

    def on_pulse(self, now_us):
        """Interrupt handler body: count a pulse unless it is a bounce. Allocates nothing."""
        if self.count:
            dt = self._diff(now_us, self._last_us)
            if 0 <= dt < self.debounce_us or S0_TRAIL_FROM_US <= dt < self._trail_to:
                self.bounces += 1           # (dt < 0: a gap over half the us period, 537 s)
                return
            self._interval_us = dt
        self._last_us = now_us
        self.count += 1

    def poll(self, now_ms):
        count = self.count
        new = count - self._seen
        if new > 0:
            self._seen = count
            self._acc += new * MWH_PER_KWH
            whole = self._acc // self.imp
            self._acc -= whole * self.imp
            self._mwh += whole
            if self._last_pulse_ms is not None:
                self._gap_ms = self._diff(now_ms, self._last_pulse_ms)
            self._last_pulse_ms = now_ms
        p = 0
        a = 0
        if self._last_pulse_ms is not None and count >= 2:
            since = self._diff(now_ms, self._last_pulse_ms)
            if not 0 <= since <= MAX_INTERVAL_MS:    # no pulse for this long: no power, and the
                self._last_pulse_ms = None           # stamp forgotten (2**29 ms on, it read as
                self._gap_ms = MAX_INTERVAL_MS + 1   # recent: the last rate shown again); the
                since = -1                           # next pulse's interval is unknown
            iv = self._interval_us
            if self._gap_ms > MAX_INTERVAL_MS:   # the us interval may have wrapped: use ms
                iv = self._gap_ms * 1000
            if since > 0 and since * 1000 > iv:      # no pulse for longer than the last interval
                iv = since * 1000
            if 0 < iv <= MAX_INTERVAL_MS * 1000:
                p = ratio(self._n_mw, iv)
                a = ratio(self._n_ma, iv)
        self.power_mw = p
        for i in range(self.phases):
            self.ma[i] = a
        return new > 0

    def take_mwh(self):
        m = self._mwh
        self._mwh = 0
        return m
