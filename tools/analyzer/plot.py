"""--plot: the pilot waveform with states and contactor shaded (matplotlib, Agg)."""

import numpy as np

from tools.analyzer.capture import Sampled

STATE_COLORS = {"A": "#d9d9d9", "B": "#9ecae1", "C": "#a1d99b", "D": "#fdd0a2", "E": "#fcbba1",
                "F": "#bcbddc", "fault": "#fb6a4a", "?": "#f0f0f0"}
MAX_POINTS = 4000          # min/max envelope bins: the plot stays readable and fast on long captures


def _envelope(t0, dt, v):
    n = len(v)
    if n <= 2 * MAX_POINTS:
        return t0 + np.arange(n) * dt, v, None
    k = n // MAX_POINTS
    m = (n // k) * k
    r = v[:m].reshape(-1, k)
    t = t0 + (np.arange(r.shape[0]) * k + k / 2) * dt
    return t, r.min(axis=1), r.max(axis=1)


def plot(res, cap, out_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    has_k = cap.contactor is not None
    fig, axes = plt.subplots(2 + has_k, 1, figsize=(13, 7.5 if has_k else 6.5), sharex=True,
                             gridspec_kw={"height_ratios": [4, 1.3] + ([0.8] if has_k else [])})
    ax = axes[0]
    p = cap.pilot
    if isinstance(p, Sampled):
        t, lo, hi = _envelope(p.t0, p.dt, p.values)
        if hi is None:
            ax.plot(t, lo, color="#08306b", lw=0.8, label="pilot")
        else:
            ax.fill_between(t, lo, hi, color="#08306b", lw=0.5, step="mid", label="pilot (min/max)")
    else:
        tt = np.concatenate((p.times, [p.t_end]))
        vv = np.concatenate((p.values, p.values[-1:]))
        if len(tt) > 200000:
            step = len(tt) // 100000
            tt, vv = tt[::step], vv[::step]
        ax.step(tt, vv, where="post", color="#08306b", lw=0.8, label="pilot")
    seen = {}
    for s in res["segments"]:
        c = STATE_COLORS["fault"] if s["fault"] else STATE_COLORS.get(s["state"], "#ffffff")
        ax.axvspan(s["start_s"], s["end_s"], color=c, alpha=0.55, lw=0)
        seen["fault" if s["fault"] else s["state"]] = c
        mid = (s["start_s"] + s["end_s"]) / 2
        if (s["end_s"] - s["start_s"]) > 0.03 * max(res["duration_s"], 1e-9):
            ax.text(mid, 13.3, s["name"] + (" diode!" if s["fault"] == "diode" else ""), ha="center",
                    va="bottom", fontsize=9, weight="bold")
    ax.set_ylim(-14.5, 15.5)
    ax.set_ylabel("pilot (V)")
    ax.axhline(0, color="k", lw=0.5)
    ax.grid(alpha=0.3)
    handles = [Patch(color=c, alpha=0.55, label="state " + k) for k, c in sorted(seen.items())]
    ax.legend(handles=handles, loc="lower left", fontsize=8, ncol=min(len(handles), 7))
    ax.set_title("Control pilot: %s" % res["file"])

    ax2 = axes[1]
    for s in res["segments"]:
        if s["pwm"] and s["duty_pct"] is not None:
            ax2.hlines(s["duty_pct"], s["start_s"], s["end_s"], color="#08519c", lw=2)
            if s["end_s"] - s["start_s"] > 0.05 * max(res["duration_s"], 1e-9):
                lbl = "%.1f %%" % s["duty_pct"] + (" / %.0f A" % s["amps"] if s["amps"] else "")
                ax2.text((s["start_s"] + s["end_s"]) / 2, s["duty_pct"] + 4, lbl, ha="center", fontsize=8)
    ax2.set_ylim(0, 110)
    ax2.set_ylabel("duty (%)")
    ax2.grid(alpha=0.3)
    if has_k:
        ax3 = axes[2]
        c = cap.contactor
        tt = np.concatenate((c.times, [cap.t_end]))
        vv = np.concatenate((c.values, c.values[-1:]))
        ax3.fill_between(tt, 0, vv, step="post", color="#e6550d", alpha=0.6)
        ax3.set_ylim(-0.1, 1.3)
        ax3.set_yticks([0, 1])
        ax3.set_yticklabels(["open", "closed"])
        ax3.set_ylabel(cap.contactor_name or "contactor")
        ax3.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(res["start_s"], res["start_s"] + res["duration_s"])
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
