"""Safety path, second independent audit (contactor, pilot, protections), on the virtual bench.

Each scenario failed on the code before its fix (the commit that added it says what it read)."""
import pytest

from core_bench import CoreBench
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive


def charging(board="sim", amps=32):
    d = Drive(config={"max_current": amps}, board=board)
    d.run(0.5)
    d.charge(amps)
    d.run(6.0)
    assert d.state == "C2" and d.coil
    return d


def temperature_input_reads(d, u16):
    """The temperature sensor's ADC input stuck at one code (a broken wire, sensor or ADC)."""
    mm.adc_sources[d.rig.board.TEMP_ADC_PIN] = lambda t_us: u16


# --- a broken temperature sensor never lifts a derating (facts 7; the fail-safe rule) -----------

@pytest.mark.parametrize("board, broken_u16", [
    ("sim", 0),               # TMP36 input at 0 V: -50 C
    ("esp32_devkitc", 0),     # the same TMP36 on the ESP32 board
    ("rpi_pico", 65535),      # the RP2040's own sensor at full scale: -1480 C
])
def test_a_sensor_that_breaks_at_the_thermal_stop_does_not_restart_charging(board, broken_u16):
    d = charging(board)
    d.set(temp_c=75.0)                     # the terminals overheat: stop (6 s for the car to go to B)
    d.run(8.0)
    assert d.state == "paused" or d.state == "C1"
    assert not d.coil and d.duty == 100.0
    temperature_input_reads(d, broken_u16)  # ... and the sensor's wire breaks
    d.run(30.0)
    assert not d.coil and d.duty == 100.0, (d.state, d.duty, d.app.m.temp_c)


def test_a_sensor_that_breaks_while_derated_never_lifts_the_derating_and_then_stops():
    d = charging()
    d.set(temp_c=66.0)                     # half current
    d.run(1.0)
    assert d.duty == pytest.approx(26.65, abs=0.02)
    temperature_input_reads(d, 0)
    duties = []
    for _ in range(40):
        d.run(0.05)
        duties.append(d.duty)
    assert all(x == pytest.approx(26.65, abs=0.02) or x == 100.0 for x in duties), duties
    d.run(30.0)
    assert d.duty == 100.0 and not d.coil, (d.duty, d.app.m.temp_c)


# --- a sensor that reads no temperature at all: no charging, said (the fail-safe rule) ----------

def warnings(d, name):
    return [e[2] for _, e in d.events if e[0] == "warning" and e[1] == name]


@pytest.mark.parametrize("board, broken_u16", [("sim", 0), ("esp32_devkitc", 0), ("rpi_pico", 65535)])
def test_a_sensor_broken_from_boot_allows_no_charging_and_says_why(board, broken_u16):
    d = Drive(config={"max_current": 32}, board=board)
    temperature_input_reads(d, broken_u16)
    d.run(0.5)
    d.plug()
    d.run(0.5)
    d.ev("C")
    d.run(10.0)
    assert not d.coil and d.duty == 100.0, (d.state, d.duty)
    assert d.state in ("paused", "C1")      # (C, X1: the car asks, nothing is offered)
    assert warnings(d, "temp_sensor") == [True]
    st = d.app.status(mm.clock.ticks_ms())
    assert st["temp_sensor_broken"] and st["limit_by"] == "temp_sensor"


def test_a_repaired_sensor_charges_again():
    d = Drive(config={"max_current": 32})
    temperature_input_reads(d, 0)
    d.run(2.0)
    mm.adc_sources[d.rig.board.TEMP_ADC_PIN] = d.world.temp_adc     # the sensor wired again: 25 C
    d.run(1.0)
    assert warnings(d, "temp_sensor") == [True, False]
    d.charge(16)
    d.run(3.0)
    assert d.state == "C2" and d.coil and not d.app.status(mm.clock.ticks_ms())["temp_sensor_broken"]


def test_one_broken_reading_among_real_ones_changes_nothing():
    d = charging()
    start, sensor = d.now_us, d.world.temp_adc
    # the input at 0 V for 300 ms (a connector's contact bouncing), then the sensor reads again
    mm.adc_sources[d.rig.board.TEMP_ADC_PIN] = lambda t_us: 0 if t_us - start < 300000 else sensor(t_us)
    d.run(5.0)
    assert d.state == "C2" and d.coil and d.duty == pytest.approx(53.32, abs=0.02)
    assert warnings(d, "temp_sensor") == []


