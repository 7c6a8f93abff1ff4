"""The grid meter on the bench: an Eastron SDM630 at the house's grid connection, unit 2 on the same
RS-485 bus as the charger's own SDM120 (unit 1), feeds the solar-surplus planner its total active
power (export negative). A NaN, an absurd power or a meter that stopped answering feeds nothing,
and the planner's silence rule (grid_timeout_s) takes the lower current. Against a real Modbus peer
(pymodbus) too: host_tests/test_modbus_pymodbus.py's server with two units on one socket."""
import pytest

from evse.core import vocab as V
from evse.core import modbus_maps
from evse.services import settings as S
from tools.sim import mock_machine as mm
from tools.sim.mock_machine.modbus_meter import ModbusMeter, attach_bus
from tools.sim.rig import Rig
from host_tests.test_meter_plausibility import sim_with_modbus

SDM630_P = 0x0034             # total system power, W (float32), import positive
NAN = (0xFFFF, 0xFFFF)
SOLAR = {"max_current": 32, "solar_mode": "solar", "grid_source": "modbus", "grid_meter": "sdm630",
         "grid_meter_addr": 2, "solar_smoothing_s": 0, "min_pause_s": 0, "grid_timeout_s": 5}


def car_meter(amps=0.0):
    m = ModbusMeter(unit=1)                              # the SDM120 in the charger
    for reg, val in ((0, 230.0), (6, amps), (0x0C, 230.0 * amps), (0x46, 50.0), (0x48, 100.0)):
        m.set_float(reg, val)
    return m


def grid_meter(watts):
    m = ModbusMeter(unit=2)                              # the SDM630 at the grid connection
    m.set_float(SDM630_P, watts)
    return m


def bench(tmp_path, config, *meters):
    """The firmware on the virtual board with the meters on its Modbus UART, a car plugged in (B)."""
    rig = Rig(board=sim_with_modbus(), config=config, flash_dir=str(tmp_path))
    attach_bus(mm.uarts[1], *meters)
    rig.run(1.0)
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 220
    w.recompute()
    return rig


def offered(rig):
    return rig.app.status(0)["amps"]


def test_the_grid_meter_on_the_charging_meters_bus_sets_the_solar_current(tmp_path):
    car, grid = car_meter(), grid_meter(-2300.0)          # the house exports 2.3 kW: 10 A at 230 V
    rig = bench(tmp_path, dict(SOLAR, meter="sdm120"), car, grid)
    rig.run(3)
    st = rig.app.status(0)
    assert st["limit_by"] == V.SRC_SURPLUS and offered(rig) == 10.0
    assert abs(rig.app.hw.duty_x100 / 100 - 10 / 0.6) < 0.1
    assert st["planner"]["surplus"]["grid_w"] == -2300.0
    assert st["planner"]["grid_meter"]["ok"] and st["planner"]["grid_meter"]["unit"] == 2
    assert st["energy"]["ok"] and car.requests >= 3       # the charger's meter is read all along
    grid.set_float(SDM630_P, -4600.0)                    # more sun: 20 A
    rig.run(7)                                           # the core raises at most every 5 s
    assert offered(rig) == 20.0


def test_a_nan_or_absurd_grid_power_feeds_nothing_and_the_planner_pauses_after_its_timeout(tmp_path):
    car, grid = car_meter(), grid_meter(-2300.0)
    rig = bench(tmp_path, dict(SOLAR, meter="sdm120"), car, grid)
    rig.run(3)
    assert offered(rig) == 10.0
    for bad in (NAN, (0x4E6E, 0x6B28)):                   # NaN, then 1e9 W (beyond METER_MAX_W)
        grid.set_raw(SDM630_P, *bad)
        fed = rig.app.status(0)["planner"]["grid_meter"]["readings"]
        rig.run(4)                                       # within grid_timeout_s: the last good reading holds
        gm = rig.app.status(0)["planner"]["grid_meter"]
        assert gm["readings"] == fed and not gm["ok"] and "implausible p" in gm["error"]
        assert offered(rig) == 10.0
        rig.run(3)                                       # past it: no reading, no surplus
        assert offered(rig) == 0 and rig.app.charger.state == V.ST_PAUSED
        assert rig.app.status(0)["planner"]["surplus"]["why"] == "no grid reading: no surplus"
        grid.set_float(SDM630_P, -2300.0)
        rig.run(3)
        assert offered(rig) == 10.0
    assert rig.app.status(0)["energy"]["ok"]              # the car's meter never suffered


def test_a_grid_meter_that_stops_answering_feeds_nothing(tmp_path):
    car, grid = car_meter(), grid_meter(-2300.0)
    rig = bench(tmp_path, dict(SOLAR, meter="sdm120"), car, grid)
    rig.run(3)
    attach_bus(mm.uarts[1], car)                         # the grid meter's cable is cut
    rig.run(7)
    gm = rig.app.status(0)["planner"]["grid_meter"]
    assert offered(rig) == 0 and not gm["ok"] and "unit 2" in gm["error"]
    assert rig.app.status(0)["energy"]["ok"]


