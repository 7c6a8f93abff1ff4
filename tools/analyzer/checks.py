"""Conformance checks of an analysed capture against the facts sheet. Each check is a dict:
name, ok, measured (number), unit, limit (text), detail (text)."""

import numpy as np

from tools.analyzer.core import duty_for_amps, HLC_DUTY

FREQ_MIN_HZ = 980.0
FREQ_MAX_HZ = 1020.0
GEN_POS = (11.4, 12.6)             # +12 V +-5 %
GEN_NEG = (-12.6, -11.4)           # -12 V +-5 %
DIODE_NEG = (-13.0, -11.0)         # negative plateau with the EV's diode in place (facts 3)
J1772_BANDS = {"A": (11.40, 12.60), "B": (8.36, 9.56), "C": (5.48, 6.49), "D": (2.62, 3.25)}
DUTY_MIN = 10.0                    # never under 10 % except the 5 % of high-level communication
DUTY_MAX = 96.0                    # never above 96 %
OPEN_AFTER_C_TO_B_S = 0.100        # IEC 61851-1 Table A.6 seq 8.1
OPEN_AFTER_PWM_OFF_S = 6.0         # seq 10.2
CLOSE_AFTER_B_TO_C_S = 3.0         # seq 4: B to C with the PWM on, contactor closed within 3 s
DUTY_CHANGE_MIN_S = 5.0            # facts 2: change the nominal duty at most once every 5 s
DUTY_CHANGE_SLACK_S = 0.005        # each change is placed to within a PWM period (1 ms)
DUTY_CHANGE_POINTS = 0.4           # the segment split (core.Options.duty_split): smaller is no change
DEFAULT_DUTY_TOL = 0.5
PEAK_MIN_V = 2.0                   # a pilot reaches at least the D plateau or -12 V
PEAK_MAX_V = 14.0                  # above +13 V is impossible: a wrong scale
PILOT_STATES = ("A", "B", "C", "D", "F")


def _check(name, ok, measured, unit, limit, detail=""):
    return {"name": name, "ok": bool(ok), "measured": None if measured is None else float(measured),
            "unit": unit, "limit": limit, "detail": detail}


def _nominal(seg):
    """A PWM segment at a nominal duty: measured, and not the 5 % of high-level communication."""
    return bool(seg["pwm"]) and seg["duty_pct"] is not None and not HLC_DUTY[0] <= seg["duty_pct"] <= HLC_DUTY[1]


def _worst(values, lo, hi):
    """The value farthest outside [lo, hi] (or closest to an edge when all are inside)."""
    vals = np.asarray(values, dtype=float)
    margin = np.minimum(vals - lo, hi - vals)
    return float(vals[int(np.argmin(margin))])


