# Control pilot, pure logic: the duty that advertises a current, and what the plateaus say.
import micropython
from micropython import const

from . import limits as L

# Pilot states as read back (IEC 61851-1 Table A.4); INVALID and DIODE are faults.
UNKNOWN = const(0)
A = const(1)
B = const(2)
C = const(3)
D = const(4)
E = const(5)
F = const(6)
INVALID = const(7)
DIODE = const(8)


# --- Duty <-> current (facts 2). Amps in tenths, duty in hundredths of a percent. ---

def clamp_amps_x10(amps_x10):
    """The current the pilot can really advertise for a limit: 0 when under 6 A, 51 A in the gap."""
    if amps_x10 < L.AMPS_MIN_X10:
        return 0
    if amps_x10 > L.AMPS_MAX_X10:
        return L.AMPS_MAX_X10
    if L.AMPS_LOW_MAX_X10 < amps_x10 < L.AMPS_GAP_MAX_X10:
        return L.AMPS_LOW_MAX_X10
    return amps_x10


def duty_counts(amps_x10, steps):
    """PWM counter value (out of `steps`) for a current, rounded down so it never advertises more."""
    a = clamp_amps_x10(amps_x10)
    if a == 0:
        return 0
    if a <= L.AMPS_LOW_MAX_X10:
        # duty = A / 0.6 %  ->  counts = A_x10 * steps / 600. Never under 10 % (facts 2): where 10 %
        # is not a whole count, 6 A rounds up by less than one count (ESP32: +0.0004 A).
        c = a * steps // 600
        low = (steps + 9) // 10
        return c if c > low else low
    # duty = A / 2.5 + 64 %  ->  counts = (A_x10 * 4 + 6400) * steps / 10000
    return (a * 4 + 6400) * steps // 10000


