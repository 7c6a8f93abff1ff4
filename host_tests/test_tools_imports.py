"""Importing tools changes nothing: every module under tools/ is imported in a fresh interpreter and
none of them may install the mock `machine`, patch the clock into `time` or touch sys.path. The mock
goes in only on an explicit `tools.sim.mock_machine.install()` (Rig() and conftest.py call it)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = ("node_modules", "__pycache__", "hostlib")   # hostlib: the `micropython` stand-in, on PYTHONPATH
NOT_MODULES = ("tools.toolchain.vulture_allow",)              # vulture's allow-list: read, never imported

CHECK = r'''
import importlib, sys, time
path = list(sys.path)
bad = []
for name in sys.argv[1:]:
    if name == "install()":
        sys.modules["tools.sim.mock_machine"].install()
    else:
        importlib.import_module(name)
    if "machine" in sys.modules:
        bad.append(name + ": installed machine")
    if hasattr(time, "ticks_ms"):
        bad.append(name + ": patched time")
    if sys.path != path:
        bad.append(name + ": changed sys.path")
    if bad:
        break
print("\n".join(bad) or "clean")
'''


def tools_modules():
    out = []
    for d, dirs, files in os.walk(os.path.join(ROOT, "tools")):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), ROOT)[:-3].replace(os.sep, ".")
                out.append(rel[:-len(".__init__")] if rel.endswith(".__init__") else rel)
    return [m for m in out if m not in NOT_MODULES]


def imported_in_a_fresh_interpreter(names):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")])
    r = subprocess.run([sys.executable, "-c", CHECK] + names, cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert r.returncode == 0, r.stdout
    return r.stdout.strip().splitlines()


def test_every_tools_module_is_found():
    names = tools_modules()
    for name in ("tools.sim.rig", "tools.sim.mock_machine", "tools.sim.bench.runner", "tools.bench.__main__",
                 "tools.toolchain.upy_tests", "tools.vboard.vboot"):
        assert name in names


def test_importing_any_tools_module_installs_nothing():
    assert imported_in_a_fresh_interpreter(tools_modules()) == ["clean"]


def test_the_check_sees_an_install():
    """install() is the one way in, and the check above would see it."""
    assert imported_in_a_fresh_interpreter(["tools.sim.mock_machine", "install()"]) == [
        "install(): installed machine", "install(): patched time"]
