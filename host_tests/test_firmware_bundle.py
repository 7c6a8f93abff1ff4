"""Firmware bundles (evse/shell/bundle.py, the format of tools/bundle.py): staging with every file's
sha256 checked, activation on trial, the boot into the new bundle and the rollback of one that
never confirmed itself. The boots are real interpreter starts, as boot.py does them, under CPython
and under the MicroPython unix port."""
import functools
import json
import os
import subprocess
import sys

import pytest

from evse.shell import bundle
from tools import bundle as make_bundle
from tools.toolchain.upy_tests import micropython

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")

# What a boot does (boot.py: bundle.boot() before any other module of the firmware), then the
# firmware's version as the modules now loaded say it; "confirm" ends the trial as a healthy
# firmware does once it reached its central system.
BOOT = """import sys
sys.path.insert(0, %r)
from evse.shell import bundle
bundle.boot(%r)
from evse.core import version
print("VERSION", version.VERSION)
if %r:
    from evse.shell import bundle
    bundle.confirm(%r)
"""


def firmware_files(version_py):
    """The whole evse package, its version.py replaced: as source, which both interpreters here
    boot, but without comments and docstrings. A board is sent the package as .mpy (docs/ocpp.md:
    about a third of the source, which is over the 768 KB an update may hold); this is the size
    nearest to that the tests can install and run."""
    files = [(p, b) for p, b in make_bundle.from_dir(FIRMWARE) if p.startswith("evse/")]
    return [(p, version_py if p == "evse/core/version.py" else _bare(b) if p.endswith(".py") else b)
            for p, b in files]


def _bare(source):
    """Python source without its comments and docstrings (ast: the same code)."""
    import ast
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return (ast.unparse(tree) + "\n").encode()


@functools.lru_cache(maxsize=None)
def version_bundle(v):
    return make_bundle.make(firmware_files(('VERSION = "%s"\n' % v).encode()), v)


def write(tmp_path, data, name="download.bin"):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def boot(interp, root, confirm=False):
    code = BOOT % (FIRMWARE, root, confirm, root)
    if interp == "cpython":
        cmd, env = [sys.executable, "-c", code], dict(os.environ, PYTHONPATH="")
    else:
        cmd, env = [micropython(), "-c", code], dict(os.environ, MICROPYPATH=".frozen")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    return r.stdout.split("VERSION ", 1)[1].strip()


def stage(root, path):
    """bundle.stage exhausted at once -> (slot, manifest)."""
    out = {}
    for _ in bundle.stage(root, path, out):
        pass
    return out["slot"], out["manifest"]


def slot_version(root, slot):
    with open(os.path.join(root, slot, "manifest.json")) as f:
        return json.load(f)["version"]


def base_version():
    from evse.core.version import VERSION
    return VERSION


def test_stage_checks_every_file_and_never_activates_a_bad_one(tmp_path):
    root = str(tmp_path / "fw")
    slot, m = stage(root, write(tmp_path, version_bundle("9.0.0")))
    assert slot == "a" and m["version"] == "9.0.0" and slot_version(root, "a") == "9.0.0"
    good = version_bundle("9.0.1")
    bad_hash = good[:-3] + b"XX\n"
    truncated = good[:-5]
    traversal = make_bundle.make([("../boot.py", b"x")], "1")
    partial = make_bundle.make([("evse/core/version.py", b"VERSION = '1'\n")], "1")
    for data, why in ((bad_hash, "sha256 mismatch"), (truncated, "truncated"), (traversal, "bad entry"),
                      (b"not json\n", "manifest"),
                      (partial, "not a whole firmware"), (good + b"more", "after the last file")):
        with pytest.raises(ValueError, match=why):
            stage(root, write(tmp_path, data))
        assert not os.path.exists(os.path.join(root, "a", "manifest.json"))   # the slot holds nothing usable
        with pytest.raises(ValueError):
            bundle.activate(root, "a")
    assert bundle.state(root)["active"] is None


def test_a_changed_file_on_flash_fails_verification(tmp_path):
    root = str(tmp_path / "fw")
    slot, _ = stage(root, write(tmp_path, version_bundle("9.0.0")))
    with open(os.path.join(root, slot, "evse/core/version.py"), "a") as f:
        f.write("# flipped\n")
    with pytest.raises(ValueError, match="changed on flash"):
        bundle.activate(root, slot)


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_boot_into_a_new_bundle_and_roll_back_one_that_never_confirms(tmp_path, interp):
    root = str(tmp_path / "fw")
    base = base_version()
    assert boot(interp, root) == base                            # nothing staged: the base install
    slot, _ = stage(root, write(tmp_path, version_bundle("9.0.0")))
    bundle.activate(root, slot)
    assert boot(interp, root, confirm=True) == "9.0.0"           # trial boot, confirmed
    assert boot(interp, root) == "9.0.0" and not bundle.state(root)["trial"]
    slot2, _ = stage(root, write(tmp_path, version_bundle("9.1.0")))
    assert slot2 == "b"                                          # the running slot is kept
    bundle.activate(root, slot2)
    assert boot(interp, root) == "9.1.0"                         # trial boot: it never confirms
    assert boot(interp, root) == "9.0.0"                         # the next boot rolls back
    st = bundle.state(root)
    assert st["active"] == "a" and st["failed"] == "b" and not st["trial"]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_a_bundle_that_crashes_at_import_rolls_back_to_the_base_install(tmp_path, interp):
    root = str(tmp_path / "fw")
    broken = make_bundle.make(firmware_files(b"raise RuntimeError('broken bundle')\n"), "9.9.9")
    slot, _ = stage(root, write(tmp_path, broken))
    bundle.activate(root, slot)
    with pytest.raises(AssertionError, match="broken bundle"):
        boot(interp, root)                                       # the board crashes (the watchdog resets it)
    assert boot(interp, root) == base_version()
    assert bundle.state(root)["failed"] == "a"


def test_the_tool_makes_a_bundle_of_a_build_directory(tmp_path):
    for name in ("evse/core/charger.mpy", "evse/app.mpy", "evse/shell/bundle.mpy", "evse/core/version.mpy"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"M\x06")
    (tmp_path / "main.py").write_text("x")
    out = tmp_path / "b.bin"
    make_bundle.main([str(out), "--version", "1.2.3", "--from", str(tmp_path)])
    data = out.read_bytes()
    m = json.loads(data.split(b"\n", 1)[0])
    assert [f["path"] for f in m["files"]] == ["evse/app.mpy", "evse/core/charger.mpy", "evse/core/version.mpy",
                                              "evse/shell/bundle.mpy"] and m["version"] == "1.2.3"
    slot, _ = stage(str(tmp_path / "fw"), str(out))
    assert (tmp_path / "fw" / slot / "evse" / "core" / "version.mpy").read_bytes() == b"M\x06"
