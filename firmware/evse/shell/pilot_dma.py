# The pilot captured by the RP2040's ADC and DMA while the CPU sleeps (rp2 ports with rp2.DMA).
# The phased read (pilot_phase.py) busy-waits for its plateaus: about 0.5 ms of the Pico's tick.
# Here the control loop starts a capture a little before its tick (kick): the ADC converts the pilot
# every 3 us on its own (START_MANY, its clock divider) and a DMA channel moves each result into a
# buffer, one PWM period and a few samples long. The PWM's counter is read at the instant the
# conversions start, so every sample's phase is known; the tick takes 4 samples from each plateau's
# window, past its edge's settling, exactly as the phased read would (the same sampler, sums and
# checks) and never waits. A capture that is not finished, too old or from another duty is not used:
# the tick falls back to the phased read. The capture's end, with the ADC free, also converts the
# side channels (PP, temperature) and reads the feedback pin in machine code (as read_u16 and
# Pin.value they took 0.19 ms of the Pico's tick, a call each), and with no PWM (X1, F) `level`
# reads the pilot's level the same way (0.26 ms as read_u16 in bytecode).
import time
from array import array

import machine
import micropython
from micropython import const

from ..core import limits as L
from .pilot_phase import SAMPLES, SETTLE_US, STRIDE_MAX, collect

ticks_us = time.ticks_us
ticks_diff = time.ticks_diff

try:
    ptr32
except NameError:     # CPython: viper's cast is a name only inside viper functions (never called there)
    def ptr32(addr):
        return addr

# RP2040 datasheet 4.9.6 (ADC) and 2.5.7 (DMA); +0x2000 / +0x3000: the atomic set / clear aliases.
_ADC = 0x4004C000
_CS_START_MANY = const(0x08)
_CS_START_ONCE = const(0x04)
_CS_KEEP = const(0x03)                # EN and TS_EN (the temperature sensor's bias)
_CS_AINSEL = const(0x7000)
_CS_READY = const(0x100)
_FCS_EN = const(0x01)
_FCS_DREQ_EN = const(0x08)
_FCS_EMPTY = const(0x100)
_FCS_UNDER_OVER = const(0xC00)        # sticky, written 1 to clear
_FCS_THRESH_1 = const(0x1000000)      # DREQ as soon as one result waits
_DREQ_ADC = const(36)
_DMA_BUSY = const(0x1000000)          # CTRL_TRIG.BUSY
_DMA_ABORT = 0x50000444              # CHAN_ABORT
_ADC_HZ = const(48000000)             # clk_adc: the USB PLL's 48 MHz on MicroPython's rp2 port
SAMPLE_US = const(3)                  # one conversion every 144 ADC clocks (the ADC's fastest: 96)
_START_US = const(1)                  # from the counter's read to the first sample, at most
_EDGE_GUARD_US = const(2)             # a sample this close before an edge may already see it
FRESH_US = const(4000)                # a capture older than this is not the pilot now


def for_board(hw, board):
    """The capture for the HAL hw (evse/shell/hal.py) on board: its sampler and the pilot's slice,
    the side readings as hw reads them (imported on rp2 only: this costs no heap elsewhere)."""
    b = board
    return PilotCapture(
        hw._phase, hw._cc_addr - 0x04, _adc_channel(b.PILOT_ADC_PIN), 1000000 // L.PILOT_FREQ_HZ, hw._zero,
        None if b.PP_ADC_PIN is None else (_adc_channel(b.PP_ADC_PIN), hw._pp_pullup, hw._pp_full,
                                          hw.pp_open_at, L.PP_OPEN),
        None if b.TEMP_ADC_PIN is None else (_adc_channel(b.TEMP_ADC_PIN), hw._adc_fullscale_mv,
                                            b.TEMP_MV_AT_0C, b.TEMP_UV_PER_C),
        None if b.FEEDBACK_PIN is None else (b.FEEDBACK_PIN, b.FEEDBACK_ACTIVE))


def _adc_channel(pin):
    """The ADC channel of a pin (GP26-29: channels 0-3; 4 is the temperature sensor)."""
    return pin if pin <= 4 else pin - 26


def capture_len(period_us):
    """Samples in a capture: a period and a plateau's samples at their widest spread, so both
    plateaus' samples are in it from any starting phase."""
    return period_us // SAMPLE_US + STRIDE_MAX * SAMPLES


