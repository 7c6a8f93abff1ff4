"""Safety path, second independent audit (contactor, pilot, protections), on the virtual bench.

Each scenario failed on the code before its fix (the commit that added it says what it read)."""
import pytest

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


def test_a_sensor_that_breaks_while_derated_keeps_the_derating():
    d = charging()
    d.set(temp_c=66.0)                     # half current
    d.run(1.0)
    assert d.duty == pytest.approx(26.65, abs=0.02)
    temperature_input_reads(d, 0)
    d.run(30.0)
    assert d.duty == pytest.approx(26.65, abs=0.02), (d.duty, d.app.m.temp_c)


def test_a_cold_but_real_reading_still_restores():
    d = charging()
    d.set(temp_c=66.0)
    d.run(1.0)
    d.set(temp_c=-30.0)                    # a winter night, outdoors: a real reading
    d.run(7.0)
    assert d.duty == pytest.approx(53.32, abs=0.02)
