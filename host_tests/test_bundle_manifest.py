"""A firmware bundle's manifest grows with every module: the whole firmware's is about 8 KB (61
files, `python -m tools.bundle`), where the first line of a bundle used to be cut (8192 bytes) and
refused as "not JSON". It is read a chunk at a time now, up to 16 KB."""
import json

import pytest

from evse.shell import bundle
from tools import bundle as make_bundle
from test_firmware_bundle import FIRMWARE, stage, write


def firmware_with_extra_modules(n):
    files = [(p, b) for p, b in make_bundle.from_dir(FIRMWARE) if p.startswith("evse/")]
    files += [("evse/extra/module_number_%03d.py" % i, b"X = %d\n" % i) for i in range(n)]
    return make_bundle.make(files, "0.9.0")


def test_the_whole_firmware_with_more_modules_than_8_kb_of_manifest_stages(tmp_path):
    data = firmware_with_extra_modules(20)
    assert data.index(b"\n") > 9000
    slot, manifest = stage(str(tmp_path / "fw"), write(tmp_path, data))
    assert manifest["version"] == "0.9.0" and len(manifest["files"]) > 80
    for _ in bundle.verify(str(tmp_path / "fw"), slot):
        pass


def test_a_manifest_over_the_bound_is_refused_not_read_on(tmp_path):
    data = firmware_with_extra_modules(120)
    assert data.index(b"\n") > bundle.MAX_MANIFEST
    with pytest.raises(ValueError, match="manifest"):
        stage(str(tmp_path / "fw"), write(tmp_path, data))
    assert bundle.state(str(tmp_path / "fw"))["active"] is None


def test_a_manifest_without_its_line_end_is_refused(tmp_path):
    line = json.dumps({"format": bundle.FORMAT, "version": "1", "files": []}).encode()
    with pytest.raises(ValueError, match="manifest"):
        stage(str(tmp_path / "fw"), write(tmp_path, line))
