"""Synthetic pilot captures for tests and benchmarks, from the facts sheet's circuit: a +-12 V
generator through 1 kOhm; the EV's resistor behind a diode (~0.7 V drop).

A schedule is a list of dicts: {"dur": seconds, "state": "A".."E", "duty": percent or None,
"diode": True, "contactor": False}. duty None = X1 (constant +12 V source), 0 = F (constant -12 V),
otherwise PWM at `freq`. Writers give the formats the analyzer reads: bench VCD (waveform or
plateau), scope CSV and a sigrok session (.sr)."""

import zipfile

import numpy as np

SOURCE_V = 12.0
SOURCE_OHMS = 1000.0
DIODE_DROP = 0.7
EV_OHMS = {"A": None, "B": 2740.0, "C": 882.0, "D": 246.0}
CHUNK = 1 << 22


def levels(state, diode=True, source_v=SOURCE_V):
    """(positive, negative) plateau volts at the connector for an EV state."""
    if state == "E":
        return 0.0, 0.0
    r = EV_OHMS[state]
    if r is None:
        return source_v, -source_v
    if diode:
        pos = DIODE_DROP + (source_v - DIODE_DROP) * r / (r + SOURCE_OHMS)
        return pos, -source_v
    v = source_v * r / (r + SOURCE_OHMS)        # diode shorted: both half-waves load the line
    return v, -v


def _seg_defaults(s):
    d = {"state": "A", "duty": None, "diode": True, "contactor": False}
    d.update(s)
    return d