class PilotCapture:
    """A capture started by kick() and read into a PhaseSampler by take()."""

    def __init__(self, sampler, ctr_addr, adc_channel, period_us, zero=0, pp=None, temp=None, fb=None):
        """The side readings, taken as a capture ends or with a level read, into self.side as
        the HAL reads them: pp (ADC channel, pull-up Ohm, full-scale code, the code from which
        it is open, the reading then): Ohm as hal.read_pp; temp (ADC channel, full-scale mV, mV
        at 0 C, uV per C): C as hal.read_temp; fb (GPIO, active level): 1 active, 0 not as
        hal.read_feedback. None: not wired (NONE in self.side). zero: the pilot's 0 V code."""
        import rp2  # pyright: ignore[reportMissingImports] (here: pick is tested on the host)
        if pp is not None and pp[1] * 65535 >= 1 << 31:
            raise ValueError("PP pull-up: the divider's product overflows 32 bits")   # (the HAL then reads)
        self._s = sampler
        self._period_us = period_us
        self._n = capture_len(period_us)
        self._buf = array("H", bytes(2 * self._n))
        self._dma = rp2.DMA()
        ctrl = self._dma.pack_ctrl(size=1, inc_read=False, inc_write=True, treq_sel=_DREQ_ADC,
                                   irq_quiet=True)
        self._dma.config(read=_ADC + 0x0C, write=self._buf, count=self._n,
                         ctrl=ctrl & ~1, trigger=False)   # enabled by each kick's trigger
        ch = self._dma.channel  # pyright: ignore[reportAttributeAccessIssue] (documented; the stubs lack it)
        self.side = array("i", (NONE, NONE, NONE, 0, 0, 0, 0))
        self._regs = _registers(ctr_addr, adc_channel, ch, self._buf, self._n, ctrl, self.side, zero,
                                pp or (-1, 0, 0, 0, 0), temp or (-1, 0, 0, 0), fb or (-1, 0))
        self.armed = False
        self._last_cc = -1            # the duty of the last kick (a change: no capture this time)
        self.kick_us = 0
        self.c0 = 0
        self.cc = 0
        self.steps = 0
        self.used = 0                 # captures taken and captures dropped (wrap as small ints)
        self.dropped = 0

    @micropython.native
    def kick(self, cc, steps):
        """Starts a capture of the pilot as the PWM runs now (cc counts high of steps), unless the
        duty changed since the last kick: the slice takes a new compare value only at its
        counter's wrap (RP2040 datasheet 4.5.2.6, CC is double-buffered), so for up to a period
        the pin still shows the old duty while the register reads the new one. That tick keeps
        the phased read; the next kick, a tick later, captures."""
        if cc != self._last_cc or steps != self.steps:
            self._last_cc = cc
            self.steps = steps
            return
        self.c0 = _start(self._regs)
        self.kick_us = ticks_us()
        self.cc = cc
        self.armed = True

    @micropython.native
    def take(self, cc, steps):
        """The last capture into the sampler (its hn, ln, sums): False when there is none to use
        (not kicked, another duty, older than FRESH_US, or the DMA not finished in time). The ADC
        is back to single reads either way. One call: a call costs about 20 us on the Pico."""
        if not self.armed:
            return False
        self.armed = False
        age = ticks_diff(ticks_us(), self.kick_us)
        if _stop(self._regs):                   # not finished: its last samples, tens of us
            while _busy(self._regs) and age < self._n * SAMPLE_US + 200:
                age = ticks_diff(ticks_us(), self.kick_us)
            if _stop(self._regs):
                _abort(self._regs)
                age = FRESH_US + 1
        if cc != self.cc or steps != self.steps or age > FRESH_US:
            self.dropped = (self.dropped + 1) & 0xFFFFFF
            return False
        pick(self._s, self._buf, self._n, self.c0, cc, steps, self._period_us)
        self.used = (self.used + 1) & 0xFFFFFF
        return True

    @micropython.native
    def level(self, n):
        """No PWM (X1, F): n reads of the pilot and the side readings into self.side, in machine
        code (as read_u16 in bytecode they took 0.45 ms of the Pico's tick). -> True. A capture
        still under way (the pilot set flat outside the loop) is stopped first, never used."""
        if self.armed:
            self.take(-1, -1)
        _side(self._regs, n)
        return True


