"""The tree is the architecture (../shared/reference/architecture.md): every import in firmware/ and
boards/ points down the layers, read from the source with `ast` (imports inside functions included).

    app  ->  services, ocpp, metering  ->  shell  ->  core

firmware/bench_vehicle/ is a second board's firmware (the car on a physical bench): its own rules
below; it and the charger share only the vocabulary's words.
"""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")

LAYER_OF = {"core": 0, "shell": 1, "metering": 2, "services": 2, "ocpp": 2, "app": 3}
PORT_MODULES = {"machine", "rp2", "esp32", "network"}      # the hardware: the shell's alone
APP = ("app", "startup")    # evse/app.py, and evse/startup.py: the services it starts once at boot
BENCH_VEHICLE = "bench_vehicle/"
# What the bench vehicle takes from the charger's firmware: the state and fault names its scenario
# parser accepts (copied to that board beside it, docs/bench-vehicle.md). Nothing else.
BENCH_VEHICLE_USES = ("evse.core.vocab",)


def modules():
    """(path relative to firmware/, its layer name or None, [(imported module, names)])."""
    for d, _, files in os.walk(FIRMWARE):
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, FIRMWARE).replace(os.sep, "/")
            parts = rel.split("/")
            layer = parts[1] if len(parts) > 2 and parts[0] == "evse" else (
                "app" if len(parts) == 2 and parts[0] == "evse" and parts[1][:-3] in APP else None)
            yield rel, layer, imports(path, rel)


def imports(path, rel):
    """Every import as the absolute module it reaches: `from ..core import vocab` in
    evse/services/ha.py is `from evse.core import vocab` (the firmware imports within its package
    relatively: each dotted name is a string in every .mpy that spells it)."""
    out = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            out.extend((a.name, ()) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append((absolute(rel, node.level, node.module), tuple(a.name for a in node.names)))
    return out


def absolute(rel, level, module):
    """The module an import in the file `rel` (relative to firmware/) names, at `level` dots."""
    if level == 0:
        return module
    package = rel.split("/")[:-1]
    assert level <= len(package), "%s: a relative import above the firmware's packages" % rel
    base = package[:len(package) - level + 1]
    return ".".join(base + ([module] if module else []))


def target_layer(mod, names):
    """The layer an `evse...` import reaches (for `from evse.shell import hal`: shell)."""
    parts = mod.split(".")
    if parts[0] != "evse":
        return None
    if len(parts) > 1:
        return "app" if parts[1] in APP else parts[1]
    return "app" if any(n in APP for n in names) else None


def test_the_layer_packages_exist():
    for layer in ("core", "shell", "metering", "services", "ocpp"):
        assert os.path.isdir(os.path.join(FIRMWARE, "evse", layer)), layer


def test_the_core_imports_nothing_outside_the_core():
    bad = [(rel, mod) for rel, layer, imps in modules() if layer == "core"
           for mod, names in imps if mod not in ("micropython",) and target_layer(mod, names) != "core"]
    assert bad == []


def charger_modules():
    return [m for m in modules() if not m[0].startswith(BENCH_VEHICLE)]


def bench_vehicle_modules():
    return [m for m in modules() if m[0].startswith(BENCH_VEHICLE)]


def test_only_the_shell_touches_the_hardware():
    """The unit's own boot.py and main.py, outside the evse package, are the exceptions: boot.py runs
    before it (the coils low at once), main.py resets the board when a firmware on trial fails to
    load (the package may be what failed: it cannot be asked)."""
    bad = [(rel, mod) for rel, layer, imps in charger_modules() if layer != "shell"
           and rel not in ("boot.py", "main.py") for mod, _ in imps if mod.split(".")[0] in PORT_MODULES]
    assert bad == []


def test_every_import_points_down_the_layers():
    bad = []
    for rel, layer, imps in modules():
        if layer is None:
            continue
        for mod, names in imps:
            to = target_layer(mod, names)
            if to is None or to == layer:
                continue
            if LAYER_OF[to] >= LAYER_OF[layer]:
                bad.append((rel, mod))
    assert bad == []


def test_a_relative_import_is_read_as_the_module_it_reaches():
    assert absolute("evse/services/ha.py", 2, "core") == "evse.core"
    assert absolute("evse/services/ha.py", 2, "core.version") == "evse.core.version"
    assert absolute("evse/ocpp/auth.py", 1, "wallclock") == "evse.ocpp.wallclock"
    assert absolute("evse/app.py", 1, "shell.hal") == "evse.shell.hal"
    assert absolute("evse/metering/meter.py", 2, None) == "evse"
    assert target_layer(absolute("evse/core/charger.py", 2, "shell"), ("hal",)) == "shell"


def test_every_firmware_import_names_a_module_that_is_there():
    """A relative import with one dot too many or too few fails here, not on a board."""
    missing = []
    for rel, _, imps in modules():
        for mod, names in imps:
            if mod.split(".")[0] != "evse":
                continue
            base = os.path.join(FIRMWARE, *mod.split("."))
            if os.path.exists(base + ".py"):
                continue
            if not os.path.isdir(base):
                missing.append((rel, mod))
            missing.extend((rel, mod, n) for n in names
                           if not os.path.exists(os.path.join(base, n + ".py"))
                           and not os.path.isdir(os.path.join(base, n)))
    assert missing == []


def test_no_one_reaches_into_the_shells_privates():
    bad = [(rel, mod, n) for rel, layer, imps in modules() if layer != "shell"
           for mod, names in imps if target_layer(mod, names) == "shell"
           for n in names if n.startswith("_")]
    assert bad == []


def test_firmware_never_imports_the_host_side():
    bad = [(rel, mod) for rel, _, imps in modules() for mod, _ in imps
           if mod.split(".")[0] in ("tools", "host_tests", "pytest")]
    assert bad == []


def test_the_bench_vehicle_is_its_own_firmware():
    """It takes only the vocabulary from the charger, and the charger nothing from it."""
    assert bench_vehicle_modules(), "firmware/bench_vehicle/ is gone?"
    bad = [(rel, mod) for rel, _, imps in bench_vehicle_modules() for mod, names in imps
           if mod.split(".")[0] == "evse" and mod not in BENCH_VEHICLE_USES
           and not all(mod + "." + n in BENCH_VEHICLE_USES for n in names or ("",))]
    bad += [(rel, mod) for rel, _, imps in charger_modules() for mod, _ in imps
            if mod.split(".")[0] == "bench_vehicle"]
    assert bad == []


def test_only_the_bench_vehicles_entry_point_touches_its_hardware():
    """Its parts take pins, ADC and clock injected, so the host tests run them on mock pins."""
    bad = [(rel, mod) for rel, _, imps in bench_vehicle_modules() if rel != BENCH_VEHICLE + "main.py"
           for mod, _ in imps if mod.split(".")[0] in PORT_MODULES]
    assert bad == []


def test_boards_are_data():
    bad = []
    for f in os.listdir(os.path.join(ROOT, "boards")):
        if f.endswith(".py"):
            bad.extend((f, m) for m, _ in imports(os.path.join(ROOT, "boards", f), "boards/" + f))
    assert bad == []
