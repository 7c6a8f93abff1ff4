"""The meter service: one interface to the core for every kind of meter, and its factory.

    meter = make_meter(cfg, hw, data_dir="/")      source chosen by cfg["meter"]
    meter.poll(now_ms)                               every control tick, after it; returns by the
                                                     CT source's deadline_us (sliced bursts)
    m.current_ma = meter.current_ma                  highest phase current (int mA);
                                                     -1 meter lost (over-current protection blind),
                                                     None no meter configured
Fields: amps (list per phase), volts (list per phase), power_w, current_a (floats, made on
reading: for people), wh_total (lifetime), wh_session, ok, error (short text or None), kind, phases.
Sources publish small ints (ma, mv lists per phase; power_mw), so a poll that takes a new reading
allocates nothing (a CT window, an S0 estimate); a Modbus reply decodes float registers (heap).
Sessions: session_start(now_ms, user), session_user(user) (learned later), session_end(now_ms, reason)
-> record, sessions() -> records;
or hand the core's events to on_event(ev): ('session', 'start'|'end', reason).
poll() never raises: a failing source gives ok=False, error, current_a -1.0. So does a reading
with a value that is NaN, infinite, negative where it cannot be or beyond evse.core.limits' METER_MAX_*
(a meter error: never a silent 0.0); energy then still counts from the sources left.
"""
from ..core import limits as L
from ..core.ticks import ticks_diff
from .energy import Energy

modbus = None       # evse.metering.modbus: imported only when a Modbus meter is used (about 15 kB of RAM)


def _load_modbus():
    global modbus
    if modbus is None:
        from . import modbus as mb
        modbus = mb
    return modbus

# The kinds of source; each model of core/modbus_maps.py's MAPS is a Modbus kind too (named by its key).
METER_KINDS = ("none", "ct", "s0", "modbus")
MODBUS_INTERVAL_MS = 1000       # one full read of the meter per second
ANCHOR_MOVE_MS = 1 << 28        # 3.1 days without a reading: the anchor's time moves up before
                                # ticks_diff (2**29 ms) wraps; the interval's energy still bridged
MWH_PER_KWH = 1000000.0
MS_PER_H = 3600000.0
I_NAMES = ("i1", "i2", "i3")
V_NAMES = ("v1", "v2", "v3")



def plausible(x, lo, hi):
    """lo <= x <= hi, and False for NaN and +-inf (every comparison with NaN is False): no
    math.isfinite needed, the same on every MicroPython port."""
    return lo <= x <= hi


def _pos(p):
    return p if p > 0 else 0.0


def implausible(src):
    """What is implausible in a source's published figures (ints), or None. Constant texts:
    checked on every poll, it allocates nothing."""
    for a in src.ma:
        if not 0 <= a <= L.METER_MAX_A * 1000:
            return "implausible current"
    for u in src.mv:
        if not 0 <= u <= L.METER_MAX_V * 1000:
            return "implausible voltage"
    if not -L.METER_MAX_W * 1000 <= src.power_mw <= L.METER_MAX_W * 1000:
        return "implausible power"
    return None


def _milli(x):
    """x (a float checked plausible) in thousandths, rounded: the sources' integer figures."""
    return int(x * 1000 + (0.5 if x >= 0 else -0.5))


def _cfg(cfg, key):
    v = cfg.get(key) if cfg is not None else None
    return L.METER_DEFAULTS[key] if v is None else v


