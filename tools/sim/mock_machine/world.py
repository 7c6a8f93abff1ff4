"""What sits behind a board's pins on the virtual bench: the pilot circuit and the vehicle, the cable's
proximity resistor, the contactor (which may weld), the residual-current monitor, a temperature
sensor and current transformers. Runs under CPython and the MicroPython unix port.

The pilot model (facts sheet 1 and 3): the EVSE source swings +-12 V (each +-5 %) through 1 kOhm
(+-3 %); the vehicle loads it through its diode (0.7 V) with 2.74 kOhm (B), 882 Ohm (C) or
246 Ohm (D). An ADC read returns the voltage at that instant of the PWM period through the board's
front end, with edges, Gaussian noise and occasional glitch samples.
"""
import math
from array import array

from tools.sim import mock_machine as mm

EV_OHMS = {"A": None, "B": 2740, "C": 882, "D": 246}
DIODE_V = 0.7
EDGE_US = 4                 # 10-90 % rise well under the 10 us of the facts sheet
NOISE_TABLE = 1021          # prime: the noise sequence does not lock to the PWM period
# The ADC's own noise on the steady inputs (PP, temperature), RMS in 12-bit LSBs: no real ADC reads a
# steady input twice alike (RP2040 datasheet 4.9.3, ENOB 8.7 bits; a Pico measures 1-2 LSB). The
# emulated Pico is sent this number (tools/rp2emu), so both benches read the same noise level.
ADC_NOISE_LSB = 2
ADC_NOISE_TABLE = 251       # prime, like NOISE_TABLE
RCD_AC_TRIP_MA = 20         # UL 2231 CCID20
RCD_DC_TRIP_MA = 6          # IEC 62955 RDC-DD
RCD_TEST_MA = 100           # the self-test winding's equivalent residual current
CT_VOLTS_PER_AMP = 0.011    # 100 A : 50 mA CT into a 22 Ohm burden
MAINS_HZ = 50