def sampled(schedule, rate=1e6, freq=1000.0, noise=0.0, seed=0, source_v=SOURCE_V):
    """Sampled pilot (float32 volts) and contactor (uint8), both of the same length."""
    sched = [_seg_defaults(s) for s in schedule]
    counts = [int(round(s["dur"] * rate)) for s in sched]
    n = sum(counts)
    v = np.empty(n, dtype=np.float32)
    k = np.empty(n, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    off = 0
    for s, c in zip(sched, counts):
        pos, neg = levels(s["state"], s["diode"], source_v)
        k[off:off + c] = 1 if s["contactor"] else 0
        duty = s["duty"]
        for a in range(off, off + c, CHUNK):
            b = min(a + CHUNK, off + c)
            if duty is None:
                v[a:b] = pos
            elif duty <= 0:
                v[a:b] = -source_v if s["state"] != "E" else 0.0
            else:
                phase = (np.arange(a, b, dtype=np.float64) * (freq / rate)) % 1.0
                v[a:b] = np.where(phase < duty / 100.0, np.float32(pos), np.float32(neg))
            if noise:
                v[a:b] += rng.standard_normal(b - a, dtype=np.float32) * np.float32(noise)
        off += c
    return v, k


def edges(schedule, freq=1000.0, source_v=SOURCE_V):
    """Exact pilot changes: (times s, volts, high flags), contactor (times, 0/1), duty (times, %),
    end time. Used by the VCD writers."""
    sched = [_seg_defaults(s) for s in schedule]
    ts, vs, hs, kt, kv, dt_, dv = [], [], [], [], [], [], []
    t = 0.0
    for s in sched:
        pos, neg = levels(s["state"], s["diode"], source_v)
        duty = s["duty"]
        end = t + s["dur"]
        kt.append(t)
        kv.append(1 if s["contactor"] else 0)
        dt_.append(t)
        dv.append(100.0 if duty is None else float(duty))
        if duty is None or duty <= 0:
            lv = pos if duty is None else (-source_v if s["state"] != "E" else 0.0)
            ts.append(np.array([t]))
            vs.append(np.array([lv]))
            hs.append(np.array([lv > 1.0]))
        else:
            p = 1.0 / freq
            first = np.ceil(t / p - 1e-9) * p         # periods stay on the generator's grid
            rise = np.arange(first, end - 1e-12, p)
            fall = rise + p * duty / 100.0
            tt = np.concatenate(([t], np.column_stack((rise, fall)).ravel()))
            vv = np.concatenate(([neg], np.tile([pos, neg], len(rise))))
            keep = tt < end - 1e-12
            ts.append(tt[keep])
            vs.append(vv[keep])
            hs.append(vv[keep] > 1.0)
        t = end
    return (np.concatenate(ts), np.concatenate(vs), np.concatenate(hs),
            (np.array(kt), np.array(kv)), (np.array(dt_), np.array(dv)), t)


def write_vcd(path, schedule, freq=1000.0, waveform=True, ac_out=True, source_v=SOURCE_V):
    """A VCD like the bench's (timescale 1 us, scope bench). waveform False: cp only at plateau
    changes (its positive plateau while PWM runs) and `duty` gives the PWM."""
    t, v, h, (kt, kv), (dt_, dv), t_end = edges(schedule, freq, source_v)
    if not waveform:
        sched = [_seg_defaults(s) for s in schedule]
        t = np.array([sum(s["dur"] for s in sched[:i]) for i in range(len(sched))])
        v = np.array([levels(s["state"], s["diode"], source_v)[0] if s["duty"] is None or s["duty"] > 0
                      else (-source_v if s["state"] != "E" else 0.0) for s in sched])
        h = v > 1.0
    lines = ["$date synthetic $end", "$version tools.analyzer.synth $end", "$timescale 1 us $end",
             "$scope module bench $end", "$var real 64 ! cp $end", "$var real 64 \" duty $end",
             "$var wire 1 # contactor $end", "$var wire 1 $ ac_out $end", "$var real 64 % ev_current $end",
             "$var real 64 & pp $end", "$var wire 1 ' cp_high $end", "$var real 64 ( cp_neg $end", "$upscope $end", "$enddefinitions $end"]
    ev = []                                     # (time us, order, text)
    for a, b, c in zip(np.round(t * 1e6).astype(np.int64).tolist(), v.tolist(), h.tolist()):
        ev.append((a, 0, "r%.6g !" % b))
        ev.append((a, 1, "%d'" % c))
    for a, b in zip(np.round(dt_ * 1e6).astype(np.int64).tolist(), dv.tolist()):
        ev.append((a, 2, "r%.6g \"" % b))
    for a, b in zip(np.round(kt * 1e6).astype(np.int64).tolist(), kv.tolist()):
        ev.append((a, 3, "%d#" % b))
        if ac_out:
            ev.append((a, 4, "%d$" % b))
    t_seg = 0.0
    for sg in (_seg_defaults(x) for x in schedule):            # the negative plateau, per segment
        ev.append((int(round(t_seg * 1e6)), 5, "r%.6g (" % levels(sg["state"], sg["diode"], source_v)[1]))
        t_seg += sg["dur"]
    ev.sort()
    out = lines + ["#0", "$dumpvars", "r0 %", "r150 &", "$end"]
    last = None
    for a, _, txt in ev:
        if a != last:
            out.append("#%d" % a)
            last = a
        out.append(txt)
    out.append("#%d" % int(round(t_end * 1e6)))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_scope_csv(path, v, rate, scale=1.0, header="junk", contactor=None):
    """Plain scope CSV: time (s), volts / scale (what a scope behind a divider of `scale` shows)."""
    n = len(v)
    t = np.arange(n) / rate
    cols = [t, v / scale]
    names = ["Time (s)", "CH1 (V)"]
    if contactor is not None:
        cols.append(contactor)
        names.append("contactor")
    with open(path, "w") as f:
        if header == "junk":
            f.write("Model,SYNTH-SCOPE 1000\nRecord Length,%d\nSample Interval,%g\n\n" % (n, 1.0 / rate))
        f.write(",".join(names) + "\n")
        fmt = ["%.9g", "%.5g"] + (["%d"] if contactor is not None else [])
        np.savetxt(f, np.column_stack(cols), delimiter=",", fmt=fmt)


def write_sr(path, rate, analog=None, logic=None, chunk=1 << 22):
    """A sigrok session file (srzip v2): analog {name: float32 array}, logic {name: 0/1 array}.
    Members hold `chunk` samples each, logic and analog alike."""
    analog = analog or {}
    logic = logic or {}
    ln = list(logic)
    meta = ["[global]", "sigrok version=0.5.2", "", "[device 1]", "capturefile=logic-1",
            "total probes=%d" % len(ln), "samplerate=%s" % _rate_text(rate),
            "total analog=%d" % len(analog)]
    meta += ["probe%d=%s" % (i + 1, n) for i, n in enumerate(ln)]
    meta += ["analog%d=%s" % (len(ln) + i + 1, n) for i, n in enumerate(analog)]
    meta += ["unitsize=1", ""]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("version", "2")
        z.writestr("metadata", "\n".join(meta))
        if ln:
            packed = np.zeros(len(logic[ln[0]]), dtype=np.uint8)
            for i, n in enumerate(ln):
                packed |= (np.asarray(logic[n]).astype(np.uint8) & 1) << i
            for c, a in enumerate(range(0, len(packed), chunk)):
                z.writestr("logic-1-%d" % (c + 1), packed[a:a + chunk].tobytes())
        for i, n in enumerate(analog):
            arr = np.asarray(analog[n], dtype="<f4")
            for c, a in enumerate(range(0, len(arr), chunk)):
                z.writestr("analog-1-%d-%d" % (len(ln) + i + 1, c + 1), arr[a:a + chunk].tobytes())


def _rate_text(rate):
    for div, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if rate >= div and rate % div == 0:
            return "%d %s" % (rate // div, unit)
    return "%d Hz" % rate
