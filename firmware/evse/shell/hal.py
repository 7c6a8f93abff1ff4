# The hardware shell: pins, PWM, ADC bursts, contactor, residual-current interrupt, watchdog.
# Only MicroPython's documented machine/time APIs. The board module (boards/*.py) is data.
import time

import machine
import micropython
from micropython import const

from ..core import limits as L
from ..core import pilot as P

ticks_ms = time.ticks_ms
ticks_us = time.ticks_us
ticks_diff = time.ticks_diff
ticks_add = time.ticks_add
sleep_ms = time.sleep_ms
sleep_us = time.sleep_us

_U16_MAX = const(65535)
_U16_HIGH = const(65535)    # constant +12 V (X1)
_U16_LOW = const(0)         # constant -12 V (F)
_MIN_PLATEAU_SAMPLES = const(2)   # samples of a plateau in one burst before it is believed
_EDGE_MASK = const(0xFFFFFF)   # trip counters wrap while still small ints (no allocation in the IRQ)
_CT_CHUNK_US = const(400)   # inside the pilot burst, a CT round at least this often (< one slot)
_PWM_CORRECT_MAX = const(4) # duty_u16 steps down when a port rounds up more than modelled
# RP2040 datasheet 4.5.3: PWM slice n's registers at 0x40050000 + 0x14 * n; CC +0x0c, TOP +0x10.
_RP2_PWM_BASE = 0x40050000
_PWM_PERIOD_MIN_US = const(980)   # facts 1: at most 1020 Hz, so at most 2 edges per 980 us
_RTC_VALID_YEAR = const(2025)  # an RTC before this was never set
_RP2_WATCHDOG_REASON = const(0x40058008)   # RP2040 datasheet 4.7: WATCHDOG REASON, bit 0 TIMER
_HARD_RESET = const(2)      # as the ports number it: the rp2 port has no machine.HARD_RESET (an
                            # AttributeError at boot there, measured on the emulated Pico)
_GLITCH_EDGES = const(4)    # two glitch samples across 0 V in one burst: still a clean pilot
_LEVEL_READS = const(6)     # no PWM (X1, F): one level; its extremes dropped, 4 reads remain
_PP_OPEN_CODES = const(64)  # a PP this close to the pull-up's full scale is open (no resistor)
_GLITCH_MIXED = const(1)    # one read across 0 V is a glitch (dropped), more is noise
# The phased read's 4 samples of a plateau: its two middle ones further apart than this are not one
# level (two or more glitches; 0.5 V RMS of noise never set it off on the bench), even near 0 V
# where noise across 0 V is a shorted pilot's (E): an impossible reading, a pilot fault once confirmed
_GLITCH_SPREAD_MV = const(3000)


WDT_RESET = machine.WDT_RESET


def reset():
    machine.reset()


def reset_cause(port=None):
    """machine.reset_cause(). The rp2 port says WDT_RESET after every reset its watchdog made, and
    machine.reset() is one (the pico-sdk's watchdog_reboot forces it: WATCHDOG REASON.FORCE, bit 1):
    there only REASON.TIMER (bit 0; RP2040 datasheet 4.7, Watchdog) is a watchdog that was not fed. A
    reboot asked for (make flash, the console, OCPP Reset) reads as a hard reset (2)."""
    c = machine.reset_cause()
    if c == WDT_RESET and port == "rp2" and not machine.mem32[_RP2_WATCHDOG_REASON] & 1:
        return _HARD_RESET
    return c


def tick_light(board):
    """The board's LED as the tick's light (board TICK_LED): lit while the control loop's own work
    runs, so a scope on it times the tick apart from the services (on a Pico a dim glow that says
    the loop runs). None without one. tools/boardcheck.py refuses TICK_LED on an LED that is no
    GPIO of the chip (the Pico W's is the radio's, too slow to switch); here it is never driven."""
    pin = getattr(board, "LED_PIN", None)
    if not getattr(board, "TICK_LED", False) or not isinstance(pin, int):
        return None
    return machine.Pin(pin, machine.Pin.OUT, value=0)


def utc_seconds():
    """UTC seconds since 1970 from the board's RTC (NTP sets it), or None while it is not set (a
    board starts in 2000 or 2021). Computed here: MicroPython's own epoch differs between ports."""
    from ..core.calendar import days_from_civil     # only for the planner: no heap otherwise
    try:
        y, mo, d, _, h, mi, s = machine.RTC().datetime()[:7]
    except Exception:
        return None
    if y < _RTC_VALID_YEAR:
        return None
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s


