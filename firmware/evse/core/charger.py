# The charging state machine: measurements + now -> commands. Pure: no machine, no time, no I/O.
# Sequence numbers refer to IEC 61851-1 Table A.6.
import micropython
from micropython import const

from . import limits as L
from . import pilot as P
from . import proximity as PX
from . import vocab as V
from .protections import OverCurrent, Thermal, RcdPolicy, THERMAL_STOP


def ticks_diff(a, b):
    """Difference of two tick counts; the app replaces this with the port's wrapping one."""
    return a - b


class Measurements:
    """One snapshot of the inputs, updated in place by the shell and the services each tick."""
    lock_fb = -1    # a Type 2 socket's plug lock: 1 locked, 0 unlocked, -1 no lock (shell/socket_lock.py)

    def __init__(self):
        self.pilot_pos = 0          # positive plateau, mV
        self.pilot_neg = 0          # negative plateau, mV
        self.pilot_ok = False       # the burst was stable enough to act on
        self.pp_ohms = L.PP_NOT_WIRED
        self.feedback = -1          # contactor feedback: 1 closed, 0 open, -1 none
        self.rcd_trip = False
        self.rcd_edges = 0          # AC trips counted by the interrupt (wraps): tells one trip from the next
        self.rcd_dc_trip = False
        self.rcd_trip_ms = None     # when the last residual-current trip came (its interrupt's ticks_ms)
        self.guard_opened = False   # the shell's stall guard opened the coil since the last measurement
        self.temp_c = None
        self.current_ma = None      # type: int | None  # highest phase current, mA (an int: no heap); None: no meter; -1 (or NaN): lost


class Outputs:
    def __init__(self):
        self.pilot_mode = L.PILOT_F   # offers nothing until the power-on checks pass
        self.amps_x10 = 0             # advertised current (tenths of an amp)
        self.contactor = False
        self.rcd_test = False
        self.rcd_ack = False          # clear the shell's latched trip flag


# The core's state, field by field (Charger._fill); the quiet tick's own fields are not in it.
_STATE_FIELDS = const(74)
_Q_STALE = const(-1)          # Charger._q_rem: not armed, and _q_b is not the state now
_Q_FILL = const(-2)           # ... the last tick took a full step, _q_a holds the state before it
_W_PP_LO = const(0)           # Charger._windows: the PP's range, the connector it was decoded for,
_W_PP_HI = const(1)
_W_CONN = const(2)
_W_T_LO = const(3)            # ... and the temperatures' window
_W_T_HI = const(4)
_W_POS_LO = const(5)          # ... and the pilot's plateaus' (pilot.window)
_W_NEG_LO = const(7)
_PP_BAD_BEFORE = const(-1)    # Charger._pp_seen: a good PP reading right after a fault reading
_CLOSED_OLD_MS = const(1 << 28)   # Charger.t_closed is moved on past this (3.1 days): see _contactor_faults


def _left(diff, now, t0, ms, r):
    """The smaller of r and the ms left before a timer started at t0 reaches ms (if it has not)."""
    d = ms - diff(now, t0)
    return d if 0 < d < r else r


# Controller phases of closing
_SELFTEST_IDLE = const(0)
_SELFTEST_WAIT_TRIP = const(1)
_SELFTEST_WAIT_RELEASE = const(2)
_SELFTEST_SETTLE = const(3)       # the test's trip released: any trip from here on is a real one
_SELFTEST_PASSED = const(4)
_SELFTEST_ABORTED = const(5)      # ended early: the test's own trip may still be releasing


