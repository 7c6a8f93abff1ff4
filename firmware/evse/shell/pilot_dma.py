# The pilot captured by the RP2040's ADC and DMA while the CPU sleeps (rp2 ports with rp2.DMA).
# The phased read (pilot_phase.py) busy-waits for its plateaus: about 0.5 ms of the Pico's tick.
# Here the control loop starts a capture a little before its tick (kick): the ADC converts the pilot
# every 3 us on its own (START_MANY, its clock divider) and a DMA channel moves each result into a
# buffer, one PWM period and a few samples long. The PWM's counter is read at the instant the
# conversions start, so every sample's phase is known; the tick takes 4 samples from each plateau's
# window, past its edge's settling, exactly as the phased read would (the same sampler, sums and
# checks) and never waits. A capture that is not finished, too old or from another duty is not used:
# the tick falls back to the phased read.
import time
from array import array

import machine
import micropython
from micropython import const

from evse.shell.pilot_phase import SAMPLES, SETTLE_US, STRIDE_MAX, collect

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


def capture_len(period_us):
    """Samples in a capture: a period and a plateau's samples at their widest spread, so both
    plateaus' samples are in it from any starting phase."""
    return period_us // SAMPLE_US + STRIDE_MAX * SAMPLES


class PilotCapture:
    """A capture started by kick() and read into a PhaseSampler by take()."""

    def __init__(self, sampler, ctr_addr, adc_channel, period_us):
        import rp2  # pyright: ignore[reportMissingImports] (here: pick is tested on the host)
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
        self._regs = _registers(ctr_addr, adc_channel, ch, self._buf, self._n, ctrl)
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


def _registers(ctr_addr, adc_channel, ch, buf, n, ctrl):
    import uctypes
    return array("I", (_ADC, 0x50000000 + 0x40 * ch, ctr_addr, adc_channel << 12,
                       uctypes.addressof(buf), n, ctrl, _DMA_ABORT, 1 << ch))


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
    """The ADC back to single reads once the channel has its last sample: -> 1 while it has not."""
    r = ptr32(regs)
    dma = ptr32(r[_R_DMA])
    if dma[3] & _DMA_BUSY:
        return 1
    cs_clr = ptr32(r[_R_ADC] + 0x3000)
    cs_clr[0] = _CS_START_MANY
    return 0


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
