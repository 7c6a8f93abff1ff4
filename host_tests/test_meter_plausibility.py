"""A meter that answers nonsense: well-formed Modbus replies (valid CRC) carrying NaN, infinities,
negative or absurd values. Such a reading is a meter error: blind (current_a -1.0, so the core
warns `overcurrent_blind` while closed), `error` set, and energy still counted from the best
source left, recovering as soon as good readings come back. The same for CT and S0 sources."""
import math
import struct

import pytest

from evse.core import limits as L
from evse.metering.ct import CtMeter, amps_per_count
from evse.metering.meter import Meter, make_meter
from evse.metering.s0 import S0Meter
from host_tests.test_meter_integration import charge
from tools.sim import mock_machine as mm
from tools.sim.mock_machine.modbus_meter import ModbusMeter
from modbus_fakes import SimUart
from tools.sim.rig import Rig

NAN_WORDS = (0xFFFF, 0xFFFF)        # float32 NaN as a meter sends it
INF = float("inf")

# SDM120 input registers (docs/metering.md)
V1, I1, P, HZ, KWH = 0x0000, 0x0006, 0x000C, 0x0046, 0x0048


def sdm120(volts=230.0, amps=32.0, kwh=100.0):
    m = ModbusMeter(unit=1)
    m.set_float(V1, volts)
    m.set_float(I1, amps)
    m.set_float(P, volts * amps)
    m.set_float(HZ, 50.0)
    m.set_float(KWH, kwh)
    return m


class Hw:
    def __init__(self, meter):
        self.uart = SimUart(meter)


class Bench:
    """A Modbus meter service polled every control tick (10 ms) on a virtual clock, in front of a
    simulated SDM120 whose energy register follows the true power, unless a test overrides it."""

    def __init__(self, tmp_path, sim, kwh=100.0, **cfg):
        c = {"meter": "sdm120", "meter_interval_ms": 1000}
        c.update(cfg)
        self.sim = sim
        self.meter = make_meter(c, Hw(sim), data_dir=str(tmp_path))
        self.t = 0
        self.true_w = 0.0
        self.true_wh = 0.0          # energy really delivered (what the meter's counter follows)
        self.kwh0 = kwh
        self.counter = None         # None: the energy register tells the truth; else this value

    def run(self, seconds, step_ms=10):
        for _ in range(int(seconds * 1000 / step_ms)):
            self.t += step_ms
            self.true_wh += self.true_w * step_ms / 3600000.0
            self.sim.set_float(KWH, self.kwh0 + self.true_wh / 1000.0 if self.counter is None else self.counter)
            self.meter.poll(self.t)

    def charge(self, volts, amps):
        self.true_w = volts * amps
        self.sim.set_float(V1, volts)
        self.sim.set_float(I1, amps)
        self.sim.set_float(P, self.true_w)


def bench(tmp_path, volts=230.0, amps=32.0, **cfg):
    b = Bench(tmp_path, sdm120(volts, amps), **cfg)
    b.charge(volts, amps)
    return b


# --- the reproductions of issue 9, item 3, on the virtual bench ---------------------------------
class Events:
    def __init__(self):
        self.seen = []

    def on_event(self, ev, now_ms):
        self.seen.append(ev)


def sim_with_modbus():
    """The virtual board with its Modbus on UART 1."""
    import boards.sim as sim_board
    board = type("SimWithModbus", (), {k: getattr(sim_board, k) for k in dir(sim_board) if k.isupper()})
    board.MODBUS_UART = 1
    return board


def bench_with_modbus_meter(tmp_path, sim, config):
    """The firmware on the virtual board with a Modbus meter on UART 1 behind it."""
    rig = Rig(board=sim_with_modbus(), config=config, flash_dir=str(tmp_path))
    sim.attach(mm.uarts[1])
    ev = Events()
    rig.listeners.append(ev)
    rig.app.listeners.append(ev)
    return rig, ev


def plug_and_charge(rig, amps):
    charge(rig, amps, 2.0)
    assert rig.app.charger.state == "C2"