def amps_x100_for_counts(counts, steps):
    """What a vehicle reads from a duty (the inverse of duty_counts), in hundredths of an amp."""
    duty_x100 = counts * 10000 // steps
    if duty_x100 < 1000 or duty_x100 > 9700:
        return 0
    if duty_x100 <= 8500:
        return counts * 6000 // steps           # A = duty % x 0.6
    return (counts * 10000 // steps - 6400) * 25 // 10  # A = (duty % - 64) x 2.5


# How each port turns duty_u16 into a compare count out of `steps` per period (MicroPython v1.28,
# ports/*/machine_pwm.c); the mock machine models the same. Board files name theirs in PWM_PORT.
#   rp2:   cc = (u16 * (TOP + 1) + 32767) // 65535, rounded to nearest; steps = TOP + 1
#   esp32: counts = u16 >> (16 - res) (65535 stands for 65536), truncated; steps = 2 ** res
#   sim:   counts = u16 * steps // 65535, truncated (the virtual board)
def duty_u16_for_counts(counts, steps, port):
    """The smallest duty_u16 that the port turns into exactly `counts` (65535: the whole period)."""
    if counts >= steps:
        return 65535
    if port == "rp2":
        n = counts * 65535 - 32767
        return (n + steps - 1) // steps if n > 0 else 0
    if port == "esp32":
        return counts * (65536 // steps)
    return (counts * 65535 + steps - 1) // steps


# --- Reading the plateaus (facts 3, with hysteresis) ---

@micropython.native
def classify(pos_mv, neg_mv, pwm_on, prev):
    """Pilot state from the positive (and, while the PWM runs, negative) plateau in millivolts."""
    if pos_mv > L.PILOT_HIGH_FAULT_MV:
        return INVALID
    s = _level(pos_mv, prev)
    if s == UNKNOWN or s > D:
        return s
    if pwm_on and s != A and (neg_mv < L.NEG_PLATEAU_MIN_MV or neg_mv > L.NEG_PLATEAU_MAX_MV):
        # Diode check: with a vehicle behind its diode the negative plateau stays near -12 V, and
        # a plateau there is healthy whatever the positive one reads (B at 10 V with noise sums
        # to -2 V against -12 V). Away from it, a mirror of the positive one is the diode missing.
        if -L.DIODE_MIRROR_MV < pos_mv + neg_mv < L.DIODE_MIRROR_MV:
            return DIODE
        return INVALID
    return s


def _level(pos_mv, prev):
    """The band of a positive plateau at or under the fault level: A-D (UNKNOWN in a gap with
    nothing to keep), or E, F, INVALID."""
    # A level in a gap between two bands keeps the state on either side of the gap it came from;
    # from anything else (UNKNOWN after a reset, a fault level) it decides nothing.
    if pos_mv >= L.A_MIN_MV:
        return A
    if pos_mv >= L.AB_HYST_MV:
        return A if prev == A else B if B <= prev <= D else UNKNOWN
    if pos_mv >= L.B_MIN_MV:
        return B
    if pos_mv >= L.BC_HYST_MV:
        return prev if A <= prev <= C else C if prev == D else UNKNOWN
    if pos_mv >= L.C_MIN_MV:
        return C
    if pos_mv >= L.CD_HYST_MV:
        return prev if A <= prev <= D else UNKNOWN
    if pos_mv >= L.D_MIN_MV:
        return D
    if pos_mv >= L.E_MIN_MV:
        return E
    if L.F_MIN_MV <= pos_mv <= L.F_MAX_MV:
        return F
    return INVALID


# Every level at which classify's answer on the positive plateau can turn, ascending: between two
# of them it answers alike whatever the previous state (`window`, the core's quiet tick).
_POS_EDGES = (L.F_MIN_MV, L.F_MAX_MV + 1, L.E_MIN_MV, L.D_MIN_MV, L.CD_HYST_MV, L.C_MIN_MV,
              L.BC_HYST_MV, L.B_MIN_MV, L.AB_HYST_MV, L.A_MIN_MV, L.PILOT_HIGH_FAULT_MV + 1)
_MV_LOWEST = const(-1000000)     # the open ends of a window: past any reading
_MV_HIGHEST = const(1000000)


def window(pos_mv, neg_mv, pwm_on, w, i):
    """The plateaus classify reads alike with these, whatever the previous state (the PWM on or
    off as given): w[i] <= pos < w[i + 1] and w[i + 2] <= neg < w[i + 3]. None (an empty window)
    for readings that are not whole mV, and for a negative plateau out of its range with the PWM
    on (the answer then depends on both plateaus' sum). Nothing allocated."""
    if type(pos_mv) is not int or type(neg_mv) is not int or (
            pwm_on and not L.NEG_PLATEAU_MIN_MV <= neg_mv <= L.NEG_PLATEAU_MAX_MV):
        w[i] = w[i + 2] = 1
        w[i + 1] = w[i + 3] = 0
        return
    lo = _MV_LOWEST
    hi = _MV_HIGHEST
    for e in _POS_EDGES:
        if e > pos_mv:
            hi = e
            break
        lo = e
    w[i] = lo
    w[i + 1] = hi
    w[i + 2] = L.NEG_PLATEAU_MIN_MV if pwm_on else _MV_LOWEST
    w[i + 3] = L.NEG_PLATEAU_MAX_MV + 1 if pwm_on else _MV_HIGHEST


_WINDOW_MASK = (1 << L.FAULT_WINDOW) - 1


def _ones(bits):
    """How many of a FAULT_WINDOW-bit history's bits are set."""
    n = 0
    while bits:
        n += bits & 1
        bits >>= 1
    return n


def _kind(s):
    """What a state asks of the charger: 1 no power (A, B), 2 power (C, D), 3 a fault (E, F, ...).
    Readings of one kind in a row confirm a change even when they differ (A/B, C/D, F/invalid)."""
    return 1 if s <= B else 2 if s <= D else 3


class Detector:
    """Debounces readings into a stable pilot state.

    Entering C or D from any other state (B, A, or UNKNOWN after a reset: boot, a wake-up, a fault)
    must hold for `bc_qualify_ms`, so a bouncing vehicle cannot make the contactor chatter and no
    single reading can ask for power. Every other change, faults included, is confirmed by
    FAST_CONFIRM bursts in a row (one tick apart, or at once on `pending_fast`: within 20 ms); a
    fault, from a state that is none, also by FAST_CONFIRM fault readings among the last
    FAULT_WINDOW bursts (a pilot that reads wild on and off is a broken one).
    A burst that decides nothing (unstable, or a level in a gap with nothing to keep) is ignored.
    """

    def __init__(self, bc_qualify_ms):
        self.bc_qualify_ms = bc_qualify_ms
        self.state = UNKNOWN
        self.diode_seen = False   # a PWM burst with a healthy negative plateau since the last reset
        self._cand = UNKNOWN
        self._count = 0
        self._since = 0
        self._weight = 0          # a slow candidate's bursts: their mV below the B/C edge, summed (<0: C)
        self.undecided = 0        # bursts with no state decided since the last reset
        self._fault_bits = 0      # the last FAULT_WINDOW readings, 1 for a fault's level (newest lowest)
        self.unread = 0           # bursts in a row too unstable to act on (pilot_ok False)

    def reset(self):
        self.state = UNKNOWN
        self.diode_seen = False
        self._cand = UNKNOWN
        self._count = 0
        self.undecided = 0
        self._fault_bits = 0
        self.unread = 0

    def _slow(self, raw):
        """Asking for power (C or D) from a state that did not: qualified over time."""
        return (raw == C or raw == D) and not (self.state == C or self.state == D)

    def pending_fast(self):
        """A fast change seen once and not yet confirmed: worth a second burst right away."""
        return self._count > 0 and not self._slow(self._cand)

    def _window_confirms(self, raw):
        """raw is a fault's level, the state none, and the last FAULT_WINDOW readings hold
        FAST_CONFIRM such levels (asked only of a change not yet confirmed: a call costs on a board)."""
        return raw > D and self.state <= D and _ones(self._fault_bits) >= L.FAST_CONFIRM

    def _beside_c(self, pos_mv):
        """A level in a gap beside C while C is qualified from a state the detector holds: it does
        not cancel it, it weighs against it (_weigh). A car whose C sits near 5 or 7 V reads across
        the edge in noise, and each such burst restarted the qualification (the car sat in B for
        good). A reading in a band still cancels it; after a reset a gap still decides nothing (nor
        does it for D)."""
        return self._cand == C and self.state != UNKNOWN and _level(pos_mv, UNKNOWN) == UNKNOWN

    def _weigh(self, pos_mv):
        """A burst of a slow candidate: its distance below the B/C edge into the candidate's weight.
        C is qualified on the bursts' mean, not on one at each end of the qualification: a car in
        the 7-8 V gap with noise reads in C now and then, and was charged on two such readings."""
        d = pos_mv - L.BC_HYST_MV
        w = self._weight + (d if d else 1)     # (the edge itself as the gap: every burst moves it
        if w > L.QUALIFY_WEIGHT_MAX:           # but at a bound, so the bursts of one window weigh
            w = L.QUALIFY_WEIGHT_MAX           # alike and a step that changed nothing is a fixed
        elif w < L.QUALIFY_WEIGHT_MIN:         # point for the quiet tick)
            w = L.QUALIFY_WEIGHT_MIN
        self._weight = w

    def _note(self, raw, pos_mv, now_ms):
        """A reading that differs from the state: the candidate change it makes or confirms."""
        if self._count and _kind(raw) == _kind(self._cand):
            self._cand = raw      # e.g. F then an impossible level: both say "fault", confirmed
            if self._count < L.FAST_CONFIRM:   # (no further: a qualification by time keeps a fixed
                self._count += 1               # point, and the core's ticks stay quiet through it)
        else:
            self._cand = raw
            self._count = 1
            self._since = now_ms
            self._weight = 0
        if self._slow(raw):
            self._weigh(pos_mv)

    def update(self, pos_mv, neg_mv, ok, pwm_on, now_ms, ticks_diff):
        """Feed one burst; returns True when the stable state changed."""
        if ok:
            self.unread = 0
            raw = classify(pos_mv, neg_mv, pwm_on, self.state)
        else:
            # One unstable burst is ignored; FAULT_WINDOW in a row (a PWM whose plateau is too short to
            # read) leave no pilot to trust: a fault's level, confirmed as one (the contactor stayed
            # closed for good on a 99 % PWM, a car unplugged behind it)
            if self.unread < L.FAULT_WINDOW:
                self.unread += 1
                return False
            raw = INVALID
        if pwm_on and B <= raw <= D:
            self.diode_seen = True
        self._fault_bits = (self._fault_bits << 1 | (raw > D)) & _WINDOW_MASK
        if self.state == UNKNOWN:     # none since the reset, whatever this read: a level at a
            self.undecided += 1       # band's edge reads on both sides of it in noise
        else:
            self.undecided = 0
        if raw == self.state or raw == UNKNOWN:
            if self._count and self._beside_c(pos_mv):
                self._weigh(pos_mv)
                return False
            self._cand = UNKNOWN
            self._count = 0
            return False
        self._note(raw, pos_mv, now_ms)
        if self._slow(raw):
            if ticks_diff(now_ms, self._since) < self.bc_qualify_ms or self._weight >= 0:
                return False
        elif self._count < L.FAST_CONFIRM and not self._window_confirms(raw):
            return False
        self.state = raw
        self._cand = UNKNOWN
        self._count = 0
        self.undecided = 0
        return True
