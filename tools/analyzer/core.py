"""The analysis: edges, periods, plateaus, states and segments of a pilot capture.

Per-sample work is vectorised numpy (threshold, np.diff for edges, np.add.reduceat for plateau
means); Python loops only run per PWM period or per segment."""

import math
import numpy as np

from tools.analyzer.capture import Sampled
from tools.analyzer.parallel import thread_map

# Facts sheet section 3: positive plateau bands (V) with the hysteresis of IEC 61851-1 Table A.4
BAND_FAULT_HIGH = 13.0
BAND_A = 11.0
BAND_AB = 10.0
BAND_B = 8.0
BAND_BC = 7.0
BAND_C = 5.0
BAND_CD = 4.0
BAND_D = 2.0
BAND_E = -1.0
BAND_F_HIGH = -11.0
BAND_F_LOW = -13.0
DIODE_NEG_MIN = -13.0          # negative plateau with a healthy diode: about -11 to -13 V
DIODE_NEG_MAX = -11.0
MIRROR_TOL = 1.5               # |pos + neg| below this: the negative plateau mirrors the positive
HLC_DUTY = (4.5, 5.5)
STEP_JUMP_V = 4.0              # a jump this big between two samples is an edge faster than a sample          # read as 5 %: high-level communication


class Options:
    """Analysis knobs (seconds and volts)."""

    def __init__(self, threshold=1.0, guard_start=10e-6, guard_end=3e-6, max_piece=25e-3,
                 min_pulse=2e-6, duty_split=0.4, glitch_s=2.5e-3, dc_block=1e-3):
        self.threshold = threshold          # high / low decision for edges
        self.guard_start = guard_start      # skip after an edge before reading a plateau (facts: ~10 us)
        self.guard_end = guard_end          # skip before the next edge
        self.max_piece = max_piece          # a level held longer is DC (X1, F, E), not PWM: 25 ms keeps
                                            # a 40 Hz-10 kHz PWM at any duty 5-96 % a PWM, so it FAILs
        self.min_pulse = min_pulse          # shorter pulses are noise at an edge, not edges
        self.duty_split = duty_split        # duty step (percentage points) that starts a new segment
        self.glitch_s = glitch_s            # a segment this short between others is a transition
        self.dc_block = dc_block            # DC levels are read in slices this long


def amps_for_duty(duty):
    """Advertised current (A) for a duty in percent, as a J1772 / IEC 61851 EV reads it.
    Returns (amps or None, note)."""
    if duty is None or math.isnan(duty):
        return None, ""
    if HLC_DUTY[0] <= duty <= HLC_DUTY[1]:
        return None, "5 %: high-level communication"
    if 8.0 <= duty < 10.0:
        return 6.0, ""
    if 10.0 <= duty <= 85.0:
        return round(duty * 0.6, 2), ""
    if 85.0 < duty <= 96.0:
        return round((duty - 64.0) * 2.5, 2), ""
    if 96.0 < duty <= 97.0:
        return 80.0, ""
    return None, "no charging (duty outside the encoding)"


GAP_AMPS = (51.0, 52.5)        # facts section 2: no encoding between these; advertise 51 A (85 %)


def duty_for_amps(amps):
    """Nominal duty (%) for a current (facts sheet section 2); ValueError outside 6-80 A.
    51 A < I < 52.5 A has no encoding: the charger advertises 51 A, 85 % (not I / 2.5 + 64, which
    is under 85 % there and reads as less than 51 A)."""
    if not 6.0 <= amps <= 80.0:
        raise ValueError("current %.1f A outside 6-80 A" % amps)
    if amps < GAP_AMPS[1]:
        return min(amps, GAP_AMPS[0]) / 0.6
    return amps / 2.5 + 64.0