def run(res, cap, expect_current=None, duty_tol=DEFAULT_DUTY_TOL):
    segs = res["segments"]
    pwm = [s for s in segs if s["pwm"]]
    out = [_pilot_found(res, segs, pwm)]
    # frequency
    fr = [s for s in pwm if s["frequency_hz"] is not None]
    if fr:
        # every period, not segment means: 500 Hz and 2 kHz periods must not average to a pass
        lo = min(s["frequency_min_hz"] for s in fr)
        hi = max(s["frequency_max_hz"] for s in fr)
        w = _worst([lo, hi], FREQ_MIN_HZ, FREQ_MAX_HZ)
        rate = res.get("sample_rate_hz")
        if not rate and getattr(cap.pilot, "resolution", 0.0) > 0.0:
            rate = 1.0 / cap.pilot.resolution         # a VCD's edges are rounded to its $timescale
        bad = [s for s in fr if _freq_off(s, rate)]
        if bad:
            b = bad[0]
            w = _worst([b["frequency_min_hz"], b["frequency_max_hz"], b["frequency_hz"]], FREQ_MIN_HZ, FREQ_MAX_HZ)
        out.append(_check("frequency", not bad, w, "Hz", "980-1020 Hz every period (1 kHz +-2 %)",
                          "single periods %.1f-%.1f Hz" % (lo, hi) + (
                              "; first off at %.3f s (%s)" % (bad[0]["start_s"], bad[0]["name"]) if bad else "")))
    if res["logic_pilot"]:
        levels_known = False
    else:
        levels_known = True
    if levels_known and res.get("peak_v") is not None:
        # a sample peak over the range may be a probe's ringing on the edges, not a wrong scale: then
        # the plateaus judge (read 10 us after each edge, facts 3); ringing never lowers the peak
        pk = res["peak_v"]
        plat = [abs(x) for s in segs for x in (s["pos_v"], s["neg_v"]) if x is not None]
        on_plateaus = pk > PEAK_MAX_V and bool(plat)
        if on_plateaus:
            pk = max(plat)
        out.append(_check("signal_range", PEAK_MIN_V <= pk <= PEAK_MAX_V, pk, "V",
                          "%s |V| %g-%g V" % ("largest plateau" if on_plateaus else "peak", PEAK_MIN_V, PEAK_MAX_V),
                          "" if PEAK_MIN_V <= pk <= PEAK_MAX_V else
                          "pilot never reaches a plateau: wrong --divider / --scale, or no pilot?"))
    if levels_known and not res.get("short_pwm"):    # too short: no level was read as a state
        a = [s["pos_v"] for s in segs if s["state"] == "A" and s["pos_v"] is not None and not s["fault"]]
        if a:
            w = _worst(a, *GEN_POS)
            out.append(_check("generator_positive", GEN_POS[0] <= min(a) and max(a) <= GEN_POS[1], w, "V",
                              "+12 V +-5 % (11.4-12.6 V)", "positive plateau with nothing connected (A)"))
        neg = [s["neg_v"] for s in pwm if s["neg_v"] is not None and s["fault"] != "diode" and s["state"] != "E"]
        neg += [s["level_v"] for s in segs if s["state"] == "F" and s["level_v"] is not None]
        if neg:
            w = _worst(neg, *GEN_NEG)
            out.append(_check("generator_negative", GEN_NEG[0] <= min(neg) and max(neg) <= GEN_NEG[1], w,
                              "V", "-12 V +-5 % (-12.6 to -11.4 V)", "negative plateau and state F"))
        bad = [s for s in segs if s["fault"] == "pilot"]
        # a PWM in a state band is faulted by its negative plateau: that is the level to show
        lv = [((s["neg_v"] if s["state"] in PILOT_STATES else s["pos_v"]) if s["pwm"] else s["level_v"]) for s in bad]
        out.append(_check("pilot_levels", not bad, lv[0] if lv else len(bad), "V" if lv else "segments",
                          "every level in a state band (facts 3)",
                          "%d segment(s) at an impossible level" % len(bad) if bad else "all in bands"))
        inband = [s for s in segs if s["state"] in ("B", "C", "D") and s["pos_v"] is not None
                  and not s["fault"]]
        if inband:
            devs = []
            for s in inband:
                lo_, hi_ = J1772_BANDS[s["state"]]
                devs.append(max(lo_ - s["pos_v"], s["pos_v"] - hi_, 0.0))
            k = int(np.argmax(devs))
            s = inband[k]
            out.append(_check("state_bands", max(devs) == 0.0, s["pos_v"], "V",
                              "J1772 bands B 8.36-9.56, C 5.48-6.49, D 2.62-3.25 V",
                              "worst: %s at %.3f s" % (s["name"], s["start_s"])))
        negs = [s for s in pwm if s["neg_v"] is not None and s["state"] != "E"]   # E: shorted, no diode to see
        if negs:
            lo, hi = DIODE_NEG
            bad = [s for s in negs if not lo <= s["neg_v"] <= hi]
            w = bad[0] if bad else min(negs, key=lambda s: min(s["neg_v"] - lo, hi - s["neg_v"]))
            if not bad:
                why = "ok"
            elif w["fault"] == "diode":
                why = "diode missing or shorted at %.3f s (the negative plateau mirrors the positive)" % w["start_s"]
            else:
                why = "negative plateau %.2f V at %.3f s" % (w["neg_v"], w["start_s"])
            out.append(_check("diode", not bad, w["neg_v"], "V", "negative plateau %g to %g V while PWM runs"
                              % DIODE_NEG, why))
    # duty
    dd = [s for s in pwm if s["duty_pct"] is not None]
    if dd:
        def in_range(d):
            return (HLC_DUTY[0] <= d <= HLC_DUTY[1]) or (DUTY_MIN - duty_tol <= d <= DUTY_MAX + duty_tol)
        badd = [s["duty_pct"] for s in dd if not in_range(s["duty_pct"])]
        out.append(_check("duty_range", not badd, badd[0] if badd else max(s["duty_pct"] for s in dd), "%",
                          "5 %% or 10-96 %% (+-%.2g)" % duty_tol, "duty outside the encoding" if badd else ""))
    if expect_current is not None and dd:
        want = duty_for_amps(expect_current)
        nom = [s for s in dd if _nominal(s)]
        if nom:
            errs = [s["duty_pct"] - want for s in nom]
            k = int(np.argmax(np.abs(errs)))
            out.append(_check("duty_expected", abs(errs[k]) <= duty_tol, nom[k]["duty_pct"], "%",
                              "%.2f %% +- %.2g (%.1f A)" % (want, duty_tol, expect_current),
                              "advertises %s A" % ("%.1f" % nom[k]["amps"] if nom[k]["amps"] is not None
                                                   else "no current")))
        else:
            out.append(_check("duty_expected", False, None, "%", "%.2f %%" % want, "no nominal PWM in capture"))
    out += _duty_changes(pwm, segs)
    out += _contactor_checks(res, cap)
    return out


