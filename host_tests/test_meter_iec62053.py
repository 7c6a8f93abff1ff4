"""The meters tested as an accredited laboratory tests a billing meter, at the test points of the
standards, on synthetic signals with an exact ground truth.

CT (IEC 62053-21:2003, class 1, direct connected; EN 50470-3 class B has the same limits at these
points): percentage error of the energy at power factor 1 within 1.5 % at 0.05 Ib and 1.0 % from
0.1 Ib to Imax, at 0.5 inductive and 0.8 capacitive within 1.5 % at 0.1 Ib and 1.0 % from 0.2 Ib
(table 6); the added error of an influence quantity at Ib (table 8): voltage +-10 % 0.7 %,
frequency +-2 % 0.5 %, 10 % 5th harmonic in the voltage with 40 % in the current 0.8 %, odd
harmonics in the current 3.0 %, DC and even harmonics in the current 3.0 %; no-load: no energy
with voltage and no current (8.3.2). The front end is the default (100 A : 50 mA CT on 22 ohm, a
12-bit ADC at 3.3 V: 0.073 A a count), Ib 16 A, Imax 80 A, one phase with the voltage channel
(0.25 V a count), sampled in slices inside the control tick as the firmware does. Waveforms
are sums of harmonics (numpy); the true energy is the mean of v(t) x i(t) over a period (numpy,
200 000 points) times the time the meter integrated.

S0 (IEC 62053-31:1998, 4.1.3.3 and 4.1.3.4): a pulse is ON for t_ON >= 30 ms, OFF for t_OFF >= 30 ms
between pulses, and each edge may take up to 5 ms "including transient effects, e.g. contact
bounce" (public summaries of the standard; Siemens SENTRON PAC3200 manual, 2.6: "the minimum pulse
length is 30 ms"). The input counts rising edges, so a bounce on the trailing edge shows as
rising edges 30-35 ms after the pulse began.
"""
import math

import numpy as np
import pytest

from evse.metering.ct import ADC_SHIFT, CREEP_COUNTS, CtMeter, amps_per_count
from evse.metering.s0 import S0Meter
from host_tests.test_meter_integration import Clock, run_loop

MASK = (1 << 30) - 1
T_ON_MIN_US = 30000             # IEC 62053-31 4.1.3.3
T_OFF_MIN_US = 30000
T_TRANSITION_MAX_US = 5000      # IEC 62053-31 4.1.3.4, contact bounce included


def s0_line(imp_per_kwh, watts, pulses, t_on_us=T_ON_MIN_US, bounce=(), start=12345):
    """The rising edges an S0 line shows: `pulses` pulses at the rate of `watts`, each with rising
    edges `bounce` us after its leading edge (a trailing edge that bounces)."""
    period = 3.6e12 / (imp_per_kwh * watts)
    assert period >= t_on_us + T_OFF_MIN_US, "not an IEC 62053-31 pulse train"
    edges = []
    for k in range(pulses):
        t0 = start + int(k * period)
        edges.append(t0)
        edges.extend(t0 + t_on_us + b for b in bounce)
    return edges, period