def classify(level, prev):
    """State letter for a positive plateau / DC level, 'fault' for an impossible level."""
    if level > BAND_FAULT_HIGH:
        return "fault"
    if level >= BAND_A:
        return "A"
    if level >= BAND_AB:
        return "A" if prev == "A" else "B"
    if level >= BAND_B:
        return "B"
    if level >= BAND_BC:
        return prev if prev in ("A", "B") else "C"
    if level >= BAND_C:
        return "C"
    if level >= BAND_CD:
        return prev if prev in ("A", "B", "C") else "D"
    if level >= BAND_D:
        return "D"
    if level >= BAND_E:
        return "E"
    if BAND_F_LOW <= level <= BAND_F_HIGH:
        return "F"
    return "fault"


# ------------------------------------------------------------------------------------- pieces
def _deglitch(bounds, length, min_len):
    """Drop pairs of edges around interior pieces shorter than min_len (noise at an edge).
    bounds: interior edge positions (sorted); length: total. Works on samples or seconds."""
    for _ in range(20):
        if len(bounds) < 2:
            break
        short = np.diff(bounds) < min_len     # interior piece k lies between bounds[k] and bounds[k+1]
        if not short.any():
            break
        k = np.flatnonzero(short & ~np.concatenate(([False], short[:-1])))
        keep = np.ones(len(bounds), dtype=bool)
        keep[k] = False
        keep[k + 1] = False
        bounds = bounds[keep]
    return bounds


CROSS_SLICE = 1 << 20          # samples thresholded per slice (cache-sized temporaries)
THREADS = 2                    # numpy releases the GIL on these slices: both cores work


def crossings(v, thr):
    """Indices i where (v[i] > thr) differs from (v[i-1] > thr), ascending. One pass over v in
    slices (no capture-long boolean temporaries), spread over THREADS threads."""
    n = len(v)
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    thr = v.dtype.type(thr) if v.dtype.kind == "f" else thr

    def part(a):
        h = v[a:min(n, a + CROSS_SLICE + 1)] > thr
        return np.flatnonzero(h[1:] != h[:-1]) + (a + 1)

    starts = range(0, n - 1, CROSS_SLICE)
    parts = thread_map(part, starts, THREADS if len(starts) >= 4 else 1)
    return np.concatenate(parts).astype(np.int64, copy=False)


def pieces_sampled(sig, opt):
    """Split a sampled pilot at its threshold crossings. Returns start, end (s), high, level (V)."""
    v = sig.values
    n = len(v)
    thr = 0.5 if sig.logic else opt.threshold
    idx = crossings(v, thr)                              # first sample of each new level
    min_len = max(1, int(round(opt.min_pulse / sig.dt)))
    if min_len > 1:
        idx = _deglitch(idx, n, min_len)
    # crossing time interpolated between the two samples around it
    if len(idx) and not sig.logic:
        a = v[idx - 1].astype(np.float64)
        b = v[idx].astype(np.float64)
        frac = np.clip((thr - a) / np.where(b != a, b - a, 1.0), 0.0, 1.0)
        # an edge faster than one sample: the true edge is anywhere in the interval, take its middle
        frac = np.where(np.abs(b - a) > STEP_JUMP_V, 0.5, frac)
        tc = sig.t0 + (idx - 1 + frac) * sig.dt
    else:
        tc = sig.t0 + idx * sig.dt
    bounds = np.concatenate(([0], idx, [n]))
    s, e = bounds[:-1], bounds[1:]
    t_start = np.concatenate(([sig.t0], tc))
    t_end = np.concatenate((tc, [sig.t_end]))
    high = v[s] > thr
    if sig.logic:
        level = high.astype(np.float64)
    else:
        g0 = int(math.ceil(opt.guard_start / sig.dt))
        g1 = int(math.ceil(opt.guard_end / sig.dt))
        a = s + g0
        a[0] = s[0]                                    # the capture start is not an edge
        b = e - g1
        b[-1] = e[-1]
        level = _means_idx(v, a, b, s, e)
    return t_start, t_end, high, level, lambda ta, tb: _means_time_sampled(sig, ta, tb)


SUM_BLOCK = 1024               # float32 samples summed natively per block; blocks add up in float64


