# The charging state machine: measurements + now -> commands. Pure: no machine, no time, no I/O.
# Sequence numbers refer to IEC 61851-1 Table A.6.
from micropython import const

from evse import limits as L
from evse import pilot as P
from evse import proximity as PX
from evse.protections import OverCurrent, Thermal, RcdPolicy, THERMAL_STOP


def ticks_diff(a, b):
    """Difference of two tick counts; the app replaces this with the port's wrapping one."""
    return a - b


class Measurements:
    """One snapshot of the inputs, updated in place by the shell and the services each tick."""

    def __init__(self):
        self.pilot_pos = 0          # positive plateau, mV
        self.pilot_neg = 0          # negative plateau, mV
        self.pilot_ok = False       # the burst was stable enough to act on
        self.pp_ohms = L.PP_NOT_WIRED
        self.feedback = -1          # contactor feedback: 1 closed, 0 open, -1 none
        self.rcd_trip = False
        self.rcd_edges = 0          # AC trips counted by the interrupt (wraps): tells one trip from the next
        self.rcd_dc_trip = False
        self.temp_c = None
        self.current_ma = None      # type: int | None  # highest phase current, mA (an int: no heap); None: no meter; -1 (or NaN): lost


class Outputs:
    def __init__(self):
        self.pilot_mode = L.PILOT_F   # offers nothing until the power-on checks pass
        self.amps_x10 = 0             # advertised current (tenths of an amp)
        self.contactor = False
        self.rcd_test = False
        self.rcd_ack = False          # clear the shell's latched trip flag


# Faults that never clear by themselves: the hardware needs service (or a reset for rcd_early).
LATCHED_FAULTS = ("weld", "rcd_early", "rcd_selftest")
# Faults whose cause may vanish while the car stays: retried on a timer.
RETRY_FAULTS = ("rcd", "rcd_dc")
# Faults that last exactly as long as their cause (F; an unplug does not clear them): 'settings',
# no valid current limit from the installer or the board (Charger.settings_error).
HELD_FAULTS = ("settings",)
# Limit sources that are never removed: None there means no valid value, and offers nothing.
FIXED_SOURCES = ("settings", "board")

# Controller phases of closing
_SELFTEST_IDLE = const(0)
_SELFTEST_WAIT_TRIP = const(1)
_SELFTEST_WAIT_RELEASE = const(2)
_SELFTEST_SETTLE = const(3)       # the test's trip released: any trip from here on is a real one
_SELFTEST_PASSED = const(4)
_SELFTEST_ABORTED = const(5)      # ended early: the test's own trip may still be releasing