def set_utc(t):
    """Set the board's RTC to UTC seconds since 1970 (what ntptime.settime() does, without its wait)."""
    from ..core.calendar import civil_from_days, weekday
    days = t // 86400
    y, mo, d = civil_from_days(days)
    machine.RTC().datetime((y, mo, d, weekday(days), (t % 86400) // 3600, (t % 3600) // 60, t % 60, 0))


def adc_input(pin, atten):
    if pin is None:
        return None
    adc = machine.ADC(pin if pin <= 4 else machine.Pin(pin))   # rp2: 0-4 are ADC channels
    if atten is not None:
        adc.atten(atten)
    return adc


class Hardware:
    """Measures into a Measurements snapshot and applies the core's Outputs."""

    def __init__(self, board):
        self.board = board
        # Safe state first: contactor open, pilot at -12 V (offers nothing) until the checks pass.
        self._coils = tuple(machine.Pin(p, machine.Pin.OUT, value=0) for p in board.CONTACTOR_PINS)
        self._econ = None
        self._econ_since = None   # when the coil closed, while the economiser's pull-in is under way
        self.pilot_pwm = machine.PWM(machine.Pin(board.PILOT_PWM_PIN), freq=L.PILOT_FREQ_HZ,
                                     duty_u16=_U16_LOW)
        self._pwm_port = board.PWM_PORT
        self._cc_addr = self._cc_shift = 0
        self.steps = self._pwm_steps(board)
        self._phase = None        # rp2: the pilot read at known phases of the slice's counter
        self._side = None         # rp2: PP, temperature, feedback read inside that read's wait
        self._cc = 0              # the compare count last set (read back from the slice)
        self._mode = L.PILOT_F
        self._amps_x10 = 0
        self.duty_x100 = 0
        self.duty_u16 = _U16_LOW
        gain, offset, fullscale = board.PILOT_FRONTEND
        # pilot mV = (raw - zero) * k / 1000 (integer math in the burst)
        self._zero = int(offset / fullscale * _U16_MAX + 0.5)
        self._k = int(fullscale / _U16_MAX / gain * 1e6 + 0.5)
        self._pilot_adc = adc_input(board.PILOT_ADC_PIN, board.ADC_ATTEN)
        self.coil_on = False      # the coil driven closed (the stall guard reads it in its interrupt)
        self.alive_ms = ticks_ms()    # when the control loop last measured
        self.guard_trips = 0      # openings by the stall guard (wraps), and the count the core was told of
        self._guard_seen = 0
        self.guard = None
        self.capture = None       # rp2 with rp2.DMA: the pilot captured before the tick (kick_pilot)
        self.capture_wanted = False
        self._burst = board.PILOT_BURST
        self._pp_adc = adc_input(board.PP_ADC_PIN, board.ADC_ATTEN)
        self._temp_adc = adc_input(board.TEMP_ADC_PIN, board.ADC_ATTEN)
        self._adc_fullscale_mv = int(fullscale * 1000)
        # PP divider in ADC codes, computed once: integers only on the tick
        self._pp_full = _U16_MAX * int(board.PP_VREF * 1000 + 0.5) // self._adc_fullscale_mv
        self.pp_open_at = self._pp_full - _PP_OPEN_CODES   # read_pp's and the capture's
        self._pp_pullup = board.PP_PULLUP_OHMS
        if self._cc_addr:
            self._start_phased(board)
        fb = board.FEEDBACK_PIN
        self._feedback = None if fb is None else machine.Pin(fb, machine.Pin.IN, machine.Pin.PULL_UP)
        self._rcd_test = None if board.RCD_TEST_PIN is None else machine.Pin(
            board.RCD_TEST_PIN, machine.Pin.OUT, value=0)
        self.rcd_tripped = False
        self.rcd_dc_tripped = False
        self.trip_ms = ticks_ms()     # when the last residual-current trip came (the core judges "early" by it)
        self.rcd_edges = 0        # trips counted by the interrupts: the core tells one trip from
        self.rcd_dc_edges = 0     # the next, and an ack never clears a trip it has not seen
        self._edges_seen = 0
        self._rcd = self._irq_input(board.RCD_TRIP_PIN, self._on_rcd)
        self._rcd_dc = self._irq_input(board.RCD_DC_PIN, self._on_rcd_dc)
        self.wdt = None
        self.ct = None            # the CT source while metering (sliced bursts; see attach_ct)
        self._ct_chunk = max(1, _CT_CHUNK_US // board.ADC_SAMPLE_US)
        self._sample_us = board.ADC_SAMPLE_US
        self._test_on = False     # the RCD test winding as last driven
        self._opened = True       # the coil opened by _open_coil (not by an interrupt's _trip): nothing
        # left to do while the core keeps it open. 49 attributes: MicroPython's table of them 59
        # slots, not 47 full (each method lookup misses through it; host_tests/test_room.py)

    def _start_phased(self, board):
        """rp2: the phased pilot read, its capture and the stall guard (imported only here: their
        code costs heap elsewhere)."""
        self._phase = self._sampler()
        from .pilot_phase import SideReads
        self._side = SideReads(self)
        try:       # the pilot's capture where the port has rp2.DMA and a free DMA channel
            import rp2  # pyright: ignore[reportMissingImports] (the rp2 port's own module)
            rp2.DMA
            from .pilot_dma import for_board
            self.capture = for_board(self, board)
        except Exception:  # none: the tick reads the pilot itself, never a reason not to boot
            pass
        from .guard import StallGuard
        self.guard = StallGuard(self, self._sampler())

    def _sampler(self):
        from .pilot_phase import PhaseSampler
        return PhaseSampler(self._pilot_adc, self._cc_addr - 0x04, self._zero,
                            1000000 // L.PILOT_FREQ_HZ, _GLITCH_SPREAD_MV * 1000 // self._k, self._k)

    def _want_capture(self):
        """Whether a capture before the tick would be used: the PWM on, and no CT meter (it takes
        the ADC between the ticks). An attribute, set on a change: a property read costs 33 us on
        the Pico, and the loop asks every tick."""
        self.capture_wanted = self.capture is not None and self.ct is None and 0 < self.duty_x100 < 10000

    def kick_pilot(self):
        """The pilot's capture for the next tick's measure (the loop, a few ms before it)."""
        if self.capture_wanted:
            self.capture.kick(self._cc, self.steps)

    def attach_ct(self, src):
        """The CT source samples inside the control tick too (between chunks of the pilot burst),
        so its time-stamped rounds have no hole where the tick runs."""
        self.ct = src
        self._want_capture()

    # --- residual current: the interrupt opens the contactor itself (no waiting for the loop) ---
    def _irq_input(self, pin, handler):
        if pin is None:
            return None
        p = machine.Pin(pin, machine.Pin.IN)
        trig = machine.Pin.IRQ_RISING if self.board.RCD_TRIP_ACTIVE else machine.Pin.IRQ_FALLING
        # Hard where the port has it (rp2): the coil then opens inside a long call in C too
        # (esp32's Pin.irq has no `hard` and schedules every handler: ports/esp32/machine_pin.c)
        if self._pwm_port == "rp2":
            p.irq(handler=handler, trigger=trig, hard=True)
        else:
            p.irq(handler=handler, trigger=trig)
        if p.value() == self.board.RCD_TRIP_ACTIVE:
            handler(p)
        return p

    def _trip(self):
        # Interrupt context: no allocation, no loop over iterators.
        self.coil_on = False
        if self._econ is not None:
            self._econ.duty_u16(0)
        c = self._coils
        c[0].value(0)
        if len(c) > 1:
            c[1].value(0)

    def _on_rcd(self, pin):
        self._trip()
        self.trip_ms = ticks_ms()
        self.rcd_tripped = True
        self.rcd_edges = (self.rcd_edges + 1) & _EDGE_MASK

    def _on_rcd_dc(self, pin):
        self._trip()
        self.trip_ms = ticks_ms()
        self.rcd_dc_tripped = True
        self.rcd_dc_edges = (self.rcd_dc_edges + 1) & _EDGE_MASK

    def rcd_ack(self):
        """The core has seen the trip: re-arm, unless the monitor still signals one, or a new trip
        came in after this tick's measurement (the core has not seen that one yet)."""
        if self.rcd_edges + self.rcd_dc_edges != self._edges_seen:
            return
        active = self.board.RCD_TRIP_ACTIVE
        self.rcd_tripped = self._rcd is not None and self._rcd.value() == active
        self.rcd_dc_tripped = self._rcd_dc is not None and self._rcd_dc.value() == active

    # --- measuring ---
    def sample_pilot(self, m, serve_meter=True):
        """The pilot's plateaus into m: at known phases of the PWM where the port shows its counter
        (rp2), else a burst. A confirming burst (serve_meter False) takes no CT rounds: it is on
        the opening path (2.3 ms less on the emulated Pico)."""
        d = self.duty_x100
        ct = self.ct if serve_meter else None
        if ct is not None and not ct.active:
            ct = None
        if d == 0 or d == 10000:
            self._sample_level(m)
        elif self._phase is not None:
            self._sample_phased(m, self._phase, ct)
        else:
            self._sample_burst(m, ct)

    def _sample_level(self, m):
        """No PWM (X1, F): one level, a few reads. The highest and lowest are dropped (a glitch
        either way); reads on both sides of 0 V beyond one glitch are noise: no reading (as in the
        burst, a level a vehicle shows is made impossible; E stays E)."""
        cap = self.capture
        if cap is not None:   # rp2: the reads in machine code, and the side readings with them
            cap.level(_LEVEL_READS)
            got = cap.side    # [3:7]: pilot_dma.LEVEL_SUM
            s = got[3]
            up = got[4]
            hi = got[5]
            lo = got[6]
        else:
            adc = self._pilot_adc
            zero = self._zero
            s = up = hi = 0
            lo = _U16_MAX
            n = _LEVEL_READS
            while n:
                n -= 1
                v = adc.read_u16()
                s += v
                if v > zero:
                    up += 1
                if v > hi:
                    hi = v
                if v < lo:
                    lo = v
        m.pilot_ok = True
        self._plateaus(m, s, _LEVEL_READS, hi, lo, 0, 0, 0, 0)     # one side: neg reads as pos
        down = _LEVEL_READS - up
        if (up if up < down else down) > _GLITCH_MIXED and m.pilot_pos >= L.D_MIN_MV:
            m.pilot_pos = L.PILOT_HIGH_FAULT_MV + 1

    def _sample_burst(self, m, ct):
        """Burst over at least one PWM period; each plateau is the mean of its samples away from
        the edges, without its extreme contributions.

        Samples above the 0 V code belong to the positive plateau, the others to the negative one.
        A run is a stretch of samples on one side. An edge (up to 13 us, facts 1) is as long as a
        sample period, so a run's first and last samples may sit on it: a run of 3 or more counts
        only its inner samples. A shorter run (a 40 us plateau at 96 %, 50 us at 5 %) counts once,
        by its outermost sample: an edge never reaches past its plateau. Runs cut by the burst's
        ends count only inside. Dropping each plateau's highest and lowest removes a glitch.
        More edges than a 1 kHz PWM can make, with a vehicle's level on top, is not a pilot: the
        reading is made impossible (a pilot fault once confirmed), never a state.
        """
        adc = self._pilot_adc          # adc.read_u16() each time: a bound method would allocate
        zero = self._zero
        n = self._burst_len()
        hs = hn = ls = ln = 0          # what each plateau's mean is made of
        hc = lc = 0                    # every sample per side (under-sampling check)
        edges = 0
        max_edges = 2 * (n * self._sample_us // _PWM_PERIOD_MIN_US + 1) + _GLITCH_EDGES
        hmax = lmax = 0
        hmin = lmin = _U16_MAX
        chunk = self._ct_chunk if ct is not None else n
        prev = ext = adc.read_u16()    # the current run: its side, length, outermost sample
        up = prev > zero
        run = 1
        whole = False                  # the current run began at an edge, not at the burst's start
        n -= 1
        # The per-sample work stays inline (the one function over radon's limits, test_code_shape):
        # moving the plateau accumulation into a helper made a burst about 2x slower on the
        # MicroPython unix port (168 samples 77 -> 149 us, 56 samples 20 -> 47 us, best of 15 x 5000).
        while n:
            if ct is not None:
                ct.service()      # integer work into preallocated arrays
            c = chunk if chunk < n else n
            n -= c
            while c:
                c -= 1
                v = adc.read_u16()
                side = v > zero
                if side == up:
                    run += 1
                    if up:
                        if v > ext:
                            ext = v
                    elif v < ext:
                        ext = v
                    x = prev if run > 2 else -1    # inner: a neighbour of its side each way
                    prev = v
                else:
                    x = ext if run < 3 and whole else -1    # a short run between two edges
                if x < 0:
                    pass
                elif up:
                    hs += x
                    hn += 1
                    if x > hmax:
                        hmax = x
                    if x < hmin:
                        hmin = x
                else:
                    ls += x
                    ln += 1
                    if x > lmax:
                        lmax = x
                    if x < lmin:
                        lmin = x
                if side != up:         # an edge: a new run starts at v
                    edges += 1
                    if up:
                        hc += run
                    else:
                        lc += run
                    up = side
                    run = 1
                    prev = ext = v
                    whole = True
        if up:
            hc += run
        else:
            lc += run
        if ct is not None:
            ct.service()
        # A plateau caught by a single sample is under-sampled (a glitch or an edge): not acted on,
        # the next burst tries again. An empty side is a real reading: X1, F, or a pilot stuck
        # at one level while the PWM runs (shorted to PE: E; no negative swing: a pilot fault).
        # A side seen only in runs cut by the burst's ends has nothing to measure: not acted on.
        m.pilot_ok = ((hc == 0 or (hc >= _MIN_PLATEAU_SAMPLES and hn > 0))
                      and (lc == 0 or (lc >= _MIN_PLATEAU_SAMPLES and ln > 0)))
        self._plateaus(m, hs, hn, hmax, hmin, ls, ln, lmax, lmin)
        if edges > max_edges and m.pilot_pos >= L.D_MIN_MV:   # not E: a shorted pilot has noise
            m.pilot_pos = L.PILOT_HIGH_FAULT_MV + 1

    def _sample_phased(self, m, s, ct):
        """The PWM's plateaus sampled where the slice's counter says they are (pilot_phase.py):
        too few samples of either is not acted on; noise across 0 V is no reading. `ct`: a CT
        burst in progress takes rounds in the waits (or the side reads, pilot_phase.SideReads)."""
        s.sample(self._cc, self.steps, ct)
        if ct is not None:
            ct.service()
        self._phased_reading(m, s)

    def _phased_reading(self, m, s):
        """The sampler's plateaus (phased or captured) into m, as its sums made them (with no
        sample at all, as _plateaus leaves them: not acted on)."""
        hn = s.hn
        ln = s.ln
        m.pilot_ok = hn >= _MIN_PLATEAU_SAMPLES and ln >= _MIN_PLATEAU_SAMPLES
        if hn or ln:
            m.pilot_pos = s.pos_mv
            m.pilot_neg = s.neg_mv
        else:
            m.pilot_pos = m.pilot_neg
        if s.wild or (s.mixed > _GLITCH_MIXED and m.pilot_pos >= L.D_MIN_MV):   # not E, as in the burst
            m.pilot_pos = L.PILOT_HIGH_FAULT_MV + 1

    def _burst_len(self):
        """Samples in a pilot burst: more periods for a short plateau so it gets enough samples."""
        if self._mode == L.PILOT_5PCT or self.duty_x100 < 1500 or self.duty_x100 > 9000:
            return self._burst * 3
        return self._burst

    def _plateaus(self, m, hs, hn, hmax, hmin, ls, ln, lmax, lmin):
        """Each plateau's mean in mV from its sum and count, without its extreme samples once it
        has more than 3; an empty side reads as the other (one level, no PWM swing)."""
        zero = self._zero
        k = self._k
        if hn > 3:
            hs -= hmax + hmin
            hn -= 2
        if ln > 3:
            ls -= lmax + lmin
            ln -= 2
        if hn:
            m.pilot_pos = (hs // hn - zero) * k // 1000
        if ln:
            m.pilot_neg = (ls // ln - zero) * k // 1000
        if not hn:
            m.pilot_pos = m.pilot_neg
        if not ln:
            m.pilot_neg = m.pilot_pos

    def read_pp(self):
        adc = self._pp_adc
        if adc is None:
            return L.PP_NOT_WIRED
        raw = (adc.read_u16() + adc.read_u16() + adc.read_u16() + adc.read_u16()) >> 2
        full = self._pp_full
        if not 0 <= raw < self.pp_open_at:      # open; or no code an ADC reads (a broken driver):
            return L.PP_OPEN if 0 < raw <= _U16_MAX else 0     # a short's fault, never -1 (not wired)
        # divider: raw/full = R / (R + R_pullup)
        return self._pp_pullup * raw // (full - raw)

    def read_temp(self):
        adc = self._temp_adc
        if adc is None:
            return None
        mv = adc.read_u16() * self._adc_fullscale_mv // _U16_MAX
        return (mv - self.board.TEMP_MV_AT_0C) * 1000 // self.board.TEMP_UV_PER_C

    def read_feedback(self):
        if self._feedback is None:
            return -1
        return 1 if self._feedback.value() == self.board.FEEDBACK_ACTIVE else 0

    @micropython.native
    def measure(self, m):
        self.alive_ms = ticks_ms()    # first: the stall guard never reads beside the loop's own reads
        n = self.guard_trips
        m.guard_opened = n != self._guard_seen
        self._guard_seen = n
        side = self._side
        cap = self.capture
        d = self.duty_x100
        flat = d == 0 or d == 10000
        if cap is not None and (flat or cap.armed and cap.take(self._cc, self.steps)):
            if flat:
                self._sample_level(m)
            else:
                self._phased_reading(m, self._phase)
            # side_reads as the capture's end or the level read took them (pilot_dma.py), as
            # read_pp, read_temp and read_feedback give them; here: a call costs 20 us
            got = cap.side
            m.pp_ohms = got[0]
            m.temp_c = None if self._temp_adc is None else got[1]
            m.feedback = got[2]
        elif side is not None and self.ct is None and not flat:
            side.m = m            # read while the phased read waits for its second plateau
            side.done = False
            self._sample_phased(m, self._phase, side)
        else:
            self.side_reads(m)
            self.sample_pilot(m)  # last: the pilot's reading is the freshest when the core decides
        self._edges_seen = self.rcd_edges + self.rcd_dc_edges
        m.rcd_edges = self.rcd_edges
        m.rcd_trip = self.rcd_tripped
        m.rcd_dc_trip = self.rcd_dc_tripped
        m.rcd_trip_ms = self.trip_ms

    def side_reads(self, m):
        m.pp_ohms = self.read_pp()
        m.temp_c = self.read_temp()
        m.feedback = self.read_feedback()

    # --- the pilot PWM as the port really runs it ---
    def _pwm_steps(self, board):
        """Counts per pilot period as the port set them up, not as a board file assumes."""
        port = self._pwm_port
        if port == "rp2":    # TOP as the port chose it for the frequency (v1.28: 64515 at 125 MHz)
            pin = board.PILOT_PWM_PIN
            regs = _RP2_PWM_BASE + 0x14 * ((pin >> 1) & 7)
            self._cc_addr = regs + 0x0C
            self._cc_shift = 16 if pin & 1 else 0     # channel B in the high half
            return (machine.mem32[regs + 0x10] & 0xFFFF) + 1
        if port == "esp32":  # duty_u16 units: the LEDC truncates them to its resolution, never up
            return 65536
        return board.PWM_STEPS

    def _pwm_counts(self):
        """The compare count the hardware holds now, out of self.steps."""
        port = self._pwm_port
        if port == "rp2":
            return (machine.mem32[self._cc_addr] >> self._cc_shift) & 0xFFFF
        u16 = self.pilot_pwm.duty_u16()
        if port == "esp32":  # reads back counts << (16 - res); 65535 may be the whole period
            return 65536 if u16 == _U16_MAX else u16
        return u16 * self.steps // _U16_MAX

    def _write_counts(self, counts):
        """Sets `counts`, reads back what the port made of them and steps down while that is more:
        never a duty above the one chosen. Returns the counts really set."""
        pwm = self.pilot_pwm
        u16 = P.duty_u16_for_counts(counts, self.steps, self._pwm_port)
        pwm.duty_u16(u16)
        got = self._pwm_counts()
        tries = _PWM_CORRECT_MAX
        while got > counts:
            if tries == 0 or u16 == 0:      # caught by the tick: outputs safe, internal fault
                raise RuntimeError("pilot PWM set %d counts for %d of %d" % (got, counts, self.steps))
            tries -= 1
            u16 -= 1
            pwm.duty_u16(u16)
            got = self._pwm_counts()
        self.duty_u16 = u16
        self._cc = got
        return got

    # --- applying ---
    def set_pilot(self, mode, amps_x10):
        """Only on a change (then it may allocate: long ints in the duty arithmetic on a 32-bit port)."""
        if mode == self._mode and amps_x10 == self._amps_x10:
            return
        self._mode = -1               # until the write is made: a write that raised is made again
        counts = 0
        if mode == L.PILOT_PWM:
            counts = P.duty_counts(amps_x10, self.steps)
        elif mode == L.PILOT_5PCT:
            counts = L.DUTY_5PCT * self.steps // 10000
        if counts:
            self.duty_x100 = self._write_counts(counts) * 10000 // self.steps
        else:
            if mode == L.PILOT_PWM or mode == L.PILOT_X1:    # under 6 A the PWM shows X1
                u16 = _U16_HIGH
                self.duty_x100 = 10000
            else:
                u16 = _U16_LOW
                self.duty_x100 = 0
            self.duty_u16 = u16
            self.pilot_pwm.duty_u16(u16)
        self._mode = mode
        self._amps_x10 = amps_x10
        self._want_capture()

    def apply(self, out, cfg, now_ms):
        """The core's outputs, the coil first (an opening never waits behind the pilot's writes).
        Each part only when it has something to do: a call costs about 20 us on the Pico."""
        # The coil while the core keeps it closed: only to close it, to pull the economiser in, or
        # when an interrupt opened it (coil_on False); a call each tick took 0.16 ms on the Pico.
        if ((not self.coil_on or self._econ_since is not None) if out.contactor else not self._opened) \
                or self.guard_trips != self._guard_seen:
            self.set_contactor(out.contactor, cfg["phases"], cfg["economiser"], now_ms)
        if out.pilot_mode != self._mode or out.amps_x10 != self._amps_x10:
            self.set_pilot(out.pilot_mode, out.amps_x10)
        if out.rcd_test != self._test_on:
            self.set_rcd_test(out.rcd_test)
        if out.rcd_ack:
            self.rcd_ack()

    def set_contactor(self, closed, poles, economiser, now_ms):
        # (a stall guard's opening that the core has not been given yet keeps it open too)
        if not closed or self.rcd_tripped or self.rcd_dc_tripped or self.guard_trips != self._guard_seen:
            self._open_coil()
            return
        c = self._coils
        if c[0].value() == 0 and self._econ is None:
            self._close_coil(poles, economiser, now_ms)
        elif self._econ is None and self._econ_since is not None \
                and ticks_diff(now_ms, self._econ_since) >= L.ECON_PULL_MS:
            if economiser:    # (the setting as it is now) pulled in: hold the coil at a lower current
                self._econ = machine.PWM(c[0], freq=L.PILOT_FREQ_HZ * 20, duty_u16=L.ECON_HOLD_DUTY_U16)
            self._econ_since = None
        if self.rcd_tripped or self.rcd_dc_tripped:
            self._trip()          # a trip's interrupt came between the check above and the drive

    def _open_coil(self):
        """Every opening by the loop and safe(): the economiser's PWM stopped and its pin an output
        again, every coil low, the stall guard's timer stopped."""
        self.coil_on = False
        g = self.guard
        if g is not None and g.armed:     # tested here: no call on each tick while open
            g.disarm()
        c = self._coils
        for p in c:
            p.value(0)            # first: whatever follows, the plain coil outputs are low
        if self._econ is not None:
            self._econ.deinit()
            self._econ = None
            c[0].init(machine.Pin.OUT, value=0)
        self._econ_since = None
        self._opened = True

    def _close_coil(self, poles, economiser, now_ms):
        c = self._coils
        self._opened = False
        self.coil_on = True
        if self.guard is not None:
            self.guard.arm()
        # A residual-current trip's interrupt between set_contactor's check and the drive would
        # open a coil the drive then closes again for a moment (seen on the emulated Pico: 41 us):
        # with interrupts held, the trip is either seen here or comes after the drive.
        irq = machine.disable_irq()
        if not (self.rcd_tripped or self.rcd_dc_tripped):
            c[0].value(1)
            if poles > 1 and len(c) > 1:
                c[1].value(1)
        machine.enable_irq(irq)
        self._econ_since = now_ms if economiser else None    # the economiser's pull-in under way

    def set_rcd_test(self, on):
        self._test_on = on
        if self._rcd_test is not None:
            self._rcd_test.value(1 if on else 0)

    def safe(self):
        """Contactor open and pilot offering nothing: at boot, on an exception, before a reset."""
        self._open_coil()
        self.set_rcd_test(False)
        self.set_pilot(L.PILOT_F, 0)

    def open_uart(self, uart_id, baud):
        return machine.UART(uart_id, baud)

    def start_watchdog(self):
        self.wdt = machine.WDT(timeout=L.WDT_TIMEOUT_MS)    # fed by the app's tick (App.tick)