def _duty_changes(pwm, segs):
    """Facts 2: the nominal duty changes at most once every 5 s, read as the project's firmware
    applies it: a raise comes 5 s or more after the previous change; lowering the current is never
    held back (a thermal derate, a load limit or a fault cannot wait 5 s). A change is a PWM segment right
    after another PWM segment (no stop between them) whose duty differs by more than the segment
    split (0.4 points; a B2 -> C2 at the same duty is no change); the 5 % of high-level
    communication is not a nominal duty. Runs when one PWM run has two changes or more."""
    gaps, n, last = [], 0, None
    for p, s in zip(segs, segs[1:]):
        if not (_nominal(p) and _nominal(s)):
            last = None                           # the PWM stopped, started or went to 5 %: no interval across it
            continue
        dp, ds = p["duty_pct"], s["duty_pct"]
        if abs(ds - dp) <= DUTY_CHANGE_POINTS:
            continue
        n += 1
        t = s["start_s"]
        if last is not None and ds > dp:          # lowering at once is allowed (thermal, load, faults)
            gaps.append((t - last[0], last[0], t, last[1], ds))
        last = (t, dp)
    if not gaps:
        return []
    g = min(gaps)
    ok = g[0] >= DUTY_CHANGE_MIN_S - DUTY_CHANGE_SLACK_S
    return [_check("duty_change_interval", ok, g[0], "s", ">= %g s from a duty change to a raise"
                   % DUTY_CHANGE_MIN_S, "%d change(s); shortest interval %.3f s, %.3f s to %.3f s (then %.1f %%)"
                   % (n, g[0], g[1], g[2], g[4]))]


def _freq_off(s, rate):
    """A PWM segment outside 980-1020 Hz. A sampled capture places each edge within half a sample
    (a VCD within its $timescale unit), so a single period may read one sample long or short
    (f^2 / rate: 1 Hz at 1 MS/s, 23 Hz at 44.1 kS/s): a 1020 Hz pilot at 1 MS/s has periods of 980
    and 981 samples, 1020.4 and 1019.4 Hz, and is in tolerance. Single periods get that allowance;
    the segment's mean frequency (its periods' total time, good to one sample over the whole
    segment) is held to 980-1020 Hz too."""
    f = s["frequency_hz"]
    q = f * f / rate if rate else 0.0
    qm = q / max(1, s["periods"])
    return (s["frequency_min_hz"] < FREQ_MIN_HZ - q or s["frequency_max_hz"] > FREQ_MAX_HZ + q
            or not FREQ_MIN_HZ - qm <= f <= FREQ_MAX_HZ + qm)


def _pilot_found(res, segs, pwm):
    """Always run, so a capture with no pilot in it is never a pass: a logic pilot needs measured
    PWM periods, an analog one a segment at a pilot level (A-D, F)."""
    if res["logic_pilot"]:
        n = res["summary"]["pwm_periods"]
        return _check("pilot_found", n > 0, n, "periods", "a PWM in the capture",
                      "%d PWM periods" % n if n else
                      "no pilot found: no PWM period in the logic channel %r" % res["pilot_channel"])
    # a PWM in a state band whose negative plateau is wrong (diode missing, a weak -12 V) is a pilot:
    # `diode` / `generator_negative` fail for it, not this (an impossible positive level is state "fault")
    ok = [s for s in segs if s["state"] in PILOT_STATES]
    if res.get("short_pwm"):
        return _check("pilot_found", False, res["duration_s"], "s", "a segment at a pilot level (A-D, F)",
                      "capture too short: edges but no full PWM period (needs 3 periods); "
                      "its levels are not states")
    dur = sum(s["end_s"] - s["start_s"] for s in ok)
    return _check("pilot_found", bool(ok), dur, "s", "a segment at a pilot level (A-D, F)",
                  "%d segment(s), %d with PWM" % (len(ok), sum(1 for s in ok if s["pwm"])) if ok else
                  "no pilot found: no level of states A-D or F in channel %r" % res["pilot_channel"])