class Charger:
    lock = None     # a Type 2 socket's plug lock (core/socket_lock.py): set on a board with one

    def __init__(self, cfg, latched_fault=None, diff=None, max_amps=L.AMPS_MAX):
        """max_amps: the board's own rating (MAX_CURRENT_A: relay, cable, traces), above every limit."""
        self.cfg = cfg
        self.diff = diff or ticks_diff
        self.out = Outputs()
        self.events = []
        self.det = P.Detector(cfg["bc_qualify_ms"])
        self.oc = OverCurrent()
        self.thermal = Thermal(cfg["temp_half_c"], cfg["temp_quarter_c"], cfg["temp_stop_c"],
                               cfg["temp_restore_c"])
        self.rcd = RcdPolicy()
        self.limits = {}              # source -> amps x10 (ints: the tick does no float math)
        self._limit_x10 = 0
        self._offer_x10 = 0           # what the pilot can advertise: made on a limit or thermal change,
        self._offer_level = -1        # for this thermal level (the tick reads it, computes nothing)
        self.settings_error = None    # why no valid limit exists (board, settings): fault 'settings'
        # the car's own minimum (min_current_a: some cars refuse 6 A and sit in B, saying nothing):
        # a lower limit, whatever its source, pauses (X1), as SmartEVSE's MinCurrent and evcc's minCurrent
        self.car_min_x10 = int(cfg["min_current_a"] * 10)
        try:
            self.set_limit(V.SRC_BOARD, L.check_number(max_amps, 6, L.AMPS_MAX))
        except ValueError as e:
            self.set_limit(V.SRC_BOARD, None)
            self.settings_error = "board: MAX_CURRENT_A %s" % e
        self.set_limit(V.SRC_SETTINGS, cfg["max_current"])
        if cfg["max_current"] is None and self.settings_error is None:
            self.settings_error = "max_current: not set"
        self.enabled = True
        self.authorized = False
        self.auth_forced = False      # a backend decides who charges (OCPP), whatever the setting
        self.stop_reason = None       # an EVSE-side stop requested for this plug-in
        self.resample = False         # the shell should take another pilot burst now (confirmation)
        self._confirming = False      # this step decided nothing: the next one confirms, and decides
        self.state = V.ST_BOOT
        self.fault = latched_fault
        self.session_active = False
        self.oc_blind = False
        self.pilot_undecided = False  # the pilot sits between two bands: no state, no charging
        # Named timers, each for what it times: the tick count when it started, None while stopped
        # (a small int or None: no object per timer, nothing allocated); read with _expired().
        self.t_F = None           # F since power-on or the fault: FAULT_F_MIN_MS; the RCD retry
        self.t_closed = None      # running while the contactor is closed: settle, early RCD trip
        self.t_opened = None      # since it opened (stopped: never closed): feedback settle
        self.t_ev_stop = None     # PWM removed while closed: the EV goes to B or we open (seq 10.2)
        self.t_x1_hold = None     # X1 after a pause or boot: X1_MIN_MS before the PWM again
        self.t_b2_idle = None     # B2 without C: a wake-up after wakeup_after_s
        self.t_step_EF = None     # the wake-up's F (T_step_EF, WAKEUP_F_MS)
        self.t_selftest = None    # the RCD self-test's current phase
        self.t_duty = None        # since the advertised current last changed (raise every 5 s)
        self._selftest = _SELFTEST_IDLE
        self._test_edges = -1         # rcd_edges when the self-test's own trip came (-1: not yet)
        self._wakeup_done = False
        self._emitted_mode = -1
        self._pp = PX.NOT_WIRED
        self.hlc = False              # high-level communication requested: 5 % instead of nominal
        self._last_state_name = None
        self.stall_opened = False     # the guard opened this session's contactor: warned until a close
        if latched_fault:
            self._emit((V.EV_FAULT, latched_fault, True))
        self._quiet_setup()

    def _quiet_setup(self):
        """The quiet tick (step()): buffers made once."""
        self._q_a = [None] * _STATE_FIELDS  # type: list  # every field before a full step (_fill) ...
        self._q_b = [None] * _STATE_FIELDS  # type: list  # ... and after it
        self._q_in = [None] * 16  # type: list  # the inputs of the last full step (_same_inputs)
        # ... and the ones it decodes alike: the PP values its connector's decoder reads as the last
        # reading, the temperatures the thermal level holds through, the pilot's plateaus that
        # read as the last ones
        self._windows = [1, 0, None, 1, 0, 1, 0, 1, 0]  # type: list
        self.thermal.band(self._windows, _W_T_LO)
        self._q_t = 0                 # when a full step last changed nothing (or, _Q_FILL, was taken) ...
        self._q_rem = _Q_STALE        # ... and for how many ms after it no timer can run out; 0: none,
        # but _q_b is the state now (the last fill, no step or request since); _Q_STALE: not;
        # _Q_FILL: _q_a is the state before the last tick's step, the next tick compares (_settle)
        self._pp_seen = PX.NOT_WIRED  # the last PP reading as decoded (_read_pp); 50 attributes: a
        # table of 59, not 47 full (hal.Hardware's note)
        self.t_mirror = None      # since the settled mirror disagrees with the coil (FEEDBACK_CONFIRM_MS)

    # --- requests from services ---
    def request(self):
        """A request from outside the tick changed what the core reads: its next step is a full one."""
        self._q_rem = _Q_STALE

    def set_limit(self, source, amps):
        """Limit one source's current (settings, console, ocpp, cable...) to amps; None removes it.
        Refused (ValueError, nothing changed) unless a finite number 0..80. The core offers the
        lowest of every source, the board's rating included: no source lifts another's cap. The
        settings' and the board's limits are never removed: None there offers nothing."""
        self.request()
        if amps is not None:
            self.limits[source] = int(L.check_number(amps, 0, L.AMPS_MAX) * 10)
        elif source in V.FIXED_SOURCES:
            self.limits[source] = 0
        else:
            self.limits.pop(source, None)
        low = L.AMPS_MAX_X10
        for v in self.limits.values():   # on a change only: the tick reads the cached minimum
            if v < low:
                low = v
        self._limit_x10 = low
        self._reoffer()

    def _reoffer(self):
        self._offer_level = self.thermal.level
        x10 = self.limit_x10()
        self._offer_x10 = P.clamp_amps_x10(x10) if x10 >= self.car_min_x10 else 0

    def settings_fault(self, why):
        """Why the settings allow no charging (None: they do); fault 'settings' while it lasts.
        A board without a valid rating keeps its own reason."""
        self.request()
        if self.limits[V.SRC_BOARD]:
            self.settings_error = why

    def limit_without(self, source):
        """Amperes every other source, the board's rating included, allow (OCPP's composite schedule)."""
        low = L.AMPS_MAX_X10
        for s, v in self.limits.items():
            if s != source and v < low:
                low = v
        return low / 10

    def enable(self, flag):
        self.request()
        self.enabled = bool(flag)

    def authorize(self, flag):
        self.request()
        self.authorized = bool(flag)
        if flag:
            self.stop_reason = None

    def stop(self, reason):
        """End the session from the EVSE side (backend, console): stop under control, then open."""
        self.request()
        self.stop_reason = reason or "local"
        self.authorized = False

    def clear_fault(self):
        """Operator clears a fault (after service), and resets the trip counters."""
        self.request()
        self.rcd.reset()
        self._clear()

    def _clear(self):
        if self.fault:
            self._emit((V.EV_FAULT, self.fault, False))
            self.fault = None
            self.out.rcd_ack = True

    # --- derived values ---
    def auth_needed(self):
        return self.auth_forced or self.cfg["require_auth"]

    def pilot_read(self):
        """The pilot has been read since the generator last started (X1): before that, after boot,
        the state says nothing about a car (OCPP reports no connector status from a guess, issue 12).
        Disabled or faulted, the status does not depend on a car: it is known at once."""
        return self.det.state != P.UNKNOWN or self.state == V.ST_DISABLED or self.state == V.ST_FAULT

    def limit_x10(self):
        return self.thermal.scale_x10(self._limit_x10)

    def _may_offer(self):
        """Every condition for advertising a current except the pilot itself."""
        cfg = self.cfg
        return (self.enabled and self.stop_reason is None
                and (self.authorized or not self.auth_needed())
                and self.thermal.level != THERMAL_STOP
                and self._offer_x10 > 0
                and self._pp != PX.BUTTON
                and (cfg["connector"] != "type2-socket" or self._pp == PX.LATCHED)
                and (self.lock is None or self.lock.holds(cfg)))   # (the only way to _close)

    def _expired(self, t0, now, ms):
        """A timer started at t0 has run for at least ms (the port's wrapping ticks_diff); a
        stopped one (None) never expires."""
        return t0 is not None and self.diff(now, t0) >= ms

    # --- the control tick ---
    @micropython.native
    def step(self, m, now):
        """One control step. A quiet tick skips it: the last full step changed nothing (every
        field compared, no event), no request came since, the inputs read the same (the pilot by
        its window) and no timer can run out yet: this step would change nothing either (on the
        emulated Pico a quiet step takes about 0.2 ms, a full one about 0.9 ms)."""
        # The step of a fast change's confirming burst decides a change: no fixed point, so neither
        # the inputs' check nor the fill (0.2-0.3 ms each on the Pico) is worth its time.
        same = not self._confirming and self.state != V.ST_BOOT and self._same_inputs(m)
        rem = self._q_rem
        if rem == _Q_FILL:
            rem = self._settle(same)
        if same and rem > 0 and self.diff(now, self._q_t) < rem:
            return
        self._q_rem = _Q_STALE
        n = len(self.events)
        if same:                                # the state before this step into _q_a:
            if rem == _Q_STALE:
                self._fill(self._q_a)
            else:                               # the last fill is the state now (only quiet
                self._q_a, self._q_b = self._q_b, self._q_a     # ticks since, no request)
        self._full_step(m, now)
        if not (same or self._confirming):      # (same: they are the inputs already; confirming:
            self._keep_inputs(m)                # the confirming step right after keeps its own)
        if same and len(self.events) == n:
            # The next tick fills the state this step left and compares (one fill a tick: a full
            # step with two took 1.6 ms on the Pico)
            self._q_t = now
            self._q_rem = _Q_FILL

    def _settle(self, same):
        """The last tick's step, if the inputs still read the same and no request came: the state it
        left (the state now) against the one before it. -> the quiet time from that step: none (0)
        when it changed something, _Q_STALE when the inputs moved."""
        rem = _Q_STALE
        if same:
            self._fill(self._q_b)
            rem = self._horizon(self._q_t) if self._q_a == self._q_b else 0
        self._q_rem = rem
        return rem

    def _full_step(self, m, now):
        ps = self._measure(m, now)              # 1. measure
        if self.resample and not self._confirming:
            # A fast change seen once: the shell takes the confirming burst and steps again at
            # once; deciding twice in one tick would only delay the opening path (slow ports).
            self._confirming = True
            return
        self._confirming = False
        if self.t_step_EF is not None or self.state == V.ST_BOOT:
            self._expire_timers(now)            # 2. expire timers (only these two run out here)
        if m.guard_opened:
            self._guard_opened(now)             # (the loop was held: the shell's guard opened)
        if self.lock is not None:
            self.lock.opened(self, m, now)      # (its switch judged before anything closes on it)
        self._collect_faults(m, ps, now)        # 3. collect faults
        new = self._next_state(m, ps, now)      # 4. next state (the current state's handler)
        if new != self.state:                   # 5. entry actions, once, on a change
            self.state = new
            enter = self._ENTRY.get(new)
            if enter is not None:
                enter(self, now)
        self._apply_limit(now)
        if self.lock is not None:
            self.lock.step(self, m, now)        # 6. the plug lock: from the state, never unlocked closed
        if self.state != self._last_state_name:
            self._last_state_name = self.state
            self._emit((V.EV_STATE, self.state))

    # --- the quiet tick's checks (step) ---
    @micropython.native
    def _same_inputs(self, m):
        """Everything a step reads from outside is as the last full step read it."""
        # The pilot, PP and temperature by what the step would make of them (the plateaus' window,
        # a band, the thermal level's window), not by their value: a real ADC's noise moves them a
        # little on every read. The pilot's window holds for the PWM as it was then (q[13]): a
        # classification of its own took 0.12 ms of each tick on the Pico.
        q = self._q_in
        w = self._windows
        t = m.temp_c
        return (m.pilot_ok == q[0] and w[_W_POS_LO] <= m.pilot_pos < w[_W_POS_LO + 1]
                and w[_W_NEG_LO] <= m.pilot_neg < w[_W_NEG_LO + 1] and self.out.pilot_mode == q[13]
                and w[_W_PP_LO] <= m.pp_ohms <= w[_W_PP_HI] and m.feedback == q[1]
                and m.rcd_trip == q[2] and m.rcd_edges == q[3] and m.rcd_dc_trip == q[4]
                and (t is None or w[_W_T_LO] <= t < w[_W_T_HI])
                and m.current_ma == q[5] and m.guard_opened == q[14] and m.lock_fb == q[15]
                and self._same_requests())

    @micropython.native
    def _same_requests(self):
        """What services may write without a method call (the live settings, OCPP's auth)."""
        q = self._q_in
        cfg = self.cfg
        return (self.auth_forced == q[6] and self.hlc == q[7] and cfg["connector"] == q[8]
                and cfg["require_auth"] == q[9] and cfg["ventilation"] == q[10]
                and cfg["wakeup_after_s"] == q[11] and cfg["rcd_selftest"] == q[12])

    def _keep_inputs(self, m):
        q = self._q_in              # one by one: a tuple assignment would allocate
        q[0] = m.pilot_ok
        q[1] = m.feedback
        q[2] = m.rcd_trip
        q[3] = m.rcd_edges
        q[4] = m.rcd_dc_trip
        q[5] = m.current_ma
        q[6] = self.auth_forced
        q[7] = self.hlc
        cfg = self.cfg
        q[8] = cfg["connector"]
        q[9] = cfg["require_auth"]
        q[10] = cfg["ventilation"]
        q[11] = cfg["wakeup_after_s"]
        q[12] = cfg["rcd_selftest"]
        q[13] = mode = self.out.pilot_mode
        q[14] = m.guard_opened
        q[15] = m.lock_fb
        P.window(m.pilot_pos, m.pilot_neg, mode == L.PILOT_PWM or mode == L.PILOT_5PCT, self._windows,
                 _W_POS_LO)

    def _fill(self, b):
        """Every field of the core's state into b, one by one (nothing allocated; a list's ==
        then compares them in C). test_quiet_tick_upy checks that no field is missing."""
        b[0] = self._limit_x10
        b[1] = self._offer_x10
        b[2] = self._offer_level
        b[3] = self.settings_error
        b[4] = self.enabled
        b[5] = self.authorized
        b[6] = self.auth_forced
        b[7] = self.stop_reason
        b[8] = self.resample
        b[9] = self._confirming
        b[10] = self.state
        b[11] = self.fault
        b[12] = self.session_active
        b[13] = self.oc_blind
        b[14] = self.pilot_undecided
        b[15] = self.t_F
        b[16] = self.t_closed
        b[17] = self.t_opened
        b[18] = self.t_ev_stop
        b[19] = self.t_x1_hold
        b[20] = self.t_b2_idle
        b[21] = self.t_step_EF
        b[22] = self.t_selftest
        b[23] = self.t_duty
        b[24] = self._selftest
        b[25] = self._test_edges
        b[26] = self._wakeup_done
        b[27] = self._emitted_mode
        b[28] = self._pp
        b[29] = self.hlc
        b[30] = self._last_state_name
        self._fill_parts(b)

    def _fill_parts(self, b):
        out = self.out
        b[31] = out.pilot_mode
        b[32] = out.amps_x10
        b[33] = out.contactor
        b[34] = out.rcd_test
        b[35] = out.rcd_ack
        det = self.det
        b[36] = det.bc_qualify_ms
        b[37] = det.state
        b[38] = det.diode_seen
        b[39] = det._cand
        b[40] = det._count
        b[41] = det._since
        b[42] = det.undecided
        oc = self.oc
        b[43] = oc._over_since
        b[44] = oc._prev_x10
        b[45] = oc._prev_until
        b[46] = oc._signalled_x10
        b[47] = oc._ref_x10
        b[48] = oc._trip_ma
        th = self.thermal
        b[49] = th.half_c
        b[50] = th.quarter_c
        b[51] = th.stop_c
        b[52] = th.restore_c
        b[53] = th.level
        b[54] = self.rcd.trips
        b[55] = self.stall_opened
        b[56] = self.det._fault_bits
        b[57] = th.since
        b[58] = th.sum
        b[59] = th.count
        b[60] = th.broken
        b[61] = th.broken_since
        b[62] = det.unread
        b[63] = self._pp_seen
        b[64] = oc.next
        b[65] = oc.end
        b[70] = th.hot
        b[72] = self.t_mirror
        b[73] = det._weight           # (b[71]: the lock's, fill below)
        if self.lock is not None:
            self.lock.fill(b, 66)

    def _horizon(self, now):
        """ms from now until the first comparison of a running timer could turn (QUIET_MAX_MS at
        most: a full step at least that often, and long before the ticks wrap)."""
        d = self.diff
        r = L.QUIET_MAX_MS
        if self.t_F is not None:
            r = _left(d, now, self.t_F, L.FAULT_F_MIN_MS, r)
            r = _left(d, now, self.t_F, L.RCD_RETRY_MS, r)
        if self.t_closed is not None:
            r = _left(d, now, self.t_closed, L.FEEDBACK_SETTLE_MS + 1, r)
            r = _left(d, now, self.t_closed, L.RCD_EARLY_MS, r)
        if self.t_opened is not None:
            r = _left(d, now, self.t_opened, L.FEEDBACK_SETTLE_MS + 1, r)
        if self.t_mirror is not None:
            r = _left(d, now, self.t_mirror, L.FEEDBACK_CONFIRM_MS, r)
        if self.t_ev_stop is not None:
            r = _left(d, now, self.t_ev_stop, L.BUTTON_OPEN_MS - L.BUTTON_SEEN_MS, r)
            r = _left(d, now, self.t_ev_stop, L.EV_STOP_WAIT_MS, r)
        if self.t_x1_hold is not None:
            r = _left(d, now, self.t_x1_hold, L.X1_MIN_MS, r)
        if self.t_b2_idle is not None:
            r = _left(d, now, self.t_b2_idle, self.cfg["wakeup_after_s"] * 1000, r)
        if self.t_step_EF is not None:
            r = _left(d, now, self.t_step_EF, L.WAKEUP_F_MS, r)
        if self.t_selftest is not None:
            r = _left(d, now, self.t_selftest, L.RCD_TEST_MAX_MS, r)
            r = _left(d, now, self.t_selftest, L.RCD_TEST_SETTLE_MS, r)
        if self.t_duty is not None:
            r = _left(d, now, self.t_duty, L.DUTY_NOMINAL_RAISE_MS, r)
        oc = self.oc
        r = _left(d, now, oc._prev_until, L.OC_SIGNAL_WINDOW_MS, r)   # (oc.end, next's, is later)
        if oc._over_since is not None:
            r = _left(d, now, oc._over_since, L.OC_TRIP_MS, r)
        if self.lock is not None:
            r = self.lock.horizon(d, now, r)
        return _left(d, now, self.det._since, self.det.bc_qualify_ms, r)

    def _measure(self, m, now):
        """The shell has filled `m`: read the pilot through the debouncer, PP, temperature, meter."""
        # The warnings' conditions inline, their methods called on a change only: on the Pico
        # every call in the tick costs more than the test it saves.
        out = self.out
        out.rcd_ack = False
        mode = out.pilot_mode
        det = self.det
        if mode != L.PILOT_F:
            det.update(m.pilot_pos, m.pilot_neg, m.pilot_ok, mode == L.PILOT_PWM or mode == L.PILOT_5PCT,
                       now, self.diff)
        self.resample = det.pending_fast()
        if (det.undecided >= L.UNDECIDED_WARN_BURSTS) != self.pilot_undecided:
            self._undecided_update()
        conn = self.cfg["connector"]
        ohms = m.pp_ohms
        w = self._windows
        if not w[_W_PP_LO] <= ohms <= w[_W_PP_HI] or conn != w[_W_CONN]:
            PX.band(ohms, conn, w, _W_PP_LO)
            w[_W_CONN] = conn
        if not self._confirming:        # (the pilot's confirming burst: PP was not read again)
            self._read_pp(m)
            if mode == L.PILOT_F and self._pp == PX.FAULT:    # (a call only then)
                self._unplugged(now, ohms)
        th = self.thermal
        phase = th.phase()
        broken = th.broken
        if th.update(m.temp_c, now, self.diff) != self._offer_level:
            self._reoffer()
            th.band(self._windows, _W_T_LO)
        elif th.phase() != phase:       # a step down or a broken sensor began or was judged
            th.band(self._windows, _W_T_LO)
        if th.broken != broken:
            self._emit((V.EV_WARNING, V.WARN_TEMP_SENSOR, th.broken))
        ma = m.current_ma
        if (ma is not None and not ma >= 0 and self.t_closed is not None) != self.oc_blind:
            self.oc_blind_update(m)
        return det.state

    def _expire_timers(self, now):
        if self.state == V.ST_BOOT and self.t_F is None:
            self.t_F = now
        if self.t_step_EF is not None and self._expired(self.t_step_EF, now, L.WAKEUP_F_MS):
            self.t_step_EF = None       # the wake-up's F is over: read the pilot afresh
            self.det.reset()

    def _guard_opened(self, now):
        """The shell's stall guard opened the contactor while the loop was held (the car had gone
        to B, A or a fault). The core opens too and reads the pilot afresh: closing again takes
        the B->C qualification, the diode and the self-test, like any first close."""
        if self.t_closed is not None:
            self._open(now)
            self.det.reset()
            if not self.stall_opened:
                self.stall_opened = True
                self._emit((V.EV_WARNING, V.WARN_STALL_OPENED, True))

    def _undecided_update(self):
        undecided = self.det.undecided >= L.UNDECIDED_WARN_BURSTS
        if undecided != self.pilot_undecided:
            self.pilot_undecided = undecided
            self._emit((V.EV_WARNING, V.WARN_PILOT_UNDECIDED, undecided))

    def oc_blind_update(self, m):
        blind = m.current_ma is not None and not m.current_ma >= 0 and self.t_closed is not None
        if blind != self.oc_blind:
            self.oc_blind = blind
            self._emit((V.EV_WARNING, V.WARN_OVERCURRENT_BLIND, blind))

    def _read_pp(self, m):
        conn = self.cfg["connector"]
        ohms = m.pp_ohms
        # One reading is not a cable: a fault, a latched plug or a higher rating is taken when the
        # next reading (a tick later) agrees, not from one spike (a contactor coil's EMI, a bounce),
        # and so is a button press (one reading in its band took the PWM off for 3 s); a lower
        # rating, an unplugged handle at once. Until then the last one holds (nothing rises),
        # a fault as undecided (no fault, nothing offered on a Type 2 socket).
        # A fault reading also agrees with one two readings before it (two among the last three):
        # a PP bad every other reading (a loose pin, hum) is no spike. The readings after a change
        # are full steps, never quiet ticks, until _pp_seen is a reading again.
        was = self._pp_seen
        t2 = conn == "type2-socket"
        if t2:
            st = PX.cable_amps(ohms, self.cfg["phases"])
            bad = 0
        elif conn == "type2-tethered":
            self._pp = PX.NOT_WIRED
            return
        else:
            st = PX.latch_state(ohms)
            bad = PX.FAULT
        if st == bad:
            self._pp_seen = st
            if was == _PP_BAD_BEFORE:
                was = st
        else:
            self._pp_seen = _PP_BAD_BEFORE if was == bad else st
        if t2:
            cable = self.limits.get("cable", -1)
            if st == was or 0 < st * 10 <= cable:
                if cable != st * 10:
                    self.set_limit("cable", st)
                self._pp = PX.LATCHED if st else PX.FAULT
                return
        elif st == was or st == PX.UNPLUGGED:
            self._pp = st
            return
        if self._pp == PX.FAULT:
            self._pp = PX.NOT_WIRED

    def _collect_faults(self, m, ps, now):
        if m.rcd_trip or m.rcd_dc_trip or self._selftest == _SELFTEST_ABORTED:
            self._rcd_faults(m, now)    # (nothing else to do: no trip, no aborted test to end)
        self._contactor_faults(m, now)
        if self.state != V.ST_BOOT:
            self._pilot_faults(ps, now)
            if self.t_closed is not None and self.oc.check(m.current_ma, now, self.diff):
                self._set_fault(V.FAULT_OVERCURRENT, now)
        if self.settings_error is not None:
            if self.fault is None and self.state != V.ST_BOOT:
                self._set_fault(V.FAULT_SETTINGS, now)
        elif self.fault == V.FAULT_SETTINGS:
            self._clear()

    def _rcd_faults(self, m, now):
        """Residual current: the shell's interrupt handler has already opened the contactor. The only
        trip that is not a fault is the self-test's own, on the AC input, until it has released."""
        closed = self.t_closed is not None
        test_trip = self._test_trip(m, now)
        if (m.rcd_trip and not test_trip) or m.rcd_dc_trip:
            if closed or self.fault is None:
                # judged at the trip's own moment: a loop held by a long call sees it late
                at = m.rcd_trip_ms
                name = self.rcd.on_trip(self.t_closed, now if at is None else at, self.diff)
                if m.rcd_dc_trip and name == V.FAULT_RCD:
                    name = V.FAULT_RCD_DC
                self._set_fault(name, now)

    def _contactor_faults(self, m, now):
        """Contactor feedback: after the settle time it must match the command."""
        t = self.t_closed
        if t is not None and self.diff(now, t) >= _CLOSED_OLD_MS:
            # Closed for days: the close moved to RCD_EARLY_MS ago. The ticks wrap: from 2**29 ms
            # on the time since it read negative (a trip was an early one, a drop-out went unseen)
            self.t_closed = now - L.RCD_EARLY_MS
        if m.feedback < 0:
            return
        if self.t_closed is not None:
            if m.feedback == 0 and self._expired(self.t_closed, now, L.FEEDBACK_SETTLE_MS + 1):
                self._mirror_off(V.FAULT_NO_CLOSE, now)
                return
        elif self.t_opened is None or self._expired(self.t_opened, now, L.FEEDBACK_SETTLE_MS + 1):
            self.t_opened = None        # settled: stopped (ticks wrap: after 2**29 ms it read as new)
            if m.feedback == 1:
                self._mirror_off(V.FAULT_WELD, now)
                return
        self.t_mirror = None

    def _mirror_off(self, name, now):
        """The settled mirror disagrees with the coil: the fault once it has for FEEDBACK_CONFIRM_MS
        (a reading alone is a spike on its wire: a weld is latched, a service call)."""
        t = self.t_mirror
        if t is None:
            self.t_mirror = now
        elif not 0 <= self.diff(now, t) < L.FEEDBACK_CONFIRM_MS:
            self._set_fault(name, now)      # (kept while it disagrees: a step that changes nothing)

    def _pilot_faults(self, ps, now):
        """E or F, impossible levels, a missing diode, D without ventilation, PP: open at once."""
        if ps < P.D and self._pp != PX.FAULT:
            return                      # A, B, C, unknown with a sound PP: nothing to check
        if ps == P.INVALID:
            self._set_fault(V.FAULT_PILOT, now)
        elif ps == P.DIODE:
            self._set_fault(V.FAULT_DIODE, now)
        elif ps == P.E:
            self._set_fault(V.FAULT_STATE_E, now)
        elif ps == P.F and self.out.pilot_mode != L.PILOT_F:
            self._set_fault(V.FAULT_STATE_F, now)
        elif ps == P.D and not self.cfg["ventilation"]:
            self._set_fault(V.FAULT_VENTILATION, now)
        if self._pp == PX.FAULT and ps != P.A and ps != P.UNKNOWN \
                and self.cfg["connector"] != "type2-tethered":
            self._set_fault(V.FAULT_PP, now)

    def _test_trip(self, m, now):
        """The AC trip flag belongs to the self-test while its winding is on and until the monitor
        releases it; after an aborted test, for at most RCD_TEST_MAX_MS."""
        phase = self._selftest
        if phase == _SELFTEST_WAIT_TRIP:
            return True
        same = self._test_edges < 0 or m.rcd_edges == self._test_edges   # no second trip since
        if phase == _SELFTEST_WAIT_RELEASE:
            return same
        if phase != _SELFTEST_ABORTED:
            return False
        if m.rcd_trip and same and not self._expired(self.t_selftest, now, L.RCD_TEST_MAX_MS):
            self.out.rcd_ack = True
            return True
        if m.rcd_trip or self._expired(self.t_selftest, now, L.RCD_TEST_SETTLE_MS):
            self._selftest = _SELFTEST_IDLE
        return False

    def internal_fault(self, now):
        """The shell caught an exception in the control tick: treat it as a fault (outputs safe)."""
        self.request()
        self._set_fault(V.FAULT_INTERNAL, now)
        if self.out.pilot_mode != L.PILOT_F:    # the shell's safe outputs hold the pilot at F: the
            self.out.pilot_mode = L.PILOT_F     # core's own view too, or the next tick reads F
            self.det.reset()                    # while offering and blames the car (state_f)

    def _set_fault(self, name, now):
        if self.fault == name:
            return
        if self.fault in V.LATCHED:
            return   # a latched fault is never replaced by a milder one
        if self.fault:
            self._emit((V.EV_FAULT, self.fault, False))
        self.fault = name
        self.t_F = now
        self._emit((V.EV_FAULT, name, True))
        self._open(now)
        if name in V.LATCHED and self.session_active:
            self._end_session(name)   # F for good: no unplug can be seen to end it

    # --- next state: one handler per state, each returns the next state ---
    def _next_state(self, m, ps, now):
        if self.fault and self.state != V.ST_BOOT:
            return self._in_fault(m, ps, now)     # a fault preempts every state's own handler
        new = self._HANDLERS[self.state](self, m, ps, now)
        if self.fault and self.state != V.ST_BOOT:
            # raised by the handler (the close sequence's self-test): F in this tick, not the PWM
            # and the state C2 for one more
            return self._in_fault(m, ps, now)
        return new

    def _h_boot(self, m, ps, now):
        """Power-on checks: the generator swings to -12 V (F), the contactor is open, no RCD trip."""
        self.out.pilot_mode = L.PILOT_F
        if self.fault:
            return V.ST_FAULT
        if not self._expired(self.t_F, now, L.FAULT_F_MIN_MS):
            return V.ST_BOOT
        if not (m.pilot_ok and L.F_MIN_MV <= m.pilot_pos <= L.F_MAX_MV):
            self._set_fault(V.FAULT_PILOT, now)
            return V.ST_BOOT
        self._enter_x1(now)
        return V.ST_A1

    def _h_fault(self, m, ps, now):
        """The fault was cleared: read the pilot again from X1 (if still at F), then as usual."""
        if self.out.pilot_mode == L.PILOT_F:
            self._enter_x1(now)
            return V.ST_FAULT
        return self._h_vehicle(m, ps, now)

    def _h_disabled(self, m, ps, now):
        if not self.enabled and self.t_closed is None:
            return V.ST_DISABLED
        self._enter_x1(now)
        return V.ST_A1

    def _h_vehicle(self, m, ps, now):
        """A1 to D2, paused, wakeup: what the vehicle shows decides."""
        if not self.enabled and self.t_closed is None:
            return V.ST_DISABLED        # an EV still in C is stopped first (below), then F
        if ps == P.UNKNOWN:
            return self.state
        if ps == P.A:
            self._unplugged(now)
            return V.ST_A1
        if self.t_step_EF is not None:
            return self.state           # the wake-up's F lasts T_step_EF, whatever the car shows
        if self.out.pilot_mode == L.PILOT_5PCT and not self.hlc:
            return V.ST_WAKEUP          # 5 % to nominal without communication: F for T_step_EF first
        offer = (self.t_x1_hold is None or not self._holding_x1(now)) and self._may_offer()
        if ps == P.C or ps == P.D:
            return self._asking(m, ps, now, offer)
        return self._not_asking(now, offer)

    def _asking(self, m, ps, now, offer):
        """C or D: close when offered (after the self-test), else stop under control."""
        self._wakeup_done = True      # a car that asked is awake: no wake-up this plug-in (facts 4)
        closed = self.t_closed is not None
        if not offer or (closed and self.hlc):      # (5 %: no current agreed, see _close_sequence)
            self._pwm_off(now)
            self._end_selftest(now)   # a test under way ends with the offer: its winding off, a close tests anew
            if closed:
                # EVSE-side stop (seq 10.2): PWM off, wait for the EV to go to B or 6 s, then open;
                # the button's 500 ms run from the press itself, which the tick sees a little later
                if self.t_ev_stop is None:
                    self.t_ev_stop = now
                limit = L.BUTTON_OPEN_MS - L.BUTTON_SEEN_MS if self._pp == PX.BUTTON else L.EV_STOP_WAIT_MS
                if self._expired(self.t_ev_stop, now, limit):
                    self._open(now)
            elif self.stop_reason and self.session_active:
                self._end_session(self.stop_reason)
            return V.ST_D1 if ps == P.D else V.ST_C1
        self.t_ev_stop = None
        self._pwm_on(now)
        # Only at a nominal duty: at 5 % a current is agreed by ISO 15118 / DIN 70121, which this
        # charger does not speak: nothing is ever agreed, the car waits, the contactor open (facts 1)
        if not closed and self.out.pilot_mode == L.PILOT_PWM:
            self._close_sequence(m, now)
        return V.ST_D2 if ps == P.D else V.ST_C2

    def _not_asking(self, now, offer):
        """B: the EV does not ask (seq 8.1: C to B, open at once)."""
        if self.t_closed is not None:
            self._open(now)
        self.t_ev_stop = None
        self._end_selftest(now)
        if not offer:
            self._pwm_off(now)
            if self.stop_reason and self.session_active:
                self._end_session(self.stop_reason)
            return V.ST_PAUSED if self._paused() else V.ST_B1
        self._pwm_on(now)
        # A sleeping EV: B2 for wakeup_after_s in a row without asking; one wake-up per plug-in.
        # No wake-up to wait for, no timer: the ticks wrap, and one run since a plug-in with the
        # wake-up off read negative 6.2 days on (the wake-up turned on then never came)
        after_s = self.cfg["wakeup_after_s"]
        if self._wakeup_done or after_s <= 0:
            self.t_b2_idle = None
        elif self.t_b2_idle is None or self.state != V.ST_B2:
            self.t_b2_idle = now
        elif self._expired(self.t_b2_idle, now, after_s * 1000):
            return V.ST_WAKEUP
        return V.ST_B2

    def _paused(self):
        """Not offering for an EVSE-side reason (limit under 6 A or the car's minimum, temperature,
        latch button). A
        Type 2 socket's cable not read yet (_read_pp: a tick or two after the plug) is B1."""
        return (self.enabled and self.stop_reason is None
                and (self.authorized or not self.auth_needed())
                and (self.thermal.level == THERMAL_STOP or self._pp == PX.BUTTON
                     or (self._offer_x10 == 0
                         and (self._pp != PX.NOT_WIRED or self.cfg["connector"] != "type2-socket"))))

    def _holding_x1(self, now):
        """Pilot X1 for at least 3 s after a pause, and after boot (let a car in C re-request).
        The hold over, its timer stops (ticks wrap: after 2**29 ms it read as new, for 6.2 days)."""
        if self.out.pilot_mode == L.PILOT_X1 and not self._expired(self.t_x1_hold, now, L.X1_MIN_MS):
            return True
        self.t_x1_hold = None
        return False

    def _unplugged(self, now, pp=None):
        """Nothing of this plug-in kept for the next, the pilot at X1 for it. pp: a Type 2 socket's
        PP, two readings alike, while the pilot sits at F (disabled, a wake-up) and reads no car:
        open, it is the cable gone (IEC 61851-1 Annex B), not a bad one: the pilot's state is A (no
        pp fault from the car it read before the F) and the unplug's bookkeeping is done now, the F
        kept (a plug after it is a fresh one). A latch plug's open PP proves nothing: a handle
        whose S3 is not wired back reads open too. (One method: one more cost 160 B of heap.)"""
        if pp is None:
            self._pwm_off(now)
        elif pp < L.PP_UNPLUGGED_MIN or self.cfg["connector"] != "type2-socket" or self.det.state == P.A:
            return
        else:
            self.det.state = P.A      # (read afresh when the F ends: _enter_x1, a wake-up's end)
        self._open(now)
        self._end_selftest(now)
        if self.session_active:
            self._end_session("unplugged")
        self.stop_reason = None
        # Issue 12: an authorization given before the plug (card first, RemoteStart) waits for the
        # car; only leaving a connected state clears it (each tick in A must not; OCPP's
        # ConnectionTimeOut withdraws it through authorize(False)).
        if self.auth_needed() and self.state != V.ST_A1:
            self.authorized = False
        self._wakeup_done = False
        self.t_step_EF = None
        self.t_b2_idle = None
        self.t_ev_stop = None
        self.t_x1_hold = None         # a car plugging in next needs no X1 hold
        self.rcd.reset()
        self.oc.reset()

    def _end_session(self, reason):
        self.session_active = False
        self._emit((V.EV_SESSION, V.SESSION_END, reason))

    def _in_fault(self, m, ps, now):
        """F for FAULT_F_MIN_MS (latched and held faults: for good), then X1 so an unplug can be seen;
        an unplug clears the fault, a residual-current fault is retried after RCD_RETRY_MS."""
        out = self.out
        self._open(now)
        # t_F stops (None) once the F is over, a retry's wait once it is over too: the ticks wrap,
        # and after 2**29 ms a running timer read as just started (F again for 6.2 days, no unplug seen)
        t = self.t_F
        if self.fault in V.LATCHED or self.fault in V.HELD or (
                t is not None and not self._expired(t, now, L.FAULT_F_MIN_MS)):
            if out.pilot_mode != L.PILOT_F:
                out.pilot_mode = L.PILOT_F
                self.det.reset()
            return V.ST_FAULT
        if out.pilot_mode != L.PILOT_X1:
            self._enter_x1(now)
            if self.fault not in V.RETRY:
                self.t_F = None
            return V.ST_FAULT
        # X1's hold stopped once over here too: a fault kept for 6.2 days (a retry's wait, a car
        # left plugged in) had it read as just started when it ended: nothing offered 6.2 days
        self._holding_x1(now)
        if ps == P.A:
            self.clear_fault()
            self._unplugged(now)
            return V.ST_A1
        if self.fault in V.RETRY and (t is None or self._expired(t, now, L.RCD_RETRY_MS)):
            self.t_F = None
            if m.rcd_trip or m.rcd_dc_trip:
                out.rcd_ack = True    # re-arm: a residual current still there trips it again
            else:
                self._clear()         # retry: the close sequence self-tests again first
        return V.ST_FAULT

    # --- entry actions: run once, when the state changes to theirs (fault: _end_selftest) ---
    def _enter_disabled(self, now):
        """Operator disabled: not available (F)."""
        out = self.out
        if out.pilot_mode != L.PILOT_F:   # already F in a wake-up: that session goes on
            out.pilot_mode = L.PILOT_F
            self._end_selftest(now)
            if self.session_active:
                self._end_session(V.ST_DISABLED)

    def _enter_wakeup(self, now):
        """F for T_step_EF, once per plug-in."""
        self._wakeup_done = True
        self.t_step_EF = now
        self.t_b2_idle = None
        self.out.pilot_mode = L.PILOT_F

    def _enter_not_idle(self, now):
        """B1, paused, C and D: no longer idle in B2 (the wake-up waits for B2 time in a row)."""
        self.t_b2_idle = None

    # --- actions ---
    def _enter_x1(self, now):
        self.out.pilot_mode = L.PILOT_X1
        self.t_x1_hold = now
        self.det.reset()

    def _pwm_on(self, now):
        if not self.session_active:       # charging is first offered to this vehicle
            self.session_active = True
            self._emit((V.EV_SESSION, V.SESSION_START, None))
        mode = L.PILOT_5PCT if self.hlc else L.PILOT_PWM
        if self.out.pilot_mode != mode:
            self.out.pilot_mode = mode
            self.t_x1_hold = None
            self.det.diode_seen = False

    def _pwm_off(self, now):
        if self.out.pilot_mode != L.PILOT_X1:
            self.out.pilot_mode = L.PILOT_X1
            self.t_x1_hold = now

    def _apply_limit(self, now):
        """Advertised current: lowering is immediate, raising at most once per 5 s (facts 2)."""
        out = self.out
        target = self._offer_x10
        mode = out.pilot_mode
        if mode != L.PILOT_PWM:
            if out.amps_x10 or mode != self._emitted_mode:
                out.amps_x10 = 0
                self.t_duty = None
                self.oc.signalled(0, now, self.diff)
                self._emitted_mode = mode
                self._emit((V.EV_PILOT, mode, 0))
            return
        cur = out.amps_x10
        if target == cur:
            return
        # (a change days ago reads as negative once the wrapping ticks pass 2**29 ms, not as recent)
        if cur and target > cur and self.t_duty is not None \
                and 0 <= self.diff(now, self.t_duty) < L.DUTY_NOMINAL_RAISE_MS:
            return
        out.amps_x10 = target
        self.t_duty = now
        self.oc.signalled(target, now, self.diff)
        self._emitted_mode = mode
        self._emit((V.EV_PILOT, mode, target))

    def _close_sequence(self, m, now):
        """C requested and offered: residual-current self-test, then close (seq 4, within 1 s)."""
        out = self.out
        if not self.det.diode_seen or self._selftest == _SELFTEST_ABORTED:
            return
        if self._selftest == _SELFTEST_IDLE:
            if not self.cfg["rcd_selftest"]:
                self._selftest = _SELFTEST_PASSED
            else:
                self._selftest = _SELFTEST_WAIT_TRIP
                self.t_selftest = now
                self._test_edges = -1
                out.rcd_test = True
                return
        if self._selftest == _SELFTEST_WAIT_TRIP:
            if m.rcd_trip:
                out.rcd_test = False
                out.rcd_ack = True
                self._test_edges = m.rcd_edges
                self._selftest = _SELFTEST_WAIT_RELEASE
                self.t_selftest = now
            elif self._expired(self.t_selftest, now, L.RCD_TEST_MAX_MS):
                out.rcd_test = False
                self._selftest = _SELFTEST_IDLE
                self._set_fault(V.FAULT_RCD_SELFTEST, now)
            return
        if self._selftest == _SELFTEST_WAIT_RELEASE:
            if m.rcd_trip:
                out.rcd_ack = True
                if self._expired(self.t_selftest, now, L.RCD_TEST_MAX_MS):
                    self._selftest = _SELFTEST_IDLE
                    self._set_fault(V.FAULT_RCD, now)
                return
            self._selftest = _SELFTEST_SETTLE     # released: a trip from now on is a fault
        if self._selftest == _SELFTEST_SETTLE:
            if not self._expired(self.t_selftest, now, L.RCD_TEST_SETTLE_MS):
                return
            self._selftest = _SELFTEST_PASSED
        if self._selftest == _SELFTEST_PASSED and self._may_close():
            self._close(now)

    def _may_close(self):
        """No fault, and no reading of a plug lock's switch in doubt (a bounce is not closed on)."""
        return self.fault is None and (self.lock is None or self.lock.closable())

    def _end_selftest(self, now):
        phase = self._selftest
        if phase == _SELFTEST_WAIT_TRIP or phase == _SELFTEST_WAIT_RELEASE:
            self._selftest = _SELFTEST_ABORTED
            self.t_selftest = now
        elif phase != _SELFTEST_ABORTED:
            self._selftest = _SELFTEST_IDLE
        self.out.rcd_test = False

    def _close(self, now):
        self._selftest = _SELFTEST_IDLE   # the next close self-tests again
        if self.stall_opened:
            self.stall_opened = False
            self._emit((V.EV_WARNING, V.WARN_STALL_OPENED, False))
        if self.t_closed is None:
            self.t_closed = now
            self.t_opened = None
            self.out.contactor = True
            self._emit((V.EV_CONTACTOR, True))

    def _open(self, now):
        if self.t_closed is not None:
            self.t_closed = None
            self.t_opened = now
            self.oc._over_since = None    # (a time over before an opening tripped the next close at once)
            self.out.contactor = False
            self._emit((V.EV_CONTACTOR, False))

    def _emit(self, ev):
        self.events.append(ev)

    # The state machine's tables, built once with the class (the tick allocates nothing):
    # each state's handler returns the next state; entry actions run once on a change.
    _HANDLERS = {V.ST_BOOT: _h_boot, V.ST_FAULT: _h_fault, V.ST_DISABLED: _h_disabled,
                 V.ST_A1: _h_vehicle, V.ST_B1: _h_vehicle, V.ST_B2: _h_vehicle, V.ST_C1: _h_vehicle,
                 V.ST_C2: _h_vehicle, V.ST_D1: _h_vehicle, V.ST_D2: _h_vehicle,
                 V.ST_PAUSED: _h_vehicle, V.ST_WAKEUP: _h_vehicle}
    _ENTRY = {V.ST_FAULT: _end_selftest, V.ST_DISABLED: _enter_disabled, V.ST_WAKEUP: _enter_wakeup,
              V.ST_B1: _enter_not_idle, V.ST_PAUSED: _enter_not_idle, V.ST_C1: _enter_not_idle,
              V.ST_C2: _enter_not_idle, V.ST_D1: _enter_not_idle, V.ST_D2: _enter_not_idle}