def test_in_grid_mode_a_silent_grid_meter_leaves_the_cars_minimum(tmp_path):
    """Grid limit: 3 kW import allowed, the house imports 2.3 kW: 3 A more than the car draws is
    below its 6 A minimum, so it pauses; silent, the planner gives the car's minimum, never more."""
    car, grid = car_meter(), grid_meter(-6900.0)
    rig = bench(tmp_path, dict(SOLAR, meter="sdm120", solar_mode="grid", grid_limit_w=0), car, grid)
    rig.run(3)
    assert offered(rig) == 30.0
    attach_bus(mm.uarts[1], car)
    rig.run(7)
    assert offered(rig) == 6.0


def test_the_grid_meter_alone_on_the_bus(tmp_path):
    """No Modbus charging meter: the app opens the board's Modbus UART for the grid meter."""
    grid = grid_meter(-2300.0)
    rig = bench(tmp_path, dict(SOLAR), grid)
    rig.run(3)
    assert offered(rig) == 10.0 and "energy" not in rig.app.status(0)


def test_the_charging_meters_own_unit_is_refused_and_nothing_is_fed(tmp_path):
    car = car_meter(16.0)                                # its power is the car's, not the house's
    rig = bench(tmp_path, dict(SOLAR, meter="sdm120", grid_meter_addr=1), car)
    rig.run(3)
    assert offered(rig) == 0 and rig.app.grid_meter is None
    assert any(w == "grid_meter" and "charging meter's unit" in m for w, m in rig.app.errors)


def test_only_the_grid_meter_reports_the_grid_power(tmp_path):
    rig = bench(tmp_path, dict(SOLAR, meter="sdm120"), car_meter(), grid_meter(-2300.0))
    for source in (V.SRC_CONSOLE, "mqtt", "rest"):
        with pytest.raises(ValueError, match="taken from modbus"):
            rig.app.command("grid", -23000, mm.clock.ticks_ms(), source)


def test_the_settings_name_the_grid_meter_models_of_the_maps():
    assert sorted(S.choices("grid_meter")) == sorted(modbus_maps.MAPS)
    cfg, errors = S.validate({"max_current": 16, "grid_source": "modbus", "grid_meter": "sdm120",
                              "grid_meter_addr": 3})
    assert errors == [] and (cfg["grid_source"], cfg["grid_meter"], cfg["grid_meter_addr"]) == ("modbus", "sdm120", 3)
    cfg, errors = S.validate({"max_current": 16, "grid_meter": "sdm999", "grid_meter_addr": 0})
    assert len(errors) == 2 and cfg["grid_meter"] == "sdm630" and cfg["grid_meter_addr"] == 2


def test_two_units_on_one_bus_against_a_real_modbus_peer():
    """pymodbus answers as unit 1 (an SDM120, the car's) and unit 2 (an SDM630 at the grid, exporting
    2.3 kW) on one RTU link: both are read through one master, turn about; a NaN from the grid meter
    then feeds nothing while the car's meter goes on."""
    pytest.importorskip("pymodbus")
    import time
    from pymodbus.simulator import DataType, SimData, SimDevice
    from test_modbus_pymodbus import SDM120_VALUES, SDM630_VALUES, Peer, SocketUart, float_regs, now_ms
    from evse.metering.grid import GridMeter
    from evse.metering.meter import ModbusSource
    from evse.core.modbus_maps import SDM120
    from evse.metering.modbus import ModbusMaster

    peer = Peer(float_regs(SDM120_VALUES))
    peer.stop()
    bits = [SimData(0, values=False, datatype=DataType.BITS)]
    grid_values = dict(SDM630_VALUES)
    grid_values[SDM630_P] = -2300.0
    grid_regs = float_regs(grid_values)
    peer.device = [peer.device, SimDevice(id=2, simdata=(bits, bits, [SimData(0, values=[0] * 16, datatype=DataType.REGISTERS)],
                                                         [SimData(0, values=grid_regs, datatype=DataType.REGISTERS)]),
                                          action=peer._action)]
    peer.start()
    uart = SocketUart(peer.port)
    try:
        master = ModbusMaster(uart, timeout_ms=500)
        car = ModbusSource(master, SDM120, 1, interval_ms=200)
        fed = []
        grid = GridMeter(master, dict(S.defaults(), meter_interval_ms=200), lambda w, t: fed.append(w))

        def run(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                car.poll(now_ms())
                grid.poll(now_ms())
                time.sleep(0.001)
        run(2.0)
        assert car.ok and car.amps[0] == pytest.approx(15.25) and car.cycles >= 3
        assert len(fed) >= 3 and set(fed) == {-2300.0}
        peer.set_float(SDM630_P, float("nan"))           # the SDM120 reads nothing at 0x0034
        run(0.5)
        n, cycles = len(fed), car.cycles
        run(1.5)
        assert len(fed) == n and not grid.source.ok and "implausible p" in grid.source.error
        assert car.ok and car.cycles >= cycles + 3
    finally:
        uart.close()
        peer.close()