def test_nan_current_while_charging_is_blind_and_warned(tmp_path):
    sim = sdm120(amps=32.0)
    rig, ev = bench_with_modbus_meter(tmp_path, sim, {"max_current": 32, "meter": "sdm120"})
    plug_and_charge(rig, 32.0)
    m = rig.app.meter
    assert m.ok and m.current_a == pytest.approx(32.0)
    assert ("warning", "overcurrent_blind", True) not in ev.seen

    sim.set_raw(I1, *NAN_WORDS)                # the meter answers NaN for the current
    rig.run(2.0)
    assert m.current_a == -1.0                 # never a silent 0.0
    assert not m.ok and "i1" in m.error
    assert rig.app.m.current_ma == -1          # what the core sees
    assert rig.app.charger.oc_blind
    assert ("warning", "overcurrent_blind", True) in ev.seen

    sim.set_float(I1, 31.5)                    # good readings again: protection sees again
    rig.run(2.0)
    assert m.ok and m.error is None and m.current_a == pytest.approx(31.5)
    assert ("warning", "overcurrent_blind", False) in ev.seen and not rig.app.charger.oc_blind


NO_KWH_MAP = "v1=4:0:float32, i1=4:6:float32, p=4:0x0C:float32"


def test_nan_power_without_an_energy_register_keeps_counting(tmp_path):
    """9.2 kW for 100 s is 255.6 Wh; one NaN power reading must not stop the count. Tolerance:
    one meter interval (1 s) at 9.2 kW = 2.6 Wh, the reading the count starts from."""
    sim = sdm120(amps=40.0)                    # 230 V x 40 A = 9.2 kW
    rig, _ = bench_with_modbus_meter(tmp_path, sim, {"max_current": 40, "meter": "modbus",
                                                     "meter_map": NO_KWH_MAP})
    plug_and_charge(rig, 40.0)
    m = rig.app.meter
    start = m.wh_session
    rig.run(30.0)
    sim.set_raw(P, *NAN_WORDS)                 # one reading with NaN power
    rig.run(1.0)
    assert not m.ok and "p=" in m.error
    sim.set_float(P, 9200.0)
    rig.run(69.0)
    assert m.ok and m.error is None
    got = m.wh_session - start
    assert got == pytest.approx(9200 * 100 / 3600.0, abs=2.6), got
    assert m.wh_total >= m.wh_session


# --- every kind of bad value, on the meter service ----------------------------------------------
BAD_VALUES = [float("nan"), INF, -INF, 1e30, 3.4e38]


@pytest.mark.parametrize("bad", BAD_VALUES + [L.METER_MAX_A + 1.0, -(L.METER_MAX_A + 1.0)])
def test_a_bad_current_is_blind_never_zero(tmp_path, bad):
    b = bench(tmp_path)
    b.run(2.0)
    assert b.meter.ok and b.meter.current_a == pytest.approx(32.0)
    b.sim.set_float(I1, bad)
    b.run(1.5)
    assert b.meter.current_a == -1.0 and not b.meter.ok and "i1" in b.meter.error
    assert b.meter.status()["current_a"] == -1.0
    b.sim.set_float(I1, 16.0)
    b.run(1.5)
    assert b.meter.ok and b.meter.current_a == pytest.approx(16.0) and b.meter.error is None


def test_a_real_overcurrent_is_not_absurd(tmp_path):
    """Up to METER_MAX_A a current is believed: the core's over-current check must see it."""
    b = bench(tmp_path, amps=L.METER_MAX_A - 1.0)
    b.run(2.0)
    assert b.meter.ok and b.meter.current_a == pytest.approx(L.METER_MAX_A - 1.0)


@pytest.mark.parametrize("reg, bad, name", [
    (V1, float("nan"), "v1"), (V1, -230.0, "v1"), (V1, L.METER_MAX_V + 1.0, "v1"), (V1, INF, "v1"),
    (HZ, float("nan"), "hz"), (HZ, -50.0, "hz"), (HZ, 1e9, "hz"),
    (P, float("nan"), "p"), (P, -INF, "p"), (P, 1e12, "p"),
])
def test_any_bad_value_is_a_meter_error(tmp_path, reg, bad, name):
    b = bench(tmp_path)
    b.run(2.0)
    b.sim.set_float(reg, bad)
    b.run(1.5)
    assert not b.meter.ok and b.meter.current_a == -1.0
    assert b.meter.error.startswith("implausible " + name + "=")