def test_a_cold_but_real_reading_still_restores():
    d = charging()
    d.set(temp_c=66.0)
    d.run(1.0)
    d.set(temp_c=-30.0)                    # a winter night, outdoors: a real reading
    d.run(7.0)
    assert d.duty == pytest.approx(53.32, abs=0.02)


# --- a contactor found closed after a week's rest is a weld (facts 6), whatever the tick count -----

class Core(CoreBench):
    """The core alone on the port's wrapping tick count, at a board's 32 A, limited to 16 A."""

    def __init__(self):
        CoreBench.__init__(self, max_amps=32)


@pytest.mark.parametrize("rest_days", [1, 6, 7, 12])
def test_contacts_that_close_by_themselves_after_days_at_rest_are_a_weld(rest_days):
    c = Core().run(500)
    c.car_mv = 9000
    c.run(500)
    c.car_mv = 6000
    c.run(1000)
    assert c.ch.state == "C2" and c.ch.out.contactor
    c.car_mv = 9000
    c.run(500)
    c.car_mv = 12000                      # the car leaves: A1, the contactor open and settled
    c.run(500)
    assert c.ch.state == "A1" and not c.ch.out.contactor and c.ch.fault is None
    c.run(rest_days * 86400000, every=60000)   # at rest (the core's steps as sparse as it likes)
    c.stuck = True                        # the coil's driver shorts: the contacts pull in
    c.run(1000)
    assert c.ch.fault == "weld", (rest_days, c.ch.state)
    c.car_mv = 9000                       # the next car is offered nothing on live contacts
    c.run(1000)
    assert c.ch.fault == "weld" and c.ch.out.amps_x10 == 0 and c.ch.state == "fault"


# --- over-current is judged against the current signalled now, days after a lowering (facts 7) ----

@pytest.mark.parametrize("rest_days", [1, 7, 13])
def test_a_car_that_draws_over_a_lowered_duty_days_later_is_tripped(rest_days):
    c = Core()
    c.ch.set_limit("settings", 32)
    c.run(500)
    c.car_mv = 9000
    c.run(500)
    c.car_mv = 6000
    c.run(1000)
    c.m.current_ma = 32000                # charging at 32 A ...
    c.run(2000)
    c.ch.set_limit("console", 16)         # ... the limit drops to 16 A and the car follows
    c.run(3000)
    c.m.current_ma = 16000
    c.run(3000)
    c.car_mv = 9000                       # full: B2, the PWM still offering 16 A, for days
    c.m.current_ma = 0
    c.run(1000)
    c.run(rest_days * 86400000, every=60000)
    c.car_mv = 6000                       # it tops up, drawing 30 A against 16 A signalled
    c.run(1000)
    assert c.ch.out.contactor and c.ch.out.amps_x10 == 160
    c.m.current_ma = 30000
    t = c.now
    while c.ch.fault is None and c.now - t < 30000:
        c.run(10)
    # (16 + 0.5) x 1.10 = 18.15 A for 7 s; a stale reference of 32 A made it 35.75 A
    assert c.ch.fault == "overcurrent" and not c.ch.out.contactor, (rest_days, c.ch.state)
    assert c.now - t <= 7100


# --- a pause of a week ends when its cause does: X1 for 3 s at least, not for days (facts 4) ------

@pytest.mark.parametrize("paused_days", [1, 7])
def test_a_pause_of_days_ends_within_the_x1_hold(paused_days):
    c = Core().run(500)
    c.car_mv = 9000
    c.run(500)
    assert c.ch.state == "B2"
    c.ch.set_limit("console", 0)          # nothing to offer (a schedule, a remote controller): X1
    c.run(1000)
    c.run(paused_days * 86400000, every=60000)
    c.ch.set_limit("console", None)       # offered again: the PWM within the 3 s X1 hold
    c.run(100)
    assert c.ch.state == "B2" and c.ch.out.amps_x10 == 160, (paused_days, c.ch.state)
