"""Human-readable and JSON renderings of an analysis."""

import math


def _f(x, fmt, unit=""):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return (fmt % x) + unit


def text(res):
    s = res["summary"]
    out = []
    rate = (", %s samples at %s" % (res["samples"], _f(res["sample_rate_hz"] / 1e6, "%.6g", " MHz"))
            if res["sample_rate_hz"] else ", %d changes" % res["samples"])
    out.append("capture   %s (%s, %.6f s%s)" % (res["file"], res["format"], res["duration_s"], rate))
    out.append("channels  pilot %s%s, contactor %s" % (res["pilot_channel"], " (logic)" if res["logic_pilot"] else "",
                                                       res["contactor_channel"] or "none"))
    for note in res.get("notes", ()):
        out.append("note      %s" % note)
    if res["plateau_mode"]:
        out.append("          plateau-level VCD: duty from the `duty` variable, frequency not recorded")
    out.append("pilot     frequency %s (%s to %s, %d periods)" % (
        _f(s["frequency_hz"], "%.2f", " Hz"), _f(s["frequency_min_hz"], "%.2f"), _f(s["frequency_max_hz"], "%.2f"),
        s["pwm_periods"]))
    amps = _f(s["amps"], "%.1f", " A") if s["amps"] is not None else (s.get("note") or "-")
    out.append("          duty %s -> %s   plateaus %s / %s" % (
        _f(s["duty_pct"], "%.2f", " %"), amps, _f(s["pos_v"], "%+.2f", " V"), _f(s["neg_v"], "%+.2f", " V")))
    out.append("")
    out.append("segments")
    out.append("  %10s %10s  %-6s %8s %8s %9s %8s %8s  %s" % ("start s", "end s", "state", "duty %", "amps",
                                                              "freq Hz", "+V", "-V", "note"))
    for g in res["segments"]:
        out.append("  %10.4f %10.4f  %-6s %8s %8s %9s %8s %8s  %s" % (
            g["start_s"], g["end_s"], g["name"], _f(g["duty_pct"], "%.2f"), _f(g["amps"], "%.1f"),
            _f(g["frequency_hz"], "%.2f"), _f(g["pos_v"], "%+.2f"), _f(g["neg_v"], "%+.2f"), g["note"]))
    out.append("")
    out.append("timeline")
    for e in res["timeline"]:
        out.append("  %10.4f s  %s" % (e["t_s"], e["text"]))
    out.append("")
    out.append("checks")
    for c in res["checks"]:
        out.append("  %-4s %-30s %12s   limit %s%s" % (
            "PASS" if c["ok"] else "FAIL", c["name"], _f(c["measured"], "%.3f", " " + c["unit"]), c["limit"],
            ("   (" + c["detail"] + ")") if c["detail"] else ""))
    if not res["checks"]:
        out.append("  (none applicable)")
    nfail = sum(1 for c in res["checks"] if not c["ok"])
    if not res["checks"]:
        verdict = "FAIL: no check could run"
    elif nfail:
        verdict = "%d of %d checks FAIL" % (nfail, len(res["checks"]))
    else:
        verdict = "all %d checks pass" % len(res["checks"])
    out.append("result    %s" % verdict)
    return "\n".join(out)


def _clean(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def to_json(res):
    import json              # only --json needs it
    return json.dumps(_clean(res), indent=1)