@pytest.mark.parametrize("bad", [float("nan"), INF, -1.0, 1e12])
def test_a_bad_energy_register_is_a_meter_error(tmp_path, bad):
    b = bench(tmp_path)
    b.run(2.0)
    b.counter = bad
    b.run(1.5)
    assert not b.meter.ok and b.meter.current_a == -1.0 and b.meter.error.startswith("implausible kwh=")


def test_unconnected_phases_of_a_three_phase_meter_are_fine(tmp_path):
    sim = ModbusMeter()
    for reg, val in ((0, 231.0), (2, 0.0), (4, 0.0), (6, 16.0), (8, 0.0), (10, 0.0), (0x34, 3696.0),
                     (0x46, 50.0), (0x48, 10.0)):
        sim.set_float(reg, val)
    meter = make_meter({"meter": "sdm630"}, Hw(sim), data_dir=str(tmp_path))
    for t in range(0, 2000, 10):
        meter.poll(t)
    assert meter.ok and meter.current_a == pytest.approx(16.0) and meter.volts == [231.0, 0.0, 0.0]


def session(b, seconds, bad_at, bad_for, bad, good=None):
    """Charge for `seconds`; from bad_at for bad_for seconds `bad()` spoils the meter, then
    `good()` mends it. Returns (energy counted, energy really delivered) in Wh."""
    b.run(1.5)
    b.meter.session_start(b.t)
    wh0 = b.true_wh
    b.run(bad_at)
    bad()
    b.run(bad_for)
    if good is not None:
        good()
    b.run(seconds - bad_at - bad_for)
    return b.meter.wh_session, b.true_wh - wh0


ONE_READING_WH = 9200 * 1.0 / 3600      # 2.6 Wh: one meter interval (1 s) at 9.2 kW


@pytest.mark.parametrize("bad", [float("nan"), INF, -5.0, 1e12])
def test_bad_energy_register_counts_from_power(tmp_path, bad):
    """While the counter is bad, power x time counts; when it is good again it takes over."""
    b = bench(tmp_path, amps=40.0)

    def spoil():
        b.counter = bad

    def mend():
        b.counter = None
    got, true = session(b, 100.0, 30.0, 20.0, spoil, mend)
    assert b.meter.ok
    assert got == pytest.approx(true, abs=ONE_READING_WH)
    assert true == pytest.approx(255.6, abs=0.1)


@pytest.mark.parametrize("reg", [P, V1])
def test_bad_power_without_energy_register_counts_from_the_rest(tmp_path, reg):
    """No energy register: bad power counts from V x I; bad volts with good power from power."""
    b = bench(tmp_path, amps=40.0, meter="modbus", meter_map=NO_KWH_MAP)
    good = 9200.0 if reg == P else 230.0
    got, true = session(b, 100.0, 30.0, 20.0, lambda: b.sim.set_float(reg, float("nan")),
                        lambda: b.sim.set_float(reg, good))
    assert got == pytest.approx(true, abs=ONE_READING_WH)


def test_nothing_left_to_count_from_bridges_the_gap(tmp_path):
    """Current and power both NaN, no energy register: the gap is bridged from the readings on
    either side of it when the meter is good again (as after a timeout)."""
    b = bench(tmp_path, amps=40.0, meter="modbus", meter_map=NO_KWH_MAP)

    def spoil():
        b.sim.set_raw(I1, *NAN_WORDS)
        b.sim.set_raw(P, *NAN_WORDS)
    got, true = session(b, 100.0, 30.0, 20.0, spoil, lambda: b.charge(230.0, 40.0))
    assert b.meter.ok and got == pytest.approx(true, abs=ONE_READING_WH)


def test_a_meter_that_stays_bad_counts_on_from_power(tmp_path):
    """The energy register never recovers: power x time counts on, with no end."""
    b = bench(tmp_path, amps=40.0)

    def spoil():
        b.counter = float("nan")
    got, true = session(b, 100.0, 10.0, 90.0, spoil)
    assert not b.meter.ok and got == pytest.approx(true, abs=ONE_READING_WH)