# The registers a capture writes, in an array made once (32-bit words; no long int per access):
_R_ADC = const(0)      # the ADC's CS; +0x2000 / +0x3000 its atomic set / clear aliases
_R_DMA = const(1)      # the channel's READ_ADDR: +4 WRITE_ADDR, +8 TRANS_COUNT, +12 CTRL_TRIG
_R_CTR = const(2)      # the pilot slice's counter
_R_AINSEL = const(3)   # CS.AINSEL for the pilot's channel
_R_BUF = const(4)      # the buffer's address, its length, the channel's control word
_R_N = const(5)
_R_CTRL = const(6)
_R_ABORT = const(7)    # CHAN_ABORT, and the channel's bit in it
_R_ABORT_BIT = const(8)
_R_SIDE = const(9)     # the side readings' array
_R_SEL = const(10)     # CS.AINSEL of the pilot, the PP and the temperature
_R_CNT = const(13)     # their conversions: the level read's (each call's), 4 and 1 (0: not wired)
_R_FB_ON = const(16)   # the feedback wired: its GPIO and active level
_R_FB_PIN = const(17)
_R_FB_ACTIVE = const(18)
_R_GPIO_IN = const(19)  # SIO's GPIO_IN
_R_PP_PULLUP = const(20)  # the PP's divider (hal.read_pp)
_R_PP_FULL = const(21)
_R_PP_OPEN_AT = const(22)
_R_PP_OPEN = const(23)
_R_T_FS = const(24)     # the temperature's full-scale mV, mV at 0 C, uV per C (hal.read_temp)
_R_T_MV0 = const(25)
_R_T_UV = const(26)     # its size, and whether it is negative
_R_T_UV_NEG = const(27)
_R_ZERO = const(28)     # the pilot's 0 V code (the level read)
_SIO_GPIO_IN = 0xD0000004
NONE = const(-1)        # self.side[0:3]: nothing wired
LEVEL_SUM = const(3)    # self.side[3:7]: the level read's sum, reads above 0 V, highest, lowest


def _registers(ctr_addr, adc_channel, ch, buf, n, ctrl, out, zero, pp, temp, fb):
    import uctypes
    return array("I", [_ADC, 0x50000000 + 0x40 * ch, ctr_addr, adc_channel << 12,
                       uctypes.addressof(buf), n, ctrl, _DMA_ABORT, 1 << ch, uctypes.addressof(out),
                       adc_channel << 12, max(pp[0], 0) << 12, max(temp[0], 0) << 12,
                       0, 4 if pp[0] >= 0 else 0, 1 if temp[0] >= 0 else 0,
                       fb[0] >= 0, max(fb[0], 0), fb[1], _SIO_GPIO_IN,
                       pp[1], pp[2], pp[3], pp[4], temp[1], temp[2], abs(temp[3]), temp[3] < 0, zero])


