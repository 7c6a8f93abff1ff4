"""Firmware bundles on flash: stage, verify, activate, select at boot, confirm, roll back. One
mechanism for every way a bundle arrives (OCPP UpdateFirmware today, a web upload later).

A bundle file is one line of JSON, the manifest, then the files' bytes in the manifest's order:
    {"format": "evse-bundle/1", "version": "0.2.0",
     "files": [{"path": "evse/app.mpy", "size": 5120, "sha256": "<64 hex digits>"}, ...]}\\n<bytes>
Paths are relative (no "..", no leading "/"); the files are the whole `evse` package as .mpy (or
.py): a slot is complete on its own (MicroPython does not merge a package from two directories),
so the manifest must name at least REQUIRED. board.py, boot.py and main.py stay those of the unit.

On flash under ROOT (`/fw` on the board):
    a/, b/       two slots: a bundle unpacked with its manifest.json (the one running, the other)
    boot.json    {"active": slot or None (the base install), "previous": slot or None,
                  "trial": true until the new bundle confirms itself, "tries": boots tried,
                  "failed": the slot rolled back from, or None}

    stage(root, path, out)  unpack a downloaded bundle file into the free slot, checking every
                          file's size and sha256 as it is written, one chunk per step (a generator);
                          out gets "slot" and "manifest"; ValueError if bad
    verify(root, slot)    check the slot's files against its manifest again, one chunk per step (a
                          generator); ValueError if one differs
    activate(root, slot, verified=False)  boot into the slot next time, on trial
    select(root)          at boot (boot.py): count the trial; a trial that booted MAX_TRIES times
                          without confirm() rolls back -> the slot directory to run, or None
    boot(root)            select(), then put that slot first on sys.path for the modules to come
    confirm(root)         the running bundle works (the app calls it once healthy) -> True if a
                          trial ended here
    rollback(root)        back to the previous bundle (or the base install) on the next boot
    state(root)           boot.json as a dict
    claim(who), release(who)  one update at a time: the web page's and OCPP's share the free slot"""
import binascii
import hashlib
import json
import os
import sys

FORMAT = "evse-bundle/1"
ROOT = "/fw"
MAX_TRIES = 1           # boots a new bundle gets to confirm itself before the previous one returns
MAX_MANIFEST = 16384    # bytes of the manifest line (the whole firmware's: about 8 KB), read in CHUNKs
MAX_FILES = 200
CHUNK = 512             # bytes per read and write: small RAM, short flash writes
SLOTS = ("a", "b")
_owner = None           # who stages or installs an update now ("web", "ocpp"): RAM, one boot
REQUIRED = ("evse/app", "evse/core/charger", "evse/shell/bundle")   # modules, without .py/.mpy


def _join(a, b):
    return a + b if a.endswith("/") else a + "/" + b


def _read_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def ensure_dir(path):
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if cur in ("", "/") else cur + "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass  # exists


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = _join(path, n)
        try:
            os.remove(p)
        except OSError:
            _rmtree(p)
    try:
        os.rmdir(path)
    except OSError:
        pass


def state(root):
    st = _read_json(_join(root, "boot.json"), None)
    if not isinstance(st, dict) or st.get("active") not in (None,) + SLOTS:
        st = {"active": None, "previous": None, "trial": False, "tries": 0, "failed": None}
    return st


def _save(root, st):
    ensure_dir(root)
    _write_json(_join(root, "boot.json"), st)


def _check_manifest(m):
    """The manifest's shape, or ValueError saying what is wrong."""
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("version"), str):
        raise ValueError("not an %s manifest" % FORMAT)
    files = m.get("files")
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        raise ValueError("manifest: files")
    for f in files:
        _check_entry(f)
    names = [f["path"].rsplit(".", 1)[0] for f in files]
    for r in REQUIRED:
        if r not in names:
            raise ValueError("manifest: not a whole firmware, no " + r)
    return m


def _check_entry(f):
    p = f.get("path") if isinstance(f, dict) else None
    ok = isinstance(p, str) and p and p[0] != "/" and ".." not in p.split("/")
    ok = ok and isinstance(f.get("size"), int) and f["size"] >= 0
    if not (ok and isinstance(f.get("sha256"), str) and len(f["sha256"]) == 64):
        raise ValueError("manifest: bad entry %r" % (p,))


def _copy_checked(src, dst_path, size, sha):
    """Copy `size` bytes from the open file `src` to dst_path, hashing as it goes; yields after
    every chunk (the caller's loop may run in between)."""
    h = hashlib.sha256()
    left = size
    with open(dst_path, "wb") as out:
        while left:
            buf = src.read(min(CHUNK, left))
            if not buf:
                raise ValueError("bundle truncated in " + dst_path)
            h.update(buf)
            out.write(buf)
            left -= len(buf)
            yield
    if binascii.hexlify(h.digest()).decode() != sha.lower():
        raise ValueError("sha256 mismatch: " + dst_path)


def _read_manifest(src, tmp):
    """The first line as a checked manifest, never whole in RAM: copied a CHUNK at a time to the
    file tmp, and parsed from there (json.load reads a file as it goes). Its 9 KB of text in one
    piece found no room in a heap an upload had made busy: MemoryError, one update in two on the
    virtual board. (Only the parsed manifest stays: its many small objects.)"""
    n = 0
    try:
        with open(tmp, "wb") as t:
            while True:
                part = src.readline(CHUNK)
                n += len(part)
                if n > MAX_MANIFEST:
                    raise ValueError("over %d bytes" % MAX_MANIFEST)
                t.write(part)
                if not part or part.endswith(b"\n"):
                    break
        with open(tmp) as t:
            return _check_manifest(json.load(t))
    except ValueError as e:  # too long, not JSON, or not a manifest
        raise ValueError("manifest: %s" % e)
    finally:
        os.remove(tmp)


