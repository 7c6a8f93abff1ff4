"""Two clones in different places build byte-identical .mpy files: the source name embedded in each is
the path on the board (evse/app.py), not the build machine's."""
import os
import shutil
import subprocess
import sys

from tools.toolchain import mpy_build

ROOT = mpy_build.ROOT


def _clone(dst):
    for d in ("firmware", "boards"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(dst, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    os.makedirs(os.path.join(dst, "tools", "toolchain"))
    for f in ("__init__.py", os.path.join("toolchain", "mpy_build.py"), os.path.join("toolchain", "whole.py")):
        shutil.copy(os.path.join(ROOT, "tools", f), os.path.join(dst, "tools", f))


def _build(clone, arch):
    out = os.path.join(clone, "out")
    r = subprocess.run([sys.executable, "-m", "tools.toolchain.mpy_build", "--arch", arch, "--out", out], cwd=clone,
                       env=dict(os.environ, PYTHONPATH=clone), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    files = {}
    for d, _, names in os.walk(out):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                files[os.path.relpath(os.path.join(d, n), out)] = f.read()
    return files


def test_two_clones_in_different_places_build_the_same_bytes(tmp_path):
    a = str(tmp_path / "a")
    b = str(tmp_path / "somewhere" / "a_clone_with_a_much_longer_path")
    _clone(a)
    _clone(b)
    for arch in ("armv6m",):       # the source name is arch-neutral; one arch keeps the test short
        built_a, built_b = _build(a, arch), _build(b, arch)
        assert sorted(built_a) == sorted(built_b) and "evse/app.mpy" in built_a
        assert [n for n in built_a if built_a[n] != built_b[n]] == []
        assert b"evse/app.py" in built_a["evse/app.mpy"]
        assert not [n for n, data in built_a.items() if str(tmp_path).encode() in data]


def test_the_micropython_tests_hold_no_path_of_the_clone():
    """The unix port interns every module's source name and `__file__`: with the clone's absolute path
    in them a test's heap depended on where the clone lived (a CI run in a deeper directory ran out of
    heap in test_history_idtag_upy.py where the session's clone passed)."""
    from tools.toolchain import upy_tests
    assert upy_tests.precompile() == []
    held = []
    for d, _, names in os.walk(upy_tests.MPY_OUT):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                if ROOT.encode() in f.read():
                    held.append(n)
    assert held == []
    r = subprocess.run([upy_tests.micropython(), "-c", "import evse.core.vocab as v; print(v.__file__)"],
                       env=upy_tests.upy_env("."), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    assert r.stdout.strip() == "./build/upy-flash/evse/core/vocab.mpy", r.stdout