@pytest.mark.parametrize("jump_to", [0.0, 50.0, 5000.0])
def test_counter_going_back_or_leaping_counts_from_power(tmp_path, jump_to):
    """Meter swapped or reset: that interval is counted from power, then the new counter."""
    b = bench(tmp_path, amps=40.0)

    def swap():
        b.kwh0 = jump_to - b.true_wh / 1000.0
    got, true = session(b, 30.0, 10.0, 1.0, swap)
    assert b.meter.ok and b.meter.source.kwh == pytest.approx(jump_to + 0.0511, abs=0.01)
    assert got == pytest.approx(true, abs=ONE_READING_WH)


def test_counter_jump_is_reported_and_blind_for_that_reading(tmp_path):
    b = bench(tmp_path, amps=40.0)
    b.run(5.0)
    b.kwh0 = 9999.0
    seen = []
    for _ in range(150):
        b.run(0.01)
        seen.append((b.meter.current_a, b.meter.error))
    assert any(c == -1.0 and e is not None and "jumped" in e for c, e in seen)
    assert b.meter.ok and b.meter.current_a == pytest.approx(40.0)


# --- CT and S0: the same class of bug ----------------------------------------------------------
class FlatAdc:
    def read_u16(self):
        return 2048 << 4


class SineAdc:
    def __init__(self, clock, amps):
        self.clock, self.amps = clock, amps

    def read_u16(self):
        apc = amps_per_count(2000, 22.0, 3.3)
        x = 2048 + self.amps * math.sqrt(2) * math.sin(2 * math.pi * 50 * self.clock[0] * 1e-6) / apc
        self.clock[0] += 10
        return max(0, min(4095, int(round(x)))) << 4


def ct_meter(tmp_path, apc, nominal_volts=230.0):
    clock = [0]

    def ticks_us():
        clock[0] += 2
        return clock[0] & ((1 << 30) - 1)
    src = CtMeter([SineAdc(clock, 20.0)], ticks_us, [apc], nominal_volts=nominal_volts, interval_ms=1000)
    from evse.metering.energy import Energy
    return Meter(src, Energy(str(tmp_path)), "ct")


@pytest.mark.parametrize("apc", [float("nan"), INF, 1e6])    # e.g. ct_cal or ct_ratio gone bad
def test_ct_with_a_nonsense_calibration_is_blind_and_energy_survives(tmp_path, apc):
    meter = ct_meter(tmp_path, apc)
    meter.session_start(0)
    for k in range(5):
        meter.poll(k * 1000)
    assert meter.current_a == -1.0 and not meter.ok and "implausible current" in meter.error
    assert meter.wh_session == 0.0


def test_ct_with_nonsense_volts_is_blind(tmp_path):
    meter = ct_meter(tmp_path, amps_per_count(2000, 22.0, 3.3), nominal_volts=float("nan"))
    for k in range(3):
        meter.poll(k * 1000)
    assert meter.current_a == -1.0 and "implausible voltage" in meter.error
    assert math.isfinite(meter.wh_total)


def test_s0_noise_at_an_impossible_rate_is_blind(tmp_path):
    """Pulses 25 ms apart from a 1000 imp/kWh meter would be 144 kW, 626 A at 230 V: noise on
    the line, not a car."""
    from evse.metering.energy import Energy
    src = S0Meter(1000)
    meter = Meter(src, Energy(str(tmp_path)), "s0")
    for i in range(5):
        src.on_pulse(i * 25000)
    meter.poll(200)
    assert meter.current_a == -1.0 and not meter.ok and "implausible" in meter.error
    for i in range(2):                          # a plausible rate again: 1 pulse / 1.8 s = 2 kW
        src.on_pulse(2000000 + i * 1800000)
    meter.poll(4000)
    assert meter.ok and meter.current_a == pytest.approx(2000 / 230.0, rel=0.01)


def test_nan_float_decodes_as_nan():
    """The register bytes of a NaN reach the meter service as NaN (not an exception, not 0)."""
    from evse.metering import modbus
    v = modbus.decode(bytearray(b"\xff\xff\xff\xff"), 0, modbus.T_FLOAT32)
    assert v != v
    assert struct.unpack(">f", b"\x7f\x80\x00\x00")[0] == INF