def _window_sums(v, a, b):
    """Sum of v over each window [a, b) (a < b <= len(v)) in float64. A float32 pilot is summed
    in its own type over blocks of at most SUM_BLOCK samples (rounding below 1 mV at 12 V; a
    float64 accumulator in reduceat would cast every sample through a small buffer, 5x slower),
    then the block sums are added in float64."""
    n = len(v)
    m = len(a)
    sums = np.zeros(m, dtype=np.float64)
    if m == 0:
        return sums
    tail = b >= n                       # reduceat indices must stay below n: these are done apart
    body = np.flatnonzero(~tail)
    if len(body):
        aa, bb = a[body], b[body]
        nb = (bb - aa + SUM_BLOCK - 1) // SUM_BLOCK          # blocks per window, then its end
        cnt = nb + 1
        first = np.cumsum(cnt) - cnt
        k = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(first, cnt)
        idx = np.repeat(aa, cnt) + k * SUM_BLOCK
        idx[first + nb] = bb
        part = _reduceat(v, idx).astype(np.float64)
        part[first + nb] = 0.0          # the stretch from a window's end to the next window's start
        sums[body] = np.add.reduceat(part, first)
    for a0 in sorted(set(a[tail].tolist())):          # few; np.unique would import numpy.ma (20 ms)
        sums[tail & (a == a0)] = float(np.sum(v[a0:n], dtype=np.float64))
    return sums


