"""Tests use the public interfaces of firmware/ and tools/: a test reading or replacing another
module's private name (`obj._x`, `mod._f`, `from m import _f`, getattr/setattr with "_x") fails here,
unless ALLOWED names it with the reason it must stay. A private name is one defined (def, class,
assignment) somewhere in firmware/ or tools/ with a leading underscore; a test's own helpers
(defined in the same test file, or reached through `self`) are its own business."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "host_tests")

# (test file relative to host_tests/, private name): why it stays. Keep it short.
ALLOWED = {
    ("test_meter_integration.py", "_n"):
        "lands the unplug inside a CT burst: the samples taken so far are the only clock of it",
    ("upy/test_cycle_alloc_upy.py", "_last_ms"):
        "shows the CT windows were computed inside the heap-locked cycles, not after them",
    ("upy/test_mqtt_upy.py", "_address"):
        "the broker's address cache: a real lookup would block the test; the cache is what is shown",
    ("upy/test_mqtt_upy.py", "_ip"):
        "the broker's address cache, set as a previous lookup would have left it",
    ("upy/test_mqtt_upy.py", "_failures"):
        "the failed connections after which the name is looked up again",
    ("upy/test_maintenance_upy.py", "_loop"):
        "main() without its endless control loop: the test hands in a loop that returns",
    ("upy/test_quiet_tick_upy.py", "_horizon"):
        "a twin charger that is never quiet: the full step the quiet one is compared with",
    ("test_safety_audit14.py", "_horizon"):
        "a twin charger that is never quiet, over the ticks' wrap and with a plug lock",
    ("test_safety_audit14.py", "_full_step"):
        "counts the full steps, to show most ticks of the wrapping run were quiet",
    ("upy/test_quiet_tick_upy.py", "_full_step"):
        "counts the full steps, to show most ticks of the property test were quiet",
    ("test_adc_noise_bench.py", "_full_step"):
        "counts the full steps on the bench, to show the ADC's noise does not make every tick one",
    ("upy/test_quiet_tick_upy.py", "_q_a"):
        "the size of the core's state fill",
    ("upy/test_quiet_tick_upy.py", "_fill"):
        "every field of the core is in the state fill, checked one by one",
}


def py_files(top, skip=("node_modules", "__pycache__")):
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x not in skip]
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(d, f)


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def defined_names(path, own_only=False):
    """Private names a file defines: functions, classes, assigned attributes and globals (own_only:
    attributes only when assigned on self, as a test file's helpers do; not on someone else's object)."""
    out = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if not own_only or (isinstance(node.value, ast.Name) and node.value.id == "self"):
                out.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
    return set(n for n in out if _private(n))


def product_privates():
    names = set()
    for top in ("firmware", "tools"):
        for p in py_files(os.path.join(ROOT, top)):
            names |= defined_names(p)
    return names


def reaches(path):
    """(line, private name) for each reach in a test file into someone else's private name."""
    own = defined_names(path, own_only=True)
    out = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super":
                continue                    # a test's subclass of a library class: its own
            out.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom):
            out.extend((node.lineno, a.name) for a in node.names if _private(a.name))
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str) and _private(node.args[1].value):
            fn = node.func
            fname = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if fname in ("getattr", "setattr", "hasattr", "delattr"):
                out.append((node.lineno, node.args[1].value))
    return sorted(set((line, name) for line, name in out if name not in own))


def private_reaches():
    product = product_privates()
    found = {}
    for p in py_files(TESTS):
        rel = os.path.relpath(p, TESTS)
        for line, name in reaches(p):
            if name in product and (rel, name) not in ALLOWED:
                found.setdefault((rel, name), "%s:%d %s" % (rel, line, name))
    return sorted(found.values())


def test_tests_use_public_interfaces_only():
    found = private_reaches()
    assert not found, "give these a public way (or test through behaviour):\n" + "\n".join(found)


def test_each_allowance_is_still_needed():
    product = product_privates()
    for (rel, name), why in ALLOWED.items():
        assert why, (rel, name)
        assert name in product and name in [n for _, n in reaches(os.path.join(TESTS, rel))], \
            "%s no longer reaches %s: remove its allowance" % (rel, name)