class Charger:
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
        self.settings_error = None    # why no valid limit exists (board, settings): fault 'settings'
        try:
            self.set_limit("board", L.check_number(max_amps, 6, L.AMPS_MAX))
        except ValueError as e:
            self.set_limit("board", None)
            self.settings_error = "board: MAX_CURRENT_A %s" % e
        self.set_limit("settings", cfg["max_current"])
        if cfg["max_current"] is None and self.settings_error is None:
            self.settings_error = "max_current: not set"
        self.enabled = True
        self.authorized = False
        self.auth_forced = False      # a backend decides who charges (OCPP), whatever the setting
        self.stop_reason = None       # an EVSE-side stop requested for this plug-in
        self.resample = False         # the shell should take another pilot burst now (confirmation)
        self.state = "boot"
        self.fault = latched_fault
        self.session_active = False
        self.oc_blind = False
        self.pilot_undecided = False  # the pilot sits between two bands: no state, no charging
        self._booted_at = None
        self._fault_since = 0
        self._retry_at = None
        self._closed_at = None        # when the contactor closed (None: open)
        self._opened_at = None        # when the contactor opened
        self._stop_since = None       # PWM removed while closed: waiting for the EV to go to B
        self._x1_since = None
        self._selftest = _SELFTEST_IDLE
        self._selftest_since = 0
        self._test_edges = -1         # rcd_edges when the self-test's own trip came (-1: not yet)
        self._b2_since = None
        self._wakeup_done = False
        self._wakeup_since = None
        self._duty_changed_at = None
        self._emitted_mode = -1
        self._pp = PX.NOT_WIRED
        self._pp_ohms = L.PP_NOT_WIRED
        self.hlc = False              # high-level communication requested: 5 % instead of nominal
        self._last_state_name = None
        if latched_fault:
            self._emit(("fault", latched_fault, True))

    # --- requests from services ---
    def set_limit(self, source, amps):
        """Limit one source's current (settings, console, ocpp, cable...) to amps; None removes it.
        Refused (ValueError, nothing changed) unless a finite number 0..80. The core offers the
        lowest of every source, the board's rating included: no source lifts another's cap. The
        settings' and the board's limits are never removed: None there offers nothing."""
        if amps is not None:
            self.limits[source] = int(L.check_number(amps, 0, L.AMPS_MAX) * 10)
        elif source in FIXED_SOURCES:
            self.limits[source] = 0
        else:
            self.limits.pop(source, None)
        low = L.AMPS_MAX_X10
        for v in self.limits.values():   # on a change only: the tick reads the cached minimum
            if v < low:
                low = v
        self._limit_x10 = low

    def settings_fault(self, why):
        """Why the settings allow no charging (None: they do); fault 'settings' while it lasts.
        A board without a valid rating keeps its own reason."""
        if self.limits["board"]:
            self.settings_error = why

    def limit_without(self, source):
        """Amperes every other source, the board's rating included, allow (OCPP's composite schedule)."""
        low = L.AMPS_MAX_X10
        for s, v in self.limits.items():
            if s != source and v < low:
                low = v
        return low / 10

    def enable(self, flag):
        self.enabled = bool(flag)

    def authorize(self, flag):
        self.authorized = bool(flag)
        if flag:
            self.stop_reason = None

    def stop(self, reason):
        """End the session from the EVSE side (backend, console): stop under control, then open."""
        self.stop_reason = reason or "local"
        self.authorized = False

    def clear_fault(self):
        """Operator clears a fault (after service), and resets the trip counters."""
        self.rcd.reset()
        self._clear()

    def _clear(self):
        if self.fault:
            self._emit(("fault", self.fault, False))
            self.fault = None
            self._retry_at = None
            self.out.rcd_ack = True

    # --- derived values ---
    def auth_needed(self):
        return self.auth_forced or self.cfg["require_auth"]

    def pilot_read(self):
        """The pilot has been read since the generator last started (X1): before that, after boot,
        the state says nothing about a car (OCPP reports no connector status from a guess, issue 12)."""
        return self.det.state != P.UNKNOWN

    def limit_x10(self):
        return self.thermal.scale_x10(self._limit_x10)

    def _may_offer(self):
        """Every condition for advertising a current except the pilot itself."""
        cfg = self.cfg
        return (self.enabled and self.stop_reason is None
                and (self.authorized or not self.auth_needed())
                and self.thermal.level != THERMAL_STOP
                and P.clamp_amps_x10(self.limit_x10()) > 0
                and self._pp != PX.BUTTON
                and (cfg["connector"] != "type2-socket" or PX.cable_amps(self._pp_ohms) > 0))

    # --- the control tick ---
    def step(self, m, now):
        # 1. measure: the shell has filled `m`; read the pilot through the debouncer.
        out = self.out
        out.rcd_ack = False
        pwm_on = out.pilot_mode == L.PILOT_PWM or out.pilot_mode == L.PILOT_5PCT
        if out.pilot_mode != L.PILOT_F:
            self.det.update(m.pilot_pos, m.pilot_neg, m.pilot_ok, pwm_on, now, self.diff)
        self.resample = self.det.pending_fast()
        ps = self.det.state
        self._undecided_update()
        self._read_pp(m)
        self.thermal.update(m.temp_c)
        self.oc_blind_update(m)
        if self._booted_at is None:
            self._booted_at = now
        # 2. expire timers, 3. collect faults
        self._check_faults(m, ps, now)
        if self.settings_error is not None:
            if self.fault is None and self.state != "boot":
                self._set_fault("settings", now)
        elif self.fault == "settings":
            self._clear()
        # 4. next state, 5. outputs on change
        self._next(m, ps, now)
        self._apply_limit(now)
        if self.state != self._last_state_name:
            self._last_state_name = self.state
            self._emit(("state", self.state))

    def _undecided_update(self):
        undecided = self.det.undecided >= L.UNDECIDED_WARN_BURSTS
        if undecided != self.pilot_undecided:
            self.pilot_undecided = undecided
            self._emit(("warning", "pilot_undecided", undecided))

    def oc_blind_update(self, m):
        blind = m.current_ma is not None and not m.current_ma >= 0 and self._closed_at is not None
        if blind != self.oc_blind:
            self.oc_blind = blind
            self._emit(("warning", "overcurrent_blind", blind))

    def _read_pp(self, m):
        conn = self.cfg["connector"]
        self._pp_ohms = m.pp_ohms
        if conn == "type2-socket":
            amps = PX.cable_amps(m.pp_ohms)
            if self.limits.get("cable") != amps * 10:
                self.set_limit("cable", amps)
            self._pp = PX.LATCHED if amps else PX.FAULT
        elif conn == "type2-tethered":
            self._pp = PX.NOT_WIRED
        else:
            self._pp = PX.latch_state(m.pp_ohms)

    def _check_faults(self, m, ps, now):
        d = self.diff
        closed = self._closed_at is not None
        # Residual current: the shell's interrupt handler has already opened the contactor. The only
        # trip that is not a fault is the self-test's own, on the AC input, until it has released.
        test_trip = self._test_trip(m, now)
        if (m.rcd_trip and not test_trip) or m.rcd_dc_trip:
            if closed or self.fault is None:
                name = self.rcd.on_trip(self._closed_at, now, d)
                if m.rcd_dc_trip and name == "rcd":
                    name = "rcd_dc"
                self._set_fault(name, now)
        closed = self._closed_at is not None     # a trip above has just opened it
        # Contactor feedback: after the settle time it must match the command.
        if m.feedback >= 0:
            if closed and m.feedback == 0 and d(now, self._closed_at) > L.FEEDBACK_SETTLE_MS:
                self._set_fault("no_close", now)
            elif not closed and m.feedback == 1 and (
                    self._opened_at is None or d(now, self._opened_at) > L.FEEDBACK_SETTLE_MS):
                self._set_fault("weld", now)
        if self.state == "boot":
            return
        # Pilot: E or F, impossible levels, a missing diode: open at once.
        if ps == P.INVALID:
            self._set_fault("pilot", now)
        elif ps == P.DIODE:
            self._set_fault("diode", now)
        elif ps == P.E:
            self._set_fault("state_e", now)
        elif ps == P.F and self.out.pilot_mode != L.PILOT_F:
            self._set_fault("state_f", now)
        elif ps == P.D and not self.cfg["ventilation"]:
            self._set_fault("ventilation", now)
        if self._pp == PX.FAULT and ps != P.A and ps != P.UNKNOWN \
                and self.cfg["connector"] != "type2-tethered":
            self._set_fault("pp", now)
        if closed and self.oc.check(m.current_ma, now, d):
            self._set_fault("overcurrent", now)

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
        age = self.diff(now, self._selftest_since)
        if m.rcd_trip and same and age < L.RCD_TEST_MAX_MS:
            self.out.rcd_ack = True
            return True
        if m.rcd_trip or age >= L.RCD_TEST_SETTLE_MS:
            self._selftest = _SELFTEST_IDLE
        return False

    def internal_fault(self, now):
        """The shell caught an exception in the control tick: treat it as a fault (outputs safe)."""
        self._set_fault("internal", now)

    def _set_fault(self, name, now):
        if self.fault == name:
            return
        if self.fault in LATCHED_FAULTS:
            return   # a latched fault is never replaced by a milder one
        if self.fault:
            self._emit(("fault", self.fault, False))
        self.fault = name
        self._fault_since = now
        self._retry_at = now if name in RETRY_FAULTS else None
        self._emit(("fault", name, True))
        self._open(now)

    # --- transitions ---
    def _next(self, m, ps, now):
        d = self.diff
        out = self.out
        if self.state == "boot":
            # Power-on checks: the generator swings to -12 V (F), the contactor is open, no RCD trip.
            out.pilot_mode = L.PILOT_F
            if self.fault:
                self._go("fault")
            elif d(now, self._booted_at) >= L.FAULT_F_MIN_MS:
                if not (m.pilot_ok and L.F_MIN_MV <= m.pilot_pos <= L.F_MAX_MV):
                    self._set_fault("pilot", now)
                    return
                self._enter_x1(now)
                self._go("A1")
            return
        if self.fault:
            self._in_fault(m, ps, now)
            return
        if self.out.pilot_mode == L.PILOT_F and self.state == "fault":
            self._enter_x1(now)       # cleared while at F: read the pilot again from X1
            return
        if not self.enabled and self._closed_at is None:
            # Operator disabled: not available (F); an EV still in C is stopped first (below).
            if out.pilot_mode != L.PILOT_F:
                out.pilot_mode = L.PILOT_F
                self._end_selftest(now)
                if self.session_active:
                    self._end_session("disabled")
            self._go("disabled")
            return
        if self.state == "disabled":
            self._enter_x1(now)
            self._go("A1")
            return
        if ps == P.UNKNOWN:
            return
        if ps == P.A:
            self._unplugged(now)
            return
        # A vehicle is connected: B, C or D (faults were handled above).
        asking = ps == P.C or ps == P.D
        x1_name = "D1" if ps == P.D else "C1"     # constant names: no string built per tick
        x2_name = "D2" if ps == P.D else "C2"
        offer = self._may_offer() and not self._holding_x1(now)
        closed = self._closed_at is not None
        if asking:
            self._b2_since = None
            if closed and not offer:
                # EVSE-side stop (seq 10.2): PWM off, wait for the EV to go to B or 6 s, then open.
                self._pwm_off(now)
                if self._stop_since is None:
                    self._stop_since = now
                # the button's 500 ms run from the press itself, which the tick sees a little later
                limit = L.BUTTON_OPEN_MS - L.BUTTON_SEEN_MS if self._pp == PX.BUTTON else L.EV_STOP_WAIT_MS
                if d(now, self._stop_since) >= limit:
                    self._open(now)
                self._go(x1_name)
                return
            if not offer:
                self._pwm_off(now)
                if self.stop_reason and self.session_active and not closed:
                    self._end_session(self.stop_reason)
                self._go(x1_name)
                return
            self._stop_since = None
            self._pwm_on(now)
            self._go(x2_name)
            if not closed:
                self._close_sequence(m, now)
            return
        # B: the EV does not ask (seq 8.1: C to B, open at once).
        if closed:
            self._open(now)
        self._stop_since = None
        self._end_selftest(now)
        if self._wakeup_since is not None:
            if d(now, self._wakeup_since) < L.WAKEUP_F_MS:
                return
            self._wakeup_since = None
            self.det.reset()
        if not offer:
            self._pwm_off(now)
            if self.stop_reason and self.session_active:
                self._end_session(self.stop_reason)
            self._go("paused" if self._paused() else "B1")
            self._b2_since = None
            return
        self._pwm_on(now)
        if self._b2_since is None:
            self._b2_since = now
        elif (not self._wakeup_done and self.cfg["wakeup_after_s"] > 0
              and d(now, self._b2_since) >= self.cfg["wakeup_after_s"] * 1000):
            # A sleeping EV: one wake-up per plug-in, F for 4 s.
            self._wakeup_done = True
            self._wakeup_since = now
            self._b2_since = None
            self.out.pilot_mode = L.PILOT_F
            self._go("wakeup")
            return
        self._go("B2")

    def _paused(self):
        """Not offering for an EVSE-side reason (limit under 6 A, temperature, latch button)."""
        return (self.enabled and self.stop_reason is None
                and (self.authorized or not self.auth_needed())
                and (self.thermal.level == THERMAL_STOP or self._pp == PX.BUTTON
                     or P.clamp_amps_x10(self.limit_x10()) == 0))

    def _holding_x1(self, now):
        """Pilot X1 for at least 3 s after a pause, and after boot (let a car in C re-request)."""
        if self.out.pilot_mode != L.PILOT_X1 or self._x1_since is None:
            return False
        return self.diff(now, self._x1_since) < L.X1_MIN_MS

    def _unplugged(self, now):
        self._open(now)
        self._pwm_off(now)
        self._end_selftest(now)
        if self.session_active:
            self._end_session("unplugged")
        self.stop_reason = None
        # Issue 12: an authorization given before the plug (card first, RemoteStart) waits for the
        # car; only leaving a connected state clears it (each tick in A must not; OCPP's
        # ConnectionTimeOut withdraws it through authorize(False)).
        if self.auth_needed() and self.state != "A1":
            self.authorized = False
        self._wakeup_done = False
        self._wakeup_since = None
        self._b2_since = None
        self._stop_since = None
        self._x1_since = None         # a car plugging in next needs no X1 hold
        self.rcd.reset()
        self.oc.reset()
        self._go("A1")

    def _end_session(self, reason):
        self.session_active = False
        self._emit(("session", "end", reason))

    def _in_fault(self, m, ps, now):
        d = self.diff
        out = self.out
        self._go("fault")
        self._open(now)
        self._end_selftest(now)
        since = d(now, self._fault_since)
        if self.fault in LATCHED_FAULTS or self.fault in HELD_FAULTS or since < L.FAULT_F_MIN_MS:
            if out.pilot_mode != L.PILOT_F:
                out.pilot_mode = L.PILOT_F
                self.det.reset()
            return
        # After 300 ms of F, show X1 so an unplug can be seen; unplug clears the fault.
        if out.pilot_mode != L.PILOT_X1:
            self._enter_x1(now)
            return
        if ps == P.A:
            self.clear_fault()
            self._unplugged(now)
            return
        if self.fault in RETRY_FAULTS and d(now, self._retry_at) >= L.RCD_RETRY_MS:
            if m.rcd_trip or m.rcd_dc_trip:
                out.rcd_ack = True    # re-arm: a residual current still there trips it again
            else:
                self._clear()         # retry: the close sequence self-tests again first

    # --- entry actions ---
    def _go(self, name):
        self.state = name

    def _enter_x1(self, now):
        self.out.pilot_mode = L.PILOT_X1
        self._x1_since = now
        self.det.reset()

    def _pwm_on(self, now):
        if not self.session_active:       # charging is first offered to this vehicle
            self.session_active = True
            self._emit(("session", "start", None))
        mode = L.PILOT_5PCT if self.hlc else L.PILOT_PWM
        if self.out.pilot_mode != mode:
            self.out.pilot_mode = mode
            self._x1_since = None
            self.det.diode_seen = False

    def _pwm_off(self, now):
        if self.out.pilot_mode != L.PILOT_X1:
            self.out.pilot_mode = L.PILOT_X1
            self._x1_since = now

    def _apply_limit(self, now):
        """Advertised current: lowering is immediate, raising at most once per 5 s (facts 2)."""
        out = self.out
        target = P.clamp_amps_x10(self.limit_x10())
        mode = out.pilot_mode
        if mode != L.PILOT_PWM:
            if out.amps_x10 or mode != self._emitted_mode:
                out.amps_x10 = 0
                self._duty_changed_at = None
                self.oc.signalled(0, now)
                self._emitted_mode = mode
                self._emit(("pilot", mode, 0))
            return
        cur = out.amps_x10
        if target == cur:
            return
        if cur and target > cur and self._duty_changed_at is not None \
                and self.diff(now, self._duty_changed_at) < L.DUTY_NOMINAL_RAISE_MS:
            return
        out.amps_x10 = target
        self._duty_changed_at = now
        self.oc.signalled(target, now)
        self._emitted_mode = mode
        self._emit(("pilot", mode, target))

    def _close_sequence(self, m, now):
        """C requested and offered: residual-current self-test, then close (seq 4, within 1 s)."""
        out = self.out
        d = self.diff
        if not self.det.diode_seen or self._selftest == _SELFTEST_ABORTED:
            return
        if self._selftest == _SELFTEST_IDLE:
            if not self.cfg["rcd_selftest"]:
                self._selftest = _SELFTEST_PASSED
            else:
                self._selftest = _SELFTEST_WAIT_TRIP
                self._selftest_since = now
                self._test_edges = -1
                out.rcd_test = True
                return
        if self._selftest == _SELFTEST_WAIT_TRIP:
            if m.rcd_trip:
                out.rcd_test = False
                out.rcd_ack = True
                self._test_edges = m.rcd_edges
                self._selftest = _SELFTEST_WAIT_RELEASE
                self._selftest_since = now
            elif d(now, self._selftest_since) >= L.RCD_TEST_MAX_MS:
                out.rcd_test = False
                self._selftest = _SELFTEST_IDLE
                self._set_fault("rcd_selftest", now)
            return
        if self._selftest == _SELFTEST_WAIT_RELEASE:
            if m.rcd_trip:
                out.rcd_ack = True
                if d(now, self._selftest_since) >= L.RCD_TEST_MAX_MS:
                    self._selftest = _SELFTEST_IDLE
                    self._set_fault("rcd", now)
                return
            self._selftest = _SELFTEST_SETTLE     # released: a trip from now on is a fault
        if self._selftest == _SELFTEST_SETTLE:
            if d(now, self._selftest_since) < L.RCD_TEST_SETTLE_MS:
                return
            self._selftest = _SELFTEST_PASSED
        if self._selftest == _SELFTEST_PASSED and self.fault is None:
            self._close(now)

    def _end_selftest(self, now):
        phase = self._selftest
        if phase == _SELFTEST_WAIT_TRIP or phase == _SELFTEST_WAIT_RELEASE:
            self._selftest = _SELFTEST_ABORTED
            self._selftest_since = now
        elif phase != _SELFTEST_ABORTED:
            self._selftest = _SELFTEST_IDLE
        self.out.rcd_test = False

    def _close(self, now):
        self._selftest = _SELFTEST_IDLE   # the next close self-tests again
        if self._closed_at is None:
            self._closed_at = now
            self._opened_at = None
            self.out.contactor = True
            self._emit(("contactor", True))

    def _open(self, now):
        if self._closed_at is not None:
            self._closed_at = None
            self._opened_at = now
            self.out.contactor = False
            self._emit(("contactor", False))

    def _emit(self, ev):
        self.events.append(ev)
