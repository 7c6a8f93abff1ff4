# upy-heap: 2m
"""Stop 50: a firmware update that fails on a nearly full flash (the fifteenth audit, update and
rollback). On the MicroPython unix port a real littlefs (VfsLfs2 on a RAM block device of 4 KiB
blocks, as the boards mount it); under CPython a temporary directory (no ENOSPC there: the damaged
bundle alone). The install that fails must give the flash back: the charger's own files (the
energy checkpoints, the OCPP queue, the fault journal) live on the same flash."""
import binascii
import hashlib
import os

from evse.shell import bundle
from ramblocks import RamBlocks     # (a littlefs on a bytearray)

IS_UPY = hasattr(os, "VfsLfs2")
BLOCKS = 48              # 192 KiB
_mounted = [0]


def _flash():
    if IS_UPY:
        _mounted[0] += 1
        d = "/upd%d" % _mounted[0]
        bd = RamBlocks(BLOCKS)
        os.VfsLfs2.mkfs(bd, progsize=256)
        os.mount(os.VfsLfs2(bd, progsize=256), d)
        return d
    import tempfile
    return tempfile.mkdtemp()


def _free(d):
    if not IS_UPY:
        return None
    st = os.statvfs(d)
    return st[0] * st[3]


def _bundle(big, damage=False):
    """The firmware's REQUIRED modules, then one of `big` bytes (a whole firmware's .mpy is about
    250 KB: here what fills this small flash)."""
    files = [("evse/app.py", b"# app\n"), ("evse/core/charger.py", b"# charger\n"),
             ("evse/shell/bundle.py", b"# bundle\n"), ("evse/big.py", b"#" * big)]
    entries = ", ".join('{"path": "%s", "size": %d, "sha256": "%s"}' % (
        p, len(b), binascii.hexlify(hashlib.sha256(b).digest()).decode()) for p, b in files)
    data = b"".join(b for _, b in files)
    if damage:
        data = data[:-1] + b"X"
    return ('{"format": "%s", "version": "9.0.0", "files": [%s]}\n' % (bundle.FORMAT, entries)).encode() + data


def _install(d, data):
    """As the OCPP update and the web upload do: the file on flash, staged, the file removed."""
    path = d + "/download.bin"
    with open(path, "wb") as f:
        f.write(data)
    out = {}
    try:
        for _ in bundle.stage(d + "/fw", path, out):
            pass
    finally:
        os.remove(path)
    return out


def _slot_bytes(d, slot):
    n = 0
    stack = [d + "/fw/" + slot]
    while stack:
        p = stack.pop()
        try:
            names = os.listdir(p)
        except OSError:
            continue
        for name in names:
            q = p + "/" + name
            try:
                os.listdir(q)
                stack.append(q)
            except OSError:
                n += os.stat(q)[6]
    return n


def test_an_install_that_fails_on_a_full_flash_gives_the_flash_back():
    """A bundle of 100 KB on 192 KiB: the download fits, its unpacked copy does not (ENOSPC on
    littlefs). Installing fails, the running firmware stays, and the flash is as free as before the
    update: nothing of the half-unpacked slot is left to crowd the charger's own files."""
    d = _flash()
    bundle.ensure_dir(d + "/fw")
    before = _free(d)
    try:
        _install(d, _bundle(100 * 1024, damage=not IS_UPY))
        assert False, "installed on a flash that cannot hold it"
    except (OSError, ValueError):
        pass
    assert bundle.state(d + "/fw")["active"] is None
    assert _slot_bytes(d, "a") == 0, _slot_bytes(d, "a")
    assert _free(d) == before, (_free(d), before)


def test_a_damaged_bundle_leaves_nothing_of_itself_on_flash():
    d = _flash()
    try:
        _install(d, _bundle(20 * 1024, damage=True))
        assert False, "a damaged bundle staged"
    except ValueError as e:
        assert "sha256" in str(e), e
    assert _slot_bytes(d, "a") == 0


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
