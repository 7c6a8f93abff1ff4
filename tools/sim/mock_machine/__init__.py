"""A mock of MicroPython's `machine` module with a virtual clock, for CPython and the MicroPython
unix port. `install()` (an explicit call; importing this module changes nothing) installs it as `machine` and puts the virtual clock behind
time.ticks_ms/ticks_us/ticks_diff/ticks_add/sleep_ms, so firmware runs unmodified on virtual time.

What sits behind the pins is up to the test or the bench: ADC inputs read from `adc_sources`,
outputs call `output_hooks`, and `drive()` sets an input level (firing its irq on an edge).
Conventions follow micropython-mock-machine (one state per pin id, register_as_machine), written
from scratch with time, PWM and analog inputs added.
"""
import sys

# --- virtual clock (ticks wrap like the ports: TICKS_PERIOD = 2**30) ---
TICKS_PERIOD = 1 << 30
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2


class Clock:
    def __init__(self, start_us=0):
        self.us = start_us
        self.timers = []
        # While one long call in C holds the interpreter (Rig.hold), the port runs hard interrupt
        # handlers at once and schedules soft ones, which run only when the call returns (measured
        # on the emulated Pico: during a 4.3 s pow(), 433 hard timer callbacks, no soft one).
        self.held = False
        self.deferred = []      # (callback, argument) of soft handlers scheduled meanwhile

    def ticks_us(self):
        return self.us & _TICKS_MAX

    def ticks_ms(self):
        return (self.us // 1000) & _TICKS_MAX

    def ticks_cpu(self):
        return self.us & _TICKS_MAX

    def advance_us(self, n):
        target = self.us + n
        if self.timers:
            _run_timers(target)         # each callback sees the clock at its own due time
        self.us = target

    def sleep_ms(self, ms):
        self.advance_us(int(ms * 1000))

    def sleep_us(self, us):
        self.advance_us(int(us))

    def sleep(self, s):
        self.advance_us(int(s * 1000000))


SCHED_DEPTH = 8            # rp2's MICROPY_SCHEDULER_DEPTH (ports/rp2/mpconfigport.h, v1.28)


def _dispatch(callback, arg, hard, node=False):
    """A handler runs now, unless it is soft and the interpreter is held: then it is scheduled,
    as the port's mp_sched_schedule does: a pin's handler once per edge while the queue has room
    (SCHED_DEPTH; more are lost), a timer's on its own node (pending at most once)."""
    c = clock
    if c.held and not hard:
        if node:
            for cb, a in c.deferred:
                if cb == callback and a is arg:
                    return
        elif len(c.deferred) >= SCHED_DEPTH:
            return
        c.deferred.append((callback, arg))
    else:
        callback(arg)


def hold_begin():
    """One long call in C starts holding the interpreter."""
    clock.held = True


def hold_end():
    """The call returns: the soft handlers scheduled meanwhile run, in their order."""
    c = clock
    c.held = False
    while c.deferred:
        cb, arg = c.deferred.pop(0)
        cb(arg)


def ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def ticks_add(a, b):
    return (a + b) & _TICKS_MAX


clock = Clock()


def ticks_ms():
    return clock.ticks_ms()


def ticks_us():
    return clock.ticks_us()


def set_clock(c):
    """Use another Clock (a fresh bench run); the time functions follow it."""
    global clock
    clock = c


# --- the world behind the pins ---
adc_sources = {}        # adc id -> callable(t_us) -> u16
adc_conv_us = {}        # adc id -> microseconds one read_u16 takes (default 10)
output_hooks = []       # callables(pin_id, level) on every output change
_levels = {}            # pin id -> output level (driven by firmware)
_inputs = {}            # pin id -> input level (driven by the world)
_modes = {}
_pulls = {}
_irqs = {}              # pin id -> (handler, trigger, pin object)
pwms = {}               # pin id -> active PWM object
pwm_port = "sim"        # whose PWM arithmetic PWM models: "rp2", "esp32" or "sim" (set_pwm_port)
uarts = {}              # uart id -> UART object
wdt = None
_reset_cause = 1
_wd_reason = 0          # rp2 WATCHDOG REASON (0x40058008): 1 TIMER (not fed), 2 FORCE (machine.reset())
_irq_depth = 0


def reset_world():
    """Forget every pin, PWM and hook (a power cycle of the board and its harness)."""
    global wdt, _reset_cause, _wd_reason, pwm_port
    pwm_port = "sim"
    adc_sources.clear()
    adc_conv_us.clear()
    del output_hooks[:]
    for d in (_levels, _inputs, _modes, _pulls, _irqs, pwms, uarts):
        d.clear()
    wdt = None
    _reset_cause = PWRON_RESET
    _wd_reason = 0
    del clock.timers[:]
    clock.held = False
    del clock.deferred[:]
    set_rtc(RTC_UNSET)
    from tools.sim.mock_machine import network
    network.reset()


def drive(pin_id, level):
    """The world sets an input pin; an edge fires the pin's irq handler like hardware would."""
    level = 1 if level else 0
    old = _inputs.get(pin_id, _default_input(pin_id))
    _inputs[pin_id] = level
    irq = _irqs.get(pin_id)
    if irq is not None and old != level:
        handler, trigger, pin, hard = irq
        if (level and trigger & Pin.IRQ_RISING) or (not level and trigger & Pin.IRQ_FALLING):
            _dispatch(handler, pin, hard)


def output(pin_id):
    """The level the firmware drives on an output pin (0 when never set)."""
    return _levels.get(pin_id, 0)


def input_level(pin_id):
    """The level driven on an input pin (what the firmware reads; the pull's level when undriven)."""
    return _inputs.get(pin_id, _default_input(pin_id))


def _default_input(pin_id):
    return 1 if _pulls.get(pin_id) == Pin.PULL_UP else 0


def _pin_id(p):
    return p.id if isinstance(p, Pin) else p


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None, **kw):
        self.id = id
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        if mode != -1:
            _modes[self.id] = mode
        if pull != -1:
            _pulls[self.id] = pull
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if _modes.get(self.id) == Pin.OUT:
                return _levels.get(self.id, 0)
            return _inputs.get(self.id, _default_input(self.id))
        v = 1 if v else 0
        if _levels.get(self.id) != v:
            _levels[self.id] = v
            for h in output_hooks:
                h(self.id, v)
        else:
            _levels[self.id] = v

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=3, hard=False):
        if handler is None:
            _irqs.pop(self.id, None)
        else:
            _irqs[self.id] = (handler, trigger, self, hard)

    def __repr__(self):
        return "Pin(%s)" % self.id


