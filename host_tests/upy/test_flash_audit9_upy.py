# upy-heap: 2m
"""A full filesystem under the whole charger (the ninth audit, flash wear), on the MicroPython unix
port a real littlefs (VfsLfs2 on a RAM block device of 4 KiB blocks, as the boards mount it) filled
to its last block by another file, under CPython a flash directory whose writes fail with ENOSPC.
A car charges through it: the control loop goes on, the energy is counted in RAM (said in the
meter's error where the write is refused; littlefs still takes the checkpoint, a small file kept
inline in its directory's metadata, which needs no free block), the session's record waits; once there is room the checkpoint and the record go in
and survive a power cut."""
import os

import upytest
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive

IS_UPY = hasattr(os, "VfsLfs2")
BLOCKS = 48              # 192 KiB: small enough to fill in a moment


from ramblocks import RamBlocks     # (a littlefs on a bytearray)


def _flash(progsize):
    if IS_UPY:
        bd = RamBlocks(BLOCKS)
        os.VfsLfs2.mkfs(bd, progsize=progsize)
        os.mount(os.VfsLfs2(bd, progsize=progsize), "/full%d" % progsize)
        return "/full%d" % progsize
    import tempfile
    return tempfile.mkdtemp()


class Hog:
    """Another file takes all the room left (littlefs), or every write there fails (CPython)."""

    def __init__(self, d):
        self.path = d + "/hog"
        self.d = d
        if IS_UPY:
            chunk = bytes(4096)
            with open(self.path, "wb") as f:
                while True:
                    try:
                        f.write(chunk)
                        f.flush()
                    except OSError:
                        break
            for k in (2048, 512, 64, 8, 1):     # to the last byte
                while True:
                    try:
                        with open(self.path, "ab") as f:
                            f.write(bytes(k))
                    except OSError:
                        break
        else:
            import builtins
            self.real = builtins.open
            d = self.d

            def full(path, mode="r", *a, **k):
                if isinstance(path, str) and path.startswith(d) and any(c in mode for c in "wa+"):
                    raise OSError(28, "No space left on device")
                return self.real(path, mode, *a, **k)
            builtins.open = full

    def free(self):
        if IS_UPY:
            os.remove(self.path)
        else:
            import builtins
            builtins.open = self.real


def _charge_through_a_full_filesystem(progsize):
    import gc
    gc.collect()
    d = _flash(progsize)
    b = Drive(config={"max_current": 32, "meter": "ct"}, flash_dir=d)
    b.run(1)
    b.plug()
    b.run(1)
    b.ev("C")
    b.world.draw_amps = 32.0
    b.world.recompute()
    b.run(300)
    before = b.app.meter.wh_total
    assert before > 500, before
    hog = Hog(d)
    w0 = b.app.meter.energy.writes
    try:
        b.run(600)                                  # 10 min at 7.4 kW on a full flash
        assert b.coil and b.fault is None, (b.state, b.fault)      # the charge goes on
        counted = b.app.meter.wh_total
        assert counted > before + 1100, (before, counted)          # counted in RAM
        e = b.app.meter.energy
        if IS_UPY and progsize == 256:   # a checkpoint (about 170 bytes) is inline in its
            assert e.writes > w0 + 10, (w0, e.writes, e.error)   # directory's metadata: it goes in
        else:                            # (measured: 24); with progsize 32 it needs a block
            assert "checkpoint failed" in (e.error or ""), e.error
        b.ev("B")
        b.run(5)
        b.unplug()
        b.run(30)                                   # the session ends on the full flash
        assert b.state.startswith("A"), b.state
    finally:
        hog.free()
    b.run(15)                                       # room again: tried every 10 s
    assert b.app.meter.energy.error is None, b.app.meter.energy.error
    b.rig.power_off()
    b.rig.power_on()
    b.run(1)
    assert counted - 1 <= b.app.meter.wh_total <= counted + 50, (counted, b.app.meter.wh_total)
    recs = b.app.meter.energy.sessions()
    assert len(recs) == 1 and recs[-1]["wh"] >= counted - 1, recs



def test_a_charge_through_a_full_filesystem_as_the_pico_mounts_it():
    _charge_through_a_full_filesystem(256)     # ports/rp2/modules/_boot.py


def test_a_charge_through_a_full_filesystem_as_the_esp32_mounts_it():
    _charge_through_a_full_filesystem(32)      # the default: esp32's _boot.py mounts as found


def test_an_update_on_a_full_pico_counts_on_in_the_root_copies_until_there_is_room():
    """Stop 45 moved the checkpoints into energy/. A Pico updated with its filesystem full has no
    room for the directory (a new metadata pair): the count goes on in stop 44's root copies,
    inline in the root's metadata as before, and survives a cut; once there is room, the next
    boot moves it. (MicroPython's littlefs only: a temp dir always has room for a directory.)"""
    if not IS_UPY:
        return
    import gc
    import json
    from evse.metering.energy import CHECKPOINT_FILES, CHECKPOINT_MAX_BYTES, ROOT_FILES, Energy
    from evse.shell.store import Copies, exists
    gc.collect()
    bd = RamBlocks(BLOCKS)
    os.VfsLfs2.mkfs(bd, progsize=256)
    os.mount(os.VfsLfs2(bd, progsize=256), "/fullmove")
    d = "/fullmove"
    root = Copies([d + "/" + n for n in ROOT_FILES], CHECKPOINT_MAX_BYTES)
    root.write(json.dumps({"wh": 600, "mwh": 0, "sid": 1, "open": False}).encode())
    hog = Hog(d)
    try:
        e = Energy(d)
        assert e.wh_total == 600 and not exists(d + "/energy"), e.wh_total
        e.add_mwh(100000, 1000)                 # 100 Wh: a checkpoint, into the root's copies
        assert e.error is None, e.error
        assert Energy(d).wh_total == 700        # a power cut: counted on
    finally:
        hog.free()
    e = Energy(d)                               # room again: moved at this boot
    assert e.wh_total == 700 and exists(d + "/" + CHECKPOINT_FILES[0])
    assert Energy(d).wh_total == 700


if __name__ == "__main__":
    upytest.run(globals())
