"""A test that skips here (Home Assistant's, `make test-ha`; a tool not installed) still has to name
things that exist: a helper renamed or moved elsewhere breaks it unseen until someone runs it. Stop
42 moved `SPEED` and `need_mosquitto` out of the modules test_ha_audit7.py took them from, and its
three tests failed at once under `make test-ha` with an AttributeError. Importing a module catches a
missing `from x import y` (pytest collects every file); this reads what the tests reach through a
module at run time: `module.name` and `monkeypatch.setattr(module, "name", ...)`."""
import ast
import glob
import importlib
import os
import types

HERE = os.path.dirname(os.path.abspath(__file__))


def _modules(tree):
    """{name in the file: module} of the file's top-level imports that bind a module."""
    mods = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname or "." not in a.name:
                    mods[a.asname or a.name] = importlib.import_module(a.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            base = importlib.import_module(node.module)
            for a in node.names:
                obj = getattr(base, a.name, None)
                if isinstance(obj, types.ModuleType):
                    mods[a.asname or a.name] = obj
    return mods


def _reached(tree, mods):
    """(line, module's name in the file, attribute) of each attribute a test reads or patches."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name) and node.value.id in mods):
            yield node.lineno, node.value.id, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "setattr" and len(node.args) >= 2
              and isinstance(node.args[0], ast.Name) and node.args[0].id in mods
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            yield node.lineno, node.args[0].id, node.args[1].value


def test_every_name_a_test_reaches_through_a_module_exists():
    missing = []
    for path in sorted(glob.glob(os.path.join(HERE, "*.py"))):
        with open(path) as f:
            tree = ast.parse(f.read())
        mods = _modules(tree)
        for line, name, attr in _reached(tree, mods):
            if not hasattr(mods[name], attr):
                missing.append("%s:%d %s.%s" % (os.path.basename(path), line, name, attr))
    assert missing == []
