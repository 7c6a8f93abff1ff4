"""Audit of installing and updating (the second round): firmware bundles, their rollback, and the
OCPP update's end. Bench scenarios on the host; the boots are real interpreter starts as boot.py
makes them (test_firmware_bundle.py's)."""
import os

import pytest

from evse.shell import bundle

from test_firmware_bundle import boot, stage, version_bundle, write


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_an_upload_during_a_trial_leaves_the_firmware_to_roll_back_to_whole(tmp_path, interp):
    """2.0.0 runs, confirmed; 3.0.0 is installed and boots on trial. Before it confirms itself the
    owner uploads again, and that upload is cut short. The trial then ends by a reset (3.0.0 never
    confirmed): the board must come back on 2.0.0, the firmware it ran before, not on the remains of
    the refused upload. (Before the fix the cut upload was unpacked over slot a, 2.0.0's: the
    rollback booted its half, as confirmed firmware, with no way back.)"""
    root = str(tmp_path / "fw")
    slot, _ = stage(root, write(tmp_path, version_bundle("2.0.0")))
    bundle.activate(root, slot)
    assert boot(interp, root, confirm=True) == "2.0.0"
    slot, _ = stage(root, write(tmp_path, version_bundle("3.0.0")))
    bundle.activate(root, slot)
    assert boot(interp, root) == "3.0.0" and bundle.state(root)["trial"]     # on trial, not confirmed
    cut = version_bundle("3.0.1")[:-1000]
    with pytest.raises(ValueError, match="on trial"):
        stage(root, write(tmp_path, cut))
    for _ in bundle.verify(root, "a"):                # 2.0.0 untouched on flash
        pass
    assert boot(interp, root) == "2.0.0"                # the trial rolls back to it
    st = bundle.state(root)
    assert st["active"] == "a" and st["failed"] == "b" and not st["trial"]
    slot, m = stage(root, write(tmp_path, version_bundle("3.0.1")))    # no trial now: taken
    assert slot == "b" and m["version"] == "3.0.1" and os.path.exists(os.path.join(root, "b", "manifest.json"))