# Viper: each register a machine word access (machine.mem32 from native code took 170 us a kick
# on the emulated Pico, in long ints).
@micropython.viper
def _start(regs) -> int:
    """The ADC stopped and its FIFO emptied, the DMA channel armed, then the counter read and the
    ADC started free-running with nothing between (interrupts off). -> the counter."""
    r = ptr32(regs)
    cs = ptr32(r[_R_ADC])
    cs_set = ptr32(r[_R_ADC] + 0x2000)
    cs_clr = ptr32(r[_R_ADC] + 0x3000)
    cs_clr[0] = _CS_START_MANY
    while not (cs[0] & _CS_READY):              # a conversion still running lands in the FIFO
        pass
    cs[4] = (_ADC_HZ // 1000000 * SAMPLE_US - 1) << 8          # DIV
    cs[2] = _FCS_EN | _FCS_DREQ_EN | _FCS_THRESH_1 | _FCS_UNDER_OVER
    while not (cs[2] & _FCS_EMPTY):             # what other reads left there
        cs[3]
    cs_clr[0] = _CS_AINSEL
    cs_set[0] = r[_R_AINSEL]
    dma = ptr32(r[_R_DMA])
    dma[1] = r[_R_BUF]
    dma[2] = r[_R_N]
    dma[3] = r[_R_CTRL]                         # the channel waits for the ADC's first result
    ctr = ptr32(r[_R_CTR])
    irq = machine.disable_irq()
    c0 = ctr[0]
    cs_set[0] = _CS_START_MANY
    machine.enable_irq(irq)
    return int(c0)


@micropython.viper
def _busy(regs) -> int:
    r = ptr32(regs)
    dma = ptr32(r[_R_DMA])
    return 1 if dma[3] & _DMA_BUSY else 0


@micropython.viper
def _stop(regs) -> int:
    """The ADC back to single reads once the channel has its last sample, and the side readings
    taken: -> 1 while it has not."""
    r = ptr32(regs)
    dma = ptr32(r[_R_DMA])
    if dma[3] & _DMA_BUSY:
        return 1
    cs_clr = ptr32(r[_R_ADC] + 0x3000)
    cs_clr[0] = _CS_START_MANY
    _side(regs, 0)
    return 0


@micropython.viper
def _side(regs, n: int):
    """With n > 0 (no PWM), n conversions of the pilot into side[LEVEL_SUM:] (their sum, how many
    above the 0 V code, the highest and the lowest, as read_u16 scales them); then PP, temperature
    and feedback into side[0:3], the ADC free. Each conversion is one write of CS with its channel
    and START_ONCE (one write: the emulated ADC keeps START_ONCE set and would start another at the
    next write of CS), then READY awaited, as the SDK's adc_read does."""
    r = ptr32(regs)
    cs = ptr32(r[_R_ADC])
    out = ptr32(r[_R_SIDE])
    zero = r[_R_ZERO]
    r[_R_CNT] = n
    for j in range(3):          # the pilot: n conversions; PP: 4; the temperature: 1 (0: not wired)
        cnt = r[_R_CNT + j]
        if not cnt:
            continue
        sel = r[_R_SEL + j] | _CS_START_ONCE
        s = 0
        up = 0
        hi = 0
        lo = 65535
        for i in range(cnt):
            while not (cs[0] & _CS_READY):
                pass
            cs[0] = (cs[0] & _CS_KEEP) | sel
            while not (cs[0] & _CS_READY):
                pass
            v = cs[1] & 0xFFF
            v = (v << 4) | (v >> 8)
            s += v
            up += int(v > zero)
            hi = v if v > hi else hi
            lo = v if v < lo else lo
        if j == 0:
            out[LEVEL_SUM] = s
            out[LEVEL_SUM + 1] = up
            out[LEVEL_SUM + 2] = hi
            out[LEVEL_SUM + 3] = lo
        elif j == 1:            # the PP's Ohm from the mean code, as hal.read_pp
            s >>= 2
            out[0] = r[_R_PP_OPEN] if s >= r[_R_PP_OPEN_AT] else r[_R_PP_PULLUP] * s // (r[_R_PP_FULL] - s)
        else:                   # the temperature in C, as hal.read_temp (floored, as Python's //):
            s = (s * r[_R_T_FS] // 65535 - r[_R_T_MV0]) * 1000     # x // -u is -x // u (no
            out[1] = (0 - s if r[_R_T_UV_NEG] else s) // r[_R_T_UV]   # negative in a word)
    if r[_R_FB_ON]:
        gpio = ptr32(r[_R_GPIO_IN])
        out[2] = 1 if ((gpio[0] >> r[_R_FB_PIN]) & 1) == r[_R_FB_ACTIVE] else 0


@micropython.viper
def _abort(regs):
    """The ADC stopped and the channel aborted (a capture not finished in time)."""
    r = ptr32(regs)
    cs_clr = ptr32(r[_R_ADC] + 0x3000)
    cs_clr[0] = _CS_START_MANY
    dma = ptr32(r[_R_DMA])
    abort = ptr32(r[_R_ABORT])
    abort[0] = r[_R_ABORT_BIT]
    while dma[3] & _DMA_BUSY:
        pass


@micropython.native
def pick(s, buf, n, c0, cc, steps, period_us):
    """A capture of n samples started at counter c0 into the PhaseSampler s: SAMPLES of each
    plateau's window (past the edge's settling, not at the next edge), then its sums."""
    k = steps * SAMPLE_US * 256 // period_us           # counts per sample, x256
    x0 = (c0 + steps * _START_US // period_us) * 256
    guard = steps * _EDGE_GUARD_US // period_us
    settle = steps * SETTLE_US // period_us + guard
    s.hn = collect(buf, s.buf, 0, x0, k, n, settle, cc - guard, steps)
    s.ln = collect(buf, s.buf, SAMPLES, x0, k, n, cc + settle, steps - guard, steps)
    s.sums()
