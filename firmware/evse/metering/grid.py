"""The grid meter: the house's total active power from a Modbus meter at the grid connection, for
the solar-surplus / grid-limit planner (grid_source "modbus", docs/planner.md).

It is a second unit (grid_meter_addr) on the charging meter's RS-485 bus, read through the same
ModbusMaster when the charging meter is a Modbus one (the two take turns: a read cycle starts only
while the bus is free), else through the board's Modbus UART alone. Of the model's register map
(core/modbus_maps.py) only the reads that carry the total active power `p` are made: watts imported,
negative exported, as the meter signs it (Eastron: import positive, export negative).

Each complete, plausible reading is handed to `feed(watts, now_ms)` (the app: App.command("grid",
...)). A timeout, a CRC error, an exception reply, NaN, infinity or a power beyond
limits.METER_MAX_W feeds nothing: the planner's own silence rule (grid_timeout_s) then takes the
safe side, the lower current."""
from ..core.modbus_maps import MAPS
from .meter import ModbusSource
from .modbus import ModbusMaster


def power_reads(model):
    """The map of `model` cut to its reads that carry the total active power `p`."""
    if model not in MAPS:
        raise ValueError("grid_meter must be one of %s, not %r" % ("|".join(sorted(MAPS)), model))
    m = MAPS[model]
    reads = tuple(r for r in m["reads"] if [f for f in r[3] if f[0] == "p"])
    if not reads:
        raise ValueError("grid_meter %s has no total active power register" % model)
    return {"name": m["name"], "phases": m["phases"], "reads": reads}


class GridMeter:
    def __init__(self, master, cfg, feed):
        self.unit = cfg["grid_meter_addr"]
        self.source = ModbusSource(master, power_reads(cfg["grid_meter"]), self.unit,
                                   interval_ms=cfg["meter_interval_ms"])
        self.feed = feed
        self.watts = None           # the last plausible reading fed to the planner
        self.readings = 0

    def poll(self, now_ms):
        src = self.source
        if src.poll(now_ms):
            src.take_mwh()          # the house's energy is not the car's: nothing accumulates
            if src.ok:
                self.watts = src.power_w
                self.readings += 1
                self.feed(self.watts, now_ms)

    def status(self):
        s = self.source
        return {"unit": self.unit, "ok": s.ok, "error": s.error, "watts": self.watts, "readings": self.readings}


def make_master(uart, cfg):
    """A ModbusMaster of its own on the board's Modbus UART (no Modbus charging meter)."""
    return ModbusMaster(uart, timeout_ms=cfg["meter_timeout_ms"], retries=cfg["meter_retries"])