class Rng:
    """Small deterministic generator (MicroPython's random has no gauss, and runs must repeat)."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def uniform(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s / 4294967296.0

    def gauss(self):
        u1 = self.uniform() or 1e-12
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * self.uniform())


def _adc_noise_table(lsb, seed=0xADC):
    """u16 codes of Gaussian noise, lsb RMS in 12-bit LSBs, from a sequence of its own (the pilot's
    noise keeps the world's)."""
    rng = Rng(seed)
    tab = array("h", bytes(2 * ADC_NOISE_TABLE))
    for i in range(ADC_NOISE_TABLE):
        tab[i] = int(rng.gauss() * lsb * 16)    # 16 u16 counts to a 12-bit LSB
    return tab


# made at import, so that a bench's heap figures count it as the bench's, not the firmware's
_ADC_NOISE = _adc_noise_table(ADC_NOISE_LSB)


class World:
    def __init__(self, board, seed=1, source_v=12.0, source_ohms=1000.0):
        self.board = board
        self.rng = Rng(seed)
        self.source_pos = source_v          # generator levels (tolerance: set per test)
        self.source_neg = -source_v
        self.source_ohms = source_ohms
        # vehicle and cable
        self.plugged = False
        self.ev_ohms = None                 # pilot resistance behind the diode (None: open, state A)
        self.diode_ok = True
        self.cp_short = False
        self.pp_ohms = None                 # None: open
        self.button = False
        self.draw_amps = 0.0
        self.draw_phases = 1
        self.follow_max = None              # draw follow: cap, or None when not following
        self._follow_hist = []              # (t_us, advertised amps)
        # installation
        self.weld = False
        self.rcd_ma = 0.0
        self.rcd_kind = "ac"
        self.rcd_broken = False             # the monitor trips on nothing (self-test must catch it)
        self.temp_c = 25.0
        self.noise_v = 0.0
        self.glitch_p = 0.0
        self._rcd_over_since = None
        self.rcd_trip_due = None    # when the monitor trips if the residual current stays (us), or None
        self.powered = True                 # the controller's supply (the rig switches it)
        if getattr(board, "LOCK_PINS", None):
            self.bolt = Bolt()              # a Type 2 socket's plug lock (none: no attribute, the
                                            # boot heap test counts the world's too)
        self._pp_key = self._temp_key = self._pp_btn = None
        self._pp_u16 = self._temp_u16 = 0
        self._fb_driven = self._trip_driven = self._dc_driven = None
        self._noise = None          # int16 codes, made by set_noise (small on a board-sized heap)
        self._ni = 0
        self.adc_noise_lsb = ADC_NOISE_LSB
        self._adc_noise = _ADC_NOISE     # int16 codes (another level's are made on the first read)
        self._ai = 0
        gain, offset, fullscale = board.PILOT_FRONTEND
        self._fe = (gain, offset, fullscale)
        self._wire()
        self.recompute()

    # --- wiring to the mock machine ---
    def _wire(self):
        b = self.board
        self._fb_driven = self._trip_driven = self._dc_driven = None
        if getattr(self, "bolt", None) is not None:
            self.bolt.fb_driven = None
        mm.set_pwm_port(b.PWM_PORT)          # the port's own PWM arithmetic behind the pins
        conv = b.ADC_SAMPLE_US
        mm.adc_conv_us[b.PILOT_ADC_PIN] = conv
        mm.adc_sources[b.PILOT_ADC_PIN] = self.pilot_u16
        if b.PP_ADC_PIN is not None:
            mm.adc_conv_us[b.PP_ADC_PIN] = conv
            mm.adc_sources[b.PP_ADC_PIN] = self.pp_adc
        if b.TEMP_ADC_PIN is not None:
            mm.adc_conv_us[b.TEMP_ADC_PIN] = conv
            mm.adc_sources[b.TEMP_ADC_PIN] = self.temp_adc
        for i, pin in enumerate(getattr(b, "CT_ADC_PINS", ())):
            mm.adc_conv_us[pin] = conv
            mm.adc_sources[pin] = self._ct_source(i)
        mm.output_hooks.append(self._on_output)

    def _on_output(self, pin, level):
        if pin == self.board.PILOT_PWM_PIN:
            self.recompute()
        elif pin in self.board.CONTACTOR_PINS or pin == self.board.RCD_TEST_PIN \
                or pin in getattr(self.board, "LOCK_PINS", ()):
            self.update()

    # --- derived quantities ---
    def coil(self):
        """The main contactor's coil is energised (a pin high, or its economiser PWM running)."""
        pin = self.board.CONTACTOR_PINS[0]
        pwm = mm.pwms.get(pin)
        if pwm is not None and pwm.active:
            return pwm.duty_u16() > 0
        return mm.output(pin) == 1

    def ac_out(self):
        return self.coil() or self.weld

    def ev_state(self):
        if not self.plugged or self.ev_ohms is None:
            return "A"
        r = self.ev_ohms
        return "B" if r > 1800 else "C" if r > 500 else "D"

    def ev_current(self, t_us=None):
        if not self.ac_out() or self.ev_state() not in ("C", "D"):
            return 0.0
        if self.follow_max is not None:
            return min(self.follow_max, self._followed(t_us if t_us is not None else mm.clock.us))
        return self.draw_amps

    def advertised(self):
        """The current the pilot advertises now (what an EV reads), from the pilot PWM pin."""
        pwm = mm.pwms.get(self.board.PILOT_PWM_PIN)
        if pwm is None or not pwm.active:
            return 0.0
        duty = 100.0 * pwm.counts / pwm.steps      # what the hardware runs
        if duty < 8 or duty > 97:
            return 0.0
        return duty * 0.6 if duty <= 85 else (duty - 64) * 2.5

    def _followed(self, t_us):
        # A well-behaved car follows the advertised current 2 s late.
        h = self._follow_hist
        val = 0.0
        for t, a in h:
            if t <= t_us - 2000000:
                val = a
        return val

    def note_advertised(self):
        a = self.advertised()
        h = self._follow_hist
        if not h or h[-1][1] != a:
            h.append((mm.clock.us, a))
            while len(h) > 2 and h[1][0] <= mm.clock.us - 2000000:
                h.pop(0)

    # --- pilot ---
    def levels(self):
        """(positive, negative) plateau voltages at the connector."""
        if self.cp_short or not self.powered:
            return 0.0, 0.0         # shorted, or the controller's supply (and its +-12 V) is off
        rs = self.source_ohms
        hi, lo = self.source_pos, self.source_neg
        r = self.ev_ohms if self.plugged else None
        if r is None:
            return hi, lo
        pos = DIODE_V + (hi - DIODE_V) * r / (r + rs) if hi > DIODE_V else hi   # else the diode blocks
        neg = lo * r / (r + rs) if not self.diode_ok else lo
        return pos, neg

    def recompute(self):
        """Precompute the ADC codes of both plateaus and the PWM timing (after any change)."""
        pos, neg = self.levels()
        self.cp_pos, self.cp_neg = pos, neg
        self.hi_u16 = self.volts_to_u16(pos)
        self.lo_u16 = self.volts_to_u16(neg)
        pwm = mm.pwms.get(self.board.PILOT_PWM_PIN)
        if pwm is None or not pwm.active:
            self._period = 1000
            self._high_us = 0
        else:
            self._period = 1000000 // pwm.freq()
            self._high_us = self._period * pwm.counts / pwm.steps
        self._install_pilot()
        self.note_advertised()

    def _install_pilot(self):
        # The ADC reads the pilot ~60 times a tick: give it the cheapest function for the case
        # (constant level, clean PWM), the general one only with noise.
        pin = self.board.PILOT_ADC_PIN
        if pin not in mm.adc_sources:
            return              # not wired (powered off and reset)
        high, period = self._high_us, self._period
        if high <= 0 or high >= period:
            src = _const_source(self.lo_u16 if high <= 0 else self.hi_u16)
        else:
            src = _pwm_source(self.hi_u16, self.lo_u16, int(high * 1000 + 0.5), period)
        if self.noise_v or self.glitch_p:
            src = _noisy_source(src, self)
        mm.adc_sources[pin] = src

    def set_noise(self, rms_volts, glitch_p=0.0):
        """Gaussian noise (RMS volts) on the pilot, and a probability of a glitch sample (+-15 V)."""
        self.noise_v = rms_volts
        self.glitch_p = glitch_p
        gain, _, fullscale = self._fe
        per_volt = 65535 * gain / fullscale
        rng = self.rng
        if self._noise is None:
            self._noise = array("h", bytes(2 * NOISE_TABLE))
        for i in range(NOISE_TABLE):
            n = rng.gauss() * rms_volts if rms_volts else 0.0
            if glitch_p and rng.uniform() < glitch_p:
                n = rng.uniform() * 30.0 - 15.0
            code = int(n * per_volt)      # a glitch past an int16 is past the ADC's rails anyway
            self._noise[i] = -32768 if code < -32768 else 32767 if code > 32767 else code
        self._install_pilot()

    def volts_to_u16(self, v):
        gain, offset, fullscale = self._fe
        u = int((offset + gain * v) / fullscale * 65535)
        return 0 if u < 0 else 65535 if u > 65535 else u

    def cp_volts(self, t_us):
        """The pilot voltage at the connector at an instant (no noise): for traces."""
        high = self._high_us
        if high <= 0:
            return self.cp_neg
        if high >= self._period:
            return self.cp_pos
        return self.cp_pos if (t_us % self._period) < high else self.cp_neg

    def pilot_u16(self, t_us):
        high = self._high_us
        hi = self.hi_u16
        lo = self.lo_u16
        if high <= 0:
            v = lo
        elif high >= self._period:
            v = hi
        else:
            ph = t_us % self._period
            if ph < high:
                v = hi if ph >= EDGE_US else lo + (hi - lo) * ph // EDGE_US
            else:
                e = ph - high
                v = lo if e >= EDGE_US else int(hi - (hi - lo) * e / EDGE_US)
        if self.noise_v or self.glitch_p:
            i = self._ni + 1
            if i >= NOISE_TABLE:
                i = 0
            self._ni = i
            v += self._noise[i]
            v = 0 if v < 0 else 65535 if v > 65535 else v
        return v

    # --- other analog inputs ---
    def pp_u16(self, t_us):
        r, btn = self.pp_ohms, self.button
        if r == self._pp_key and btn == self._pp_btn:
            return self._pp_u16
        b = self.board
        self._pp_key, self._pp_btn = r, btn
        if r is None:
            v = b.PP_VREF
        else:
            r = r + 330 if btn and r < 300 else r
            v = b.PP_VREF * r / (r + b.PP_PULLUP_OHMS)
        fullscale = self._fe[2]
        self._pp_u16 = min(65535, int(v / fullscale * 65535))
        return self._pp_u16

    def temp_u16(self, t_us):
        c = self.temp_c
        if c == self._temp_key:
            return self._temp_u16
        b = self.board
        self._temp_key = c
        mv = b.TEMP_MV_AT_0C + c * b.TEMP_UV_PER_C / 1000.0
        self._temp_u16 = max(0, min(65535, int(mv / 1000.0 / self._fe[2] * 65535)))
        return self._temp_u16

    def pp_adc(self, t_us):
        """What the PP input's ADC reads: the level plus the ADC's noise."""
        return self._adc_noisy(self.pp_u16(t_us))

    def temp_adc(self, t_us):
        return self._adc_noisy(self.temp_u16(t_us))

    def set_adc_noise(self, lsb):
        """The ADC's noise on PP and the temperature, RMS in 12-bit LSBs (0: none)."""
        self.adc_noise_lsb = lsb
        self._adc_noise = None

    def _adc_noisy(self, code):
        lsb = self.adc_noise_lsb
        if not lsb:
            return code
        tab = self._adc_noise
        if tab is None:
            tab = self._adc_noise = _adc_noise_table(lsb)
        i = self._ai + 1
        if i >= ADC_NOISE_TABLE:
            i = 0
        self._ai = i
        v = code + tab[i]
        return 0 if v < 0 else 65535 if v > 65535 else v

    def ct_peak_v(self, phase, t_us):
        """The peak of one CT's 50 Hz sine at its ADC (volts around mid-scale): the car's current."""
        amps = self.ev_current(t_us) if phase < self.draw_phases else 0.0
        return amps * 1.4142135 * CT_VOLTS_PER_AMP

    def _ct_source(self, phase):
        def read(t_us):
            fullscale = self._fe[2]
            mid = fullscale / 2
            v = mid + self.ct_peak_v(phase, t_us) * math.sin(
                6.283185307179586 * MAINS_HZ * t_us / 1e6 - phase * 2.0943951)
            return max(0, min(65535, int(v / fullscale * 65535)))
        return read

    # --- time-driven models: contactor feedback, residual-current monitor ---
    def update(self):
        """Drive the inputs that follow the outputs and time (call after every step).
        Pins are driven only when their level changes: this runs every tick."""
        b = self.board
        if b.FEEDBACK_PIN is not None:
            lv = b.FEEDBACK_ACTIVE if self.ac_out() else 1 - b.FEEDBACK_ACTIVE
            if lv != self._fb_driven:
                self._fb_driven = lv
                mm.drive(b.FEEDBACK_PIN, lv)
        if getattr(b, "LOCK_PINS", None):
            self._lock_update()
        if self.rcd_ma or self._rcd_over_since is not None or self._trip_driven \
                or self._dc_driven or self._trip_driven is None or b_out(b.RCD_TEST_PIN):
            self._rcd_update()

    @property
    def lock_pos(self):
        """The bolt: 0 unlocked .. 1 locked (its switch closes only at 1)."""
        return self.bolt.in_us / self.bolt.travel_us

    @lock_pos.setter
    def lock_pos(self, v):
        self.bolt.in_us = int(v * self.bolt.travel_us)

    @property
    def lock_jam(self):
        return self.bolt.jam

    @lock_jam.setter
    def lock_jam(self, v):
        self.bolt.jam = v

    def lock_holds(self):
        """The bolt is in the plug (any part of the way): it cannot be withdrawn."""
        bolt = getattr(self, "bolt", None)
        return bolt is not None and bolt.in_us > 0

    def _lock_update(self):
        b, bolt = self.board, self.bolt
        now = mm.clock.us
        dt = now - bolt.t_us
        bolt.t_us = now
        if bolt.drive and not bolt.jam:
            bolt.in_us = min(bolt.travel_us, max(0, bolt.in_us + bolt.drive * dt))
        pa, pb = b.LOCK_PINS
        bolt.drive = (mm.output(pa) == 1) - (mm.output(pb) == 1)
        lv = b.LOCK_FB_ACTIVE if bolt.in_us >= bolt.travel_us else 1 - b.LOCK_FB_ACTIVE
        if bolt.forced is not None:         # the switch, not the bolt: a bounce, a wire off
            lv = b.LOCK_FB_ACTIVE if bolt.forced else 1 - b.LOCK_FB_ACTIVE
        if lv != bolt.fb_driven:
            bolt.fb_driven = lv
            mm.drive(b.LOCK_FB_PIN, lv)

    def residual_ma(self):
        test = RCD_TEST_MA if b_out(self.board.RCD_TEST_PIN) else 0.0
        leak = self.rcd_ma if self.ac_out() else 0.0
        return test, leak

    def _rcd_update(self):
        b = self.board
        test, leak = self.residual_ma()
        if self.rcd_broken:
            test = leak = 0.0
        ac = test + (leak if self.rcd_kind == "ac" else 0.0)
        dc = leak if self.rcd_kind == "dc" else 0.0
        now = mm.clock.us
        trip_ac = False
        if ac >= RCD_AC_TRIP_MA:
            # UL 2231: T <= (20 / I)^1.43 s; the monitor trips at 80 % of that
            if self._rcd_over_since is None:
                self._rcd_over_since = now
            limit = 0.8 * (RCD_AC_TRIP_MA / ac) ** 1.43 * 1e6
            trip_ac = now - self._rcd_over_since >= limit
            self.rcd_trip_due = None if trip_ac else self._rcd_over_since + math.ceil(limit)
        else:
            self._rcd_over_since = None
            self.rcd_trip_due = None
        trip_dc = dc >= RCD_DC_TRIP_MA
        self._trip_driven, self._dc_driven = trip_ac, trip_dc
        active = b.RCD_TRIP_ACTIVE
        if b.RCD_TRIP_PIN is not None:
            mm.drive(b.RCD_TRIP_PIN, active if trip_ac else 1 - active)
        if b.RCD_DC_PIN is not None:
            mm.drive(b.RCD_DC_PIN, active if trip_dc else 1 - active)


class Bolt:
    """A Type 2 socket's plug lock: a motor moves a bolt, a switch reports it fully in; jammed, it
    does not move. Ints only: the heap-locked tests drive it."""

    def __init__(self):
        self.in_us = 0                      # how far the bolt is in, as the motor's running time
        self.jam = False
        self.travel_us = 200000             # the bolt's travel, one way
        self.drive = 0                      # +1 locking, -1 unlocking, 0 off (as last read)
        self.t_us = 0                       # when its position was last brought up to date
        self.fb_driven = None               # the switch's level as last driven
        self.forced = None                  # the switch made to read locked (1) or not (0), whatever the bolt


def b_out(pin):
    return pin is not None and mm.output(pin) == 1


def _const_source(v):
    def read(t_us):
        return v
    return read


def _noisy_source(clean, world):
    # The clean source plus the world's noise table, integers only (as _pwm_source): a noisy pilot
    # allocates nothing either (pilot_u16's float edge did, on the MicroPython unix port)
    tab = world._noise

    def read(t_us):
        i = world._ni + 1
        if i >= NOISE_TABLE:
            i = 0
        world._ni = i
        v = clean(t_us) + tab[i]
        return 0 if v < 0 else 65535 if v > 65535 else v
    return read


def _pwm_source(hi, lo, high_ns, period):
    # Integers only (the high time in ns) and at most 4 closed-over values (MicroPython builds the
    # argument list of a closure with more on the heap): a read allocates nothing, so a test can
    # lock the heap around the firmware's whole control cycle.
    def read(t_us):
        ph = t_us % period
        if ph * 1000 < high_ns:
            return hi if ph >= EDGE_US else lo + (hi - lo) * ph // EDGE_US
        e = ph * 1000 - high_ns
        edge_ns = EDGE_US * 1000
        return lo if e >= edge_ns else hi - ((hi - lo) * e + edge_ns - 1) // edge_ns
    return read
