"""The in-memory shape of a capture: a pilot signal and optional digital channels."""

import numpy as np


class Sampled:
    """Uniformly sampled signal: value of sample i at time t0 + i * dt (seconds)."""
    kind = "sampled"

    def __init__(self, t0, dt, values, logic=False):
        self.t0 = float(t0)
        self.dt = float(dt)
        self.values = values
        self.logic = logic

    @property
    def t_end(self):
        return self.t0 + len(self.values) * self.dt

    def __len__(self):
        return len(self.values)


class Steps:
    """Piecewise-constant signal: values[i] holds from times[i] until times[i+1] (or t_end)."""
    kind = "steps"

    def __init__(self, times, values, t_end, logic=False, resolution=0.0):
        self.resolution = resolution        # the time unit the writer rounded to (a VCD's $timescale)
        self.times = np.asarray(times, dtype=np.float64)
        self.values = np.asarray(values, dtype=np.float64)
        self.t_end = float(t_end)
        self.logic = logic

    @property
    def t0(self):
        return float(self.times[0]) if len(self.times) else 0.0

    def __len__(self):
        return len(self.times)

    def at(self, t):
        """Value at time(s) t (the first value before the first change)."""
        i = np.searchsorted(self.times, t, side="right") - 1
        return self.values[np.clip(i, 0, len(self.values) - 1)]


def sampled_to_steps(sig, threshold=None):
    """Digital view of a sampled channel: steps of 0/1 (threshold at mid-range unless given)."""
    v = sig.values
    if threshold is None:
        lo, hi = float(np.min(v)), float(np.max(v))
        threshold = 0.5 if hi <= 1.5 and lo >= -0.5 else (lo + hi) / 2.0
        if hi - lo < 1e-9:
            threshold = 0.5
    b = (v > threshold).astype(np.int8)
    idx = np.flatnonzero(b[1:] != b[:-1]) + 1
    idx = np.concatenate(([0], idx))
    return Steps(sig.t0 + idx * sig.dt, b[idx].astype(np.float64), sig.t_end, logic=True)


class Capture:
    """pilot: Sampled or Steps (volts, or 0/1 when logic). duty: Steps of the commanded duty (bench VCD
    only). contactor: Steps of 0/1 or None. channels: every channel name found, for messages."""

    def __init__(self, path, fmt, pilot, pilot_name, duty=None, contactor=None, contactor_name=None,
                 channels=()):
        self.path = path
        self.fmt = fmt
        self.pilot = pilot
        self.pilot_name = pilot_name
        self.duty = duty
        self.contactor = contactor
        self.contactor_name = contactor_name
        self.channels = list(channels)
        self.cp_neg = None          # Steps of the negative plateau, when the file records it
        self.pp = None              # Steps of the proximity (PP) resistance in ohms (bench VCD)
        self.notes = []             # what the reader left out, said in the report

    @property
    def t0(self):
        return self.pilot.t0

    @property
    def t_end(self):
        return self.pilot.t_end

    @property
    def samples(self):
        return len(self.pilot)