class ModbusSource:
    """Reads a register map block by block through a ModbusMaster, one request in flight."""

    def __init__(self, master, regmap, unit, interval_ms=MODBUS_INTERVAL_MS, diff=ticks_diff):
        _load_modbus()
        self.master = master
        self.map = regmap
        self.unit = unit
        self.interval_ms = interval_ms
        self._diff = diff
        self.phases = regmap["phases"]
        self.amps = [0.0] * self.phases
        self.volts = [0.0] * self.phases
        self.power_w = 0.0
        self.ma = [0] * self.phases
        self.mv = [0] * self.phases
        self.power_mw = 0
        self.hz = 0.0
        self.kwh = None              # the meter's own lifetime counter
        self.ok = False
        self.error = "no reading yet"
        self.cycles = 0
        self.failures = 0
        self._vals = {}
        self._block = -1             # -1: waiting for the next cycle
        self._cycle_ms = None
        self._t_ms = None            # energy is counted up to the reading taken then (the anchor)
        self._t_gap_ms = 0           # ms from the anchor to _t_ms when readings stopped for days
        self._last_p = None          # power at the anchor (None: unknown); self.kwh: its counter
        self._mwh_res = 0.0
        self._mwh = 0

    def poll(self, now_ms):
        """Advance the read cycle by at most one step; True when a full set was published."""
        m = self.master
        reads = self.map["reads"]
        if self._block < 0:
            if self._cycle_ms is not None and self._diff(now_ms, self._cycle_ms) < self.interval_ms:
                return False
            if m.state == modbus.BUSY:
                return False            # another unit on the bus (the grid meter) is being read
            self._cycle_ms = now_ms
            if self._t_ms is not None and self._diff(now_ms, self._t_ms) >= ANCHOR_MOVE_MS:
                self._t_gap_ms += self._diff(now_ms, self._t_ms)    # no reading for days: the time
                self._t_ms = now_ms                                 # since the anchor kept on
            self._block = 0
            fc, reg, count, _ = reads[0]
            m.start(self.unit, fc, reg, count, now_ms)
            return False
        st = m.poll(now_ms)
        if st == modbus.BUSY:
            return False
        fc, reg, count, fields = reads[self._block]
        if st != modbus.DONE:
            self._lost("%s (unit %d, %s 0x%04X)" % (m.error, self.unit, "holding" if fc == 3 else "input", reg))
            return False
        data = m.data
        vals = self._vals
        for name, off, typ, scale, swap in fields:
            vals[name] = modbus.decode(data, 2 * off, typ, swap) * scale
        self._block += 1
        if self._block < len(reads):
            fc, reg, count, _ = reads[self._block]
            m.start(self.unit, fc, reg, count, now_ms)
            return False
        self._block = -1
        self._publish(now_ms)
        return True

    def _lost(self, why):
        self._block = -1
        self.ok = False
        self.error = why
        self.failures += 1
        self.master.cancel()

    def _publish(self, now_ms):
        """A full set read: judge every value; a bad one (NaN, inf, out of range) makes the
        reading a meter error and is published as -1.0 (amps, volts, hz)."""
        v = self._vals
        bad = self._phases(v)
        p = v.get("p")
        if p is not None and not plausible(p, -L.METER_MAX_W, L.METER_MAX_W):
            bad = bad or "p"
            p = None
        if p is None:
            p = self._p_vi()
        self.power_w = p if p is not None else 0.0
        self.power_mw = _milli(self.power_w)
        self.hz = v.get("hz", 0.0)
        if not plausible(self.hz, 0, L.METER_MAX_HZ):
            bad = bad or "hz"
            self.hz = -1.0
        kwh = v.get("kwh")
        if kwh is not None and not plausible(kwh, 0, L.METER_MAX_KWH):
            bad = bad or "kwh"
            kwh = None
        self.ok = bad is None
        self.error = None if bad is None else "implausible %s=%s (unit %d)" % (bad, v[bad], self.unit)
        self.cycles += 1
        self._count(kwh, p, now_ms)

    def _phases(self, v):
        """Each phase's amps and volts from a full set read; the first implausible name, or None."""
        bad = None
        for i in range(self.phases):
            a = v.get(I_NAMES[i], 0.0)
            if a < 0:
                a = -a                              # a CT clamped backwards reads negative
            if not plausible(a, 0, L.METER_MAX_A):
                bad = bad or I_NAMES[i]
                a = -1.0
            u = v.get(V_NAMES[i], 0.0)
            if not plausible(u, 0, L.METER_MAX_V):
                bad = bad or V_NAMES[i]
                u = -1.0
            self.amps[i] = a
            self.volts[i] = u
            self.ma[i] = _milli(a)
            self.mv[i] = _milli(u)
        return bad

    def _p_vi(self):
        """V x I: the power when the register is missing or bad; None with a phase unreadable."""
        p = 0.0
        for i in range(self.phases):
            a = self.amps[i]
            u = self.volts[i]
            if a < 0 or u < 0:
                return None
            p = p + a * u
        return p

    def _count(self, kwh, p, now_ms):
        """Energy from the last anchor to this reading, from the best source it has: the meter's
        counter (both ends good, no jump), else power x time (trapezoid, or the one end known).
        A reading with neither leaves the interval open: the next good one bridges it, as after
        a timeout. Never negative: export and reversed wiring count nothing."""
        if self._t_ms is None:                      # the first reading with a source: the start
            if kwh is not None or p is not None:
                self._anchor(kwh, p, now_ms)
            return
        dt = self._t_gap_ms + self._diff(now_ms, self._t_ms)
        dt = dt if dt > 0 else 0
        mwh = -1.0
        jumped = False
        if kwh is not None and self.kwh is not None:
            d = kwh - self.kwh
            if 0 <= d * 1000 <= L.METER_JUMP_SLACK_WH + L.METER_MAX_RATE_W * dt / MS_PER_H:
                mwh = d * MWH_PER_KWH
            else:                                   # meter swapped or reset: resynchronise
                jumped = True
                self.ok = False
                self.error = self.error or "meter counter jumped %.3f kWh: resynchronised" % d
        if mwh < 0:
            mwh = self._by_power(kwh, p, dt, jumped)
            if mwh < 0:
                return
        self._mwh_res += mwh
        whole = int(self._mwh_res)
        self._mwh += whole
        self._mwh_res -= whole
        self._anchor(kwh, p, now_ms)

    def _by_power(self, kwh, p, dt, jumped):
        """mWh over dt ms from power x time; -1.0: nothing to count from (the interval stays open)."""
        p0 = self._last_p
        if p is not None and p0 is not None:
            return (_pos(p0) + _pos(p)) * 0.5 * dt / 3600.0
        if p is not None:
            return _pos(p) * dt / 3600.0
        if p0 is not None and kwh is not None:
            return _pos(p0) * dt / 3600.0           # the counter takes over from here
        return 0.0 if jumped else -1.0              # jumped: nothing to count that interval from

    def _anchor(self, kwh, p, now_ms):
        self.kwh = kwh
        self._last_p = p
        self._t_ms = now_ms
        self._t_gap_ms = 0

    def take_mwh(self):
        m = self._mwh
        self._mwh = 0
        return m


