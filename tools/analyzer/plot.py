"""--plot: the pilot waveform with states and contactor shaded (matplotlib, Agg)."""

import numpy as np

from tools.analyzer.capture import Sampled

STATE_COLORS = {"A": "#d9d9d9", "B": "#9ecae1", "C": "#a1d99b", "D": "#fdd0a2", "E": "#fcbba1",
                "F": "#cb181d", "F wake-up": "#bcbddc", "fault": "#fb6a4a", "?": "#f0f0f0"}
MS_AXIS_S = 1.0            # captures shorter than this get a millisecond time axis
PP_LATCHED_MAX = 300       # ohms, as firmware/evse/core/limits.py: J1772 / NACS 150 ohm latched
PP_BUTTON = ((330, 600), (2500, 99999))   # the latch button pressed: 480 ohm, about 6.3 kohm through a car's PP circuit
PP_OPEN = 1e8              # at or above: open (the bench writes 1e9)
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


def _key(s):
    """Legend / colour key of a segment: a wake-up F apart from an F that is a fault."""
    if s["fault"]:
        return "fault"
    if s["state"] == "F":
        return "F wake-up" if s.get("wakeup") else "F"
    return s["state"]


def _steps_xy(sig, t_end, k):
    tt = np.concatenate((sig.times, [t_end])) * k
    vv = np.concatenate((sig.values, sig.values[-1:]))
    return tt, vv


def plot(res, cap, out_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    has_k = cap.contactor is not None
    has_pp = getattr(cap, "pp", None) is not None
    ratios = [4, 1.3] + ([0.8] if has_k else []) + ([1.0] if has_pp else [])
    fig, axes = plt.subplots(len(ratios), 1, figsize=(13, 4.2 + 1.4 * len(ratios)), sharex=True,
                             gridspec_kw={"height_ratios": ratios})
    ms = res["duration_s"] < MS_AXIS_S
    k = 1e3 if ms else 1.0                      # time axis in ms for short captures
    ax = axes[0]
    p = cap.pilot
    if isinstance(p, Sampled):
        t, lo, hi = _envelope(p.t0, p.dt, p.values)
        if hi is None:
            ax.plot(t * k, lo, color="#08306b", lw=0.8, label="pilot")
        else:
            ax.fill_between(t * k, lo, hi, color="#08306b", lw=0.5, step="mid", label="pilot (min/max)")
    else:
        tt, vv = _steps_xy(p, p.t_end, k)
        if len(tt) > 200000:
            step = len(tt) // 100000
            tt, vv = tt[::step], vv[::step]
        ax.step(tt, vv, where="post", color="#08306b", lw=0.8, label="pilot")
    seen = {}
    for s in res["segments"]:
        key = _key(s)
        c = STATE_COLORS.get(key, "#ffffff")
        ax.axvspan(s["start_s"] * k, s["end_s"] * k, color=c, alpha=0.55, lw=0,
                   hatch="//" if key == "F wake-up" else None)
        seen[key] = c
        mid = (s["start_s"] + s["end_s"]) / 2 * k
        if (s["end_s"] - s["start_s"]) > 0.03 * max(res["duration_s"], 1e-9):
            lbl = s["name"] + (" wake-up" if key == "F wake-up" else " fault" if key == "F" else "")
            ax.text(mid, 13.3, lbl + (" diode!" if s["fault"] == "diode" else ""), ha="center",
                    va="bottom", fontsize=9, weight="bold", color="#a50f15" if key in ("F", "fault") else "k")
    ax.set_ylim(-14.5, 15.5)
    ax.set_ylabel("pilot (V)")
    ax.axhline(0, color="k", lw=0.5)
    ax.grid(alpha=0.3)
    handles = [Patch(color=c, alpha=0.55, hatch="//" if n == "F wake-up" else None,
                     label=("state " + n) if n != "fault" else "level fault") for n, c in sorted(seen.items())]
    ax.legend(handles=handles, loc="lower left", fontsize=8, ncol=min(len(handles), 7))
    ax.set_title("Control pilot: %s" % res["file"])

    ax2 = axes[1]
    for s in res["segments"]:
        if s["pwm"] and s["duty_pct"] is not None:
            ax2.hlines(s["duty_pct"], s["start_s"] * k, s["end_s"] * k, color="#08519c", lw=2)
            if s["end_s"] - s["start_s"] > 0.05 * max(res["duration_s"], 1e-9):
                lbl = "%.1f %%" % s["duty_pct"] + (" / %.0f A" % s["amps"] if s["amps"] else "")
                ax2.text((s["start_s"] + s["end_s"]) / 2 * k, s["duty_pct"] + 4, lbl, ha="center", fontsize=8)
    ax2.set_ylim(0, 110)
    ax2.set_ylabel("duty (%)")
    ax2.grid(alpha=0.3)
    row = 2
    if has_k:
        ax3 = axes[row]
        row += 1
        tt, vv = _steps_xy(cap.contactor, cap.t_end, k)
        ax3.fill_between(tt, 0, vv, step="post", color="#e6550d", alpha=0.6)
        ax3.set_ylim(-0.1, 1.3)
        ax3.set_yticks([0, 1])
        ax3.set_yticklabels(["open", "closed"])
        ax3.set_ylabel(cap.contactor_name or "contactor")
        ax3.grid(alpha=0.3)
    presses = _plot_pp(axes[row], cap, k) if has_pp else 0
    axes[-1].set_xlabel("time (ms)" if ms else "time (s)")
    axes[-1].set_xlim(res["start_s"] * k, (res["start_s"] + res["duration_s"]) * k)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return {"time_unit": "ms" if ms else "s", "keys": sorted(seen), "pp": has_pp, "button_presses": presses}


def _plot_pp(ax, cap, k):
    """PP resistance (log scale), the latch button's presses shaded."""
    tt, vv = _steps_xy(cap.pp, cap.t_end, k)
    shown = np.clip(vv, 50, 2e5)                 # open (1e9) drawn at the top of the axis
    ax.step(tt, shown, where="post", color="#54278f", lw=1.2)
    button = np.zeros(len(vv) - 1, dtype=bool)
    for lo, hi in PP_BUTTON:
        button |= (vv[:-1] >= lo) & (vv[:-1] <= hi)
    for j, i in enumerate(np.flatnonzero(button).tolist()):
        ax.axvspan(tt[i], tt[i + 1], color="#fd8d3c", alpha=0.45, lw=0,
                   label="latch button pressed" if j == 0 else None)
    ax.set_yscale("log")
    ax.set_ylim(50, 3e5)
    ax.set_yticks([150, 480, 1021, 6264, 2e5])
    ax.set_yticklabels(["150 latched", "480 button", "1k in a car", "6.3k button", "open"])
    ax.set_ylabel("PP (ohm)")
    if button.any():
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return int(button.sum())