def _reduceat(v, idx):
    """np.add.reduceat(v, idx), in two halves on two threads for a long capture: the first half
    stops where the second begins (at an idx above every one before it), so every sum is the one
    a single call gives, bit for bit."""
    rise = np.flatnonzero(idx[1:] > np.maximum.accumulate(idx[:-1])) + 1
    if len(v) < 4 * CROSS_SLICE or THREADS < 2 or len(rise) == 0:
        return np.add.reduceat(v, idx)
    p = int(rise[np.searchsorted(rise, len(idx) // 2).clip(0, len(rise) - 1)])
    halves = thread_map(lambda h: np.add.reduceat(v[:idx[p]], idx[:p]) if h == 0 else
                        np.add.reduceat(v, idx[p:]), (0, 1), 2)
    return np.concatenate(halves)


def _means_idx(v, a, b, s, e):
    """Mean of v over [a, b) per piece (falls back to the middle sample when the window is empty)."""
    n = len(v)
    bad = b <= a
    mid = s + (e - s) // 2
    a = np.where(bad, np.minimum(mid, n - 1), a)
    b = np.where(bad, np.minimum(mid, n - 1) + 1, b)
    b = np.minimum(b, n)
    return _window_sums(v, a, b) / (b - a)


def _means_time_sampled(sig, ta, tb):
    n = len(sig.values)
    a = np.clip(np.round((ta - sig.t0) / sig.dt).astype(np.int64), 0, n - 1)
    b = np.clip(np.round((tb - sig.t0) / sig.dt).astype(np.int64), 1, n)
    return _means_idx(sig.values, a, b, a, b)


def _sorted_isin(x, sub):
    """np.isin(x, sub) for an ascending sub (np.isin imports numpy.ma, 20 ms of the start)."""
    j = np.minimum(np.searchsorted(sub, x), len(sub) - 1)
    return sub[j] == x if len(sub) else np.zeros(len(x), dtype=bool)


def pieces_steps(sig, opt):
    """Same for a piecewise-constant pilot (VCD): exact crossing times, time-weighted plateau means."""
    t, v = sig.times, sig.values
    thr = 0.5 if sig.logic else opt.threshold
    hi = v > thr
    idx = np.flatnonzero(hi[1:] != hi[:-1]) + 1
    tc = t[idx]
    if len(tc) > 1:
        keep_t = _deglitch(tc, sig.t_end, opt.min_pulse)
        if len(keep_t) < len(tc):                      # glitches dropped
            idx = idx[_sorted_isin(tc, keep_t)]
            tc = t[idx]
    t_start = np.concatenate(([t[0]], tc))
    t_end = np.concatenate((tc, [sig.t_end]))
    high = hi[np.concatenate(([0], idx))]
    if sig.logic:
        return t_start, t_end, high, high.astype(np.float64), lambda ta, tb: np.zeros(len(ta))
    dur = np.diff(np.concatenate((t, [sig.t_end])))
    cum = np.concatenate(([0.0], np.cumsum(v * dur)))

    def integral(x):
        k = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 1)
        return cum[k] + v[k] * (x - t[k])

    def means(a, b):
        bad = b <= a
        mid = (a + b) / 2
        a = np.where(bad, mid - 1e-9, a)
        b = np.where(bad, mid + 1e-9, b)
        return (integral(b) - integral(a)) / (b - a)

    a = t_start + opt.guard_start
    a[0] = t_start[0]
    b = t_end - opt.guard_end
    b[-1] = t_end[-1]
    bad = b <= a
    mid = (t_start + t_end) / 2
    a = np.where(bad, mid, a)
    b = np.where(bad, mid, b)
    return t_start, t_end, high, means(a, b), means


# -------------------------------------------------------------------------------------- units
def units_from_pieces(t_start, t_end, high, level, means, opt):
    """PWM periods and DC blocks, in time order, as arrays.

    A PWM train is a run of two or more consecutive pieces that are each bounded by two edges and no
    longer than `max_piece`. A period (high piece + low piece) is measured only between two rising
    edges inside a train: the first high piece after a DC level and the last period before one (or
    before the capture's end) may be cut by the PWM starting or stopping mid-period, so they are
    transitions, not periods. Every other piece is DC and is cut into `dc_block` slices, so a level
    change without a crossing (A to B at X1) is seen."""
    dur = t_end - t_start
    npieces = len(dur)
    bounded = np.ones(npieces, dtype=bool)
    bounded[0] = bounded[-1] = False
    short = bounded & (dur <= opt.max_piece)
    nxt = np.concatenate((short[1:], [False]))
    prv = np.concatenate(([False], short[:-1]))
    train = short & (nxt | prv)
    k = np.flatnonzero(high[1:-2] & train[1:-2] & train[:-3] & train[2:-1] & train[3:]) + 1
    per = dur[k] + dur[k + 1]
    dc = ~train & (bounded | (dur > opt.max_piece))
    # the capture's first and last pieces are cut: DC when longer than a period of the train beside
    if npieces < 3:
        dc[:] = True
    else:
        dc[0] |= not train[1] or dur[0] > dur[1] + dur[2]
        dc[-1] |= not train[-2] or dur[-1] > dur[-2] + dur[-3]
    dc = np.flatnonzero(dc)
    nb = np.maximum(1, np.floor(dur[dc] / opt.dc_block).astype(np.int64))
    owner = np.repeat(dc, nb)
    first = np.cumsum(nb) - nb
    j = np.arange(int(nb.sum())) - np.repeat(first, nb)
    b0 = t_start[owner] + j * opt.dc_block
    b1 = np.where(j == np.repeat(nb, nb) - 1, t_end[owner], b0 + opt.dc_block)
    ga = b0 + np.where((j == 0) & (owner > 0), opt.guard_start, 0.0)
    gb = b1 - np.where((j == np.repeat(nb, nb) - 1) & (owner < npieces - 1), opt.guard_end, 0.0)
    dcl = means(ga, gb) if len(owner) else np.zeros(0)
    n_p, n_d = len(k), len(owner)
    u = {
        "t0": np.concatenate((t_start[k], b0)),
        "t1": np.concatenate((t_end[k + 1], b1)),
        "pwm": np.concatenate((np.ones(n_p, bool), np.zeros(n_d, bool))),
        "duty": np.concatenate((100.0 * dur[k] / per, np.full(n_d, np.nan))),
        "freq": np.concatenate((1.0 / per, np.full(n_d, np.nan))),
        "pos": np.concatenate((level[k], dcl)),
        "neg": np.concatenate((level[k + 1], np.full(n_d, np.nan))),
    }
    order = np.argsort(u["t0"], kind="stable")
    return {key: val[order] for key, val in u.items()}


def units_from_plateau_vcd(pilot, duty, cp_neg=None):
    """Bench VCD written without --waveform: cp holds the (positive) plateau level, `duty` the PWM,
    and `cp_neg`, when present, the negative plateau."""
    extra = [cp_neg.times] if cp_neg is not None and len(cp_neg) else []
    times = np.sort(np.concatenate([pilot.times, duty.times] + extra))
    times = times[np.concatenate(([True], times[1:] != times[:-1]))]      # unique, without numpy.ma
    times = times[(times >= pilot.t0) & (times < pilot.t_end)]
    cp = pilot.at(times)
    d = duty.at(times)
    t1 = np.concatenate((times[1:], [pilot.t_end]))
    pwm = (d > 0.0) & (d < 100.0)
    neg = cp_neg.at(times) if extra else np.full(len(times), np.nan)
    return {"t0": times, "t1": t1, "pwm": pwm, "duty": np.where(pwm, d, np.nan),
            "freq": np.full(len(times), np.nan), "pos": cp, "neg": np.where(pwm, neg, np.nan)}


# ----------------------------------------------------------------------------------- segments
STATE_NAMES = np.array(["A", "B", "C", "D", "E", "F", "fault", "?"])
FAULT_NAMES = (None, "diode", "pilot")


def _unit_states(pos, neg, pwm, logic):
    """State (index into STATE_NAMES) and fault (index into FAULT_NAMES) of every unit, as
    classify() gives them one by one. A level in a hysteresis band (10-11, 7-8, 4-5 V) keeps the
    previous state when that is higher, else takes the band's lower state: with A..D ranked 0..3 and
    anything else 4, that is the minimum of the band caps since the last level outside the bands."""
    n = len(pos)
    if logic:
        return np.full(n, 7, dtype=np.int64), np.zeros(n, dtype=np.int64)
    bands = [pos > BAND_FAULT_HIGH, pos >= BAND_A, pos >= BAND_AB, pos >= BAND_B, pos >= BAND_BC,
             pos >= BAND_C, pos >= BAND_CD, pos >= BAND_D, pos >= BAND_E,
             (pos >= BAND_F_LOW) & (pos <= BAND_F_HIGH)]
    # value: definite state 0-5, band cap + 8 (8 + 1..3), fault 6
    val = np.select(bands, [6, 0, 9, 1, 10, 2, 11, 3, 4, 5], default=6)
    hyst = val >= 8
    fault = val == 6
    rank = np.where(hyst, val - 8, np.minimum(val, 4))
    rank[fault] = 7                                   # a fault does not touch the previous state
    seg = np.cumsum(~hyst & ~fault)                   # a definite state starts a new run of caps
    key = np.maximum.accumulate(seg * 8 + (7 - rank))
    state = np.where(hyst, np.minimum(7 - (key - seg * 8), 4), val)
    code = np.where(fault, 2, 0)
    # (not in E: a pilot shorted to PE reads 0 V on both plateaus, which mirrors, but it is state E)
    bad_neg = pwm & ~np.isnan(neg) & ~((neg >= DIODE_NEG_MIN) & (neg <= DIODE_NEG_MAX)) & ~fault & (val != 4)
    code[bad_neg] = np.where(np.abs(pos[bad_neg] + neg[bad_neg]) < MIRROR_TOL, 1, 2)
    return state, code


def _split_duty(duty, split, a, b):
    """Cut the PWM units a..b-1 where a duty leaves the running mean of its segment by more than
    its split, as one pass would; checked in growing windows, not one unit at a time."""
    out = []
    while a < b:
        w = 64
        while True:
            j = min(b, a + w)
            d = duty[a:j]
            mean = np.cumsum(d)[:-1] / np.arange(1, j - a)
            hit = np.flatnonzero(np.abs(d[1:] - mean) > split[a + 1:j])
            if len(hit) or j == b:
                cut = a + 1 + int(hit[0]) if len(hit) else b
                break
            w *= 4
        out.append((a, cut))
        a = cut
    return out


def segments_from_units(u, opt, logic=False, dt=0.0):
    """Units to segments. dt: the sample interval; a duty step within 1.5 samples of the period is
    the edges' quantisation (10 % duty at 10 kHz and 1 MS/s is 10 +- 1 samples), not a new segment.
    Vectorised: Python runs once per run of equal state, not per unit."""
    t0, t1, pwm, duty, freq, pos, neg = (u[k] for k in ("t0", "t1", "pwm", "duty", "freq", "pos", "neg"))
    split = np.nan_to_num(np.maximum(opt.duty_split, 150.0 * dt * freq), nan=opt.duty_split)
    state, fault = _unit_states(pos, neg, pwm, logic)
    n = len(t0)
    new = np.ones(n, dtype=bool)
    new[1:] = (state[1:] != state[:-1]) | (fault[1:] != fault[:-1]) | (pwm[1:] != pwm[:-1])
    starts = np.flatnonzero(new).tolist() + [n]
    segs = []
    for a, b in zip(starts[:-1], starts[1:]):
        p = bool(pwm[a])
        for x, y in (_split_duty(duty, split, a, b) if p and b - a > 1 else [(a, b)]):
            segs.append({"start_s": float(t0[x]), "end_s": float(t1[y - 1]), "state": str(STATE_NAMES[state[x]]),
                         "fault": FAULT_NAMES[fault[x]], "pwm": p, "periods": y - x,
                         "_dsum": float(duty[x:y].sum()) if p else 0.0, "_first": x, "_last": y,
                         "_split": float(split[x])})
    segs = _merge_glitches(segs, opt)
    out = []
    for j, s in enumerate(segs):
        a, b = s["_first"], s["_last"]
        if j + 1 < len(segs):                    # no gaps between segments
            s["end_s"] = segs[j + 1]["start_s"]
        out.append(_finish(s, u, a, b))
    return out


def _merge_glitches(segs, opt):
    """A segment shorter than glitch_s between two others is a transition, not a state."""
    out = []
    for s in segs:
        if len(out) >= 2 and out[-1]["end_s"] - out[-1]["start_s"] < opt.glitch_s:
            s["start_s"] = out.pop()["start_s"]          # fold the transition period into the next
        p = out[-1] if out else None
        if p is not None and p["state"] == s["state"] and p["fault"] == s["fault"] \
                and p["pwm"] == s["pwm"] and (not s["pwm"] or abs(
                    p["_dsum"] / p["periods"] - s["_dsum"] / s["periods"]) <= max(p["_split"], s["_split"])):
            p["periods"] += s["periods"]
            p["_dsum"] += s["_dsum"]
            p["_last"] = s["_last"]
            p["end_s"] = s["end_s"]
            continue
        out.append(s)
    return out


def _nanmean(x):
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else None


def _finish(s, u, a, b):
    pwm = s["pwm"]
    seg = {"start_s": s["start_s"], "end_s": s["end_s"], "state": s["state"], "pwm": pwm,
           "fault": s["fault"], "periods": int(b - a) if pwm else 0}
    st = s["state"]
    seg["name"] = st + ("2" if pwm else "1") if st in ("A", "B", "C", "D") else st
    if pwm:
        duty = _nanmean(u["duty"][a:b])
        fr = u["freq"][a:b]
        tot = float(np.sum(1.0 / fr)) if len(fr) and not np.isnan(fr).any() else None
        seg["duty_pct"] = duty
        amps, note = amps_for_duty(duty)
        seg["amps"] = amps
        seg["note"] = note
        seg["frequency_hz"] = (b - a) / tot if tot else None
        seg["frequency_min_hz"] = float(fr.min()) if tot else None
        seg["frequency_max_hz"] = float(fr.max()) if tot else None
        seg["pos_v"] = _nanmean(u["pos"][a:b])
        seg["neg_v"] = _nanmean(u["neg"][a:b])
        seg["level_v"] = None
    else:
        lv = _nanmean(u["pos"][a:b])
        seg.update({"duty_pct": None, "amps": None, "note": "", "frequency_hz": None,
                    "frequency_min_hz": None, "frequency_max_hz": None,
                    "pos_v": lv if lv is not None and lv > 0 else None,
                    "neg_v": lv if lv is not None and lv <= 0 else None, "level_v": lv})
        if st == "A":
            seg["note"] = "X1: constant +12 V, no PWM"
        elif st == "F":
            seg["note"] = "F: constant -12 V, EVSE not available"
        elif st == "E":
            seg["note"] = "E: pilot at 0 V (shorted to PE)"
        elif st in ("B", "C", "D"):
            seg["note"] = "no PWM (constant +12 V source)"
    if seg["fault"] == "diode":
        seg["note"] = "diode fault: negative plateau mirrors the positive"
    elif seg["fault"] == "pilot":
        seg["note"] = "pilot fault: level outside every state band"
    return seg


# ------------------------------------------------------------------------------------ analyze
def analyze(cap, opt=None):
    """Analyse a Capture; returns a dict (the --json document without the checks)."""
    opt = opt or Options()
    pilot = cap.pilot
    if isinstance(pilot, Sampled):
        pieces = pieces_sampled(pilot, opt)
    else:
        pieces = pieces_steps(pilot, opt)
    u = units_from_pieces(*pieces, opt)
    plateau_mode = False
    if cap.duty is not None and not u["pwm"].any():
        dv = cap.duty.values
        if np.any((dv > 0) & (dv < 100)):
            u = units_from_plateau_vcd(pilot, cap.duty, cap.cp_neg)
            plateau_mode = True
    # edges, every level shorter than a DC level (max_piece), yet no PWM period measured: a PWM
    # capture too short to measure (a period needs 3 of them); its pieces are no DC states
    t_all, t_end_all = pieces[0], pieces[1]
    short_pwm = bool(not plateau_mode and not u["pwm"].any() and len(t_all) >= 2
                     and float(np.max(t_end_all - t_all)) <= opt.max_piece)
    if len(u["t0"]) == 0:
        # nothing but partial pieces: the whole capture is one level
        t_start, t_end, high, level, _ = pieces
        u = {"t0": t_start[:1], "t1": t_end[-1:], "pwm": np.zeros(1, bool), "duty": np.full(1, np.nan),
             "freq": np.full(1, np.nan), "pos": level[:1], "neg": np.full(1, np.nan)}
    # a logic pilot's 0 and 1 are no plateau volts; a capture too short for a period has levels
    # that are halves of one (their mean is no state): neither is read as a state
    no_states = pilot.logic or short_pwm
    segs = segments_from_units(u, opt, logic=no_states, dt=pilot.dt if isinstance(pilot, Sampled) else 0.0)
    if no_states:
        for s in segs:
            s["pos_v"] = s["neg_v"] = s["level_v"] = None
    if segs:
        segs[0]["start_s"] = min(segs[0]["start_s"], pilot.t0)
        segs[-1]["end_s"] = max(segs[-1]["end_s"], pilot.t_end)
    _mark_wakeups(segs)
    res = {
        "file": cap.path, "format": cap.fmt, "pilot_channel": cap.pilot_name,
        "contactor_channel": cap.contactor_name, "logic_pilot": bool(pilot.logic),
        "plateau_mode": plateau_mode, "samples": int(cap.samples),
        "start_s": float(pilot.t0), "duration_s": float(pilot.t_end - pilot.t0),
        "sample_rate_hz": (1.0 / pilot.dt) if isinstance(pilot, Sampled) else None,
        "segments": segs,
        "peak_v": _peak(pilot),
        "notes": list(cap.notes) + (
            ["capture too short: %d edge(s) but no full PWM period (a PWM needs 3 periods to be measured)"
             % (len(t_all) - 1)] if short_pwm else []),
        "short_pwm": short_pwm,
    }
    res["summary"] = _summary(u, segs)
    res["timeline"] = _timeline(segs, cap)
    return res


WAKEUP_F_S = (3.0, 5.0)        # facts section 4: a sleeping EV's wake-up is F (or CP off) for 4 s


def _mark_wakeups(segs):
    """An F of about 4 s right after a PWM in B, with the PWM back after it (or the capture's end),
    is the wake-up of a sleeping EV, not a fault: `wakeup` True and said in the note."""
    for j, s in enumerate(segs):
        prev = segs[j - 1] if j else None
        nxt = segs[j + 1] if j + 1 < len(segs) else None
        s["wakeup"] = bool(s["state"] == "F" and not s["pwm"] and prev is not None and prev["pwm"]
                           and prev["state"] == "B" and (nxt is None or nxt["pwm"])
                           and (WAKEUP_F_S[0] <= s["end_s"] - s["start_s"] <= WAKEUP_F_S[1]
                                or nxt is None and s["end_s"] - s["start_s"] <= WAKEUP_F_S[1]))
        if s["wakeup"]:
            s["note"] = "F: wake-up of a sleeping EV (about 4 s after B2)"


def _peak(pilot):
    """Robust peak |V| (99.9th percentile of a strided subsample): catches a forgotten divider."""
    if pilot.logic or len(pilot.values) == 0:
        return None
    v = pilot.values
    sub = np.abs(v[::max(1, len(v) // 200000)])
    return percentile(sub, 99.9)


def percentile(x, q):
    """np.percentile(x, q) (linear), with np.partition: np.percentile imports numpy.ma, 20 ms of
    the analyzer's start."""
    h = (len(x) - 1) * (q / 100.0)            # numpy's virtual index, rounding included
    lo = int(math.floor(h))
    hi = min(lo + 1, len(x) - 1)
    p = np.partition(x, [lo, hi])
    a, b = p[lo], p[hi]                        # in x's own type, as numpy interpolates
    t = float(h - lo)
    return float(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))


def _summary(u, segs):
    pw = [s for s in segs if s["pwm"]]
    fr = u["freq"][u["pwm"]]
    fr = fr[~np.isnan(fr)]
    out = {"pwm_periods": int(u["pwm"].sum()),
           "frequency_hz": float(len(fr) / np.sum(1.0 / fr)) if len(fr) else None,
           "frequency_min_hz": float(fr.min()) if len(fr) else None,
           "frequency_max_hz": float(fr.max()) if len(fr) else None,
           "duty_pct": None, "amps": None, "pos_v": None, "neg_v": None,
           "states": sorted(set(s["name"] for s in segs))}
    if pw:
        main = max(pw, key=lambda s: s["end_s"] - s["start_s"])
        out.update({"duty_pct": main["duty_pct"], "amps": main["amps"], "note": main["note"],
                    "pos_v": main["pos_v"], "neg_v": main["neg_v"]})
    elif segs:
        main = max(segs, key=lambda s: s["end_s"] - s["start_s"])
        out.update({"pos_v": main["pos_v"], "neg_v": main["neg_v"], "note": main["note"]})
    return out


def describe(seg):
    if seg["pwm"]:
        d = seg["duty_pct"]
        a = seg["amps"]
        txt = "%s PWM %.1f %%" % (seg["name"], d if d is not None else float("nan"))
        txt += " (%.1f A)" % a if a is not None else (" (%s)" % seg["note"] if seg["note"] else "")
        if seg["fault"]:
            txt += " " + seg["fault"] + " fault"
        return txt
    lv = seg["level_v"]
    return "%s %s" % (seg["name"], ("%+.2f V" % lv) if lv is not None else "")


def _timeline(segs, cap):
    ev = [{"t_s": s["start_s"], "kind": "pilot", "state": s["name"], "text": describe(s)} for s in segs]
    c = cap.contactor
    if c is not None and len(c):
        vals = c.values
        ch = np.concatenate(([0], np.flatnonzero(vals[1:] != vals[:-1]) + 1))
        name = cap.contactor_name or "contactor"
        for i in ch.tolist():
            if i == 0 and vals[0] == 0:
                continue
            ev.append({"t_s": float(c.times[i]), "kind": "contactor", "closed": bool(vals[i] > 0.5),
                       "text": "%s %s" % (name, "closed" if vals[i] > 0.5 else "open")})
    ev.sort(key=lambda e: (e["t_s"], e["kind"] != "pilot"))
    return ev