def _opening(cap, t):
    """Seconds from t until the contactor channel reads open; (None, still_closed_for) if never."""
    c = cap.contactor
    i = int(np.searchsorted(c.times, t, side="left"))     # an opening at t itself counts (0 ms)
    vals = c.values
    opened = np.flatnonzero(vals[i:] < 0.5)
    if len(opened):
        return float(c.times[i + opened[0]] - t), None
    return None, cap.t_end - t


def _closed_at(cap, t):
    return bool(cap.contactor.at(t - 1e-9) > 0.5)


def _closing(cap, segs):
    """Facts 4 (seq 4): B -> C/D with a nominal PWM on: the contactor closes within 3 s, unless the
    EV leaves C/D or the PWM stops or goes to 5 % before that (or the capture ends: no verdict)."""
    c = cap.contactor
    worst, detail, ok = None, [], True
    for j in range(1, len(segs)):
        p, s = segs[j - 1], segs[j]
        t = s["start_s"]
        if p["state"] != "B" or s["state"] not in ("C", "D") or not _nominal(s) or _closed_at(cap, t):
            continue
        end = next((x["start_s"] for x in segs[j + 1:] if not (x["state"] in ("C", "D") and _nominal(x))),
                   cap.t_end)
        i = int(np.searchsorted(c.times, t, side="left"))
        closed = np.flatnonzero(c.values[i:] > 0.5)
        tc = float(c.times[i + closed[0]]) if len(closed) else None
        if tc is not None and tc <= end:
            d = tc - t
            detail.append("%s->%s at %.3f s: %.1f ms" % (p["name"], s["name"], t, d * 1e3))
        elif end - t >= CLOSE_AFTER_B_TO_C_S:
            d = end - t
            detail.append("%s->%s at %.3f s: still open %.3f s later" % (p["name"], s["name"], t, d))
        else:
            continue                                  # the EV left C, or the capture ended: no verdict
        ok = ok and d <= CLOSE_AFTER_B_TO_C_S
        worst = d if worst is None else max(worst, d)
    if worst is None:
        return []
    return [_check("contactor_close_after_b_to_c", ok, worst * 1e3, "ms", "<= %g ms" % (CLOSE_AFTER_B_TO_C_S * 1e3),
                   "; ".join(detail))]


def _contactor_checks(res, cap):
    if cap.contactor is None:
        return []
    segs = res["segments"]
    kinds = {"c_to_b": [], "pwm_off": []}
    for p, s in zip(segs, segs[1:]):
        t = s["start_s"]
        if p["state"] not in ("C", "D") or not _closed_at(cap, t):
            continue
        if s["state"] in ("A", "B", "E"):     # E: pilot shorted to PE while charging (facts 8: must open),
            kinds["c_to_b"].append((t, p["name"], s["name"]))   # the EV's signal lost as at an unplug
        elif p["pwm"] and not s["pwm"] and s["state"] in ("C", "D", "F", "fault"):
            kinds["pwm_off"].append((t, p["name"], s["name"]))
    out = _closing(cap, segs)
    for kind, limit, title in (("c_to_b", OPEN_AFTER_C_TO_B_S, "contactor_open_after_c_to_b"),
                               ("pwm_off", OPEN_AFTER_PWM_OFF_S, "contactor_open_after_pwm_off")):
        worst, detail, ok, n = None, [], True, 0
        for t, a, b in kinds[kind]:
            d, still = _opening(cap, t)
            if d is None:
                if still < limit:
                    continue                      # the capture ends before the limit: no verdict
                d = still
                detail.append("%s->%s at %.3f s: still closed at the end" % (a, b, t))
            else:
                detail.append("%s->%s at %.3f s: %.1f ms" % (a, b, t, d * 1e3))
            n += 1
            ok = ok and d <= limit
            worst = d if worst is None else max(worst, d)
        if n:
            out.append(_check(title, ok, worst * 1e3, "ms", "<= %g ms" % (limit * 1e3), "; ".join(detail)))
    return out
