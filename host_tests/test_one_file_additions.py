"""Adding a board or a Modbus meter model (issue 10, docs/design.md "Adding a board or a meter").

A board is one file: a new boards/*.py, outside the tree even, is checked by tools/boardcheck.py and
runs the firmware on the bench with nothing else changed. A Modbus meter model is one entry in
core/modbus_maps.py's MAPS that the settings (`meter`, `grid_meter`, the console's schema), the meter
service, the grid meter and the shell's UART follow by themselves. The maps are in the core because
the settings, a service, may not import metering (the layers)."""
import importlib.util

from tools import boardcheck
from tools.sim.drive import Drive
from tools.sim.rig import load_board
from tools.sim.mock_machine.modbus_meter import ModbusMeter
from evse.core import modbus_maps
from evse.metering.meter import METER_KINDS, make_meter
from evse.services import settings

SIM = boardcheck.os.path.join(boardcheck.BOARDS_DIR, "sim.py")


def _dummy_board(tmp_path):
    path = tmp_path / "my_board.py"
    text = open(SIM).read().replace('NAME = "sim"', 'NAME = "my_board"')
    path.write_text(text.replace("MAX_CURRENT_A = 80", "MAX_CURRENT_A = 16"))
    spec = importlib.util.spec_from_file_location("my_board", str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return path, mod


def test_a_new_board_is_one_file_the_check_and_the_firmware_take_as_it_is(tmp_path):
    path, board = _dummy_board(tmp_path)
    assert boardcheck.check(str(path)) == []
    d = Drive(config={"max_current": 32}, board=board)
    d.run(0.5).charge()
    assert d.app.charger.limit_x10() == 160          # the board's own rating caps the installer's 32 A


def test_the_settings_name_every_meter_kind_and_model_and_nothing_else():
    assert sorted(settings.choices("meter")) == sorted(METER_KINDS + tuple(modbus_maps.MAPS))
    assert sorted(settings.choices("grid_meter")) == sorted(modbus_maps.MAPS)
    for key in ("meter", "grid_meter"):         # a default is taken without loading the maps
        assert settings.SCHEMA[key][1] in settings.SCHEMA[key][2]


def test_a_new_modbus_model_is_one_entry_in_the_maps(tmp_path, monkeypatch):
    """The settings take it, the meter service reads it and the shell opens the meter's UART for
    it, with no other edit."""
    from evse.shell.meter_io import MeterIO
    from test_meter_plausibility import Hw
    model = {"name": "dummy3", "phases": 1, "reads": (
        (modbus_maps.FC_READ_INPUT, 0x0100, 2, (("i1", 0, modbus_maps.F, 1.0, False),)),)}
    monkeypatch.setitem(modbus_maps.MAPS, "dummy3", model)
    cfg, errors = settings.validate({"max_current": 16, "meter": "dummy3", "grid_meter": "dummy3"})
    assert errors == [] and cfg["meter"] == cfg["grid_meter"] == "dummy3"
    assert "dummy3" in settings.choices("meter")
    _, errors = settings.validate({"max_current": 16, "meter": "dummy4"})
    assert errors and "dummy3" in str(errors)
    sim = ModbusMeter(unit=1)
    sim.set_float(0x0100, 12.5)
    m = make_meter({"meter": "dummy3", "meter_interval_ms": 200}, Hw(sim), data_dir=str(tmp_path))
    for t in range(0, 300, 10):
        m.poll(t)
    assert m.ok and m.current_ma == 12500
    pico = load_board("rpi_pico")                              # a board with a Modbus UART
    assert MeterIO(pico, dict(settings.defaults(), meter="dummy3")).uart is not None