@pytest.mark.parametrize("watts", [1400, 7400, 22000, 50000])
@pytest.mark.parametrize("bounce", [(), (200, 1500, 4800)])
def test_s0_pulses_with_a_bouncing_trailing_edge_count_once(watts, bounce):
    """A 1000 imp/kWh meter (the default) with the shortest pulses the standard allows, up to the
    highest power the input is made for (S0_MAX_POWER_W, 72 ms apart): every pulse counts once,
    a trailing edge that bounces within its 5 ms adds nothing (before: counted at 20 ms)."""
    s = S0Meter(1000)
    edges, _ = s0_line(1000, watts, 200, bounce=bounce)
    for t in edges:
        s.on_pulse(t & MASK)
    s.poll(edges[-1] // 1000 + 1)
    assert s.count == 200 and s.bounces == 200 * len(bounce)
    assert s.take_mwh() == 200 * 1000               # 1 Wh a pulse, exact


def test_s0_leading_edge_bounce_is_dropped_at_every_rate():
    """A leading edge that bounces for its 5 ms counts once, at the meter constants whose pulses at
    50 kW can be IEC 62053-31 pulses (a 10000 imp/kWh meter pulses every 7.2 ms at 50 kW: shorter
    pulses than the standard's, and a debounce of 3.6 ms)."""
    for imp in (100, 400, 1000, 2000):
        s = S0Meter(imp)
        watts = min(50000, 3.6e12 / (imp * (T_ON_MIN_US + T_OFF_MIN_US)))   # as fast as it may pulse
        edges, _ = s0_line(imp, watts, 50, t_on_us=T_ON_MIN_US if imp <= 1000 else 1, bounce=())
        for t in edges:
            for b in (0, 700, 2500, T_TRANSITION_MAX_US - 1):
                s.on_pulse((t + b) & MASK)
        assert s.count == 50, imp


# --- CT: the accuracy test points ----------------------------------------------------------------
APC = amps_per_count(2000, 22.0, 3.3)
VPC = 0.25                      # volts a count of the voltage channel: 230 V RMS is +-1301 counts
IB = 16.0
IMAX = 80.0
PF_05_IND = -math.acos(0.5)     # the current lags the voltage by 60 degrees
PF_08_CAP = math.acos(0.8)      # the current leads by 36.9 degrees


class Wave:
    """A sum of harmonics ((order, RMS, phase in rad), ...) plus DC, at `hz`."""

    def __init__(self, hz, parts, dc=0.0):
        self.w = 2 * math.pi * hz
        self.n = np.array([p[0] for p in parts], float)
        self.pk = np.array([p[1] * math.sqrt(2) for p in parts], float)
        self.ph = np.array([p[2] for p in parts], float)
        self.dc = dc

    def __call__(self, t):
        return self.dc + float(np.dot(self.pk, np.sin(self.n * self.w * t + self.ph)))

    def over(self, t):
        return self.dc + (self.pk[:, None] * np.sin(self.n[:, None] * self.w * t + self.ph[:, None])).sum(0)


class Adc:
    """A 12-bit converter on the front end: each read takes 10 us of the virtual clock, optional
    noise in counts (a seeded generator: the same every run)."""

    def __init__(self, clock, wave, per_count, noise=0.0, seed=1):
        self.clock, self.wave, self.per, self.noise = clock, wave, per_count, noise
        self.rng = np.random.default_rng(seed)

    def read_u16(self):
        t = self.clock.t * 1e-6
        self.clock.t += 10
        x = 2048 + self.wave(t) / self.per + (self.rng.normal(0, self.noise) if self.noise else 0.0)
        return max(0, min(4095, int(round(x)))) << ADC_SHIFT


def true_watts(v, i, hz):
    t = np.linspace(0, 1 / hz, 200000, endpoint=False)
    return float(np.mean(v.over(t) * i.over(t)))


def energy_error(v, i, hz, seconds=10, vchan=True, start=987654, noise=0.0, phases=1):
    """(registered mWh, true mWh, error in %) of `seconds` on the control loop (500 ms windows)."""
    c = Clock(start)
    kw = dict(vadc=Adc(c, v, VPC, noise, seed=2), volts_per_count=VPC) if vchan else {}
    m = CtMeter([Adc(c, i, APC, noise, seed=3 + k) for k in range(phases)], c.ticks_us, [APC] * phases,
                mains_hz=50, slice_us=8000, sleep_us=c.sleep_us, interval_ms=500, **kw)
    windows = []                        # when each window was counted: energy runs first to last
    poll = m.poll

    def counted(now_ms):
        if poll(now_ms):
            windows.append(now_ms)
            if len(windows) == 1:
                m.take_mwh()
        return False
    m.poll = counted
    run_loop(m, c, seconds * 100)
    got = m.take_mwh()
    true = phases * true_watts(v, i, hz) * (windows[-1] - windows[0]) / 3600.0
    return got, true, (got / true - 1) * 100 if true else float("inf")


def at(amps, pf_phase=0.0, volts=230.0, hz=50.0, i_parts=(), v_parts=(), dc=0.0):
    return Wave(hz, ((1, volts, 0.0),) + v_parts), Wave(hz, ((1, amps, pf_phase),) + i_parts, dc)


STARTS = (987654, 55555555)     # two phases of the mains against the control loop


@pytest.mark.parametrize("amps,limit", [(0.05 * IB, 1.5), (0.1 * IB, 1.0), (0.5 * IB, 1.0), (IB, 1.0),
                                        (2 * IB, 1.0), (IMAX, 1.0)])
def test_ct_error_at_power_factor_one(amps, limit):
    """IEC 62053-21 table 6, PF 1: 0.8 A to 80 A. Measured: within 0.70 % at 0.8 A, 0.07 % from
    1.6 A (five phases of the mains; docs/metering.md's table)."""
    for start in STARTS:
        got, true, err = energy_error(*at(amps), 50, start=start)
        assert abs(err) <= limit, (amps, got, true, err)


@pytest.mark.parametrize("pf", [PF_05_IND, PF_08_CAP])
@pytest.mark.parametrize("amps,limit", [(0.1 * IB, 1.5), (0.2 * IB, 1.0), (IB, 1.0), (IMAX, 1.0)])
def test_ct_error_at_power_factors_05_inductive_and_08_capacitive(amps, limit, pf):
    """IEC 62053-21 table 6, PF 0.5 inductive and 0.8 capacitive, one phase with the voltage
    channel. Measured: -0.71 to -0.49 % and +0.07 to +0.34 % (mostly the 10 us between the
    current's and the voltage's read: 0.18 degrees at 50 Hz). Before: power was V x I, +100 % and
    +25 %."""
    for start in STARTS:
        got, true, err = energy_error(*at(amps, pf), 50, start=start)
        assert abs(err) <= limit, (amps, got, true, err)


@pytest.mark.parametrize("volts", [207.0, 253.0])
def test_ct_voltage_plus_minus_ten_percent(volts):
    """Table 8, voltage +-10 % at Ib: 0.7 % added error with the voltage channel (measured 0.04 %).
    Without it the nominal 230 V stands in: +11.1 % at 207 V, -9.1 % at 253 V (docs/metering.md)."""
    for start in STARTS:
        assert abs(energy_error(*at(IB, volts=volts), 50, start=start)[2]) <= 0.7
    assert energy_error(*at(IB, volts=207.0), 50, vchan=False)[2] == pytest.approx(100 * (230 / 207 - 1), abs=0.1)
    assert energy_error(*at(IB, volts=253.0), 50, vchan=False)[2] == pytest.approx(100 * (230 / 253 - 1), abs=0.1)


@pytest.mark.parametrize("hz", [49.0, 51.0])
@pytest.mark.parametrize("amps", [IB, IMAX])
def test_ct_frequency_plus_minus_two_percent(hz, amps):
    """Table 8, frequency +-2 %: 0.5 % (the window stays one 50 Hz period). Measured: 0.08 %."""
    for start in STARTS:
        assert abs(energy_error(*at(amps, hz=hz), hz, start=start)[2]) <= 0.5


def test_ct_fifth_harmonic_in_voltage_and_current():
    """Table 8: 10 % 5th harmonic in the voltage, 40 % in the current, in phase: 0.8 %. Measured:
    0.07 %. Before: V x I read +4.1 % (the harmonics' RMS multiplied, not their power)."""
    for start in STARTS:
        got, true, err = energy_error(*at(IB, v_parts=((5, 23.0, 0.0),), i_parts=((5, 6.4, 0.0),)), 50, start=start)
        assert abs(err) <= 0.8, (got, true, err)


def test_ct_odd_harmonics_in_the_current():
    """Table 8, odd harmonics in the current (a phase-fired load's 3rd to 13th): 3.0 %. Measured:
    0.08 %. Before: +4.1 %."""
    parts = ((3, 4.0, 0.3), (5, 2.0, 1.1), (7, 1.0, 2.0), (11, 0.5, 0.0), (13, 0.3, 0.0))
    for start in STARTS:
        assert abs(energy_error(*at(IB, i_parts=parts), 50, start=start)[2]) <= 3.0


def test_ct_dc_and_even_harmonics_in_the_current():
    """Table 8, DC and even harmonics in the current (half-wave rectified): 3.0 %. The CT passes no
    DC (the mean is the bias) and the 2nd harmonic carries no power with a sine voltage. Measured:
    0.08 % (5 A DC, 8 A 2nd). Before: +11.8 % (the 2nd harmonic's RMS counted as power)."""
    for start in STARTS:
        assert abs(energy_error(*at(IB, i_parts=((2, 8.0, 0.5),), dc=5.0), 50, start=start)[2]) <= 3.0


class PhaseFired:
    """IEC 62053-21's odd-harmonics test current: a phase-fired sine, nothing for the first
    `angle` of each half cycle (a triac at 90 degrees: a step from 0 to the peak)."""

    def __init__(self, hz, amps, angle=math.pi / 2):
        self.w, self.pk, self.angle = 2 * math.pi * hz, amps * math.sqrt(2), angle

    def __call__(self, t):
        x = (self.w * t) % (2 * math.pi)
        return self.pk * math.sin(x) if x % math.pi >= self.angle else 0.0

    def over(self, t):
        x = np.mod(self.w * t, 2 * math.pi)
        return np.where(np.mod(x, math.pi) >= self.angle, self.pk * np.sin(x), 0.0)


class HalfWave:
    """The DC and even harmonics test current: a half-wave rectified sine."""

    def __init__(self, hz, amps):
        self.w, self.pk = 2 * math.pi * hz, amps * math.sqrt(2)

    def __call__(self, t):
        x = math.sin(self.w * t)
        return self.pk * x if x > 0 else 0.0

    def over(self, t):
        x = np.sin(self.w * t)
        return np.where(x > 0, self.pk * x, 0.0)


PHASES = (987654, 123457, 55555555, 7777777, 31415926)


@pytest.mark.parametrize("start", PHASES)
def test_ct_the_phase_fired_test_current(start):
    """Table 8's odd harmonics test with its own waveform, a current fired at 90 degrees (3.0 %),
    at five phases of the mains against the control loop. The step from 0 to the peak falls
    between two samples, and the trapezoid puts it anywhere in that slot: +-10 % a window at 40
    samples a cycle. It averages out as the mains' phase walks against the board's clock: a
    source 20 ppm off the crystal (50.001 Hz), 60 s: within 1.5 % (measured). A source and a clock
    exactly in step (the model at 50.000 Hz) keep every window's samples at the same angle:
    -8.7 % to +6.7 %, for as long as they stay in step (docs/metering.md)."""
    hz = 50.001
    got, true, err = energy_error(Wave(hz, ((1, 230.0, 0.0),)), PhaseFired(hz, IB), hz, seconds=60, start=start)
    assert abs(err) <= 3.0, (got, true, err)
    locked = energy_error(Wave(50, ((1, 230.0, 0.0),)), PhaseFired(50, IB), 50, seconds=10, start=start)[2]
    assert abs(locked) <= 10.0


@pytest.mark.parametrize("start", PHASES)
def test_ct_the_half_wave_test_current(start):
    """Table 8's DC and even harmonics test with its own waveform, half-wave rectified (3.0 %):
    the DC carries no power against a sine voltage and the CT passes none."""
    got, true, err = energy_error(Wave(50, ((1, 230.0, 0.0),)), HalfWave(50, IB), 50, seconds=16, start=start)
    assert abs(err) <= 3.0, (got, true, err)


@pytest.mark.parametrize("noise", [0.0, 1.0, 2.0])
def test_ct_no_load_registers_nothing(noise):
    """8.3.2 no-load: the voltage applied (115 % of 230 V), no current, ADC noise of 0-2 counts
    RMS on every channel: not a milliwatt-hour in a minute, with the voltage channel or without."""
    for vchan in (True, False):
        got, _, _ = energy_error(*at(0.0, volts=264.5), 50, seconds=60, noise=noise, vchan=vchan)
        assert got == 0


def test_ct_starting_current_is_the_creep_threshold():
    """Starting: IEC 62053-21 asks a class 1 meter to register from 0.004 Ib (64 mA at 16 A); the
    ADC's noise puts this one at CREEP_COUNTS (0.44 A at the defaults): 0.40 A registers nothing,
    0.50 A registers (a car draws at least 6 A, IEC 61851-1; docs/metering.md)."""
    assert CREEP_COUNTS * APC == pytest.approx(0.44, abs=0.005)
    assert energy_error(*at(0.40), 50)[0] == 0
    got, true, err = energy_error(*at(0.50), 50)
    assert got > 0 and abs(err) <= 2.0, (got, true, err)


def test_ct_without_voltage_channel_reads_volt_amperes():
    """What the docs say of a CT with no voltage channel: the nominal voltage x the RMS current,
    apparent power: +100 % at PF 0.5, +25 % at PF 0.8; exact at PF 1."""
    assert energy_error(*at(IB), 50, vchan=False)[2] == pytest.approx(0.0, abs=0.1)
    assert energy_error(*at(IB, PF_05_IND), 50, vchan=False)[2] == pytest.approx(100.0, abs=0.3)
    assert energy_error(*at(IB, PF_08_CAP), 50, vchan=False)[2] == pytest.approx(25.0, abs=0.3)


def test_ct_three_phases_with_one_voltage_channel_stay_volt_amperes():
    """Three CTs and one voltage channel: the voltage is one phase's, so the others' power factor
    is not measured; power stays V x I per phase (what the docs say). At PF 1 within 0.1 %."""
    assert abs(energy_error(*at(IB), 50, phases=3)[2]) <= 0.1
    assert energy_error(*at(IB, PF_08_CAP), 50, phases=3)[2] == pytest.approx(25.0, abs=0.3)


def test_ct_clamped_the_other_way_round_still_counts():
    """A CT clamped backwards gives the current in antiphase: the charger only draws, so its
    active power counts (as V x I did), at any power factor."""
    for pf in (0.0, PF_05_IND):
        v, i = at(IB, pf + math.pi)
        got, _, _ = energy_error(v, i, 50)
        assert abs(got / (energy_error(*at(IB, pf), 50)[0]) - 1) <= 0.002


# --- Modbus: the vendors' register lists, and the register a central system is handed ----------
# Eastron's "Modbus Protocol" input register tables (SDM120, SDM630; SDM72D-M manual part 3 has the
# same addresses for the totals): register 3xxxx is 0-based address xxxx - 1, float32 high word first,
# "each request for data must be restricted to 30 parameters or less" (60 registers).
EASTRON = {
    "sdm120": {"v1": 30001, "i1": 30007, "p": 30013, "hz": 30071, "kwh": 30073},
    "sdm630": {"v1": 30001, "v2": 30003, "v3": 30005, "i1": 30007, "i2": 30009, "i3": 30011,
               "p": 30053, "hz": 30071, "kwh": 30073},
}
EASTRON_MAX_REGS = 60


def test_the_sdm_maps_are_eastrons_register_tables():
    """Every field at its documented register, float32 big-endian, input registers (FC 4), unscaled
    (V, A, W, Hz, kWh); import energy (30073), not total (30343 = import + export); blocks at even
    addresses, of even length, within the 30-parameter limit."""
    from evse.core.modbus_maps import FC_READ_INPUT, MAPS, T_FLOAT32
    for model, table in EASTRON.items():
        seen = {}
        for fc, reg, count, fields in MAPS[model]["reads"]:
            assert fc == FC_READ_INPUT and reg % 2 == 0 and count % 2 == 0 and count <= EASTRON_MAX_REGS
            for name, off, typ, scale, swap in fields:
                assert (typ, scale, swap) == (T_FLOAT32, 1.0, False), (model, name)
                assert off + 2 <= count
                seen[name] = 30001 + reg + off
        assert seen == table, model


class Line:
    """The RS-485 line to a simulated SDM630 in virtual time (ms, `now`): the meter answers, or in
    `mode` answers exception 4 (device failure), a reply with a CRC spoilt, or `late_ms` late (400:
    after the master's 300 ms timeout)."""

    def __init__(self, sim):
        self.sim, self.now, self.mode, self.late_ms = sim, 0, None, 400
        self.rx = bytearray()
        self.pending = []

    def write(self, b):
        from tools.sim.mock_machine.modbus_meter import crc16
        r = self.sim.answer(bytes(b))
        if r is not None:
            delay = 5
            if self.mode == "exception":
                r = bytearray((b[0], b[1] | 0x80, 4))
                c = crc16(r)
                r += bytes((c & 0xFF, c >> 8))
            elif self.mode == "crc":
                r = r[:-1] + bytes((r[-1] ^ 0x5A,))
            elif self.mode == "slow":
                delay = self.late_ms
            self.pending.append((self.now + delay, bytes(r)))
        return len(b)

    def any(self):
        while self.pending and self.pending[0][0] <= self.now:
            self.rx += self.pending.pop(0)[1]
        return len(self.rx)

    def readinto(self, buf, k):
        self.any()
        k = min(k, len(self.rx))
        buf[:k] = self.rx[:k]
        self.rx = self.rx[k:]
        return k


def test_the_register_never_goes_back_nor_ahead_of_the_energy_through_a_bad_line(tmp_path):
    """22 kW on an SDM630 for 3 minutes, through 20 s each of exception replies, spoilt CRCs and
    replies after the timeout, a meter swapped for one at 12.3 kWh, a counter set back 1 kWh and
    a counter that wrapped to 0: the lifetime register (what OCPP sends) never goes back, is never
    ahead of the energy delivered, and ends within 0.2 % of it (each bad stretch is bridged by
    the counter when it answers again; a jump is counted from power; measured: 0.06 % short)."""
    from evse.metering.meter import make_meter
    from tools.sim.mock_machine.modbus_meter import ModbusMeter
    sim = ModbusMeter()
    line = Line(sim)
    hw = type("Hw", (), {"uart": line})()
    meter = make_meter({"meter": "sdm630", "meter_interval_ms": 1000}, hw, data_dir=str(tmp_path))
    volts, amps = 230.0, 32.0
    for k in range(3):
        sim.set_float(2 * k, volts)
        sim.set_float(6 + 2 * k, amps)
    sim.set_float(0x34, 3 * volts * amps)
    sim.set_float(0x46, 50.0)
    counter0 = 4321.0
    true_wh = 0.0
    last = 0.0
    events = {20000: "exception", 40000: None, 60000: "crc", 80000: None, 100000: "slow", 120000: None}
    t = 0
    while t < 180000:
        t += 10
        line.now = t
        true_wh += 3 * volts * amps * 10 / 3600000.0
        if t in events:
            line.mode = events[t]
        if t == 130000:
            counter0 = 12.3 - true_wh / 1000          # another meter, its own count
        if t == 145000:
            counter0 -= 1.0                           # the count set back
        if t == 160000:
            counter0 = -true_wh / 1000                # wrapped to 0
        sim.set_float(0x48, counter0 + true_wh / 1000)
        meter.poll(t)
        total = meter.wh_total
        assert last <= total <= true_wh + 1e-6, (t, last, total, true_wh)
        last = total
    sim.set_float(0x34, 0.0)                          # the charge ends: the last interval is read
    for k in range(3):
        sim.set_float(6 + 2 * k, 0.0)
    while t < 185000:
        t += 10
        line.now = t
        meter.poll(t)
    assert meter.ok and meter.wh_total == pytest.approx(true_wh, rel=0.002)



@pytest.mark.parametrize("late_ms", [350, 450, 650, 1000])
def test_a_late_reply_is_never_taken_for_another_registers(tmp_path, late_ms):
    """A meter that answers after the master's timeout (300 ms; its replies 350-1000 ms late), on
    a generic map of one request per value: a reply comes after its request was given up and
    retried, while the next value's request waits; Modbus RTU has no transaction number, and a
    reply of the same length was taken for the next one: the voltage (230) published as the
    current with ok=True, the energy counter (100 kWh) as the voltage (a false over-current
    stop, or a real one hidden). Each value is now its own or blind."""
    from evse.metering.meter import make_meter
    from tools.sim.mock_machine.modbus_meter import ModbusMeter
    sim = ModbusMeter()
    line = Line(sim)
    line.late_ms = late_ms
    hw = type("Hw", (), {"uart": line})()
    meter = make_meter({"meter": "modbus", "meter_interval_ms": 1000, "meter_timeout_ms": 300,
                        "meter_map": "v1=4:0:float32, i1=4:6:float32, p=4:0x0C:float32, kwh=4:0x48:float32"},
                       hw, data_dir=str(tmp_path))
    sim.set_float(0, 230.0)
    sim.set_float(6, 16.0)
    sim.set_float(0x0C, 3680.0)
    sim.set_float(0x48, 100.0)
    line.mode = "slow"
    t = 0
    while t < 60000:
        t += 10
        line.now = t
        meter.poll(t)
        assert meter.amps[0] in (0.0, 16.0, -1.0), (t, meter.amps, meter.volts)
        assert meter.volts[0] in (0.0, 230.0, -1.0), (t, meter.amps, meter.volts)
        assert meter.error is None or "jumped" not in meter.error, (t, meter.error)
