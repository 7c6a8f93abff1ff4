# The grid meter on both interpreters: an SDM630 at the grid connection, unit 2 on the charger's
# RS-485 bus beside its SDM120 (unit 1), feeds the solar planner its total power (export negative);
# a NaN or a silent meter feeds nothing and the planner's timeout pauses charging. Prints the heap
# the grid meter costs (python -m tools.toolchain.upy_tests host_tests/upy/test_grid_meter_upy.py).
import gc

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from tools.sim.mock_machine.modbus_meter import ModbusMeter, attach_bus
import boards.sim as sim_board

import upytest

SDM630_P = 0x0034
SOLAR = {"max_current": 32, "meter": "sdm120", "solar_mode": "solar", "grid_source": "modbus",
         "grid_meter": "sdm630", "grid_meter_addr": 2, "solar_smoothing_s": 0, "min_pause_s": 0,
         "grid_timeout_s": 5}
_alloc = getattr(gc, "mem_alloc", lambda: 0)    # CPython (pytest) has no heap figure: 0
BUDGET = 8000        # bytes on the 64-bit unix port, beside a Modbus charging meter (about 3 KB measured)


class Board:
    MODBUS_UART = 1


for _k in dir(sim_board):
    if _k.isupper() and _k != "MODBUS_UART":
        setattr(Board, _k, getattr(sim_board, _k))


def _meters(grid_w):
    car = ModbusMeter(unit=1)
    for reg, val in ((0, 230.0), (6, 0.0), (0x0C, 0.0), (0x46, 50.0), (0x48, 100.0)):
        car.set_float(reg, val)
    grid = ModbusMeter(unit=2)
    grid.set_float(SDM630_P, grid_w)
    return car, grid


def _bench(cfg, *meters):
    rig = Rig(board=Board, config=cfg)
    if 1 in mm.uarts:                                      # opened by a Modbus charging meter
        attach_bus(mm.uarts[1], *meters)
    rig.run(1.0)
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 220
    w.recompute()
    return rig


def _amps(rig):
    return rig.app.charger.out.amps_x10 / 10


def test_the_grid_meter_sets_the_solar_current_and_a_nan_feeds_nothing():
    car, grid = _meters(-2300.0)
    rig = _bench(SOLAR, car, grid)
    rig.run(3)
    assert _amps(rig) == 10.0, _amps(rig)
    assert rig.app.meter.ok and car.requests >= 3
    grid.set_raw(SDM630_P, 0xFFFF, 0xFFFF)                # NaN
    rig.run(4)
    assert _amps(rig) == 10.0                              # the last good reading, within the timeout
    rig.run(3)
    assert _amps(rig) == 0 and rig.app.status(0)["planner"]["surplus"]["why"] == "no grid reading: no surplus"
    grid.set_float(SDM630_P, -4600.0)
    rig.run(2)
    assert _amps(rig) == 20.0
    attach_bus(mm.uarts[1], car)                           # the grid meter off the bus
    rig.run(7)
    assert _amps(rig) == 0 and rig.app.meter.ok


def _boot_heap(cfg):
    """Heap the charger holds 0.5 s after booting with these settings (the bus attached)."""
    gc.collect()
    before = _alloc()
    rig = _bench(cfg, *_meters(-2300.0))
    rig.run(0.5)
    gc.collect()
    return _alloc() - before


def test_1_heap_of_the_grid_meter():
    """First in the file: the same charger booted with the grid power from the console and from
    the grid meter (a warm-up boot first, so both find the same code loaded but grid.py)."""
    console = dict(SOLAR, grid_source="console")
    _boot_heap(console)
    without = _boot_heap(console)
    cost = _boot_heap(SOLAR) - without
    print("grid meter heap: %d bytes beside a Modbus charging meter (grid.py's code and its objects)" % cost)
    assert cost < BUDGET, cost


if __name__ == "__main__":
    upytest.run(globals())