class Meter:
    def __init__(self, source, energy, kind="none"):
        self.source = source
        self.energy = energy
        self.kind = kind
        self.phases = source.phases if source is not None else 0
        self.power_mw = 0
        self.ok = source is not None and source.ok
        self.error = source.error if source is not None else None
        self.current_ma = None if source is None else (-1 if not self.ok else 0)
        self.s0 = source if kind == "s0" else None   # the shell's pin irq calls meter.s0.on_pulse
        self._now_ms = None

    @property
    def amps(self):
        return self.source.amps if self.source is not None else []

    @property
    def volts(self):
        return self.source.volts if self.source is not None else []

    @property
    def power_w(self):
        return self.source.power_w if self.source is not None and self.ok else 0.0

    @property
    def current_a(self):
        """current_ma in A, from the source's own figures (full precision): for people."""
        c = self.current_ma
        if c is None or c < 0:
            return None if c is None else -1.0
        peak = 0.0
        for a in self.source.amps:
            if a > peak:
                peak = a
        return peak

    @property
    def wh_total(self):
        return self.energy.wh_total if self.energy is not None else 0.0

    @property
    def wh_session(self):
        return self.energy.wh_session if self.energy is not None else 0.0

    def poll(self, now_ms):
        self._now_ms = now_ms
        src = self.source
        try:
            if src is not None:
                self._poll_source(src, now_ms)
            elif self.energy is not None:
                self.energy.poll(now_ms)
        except Exception as e:  # never into the control loop; say so and stay blind
            self.ok = False
            self.error = "meter internal: %s" % e
            if src is not None:
                self.current_ma = -1
        if self.energy is not None and self.energy.error and self.error is None:
            self.error = self.energy.error

    def _poll_source(self, src, now_ms):
        src.poll(now_ms)
        bad = implausible(src) if src.ok else None   # every source: never a silent value
        ok = src.ok and bad is None
        self.ok = ok
        self.error = bad if bad is not None else src.error
        self.power_mw = src.power_mw if ok else 0
        peak = 0
        for a in src.ma:
            if a > peak:
                peak = a
        self.current_ma = peak if ok else -1
        # a CT poll that sampled up to the next tick leaves checkpoints to a later poll
        if self.energy is not None and not getattr(src, "sampled", False):
            if ok:
                self.energy.note_current_ma(peak)
            self.energy.add_mwh(src.take_mwh(), now_ms)

    def session_start(self, now_ms, user=None):
        if self.energy is not None:
            try:
                self.energy.session_start(now_ms, user)
            except Exception as e:
                self.error = "session start: %s" % e
            if self.energy.error and self.error is None:
                self.error = self.energy.error

    def session_user(self, user):
        if self.energy is not None:
            self.energy.session_user(user)

    def session_end(self, now_ms, reason):
        if self.energy is None:
            return None
        try:
            return self.energy.session_end(now_ms, reason)
        except Exception as e:
            self.error = "session end: %s" % e
            return None

    def save(self):
        """The count onto flash now: the charger stops (a reboot, Ctrl-C or a 0x03 on the console),
        and up to CHECKPOINT_MWH or CHECKPOINT_MS of it would be lost with the RAM."""
        if self.energy is not None:
            self.energy.checkpoint()

    def sessions(self):
        return self.energy.sessions() if self.energy is not None else []

    def on_event(self, ev):
        """The core's events: ('session', 'start'|'end', reason)."""
        if len(ev) >= 2 and ev[0] == "session" and self._now_ms is not None:
            if ev[1] == "start":
                self.session_start(self._now_ms)
            elif ev[1] == "end":
                self.session_end(self._now_ms, ev[2] if len(ev) > 2 else "end")

    def status(self):
        """A dict for the console."""
        return {"kind": self.kind, "ok": self.ok, "error": self.error, "amps": list(self.amps),
                "volts": list(self.volts), "power_w": self.power_w, "current_a": self.current_a,
                "wh_session": self.wh_session, "wh_total": self.wh_total}