# --- PWM: each port's own arithmetic (MicroPython v1.28, ports/*/machine_pwm.c), modelled here
# from the C so host tests see the duty the real hardware would run, not the one firmware asked for.
RP2_CLK_HZ = 125000000      # rp2: clk_sys
RP2_PWM_BASE = 0x40050000   # RP2040 datasheet 4.5.3: slice n at + 0x14 * n (DIV +4, CC +0xc, TOP +0x10)
RP2_WATCHDOG_REASON = 0x40058008   # RP2040 datasheet 4.7, WATCHDOG REASON: bit 0 TIMER, bit 1 FORCE
ESP32_LEDC_HZ = 80000000    # esp32: the LEDC runs from the APB clock
SIM_PWM_HZ = 4000000        # sim: the virtual board's PWM counter


def set_pwm_port(name):
    """The port whose PWM arithmetic the mock models (the board file's PWM_PORT)."""
    global pwm_port
    if name not in ("rp2", "esp32", "sim"):
        raise ValueError("unknown PWM port %r" % (name,))
    pwm_port = name


def _ilog2(n):
    k = 0
    while n > 1:
        n >>= 1
        k += 1
    return k


class PWM:
    """`steps` counts per period and `counts` of them high: what the hardware runs."""

    def __init__(self, dest, freq=None, duty_u16=None, duty_ns=None, invert=False):
        self.pin = _pin_id(dest)
        self.port = pwm_port
        self._freq = 1000
        self._duty = 0            # the duty_u16 last asked for
        self.counts = 0
        self.steps = 1
        self.top = 0xFFFF        # rp2 registers (reset values)
        self.div16 = 16
        self._res = 16            # esp32 LEDC resolution in bits
        self.active = True
        pwms[self.pin] = self
        self._timebase(self._freq)
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, freq=None, duty_u16=None, duty_ns=None):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        if duty_ns is not None:
            self.duty_ns(duty_ns)

    def _changed(self):
        for h in output_hooks:
            h(self.pin, -1)

    def _timebase(self, f):
        """Counts per period for a frequency, as the port picks them."""
        if self.port == "rp2":     # mp_machine_pwm_freq_set: TOP as large as possible (<= 65534)
            src = RP2_CLK_HZ
            if (src + f // 2) // f < 65534:
                div16, top = 16, (src + f // 2) // f - 1
            else:
                div16 = (16 * src + 65534 * f - 1) // (65534 * f)        # ceil
                top = (16 * src + div16 * f // 2) // (div16 * f) - 1     # rounded
            if not 16 <= div16 < 256 * 16:
                raise ValueError("freq out of range")
            self.div16, self.top = div16, top
            self.steps = top + 1
        elif self.port == "esp32":  # ledc_find_suitable_duty_resolution, capped at 16 bits
            res = _ilog2((ESP32_LEDC_HZ + f // 2) // f)
            self._res = 16 if res > 16 else res
            self.steps = 1 << self._res
        else:
            self.steps = max(1, SIM_PWM_HZ // f)

    def compare(self, u16):
        """The compare count the port writes for a duty_u16."""
        if self.port == "rp2":     # mp_machine_pwm_duty_set_u16: rounded to nearest
            return (u16 * self.steps + 65535 // 2) // 65535
        if self.port == "esp32":   # set_duty_u16 -> apply_duty: 65535 means 2**16, then a shift
            return (65536 if u16 == 65535 else u16) >> (16 - self._res)
        return u16 * self.steps // 65535

    def freq(self, f=None):
        if f is None:
            if self.port == "rp2":
                d = self.div16 * (self.top + 1)
                return (16 * RP2_CLK_HZ + d // 2) // d
            return self._freq
        if not 1 <= f <= 40000000:
            raise ValueError("frequency out of range")
        self._freq = int(f)
        self._timebase(self._freq)
        self.counts = self.compare(self._duty)     # the ports re-apply the duty
        self._changed()

    def duty_u16(self, d=None):
        if d is None:
            if self.port == "rp2":     # mp_machine_pwm_duty_get_u16: from CC, rounded
                return (self.counts * 65535 + self.steps // 2) // self.steps
            if self.port == "esp32":   # get_duty_u16: the LEDC duty shifted back, 2**16 as 65535
                return min(65535, self.counts << (16 - self._res))
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 must be 0-65535")
        self._duty = int(d)
        self.counts = self.compare(self._duty)
        self._changed()

    def duty_ns(self, ns=None):
        period = 1000000000 // self._freq
        if ns is None:
            return self.duty_u16() * period // 65535
        self.duty_u16(min(65535, int(ns) * 65535 // period))

    def deinit(self):
        self.active = False
        if pwms.get(self.pin) is self:
            del pwms[self.pin]
        self._changed()


RP2_MEM_READ_US = 1          # a register read from the interpreter (a polling loop's time passes)


def _slice_pwm(s):
    """The running PWM of slice s, channel A first (its pins: 2s, 2s+1 and 2s+16, 2s+17), by dict
    lookups only: a polling loop on the unix port allocates nothing."""
    return pwms.get(2 * s) or pwms.get(2 * s + 16) or pwms.get(2 * s + 1) or pwms.get(2 * s + 17)


def _pwm_ctr(s):
    """CHn_CTR: where the slice is in its period now. The world's pilot starts each period at a
    multiple of the period (t_us % period, world.py); the counter counts 0..TOP at the same rate and
    the output is high while it is below CC, as the RP2040 does (datasheet 4.5.2)."""
    c = clock
    if c.timers:
        _run_timers(c.us + RP2_MEM_READ_US)
    c.us += RP2_MEM_READ_US
    p = _slice_pwm(s)
    if p is None:
        return 0
    period = 1000000 // p.freq()
    return c.us % period * p.steps // period


class _Mem32:
    """machine.mem32: the rp2 PWM slices' DIV, CTR, CC and TOP registers and the watchdog's REASON
    (reads only)."""

    def __getitem__(self, addr):
        if addr == RP2_WATCHDOG_REASON and pwm_port == "rp2":
            return _wd_reason
        off = addr - RP2_PWM_BASE
        if pwm_port != "rp2" or not 0 <= off < 0x14 * 8:
            raise ValueError("mem32: address 0x%x not modelled" % addr)
        s, reg = off // 0x14, off % 0x14
        if reg == 0x08:
            return _pwm_ctr(s)
        a = pwms.get(2 * s) or pwms.get(2 * s + 16)       # lookups only: nothing allocated
        b = pwms.get(2 * s + 1) or pwms.get(2 * s + 17)
        t = a or b
        if reg == 0x04:
            return t.div16 if t else 16
        if reg == 0x0C:
            return (a.counts if a else 0) | ((b.counts if b else 0) << 16)
        if reg == 0x10:
            return t.top if t else 0xFFFF
        raise ValueError("mem32: register 0x%x not modelled" % addr)


mem32 = _Mem32()


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 12

    def __init__(self, src, atten=None):
        self.id = _pin_id(src)
        self._atten = atten
        self._conv = adc_conv_us.get(self.id, 10)

    def atten(self, a):
        self._atten = a

    def width(self, w):
        pass

    def read_u16(self):
        """The input at this instant; the conversion costs virtual time."""
        src = adc_sources.get(self.id)
        c = clock
        v = src(c.us) if src is not None else 0
        if c.timers:
            _run_timers(c.us + self._conv)
        c.us += self._conv
        return v

    def read(self):
        return self.read_u16() >> 4

    def read_uv(self):
        return self.read_u16() * 3300000 // 65535


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=1, period=-1, callback=None, freq=None, hard=False):
        self.id = id
        self._cb = None
        if callback is not None:
            self.init(mode=mode, period=period, callback=callback, freq=freq, hard=hard)

    def init(self, mode=1, period=-1, callback=None, freq=None, hard=False):
        # hard or soft, a callback runs at its due time inside whatever the firmware is doing
        # (an ADC read, a clock advance): as a hard one does on the port
        self.deinit()
        if freq:
            period = 1000 // freq
        self.mode = mode
        self.period_us = int(period) * 1000
        self._cb = callback
        self.hard = hard
        self.due = clock.us + self.period_us
        clock.timers.append(self)

    def deinit(self):
        if self in clock.timers:
            clock.timers.remove(self)


def _run_timers(target_us):
    """Fire every timer due up to target_us, earliest first, with the clock at its due time."""
    c = clock
    while True:
        nxt = None
        for t in c.timers:
            if t.due <= target_us and (nxt is None or t.due < nxt.due):
                nxt = t
        if nxt is None:
            return
        if nxt.due > c.us:
            c.us = nxt.due
        if nxt.mode == Timer.PERIODIC:
            nxt.due += max(1, nxt.period_us)
        else:
            nxt.deinit()
        _dispatch(nxt._cb, nxt, nxt.hard, node=True)


class WDT:
    def __init__(self, id=0, timeout=5000):
        global wdt
        self.timeout_ms = timeout
        self.last_feed_us = clock.us
        wdt = self

    def feed(self):
        self.last_feed_us = clock.us

    def expired(self):
        return clock.us - self.last_feed_us > self.timeout_ms * 1000


class UART:
    """Bytes written by firmware go to `peer(data)` when set (else kept in .sent);
    the world pushes received bytes with `feed(data)`."""

    def __init__(self, id, baudrate=9600, **kw):
        self.id = id
        self.baudrate = baudrate
        self.rx = bytearray()
        self.sent = bytearray()
        self.peer = None
        old = uarts.get(id)
        if old is not None:
            self.peer = old.peer
        uarts[id] = self

    def init(self, baudrate=9600, **kw):
        self.baudrate = baudrate

    def deinit(self):
        pass

    def feed(self, data):
        self.rx.extend(data)

    def any(self):
        return len(self.rx)

    def read(self, n=-1):
        if not self.rx:
            return None
        if n is None or n < 0 or n >= len(self.rx):
            data = bytes(self.rx)
            self.rx = bytearray()
        else:
            data = bytes(self.rx[:n])
            self.rx = self.rx[n:]
        return data

    def readinto(self, buf, n=-1):
        data = self.read(len(buf) if n < 0 else n)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)

    def readline(self):
        i = self.rx.find(b"\n")
        return self.read(i + 1 if i >= 0 else -1)

    def write(self, data):
        data = bytes(data)
        if self.peer is not None:
            self.peer(data)
        else:
            self.sent.extend(data)
        return len(data)

    def flush(self):
        pass

    def txdone(self):
        return True


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


class RTC:
    """The board's real-time clock on virtual time: at power-up it reads 2000-01-01 00:00 (never
    set); datetime((y, m, d, wd, h, mi, s, sub)) sets it, as ntptime.settime() does, and it runs on
    with the virtual clock. A power cycle of the harness (reset_world) unsets it."""

    def __init__(self, *args):
        pass

    def datetime(self, dt=None):
        from evse.core.calendar import civil_from_days, days_from_civil, weekday
        if dt is not None:
            set_rtc(days_from_civil(dt[0], dt[1], dt[2]) * 86400 + dt[4] * 3600 + dt[5] * 60 + dt[6])
            return None
        t0, us0 = _rtc_base
        t = t0 + (clock.us - us0) // 1000000
        days = t // 86400
        y, m, d = civil_from_days(days)
        return (y, m, d, weekday(days), (t % 86400) // 3600, (t % 3600) // 60, t % 60, 0)


RTC_UNSET = 946684800      # 2000-01-01 00:00 UTC
_rtc_base = (RTC_UNSET, 0)


def set_rtc(epoch_s):
    """Set the board's clock to UTC epoch seconds now (what NTP would do)."""
    global _rtc_base
    _rtc_base = (epoch_s, clock.us)


class ResetRequested(Exception):
    """machine.reset() on the host: the bench power-cycles the firmware."""


def reset_cause():
    return _reset_cause


def set_reset_cause(c, wd_reason=None):
    """The next boot's machine.reset_cause(); on rp2 also the watchdog's REASON register (by default
    TIMER for WDT_RESET: a watchdog not fed; the port's machine.reset() gives WDT_RESET with FORCE, 2)."""
    global _reset_cause, _wd_reason
    _reset_cause = c
    _wd_reason = (1 if c == WDT_RESET else 0) if wd_reason is None else wd_reason


def reset():
    raise ResetRequested("machine.reset()")


def soft_reset():
    raise ResetRequested("machine.soft_reset()")


def unique_id():
    return b"\x00\x11\x22\x33\x44\x55"


def freq(f=None):
    if f is not None:
        return None
    return RP2_CLK_HZ if pwm_port == "rp2" else 240000000


def idle():
    clock.advance_us(1)


def disable_irq():
    global _irq_depth
    _irq_depth += 1
    return _irq_depth


def enable_irq(state=None):
    global _irq_depth
    _irq_depth = max(0, _irq_depth - 1)


# --- installing it ---
real_time_module = None     # MicroPython: the port's own `time` (real ticks), once installed
class _TimeModule:
    """`time` for MicroPython, where built-in modules cannot be patched: virtual ticks, real rest."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)


def _sleep_ms(ms):
    clock.sleep_ms(ms)


def _sleep_us(us):
    clock.sleep_us(us)


def _ticks_ms():
    return clock.ticks_ms()


def _ticks_us():
    return clock.ticks_us()


def _ticks_cpu():
    return clock.ticks_cpu()


def install():
    """Install this module as `machine` and the virtual clock behind time.ticks_*. Idempotent."""
    mod = sys.modules[__name__]
    sys.modules["machine"] = mod
    from tools.sim.mock_machine import network
    sys.modules["network"] = network
    import time as real_time
    global real_time_module
    if isinstance(real_time, _TimeModule):
        return mod                  # installed already: the real `time` stays one wrap away
    names = {"ticks_ms": _ticks_ms, "ticks_us": _ticks_us, "ticks_cpu": _ticks_cpu,
             "ticks_diff": ticks_diff, "ticks_add": ticks_add,
             "sleep_ms": _sleep_ms, "sleep_us": _sleep_us}
    if sys.implementation.name == "micropython":
        t = _TimeModule(real_time)
        real_time_module = real_time
        for k in names:
            setattr(t, k, names[k])
        sys.modules["time"] = t
    else:
        for k in names:
            setattr(real_time, k, names[k])
    return mod
