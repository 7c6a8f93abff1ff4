"""The boot path's heap (docs/design.md, "Memory"), against what a fifth audit found: code the
charger ran once at boot and kept in RAM for the rest of its life. Each test a bench scenario that
failed before its fix; the figures themselves are host_tests/upy/test_boot_heap_upy.py's."""
import sys

from tools.sim.drive import Drive


class _Imports:
    """Names every module the import system is asked to find (it finds none itself)."""

    def __init__(self):
        self.names = []

    def find_spec(self, name, path=None, target=None):
        self.names.append(name)


def _boot(config):
    seen = _Imports()
    sys.meta_path.insert(0, seen)
    try:
        d = Drive(config=config)
    finally:
        sys.meta_path.remove(seen)
    d.run(0.5)
    return d, seen.names


def test_the_services_are_started_by_code_that_is_freed_after_boot(tmp_path):
    """An installer's charger with a CT meter, a fallback for its remote limit and MQTT: the code
    that starts them runs once, at boot (2.2 KB of heap that stayed taken after it); it is
    now a module of its own that the App drops when it has run: nothing refers to it after boot."""
    d, imported = _boot({"max_current": 32, "meter": "ct", "fallback_timeout_s": 30,
                         "fallback_current_a": 10, "mqtt_url": "mqtt://broker.local"})
    assert "evse.startup" in imported
    assert "evse.startup" not in sys.modules
    assert not hasattr(sys.modules["evse"], "startup")
    app = d.app
    assert app.meter is not None and app.meter.kind == "ct"
    assert app.fallback is not None and app.mqtt is not None
    assert app.mqtt in app.services and app.mqtt in app.listeners
    assert app.reset_cause is not None
    d.charge(amps=16).run(2.0)
    assert d.state == "C2" and d.coil == 1


def test_a_second_boot_in_the_same_interpreter_starts_its_services_again():
    """The bench (and a soft reset on the board) builds a second App in the same interpreter: the
    dropped module is loaded again and starts that App's own services."""
    first, _ = _boot({"max_current": 32})
    assert first.app.fallback is None
    second, imported = _boot({"max_current": 32, "fallback_timeout_s": 30})
    assert "evse.startup" in imported and "evse.startup" not in sys.modules
    assert second.app.fallback is not None


def test_an_unreadable_upload_and_a_damaged_copy_say_the_same_words(tmp_path):
    """tools/flash.py checks an upload with settings.parse, the board its copies with their reader:
    one sentence for both (it was two str objects in the heap, each spelled out), the charger left
    with nothing offered until max_current is set."""
    from evse.services import settings as S
    cfg, errors = S.parse('{"max_current": 32')
    assert errors == ["settings: not valid JSON (cut short, damaged, or a BOM in front)"]
    assert cfg["max_current"] is None
    cfg, errors = S.parse("[32]")
    assert errors == ["settings: not a JSON object"] and cfg["max_current"] is None
    path = str(tmp_path / "settings.json")
    with open(path, "w") as f:
        f.write('{"max_current": 32')
    cfg, errors, blocked = S.load(path)
    assert "settings: %s: not valid JSON (cut short, damaged, or a BOM in front)" % path in errors
    assert cfg["max_current"] is None and "max_current" in blocked