def make_meter(cfg, hw, data_dir="/", wall=None):
    """Build the meter service from settings. hw supplies what the chosen source needs:
        ct:      hw.ct_adcs (1-3 ADC objects, read_u16), optional hw.v_adc, hw.ticks_us
        modbus:  hw.uart (opened at meter_baud, 8N1), or sdm120 / sdm630 / modbus
        s0:      nothing here; the shell wires its pin irq to meter.s0.on_pulse(ticks_us())
    A configuration error gives a Meter with ok=False and the reason in error (never raises)."""
    kind = _cfg(cfg, "meter")
    try:
        energy = Energy(data_dir, wall=wall)
    except Exception as e:  # a flash problem must not cost the charger its meter
        energy = None
        flash_error = "energy store: %s" % e
    else:
        flash_error = None
    try:
        src = _make_source(kind, cfg, hw)
    except Exception as e:
        m = Meter(_Broken(str(e)), energy, kind)
        return m
    m = Meter(src, energy, kind)
    if flash_error and m.error is None:
        m.error = flash_error
    return m


class _Broken:
    """Stands in for a source that could not be built: blind, with the reason."""
    phases = 0

    def __init__(self, why):
        self.amps = []
        self.volts = []
        self.power_w = 0.0
        self.ma = []
        self.mv = []
        self.power_mw = 0
        self.ok = False
        self.error = "meter config: " + why

    def poll(self, now_ms):
        return False

    def take_mwh(self):
        return 0


def _make_source(kind, cfg, hw):
    if kind == "none":
        return None
    phases = int(_cfg(cfg, "meter_phases"))
    volts = float(_cfg(cfg, "nominal_volts"))
    if kind == "ct":
        from .ct import CtMeter, amps_per_count
        adcs = list(hw.ct_adcs)[:phases]
        if len(adcs) < phases:
            raise ValueError("%d phases but %d CT inputs on this board" % (phases, len(adcs)))
        cal = _cfg(cfg, "ct_cal")
        vref = float(_cfg(cfg, "ct_vref"))
        apc = [amps_per_count(float(_cfg(cfg, "ct_ratio")), float(_cfg(cfg, "ct_burden_ohms")), vref,
                              float(cal[i]) if i < len(cal) else 1.0) for i in range(phases)]
        vpc = float(_cfg(cfg, "volts_per_count"))
        vadc = getattr(hw, "v_adc", None) if vpc > 0 else None
        # hw.ct_slice_us > 0 (the firmware's shell): sliced bursts that never block the loop
        slice_us = getattr(hw, "ct_slice_us", 0)
        spc = int(_cfg(cfg, "ct_spc"))
        cap = getattr(hw, "ct_spc_max", None)       # the rounds a slow board keeps up with
        return CtMeter(adcs, hw.ticks_us, apc, vadc=vadc, volts_per_count=vpc, nominal_volts=volts,
                       mains_hz=int(_cfg(cfg, "mains_hz")), spc=min(spc, cap) if cap else spc,
                       interval_ms=int(_cfg(cfg, "ct_interval_ms")), slice_us=slice_us,
                       sleep_us=getattr(hw, "sleep_us", None) if slice_us else None)
    if kind == "s0":
        from .s0 import S0Meter
        return S0Meter(int(_cfg(cfg, "s0_imp_per_kwh")), nominal_volts=volts, phases=phases)
    return _modbus_source(kind, cfg, hw)


def _modbus_source(kind, cfg, hw):
    """Every other kind is a Modbus meter: a model of modbus_maps.MAPS (one entry there adds one),
    or "modbus" with the map in the meter_map setting."""
    _load_modbus()
    from ..core.modbus_maps import MAPS
    from ..core.meter_maps import parse_generic_map
    if kind != "modbus" and kind not in MAPS:
        raise ValueError("meter must be one of %s, not %r" % ("|".join(METER_KINDS + tuple(sorted(MAPS))), kind))
    regmap = MAPS[kind] if kind in MAPS else parse_generic_map(_cfg(cfg, "meter_map"))
    master = modbus.ModbusMaster(hw.uart, timeout_ms=int(_cfg(cfg, "meter_timeout_ms")),
                                 retries=int(_cfg(cfg, "meter_retries")))
    return ModbusSource(master, regmap, int(_cfg(cfg, "meter_addr")),
                        interval_ms=int(_cfg(cfg, "meter_interval_ms")))