def claim(who):
    """Take the free slot for `who`'s update until release() or the reboot: ValueError while
    another update holds it (a second one would unpack over the bundle the first one staged)."""
    global _owner
    if _owner not in (None, who):
        raise ValueError("another firmware update is under way (%s)" % _owner)
    _owner = who


def release(who):
    global _owner
    if _owner == who:
        _owner = None


def free_slot(root):
    return "b" if state(root)["active"] == "a" else "a"


def stage(root, path, out):
    """Unpack the bundle file at `path` into the free slot, one chunk at a time: a generator that
    yields after every chunk written (an asyncio caller awaits between them, so the control loop
    keeps running; a plain caller exhausts it); fills out["slot"] and out["manifest"]. The slot's
    manifest.json is written last: a slot without one (a power cut) is never activated; a bundle
    refused (a bad hash, a full flash) leaves nothing of itself.
    On MicroPython a .mpy file must load here (its version; native code for this port's arch):
    one that cannot would fail at boot before the watchdog is started. Refused while the running
    bundle is on trial: the free slot is then the one a rollback returns
    to, which must stay whole until the trial ends (as ESP-IDF's esp_ota_begin refuses)."""
    if state(root)["trial"]:
        raise ValueError("the running firmware is on trial: it confirms itself first, or a reboot rolls it back")
    slot = free_slot(root)
    sdir = _join(root, slot)
    _rmtree(sdir)
    ensure_dir(sdir)
    try:
        with open(path, "rb") as src:
            m = _read_manifest(src, _join(sdir, "manifest.part"))
            for f in m["files"]:
                for _ in _unpack(src, sdir, f):
                    yield
            if src.read(1):
                raise ValueError("bytes after the last file")
        _write_json(_join(sdir, "manifest.json"), m)
    except BaseException:    # a bad bundle, a full flash, a cancelled task: the half slot is of no
        _rmtree(sdir)        # use, and the charger's own files need the room
        raise
    out["slot"] = slot
    out["manifest"] = m


def _unpack(src, sdir, f):
    """One file of the bundle into the slot, checked (a generator, a step per chunk). On
    MicroPython a .mpy file must load here (its version; native code for this port's arch)."""
    p = f["path"]
    if "/" in p:
        ensure_dir(_join(sdir, p.rsplit("/", 1)[0]))
    dst = _join(sdir, p)
    for _ in _copy_checked(src, dst, f["size"], f["sha256"]):
        yield
    mpy = getattr(sys.implementation, "_mpy", 0)    # this VM's .mpy header (MicroPython)
    if mpy and p.endswith(".mpy"):   # 'M', version; native code: this port's arch
        with open(dst, "rb") as g:
            h = g.read(3)
        if h[:2] != bytes((77, mpy & 255)) or h[2:] not in (b"\0", bytes(((mpy >> 8) & 255,))):
            raise ValueError(p + ": a .mpy for another MicroPython version or port")


def verify(root, slot):
    """Every file of the slot against its manifest (sizes and sha256), one chunk per step (a
    generator, as stage); ValueError at the first file that differs."""
    sdir = _join(root, slot)
    m = _check_manifest(_read_json(_join(sdir, "manifest.json"), None))
    for f in m["files"]:
        h = hashlib.sha256()
        n = 0
        with open(_join(sdir, f["path"]), "rb") as src:
            while True:
                buf = src.read(CHUNK)
                if not buf:
                    break
                h.update(buf)
                n += len(buf)
                yield
        if n != f["size"] or binascii.hexlify(h.digest()).decode() != f["sha256"].lower():
            raise ValueError("slot %s: %s changed on flash" % (slot, f["path"]))


def activate(root, slot, verified=False):
    """Boot into `slot` next time, on trial; verified first here unless the caller just ran
    verify() itself (an asyncio caller, step by step)."""
    if not verified:
        for _ in verify(root, slot):
            pass
    st = state(root)
    if slot == st["active"]:     # it would be its own way back: a rollback would keep it
        raise ValueError("slot %s runs now" % slot)
    st.update({"active": slot, "previous": st["active"], "trial": True, "tries": 0, "failed": None})
    _save(root, st)


def rollback(root):
    st = state(root)
    st.update({"active": st["previous"], "previous": None, "trial": False, "tries": 0,
               "failed": st["active"]})
    _save(root, st)


def select(root):
    """At boot: the slot directory to run (None: the base install)."""
    st = state(root)
    if st["trial"]:
        if st["tries"] >= MAX_TRIES:
            rollback(root)       # it booted and never confirmed: the previous bundle comes back
            st = state(root)
        else:
            st["tries"] += 1
            _save(root, st)
    return _join(root, st["active"]) if st["active"] else None


def boot(root=ROOT):
    """boot.py, before anything of the firmware is imported: the selected slot goes first on
    sys.path, and the evse modules imported so far (this one) are forgotten: every module from now
    on comes from the slot where it has one, and this one stays out of RAM (boot.py deletes its
    name too) until an update or confirm() imports it again."""
    d = select(root)
    if d is not None:
        sys.path.insert(0, d)
    for name in [n for n in sys.modules if n == "evse" or n.startswith("evse.")]:
        del sys.modules[name]
    return d


def confirm(root):
    """The running bundle works: end its trial -> True when a trial ended here."""
    st = state(root)
    if not st["trial"]:
        return False
    st["trial"] = False
    st["tries"] = 0
    _save(root, st)
    return True
