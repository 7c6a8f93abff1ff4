"""One vocabulary: no state or fault of the charger is spelled as a string outside evse/core/vocab.py.

The names are the wire format of the console, the bench's JSONL and the fault journal; spelled in
one place, a typo cannot make a comparison silently false."""
import ast
import os

from evse.core import vocab as V

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")

# Packages not converted yet (none since issue 10: ocpp/ speaks the vocabulary too).
NOT_YET_CONVERTED = []

# The bench vehicle is the car's firmware (a second board): its words are the scenario language's
# (docs/bench.md: `expect fault diode`, `inject weld`), which names the charger's states as the console does.
OTHER_FIRMWARE = ["bench_vehicle/"]

# Module-level names whose strings are another vocabulary that happens to share a spelling:
# settings keys ("ventilation", "rcd_selftest"), console commands ("settings"), MQTT topics ("fault").
OTHER_VOCABULARIES = {"evse/services/console.py": ("LIVE_KEYS", "COMMANDS"),
                      "evse/services/ha.py": ("ENTITIES",), "evse/services/web.py": ("SETTINGS_CMD",)}

STATES = [getattr(V, n) for n in dir(V) if n.startswith("ST_")]
FAULTS = [getattr(V, n) for n in dir(V) if n.startswith("FAULT_")]
NAMES = set(STATES) | set(FAULTS)


def _firmware_files():
    for d, _, files in os.walk(FIRMWARE):
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), FIRMWARE).replace(os.sep, "/")
                if rel != "evse/core/vocab.py" and not any(rel.startswith(p) for p in NOT_YET_CONVERTED + OTHER_FIRMWARE):
                    yield rel


def _field_names(tree):
    """Dict keys, subscripts and getattr's attribute: field names (cfg["ventilation"], {"fault": ...},
    getattr(charger, "fault", None)), not values."""
    skip = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Dict):
            skip.update(id(k) for k in n.keys if k is not None)
        elif isinstance(n, ast.Subscript):
            skip.add(id(n.slice))
        elif isinstance(n, ast.Call) and getattr(n.func, "id", None) == "getattr" and len(n.args) > 1:
            skip.add(id(n.args[1]))
    return skip


def _other_vocabularies(tree, rel):
    skip = set()
    names = OTHER_VOCABULARIES.get(rel, ())
    for n in tree.body:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in n.targets):
            skip.update(id(c) for c in ast.walk(n.value))
    return skip


def spelled_names(rel):
    with open(os.path.join(FIRMWARE, rel)) as f:
        tree = ast.parse(f.read(), rel)
    skip = _field_names(tree) | _other_vocabularies(tree, rel)
    return ["%s:%d: %r" % (rel, n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in NAMES
            and id(n) not in skip]


def test_no_state_or_fault_is_spelled_outside_the_vocabulary():
    found = [hit for rel in _firmware_files() for hit in spelled_names(rel)]
    assert not found, "use evse.core.vocab's constants:\n" + "\n".join(found)


def test_the_scan_sees_the_firmware():
    files = list(_firmware_files())
    assert "evse/core/charger.py" in files and "evse/services/console.py" in files and "main.py" in files


def test_names_are_unique_within_each_kind():
    assert len(set(STATES)) == len(STATES) == 12
    assert len(set(FAULTS)) == len(FAULTS) == 17
    for cls in (V.LATCHED, V.RETRY, V.HELD):
        assert set(cls) <= set(FAULTS)


def test_every_fault_the_core_can_raise_is_in_the_vocabulary():
    """Every name passed to the core's _set_fault or returned by the RCD policy is a vocabulary
    constant (FAULT_*), so a new fault cannot be added without a name beside the others."""
    for rel in ("evse/core/charger.py", "evse/core/protections.py"):
        with open(os.path.join(FIRMWARE, rel)) as f:
            tree = ast.parse(f.read(), rel)
        for n in ast.walk(tree):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "V":
                assert hasattr(V, n.attr), "%s: V.%s is not in evse/core/vocab.py" % (rel, n.attr)
