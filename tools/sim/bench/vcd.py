"""The bench's VCD trace (bench contract): what a scope and a logic analyzer on the bench would see.

Without `waveform`, `cp` is written at its plateau level once per change: the positive plateau while
the PWM runs (the level that tells the state), the constant level otherwise; `cp_neg` carries the
negative plateau, `duty` the duty. `cp_high` is then the logic level of `cp` as written, with no PWM
edges, so sigrok's pwm decoder reads the duty only from a `waveform` file. With `waveform`, every PWM
edge is written, computed from the PWM state (period, high time, plateaus) between changes, never
sampled: cp toggles between the plateaus and cp_high follows it.
"""
import time

from tools.sim import mock_machine as mm

PP_OPEN_OHMS = 1e9          # contract: pp is 1e9 when open
LOGIC_THRESHOLD_V = 1.0     # cp_high: a comparator on the pilot (plateaus are >= 1.5 V or <= 0 V)

# (name, type, width, id) in the order of a sample tuple
VARS = (
    ("cp", "real", 1, "!"),
    ("cp_high", "wire", 1, '"'),
    ("duty", "real", 1, "#"),
    ("contactor", "wire", 1, "$"),
    ("ac_out", "wire", 1, "%"),
    ("ev_current", "real", 1, "&"),
    ("pp", "real", 1, "'"),
    ("cp_neg", "real", 1, "("),
)
CP, CP_HIGH = 0, 1


def fmt(kind, value, ident):
    if kind == "wire":
        return "%d%s" % (1 if value else 0, ident)
    return "r%.6g %s" % (value, ident)


class VcdTrace:
    """Samples the world behind the board and writes changes; `sample()` after anything changes."""

    def __init__(self, rig, f, waveform=False, version="evse virtual bench", origin=0):
        """origin: the firmware's clock (us) at the scenario's time 0, the file's #0 (a multiple of
        the PWM's period on the host: the edges stay on its grid)."""
        self.rig = rig
        self.origin = origin
        self.world = rig.world
        self.f = f
        self.waveform = waveform
        self.pwm_pin = rig.board.PILOT_PWM_PIN
        self.last = None
        self.t_written = -1       # last timestamp written (the firmware's clock)
        self.wave = None          # (period, high, pos, neg) of the PWM being drawn (waveform mode)
        self.wave_t = 0           # edges written up to here
        self._hdr(version)
        self.sample()

    def _hdr(self, version):
        w = self.f.write
        w("$date\n    %s\n$end\n" % time.strftime("%Y-%m-%d %H:%M:%S"))
        w("$version\n    %s\n$end\n" % version)
        w("$comment\n    cp: %s\n$end\n" % ("every PWM edge" if self.waveform else
                                            "plateau level once per change (positive plateau while the PWM runs)"))
        w("$timescale 1 us $end\n$scope module bench $end\n")
        for name, kind, width, ident in VARS:
            w("$var %s %d %s %s $end\n" % (kind, width, ident, name))
        w("$upscope $end\n$enddefinitions $end\n")

    # --- what the probes see ---
    def duty(self):
        pwm = mm.pwms.get(self.pwm_pin)
        if pwm is None or not pwm.active:
            return 0.0
        return pwm.counts * 10000 // pwm.steps / 100     # what the hardware runs

    def pp(self):
        w = self.world
        r = w.pp_ohms
        if r is None:
            return PP_OPEN_OHMS
        return r + 330 if w.button and r < 300 else r

    def _values(self, t_us):
        w = self.world
        high, period = w._high_us, w._period
        pos, neg = w.cp_pos, w.cp_neg
        if 0 < high < period:
            high = int(high)            # whole microseconds, as the edges (_wave_params)
        if high <= 0:
            cp = neg
        elif high >= period or not self.waveform:
            cp = pos
        else:
            cp = pos if t_us % period < high else neg
        coil = w.coil()
        return (cp, cp > LOGIC_THRESHOLD_V, self.duty(), coil, coil or w.weld,
                w.ev_current(t_us), self.pp(), neg)

    def sample(self):
        t = mm.clock.us
        vals = self._values(t)
        if self.waveform:
            self._edges(t)
        last = self.last
        if last == vals and (not self.waveform or self._wave_params() == self.wave):
            return
        out = []
        for i in range(len(VARS)):
            if last is None or vals[i] != last[i]:
                name, kind, width, ident = VARS[i]
                out.append(fmt(kind, vals[i], ident))
        self.last = vals
        if self.waveform:
            self.wave = self._wave_params()
            self.wave_t = t
        if not out:
            return
        stamp = "" if t == self.t_written else "#%d\n" % (t - self.origin)
        if last is None:
            self.f.write("%s$dumpvars\n%s\n$end\n" % (stamp, "\n".join(out)))
        else:
            self.f.write("%s%s\n" % (stamp, "\n".join(out)))
        self.t_written = t

    # --- waveform: PWM edges between changes ---
    def _wave_params(self):
        w = self.world
        high, period = w._high_us, w._period
        if high <= 0 or high >= period or w.cp_pos == w.cp_neg:
            return None                     # nothing toggles
        # The falling edge on the timescale's 1 us grid, rounded down: the trace never shows a pulse
        # wider than the hardware runs, so a duty read from it never advertises more than the
        # limit (facts 2: round down). Rounded to the nearest, 26.65 % (16 A) read 26.7 % (16.02 A).
        return (period, int(high), w.cp_pos, w.cp_neg)

    def _edges(self, t_end):
        """Write the edges of the current PWM at times in (wave_t, t_end)."""
        p = self.wave
        start = self.wave_t
        self.wave_t = t_end
        if p is None or t_end <= start + 1:
            return
        period, high, pos, neg = p
        hi_t = LOGIC_THRESHOLD_V < pos
        lo_t = LOGIC_THRESHOLD_V < neg
        rise = "%s\n%s\n" % (fmt("real", pos, "!"), fmt("wire", hi_t, '"'))
        fall = "%s\n%s\n" % (fmt("real", neg, "!"), fmt("wire", lo_t, '"'))
        if hi_t == lo_t:                    # the logic copy does not toggle
            rise = fmt("real", pos, "!") + "\n"
            fall = fmt("real", neg, "!") + "\n"
        t0 = start // period * period
        buf = []
        add = buf.append
        last_t = self.t_written
        while t0 < t_end:
            if t0 > start:
                add("#%d\n%s" % (t0 - self.origin, rise))
                last_t = t0
            tf = t0 + high
            if start < tf < t_end:
                add("#%d\n%s" % (tf - self.origin, fall))
                last_t = tf
            t0 += period
            if len(buf) > 4096:
                self.f.write("".join(buf))
                del buf[:]
        if buf:
            self.f.write("".join(buf))
        self.t_written = last_t
        # the values the last edge left: keep `last` in step so the next sample writes only changes
        if self.last is not None:
            last = list(self.last)
            t_last = t_end - 1
            cp = pos if t_last % period < high else neg
            last[CP], last[CP_HIGH] = cp, cp > LOGIC_THRESHOLD_V
            self.last = tuple(last)

    def close(self):
        t = mm.clock.us
        self.sample()
        if t > self.t_written:
            self.f.write("#%d\n" % (t - self.origin))
