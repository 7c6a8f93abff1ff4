"""The lifetime energy count survives flash damage, on both interpreters: littlefs (VfsLfs2 on a RAM
block device) under MicroPython, a temp dir under CPython (pytest collects this file too).

Bench scenarios: a checkpoint write torn by a power cut at every byte (the new bytes alone, and the
new bytes over the old ones), every single-bit flip of the newest copy, and an upgrade from the
older firmware's energy_a.json / energy_b.json (also cut half-way), and the move of stop 44's
copies from the root into their own directory (cut at every step). Each time the charger boots
with the newest checkpoint whose checksum holds: never 0, never a garbled count, never lower."""
import json
import os

from evse.metering.energy import CHECKPOINT_FILES, CHECKPOINT_MAX_BYTES, LEGACY_FILES, ROOT_FILES, Energy
from evse.shell.store import Copies, exists, remove
from test_meter_upy import fresh


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def two_checkpoints(name, session=False):
    """A flash dir holding checkpoints at 100 Wh (older) and 200 Wh (newest); (dir, energy)."""
    d = fresh(name)
    e = Energy(d)
    if session:
        e.session_start(0)
    e.add_mwh(100000, 1000)
    e.add_mwh(100000, 2000)
    assert e.wh_total == 200.0
    return d, e


def test_a_checkpoint_torn_at_every_byte_keeps_the_one_before():
    d, e = two_checkpoints("torn", session=True)
    paths = [d + "/" + n for n in CHECKPOINT_FILES]
    before = [read(p) for p in paths]
    e.add_mwh(100000, 3000)                     # the next checkpoint, 300 Wh, into the older copy
    x = e.copies.newest
    new = read(paths[x])
    assert Energy(d).wh_total == 300.0
    for k in range(len(new)):
        for torn in (new[:k], new[:k] + before[x][k:]):
            if torn == new:                     # the old bytes left are the new ones: complete
                continue
            write(paths[1 - x], before[1 - x])
            write(paths[x], torn)
            booted = Energy(d)                  # the power comes back
            assert booted.wh_total == 200.0, (k, booted.wh_total)
            assert booted.restored["reason"] == "power_loss"


def test_every_single_bit_flip_of_the_newest_copy_is_caught():
    d, e = two_checkpoints("flip")
    path = d + "/" + CHECKPOINT_FILES[e.copies.newest]
    good = read(path)
    flipped = bytearray(good)
    for i in range(len(good)):
        for bit in range(8):
            flipped[i] ^= 1 << bit
            write(path, flipped)
            booted = Energy(d)
            assert booted.wh_total == 100.0, (i, bit, booted.wh_total)
            assert "checkpoint damaged" in booted.error
            flipped[i] ^= 1 << bit
    write(path, good)
    assert Energy(d).wh_total == 200.0


OLD_NEWEST = {"seq": 7, "wh": 12345, "mwh": 678, "sid": 4, "open": True, "s_wh": 21, "s_mwh": 500,
              "s_ms": 3600000, "s_max": 16.2, "s_start": None, "t": None}
OLD_OLDER = {"seq": 6, "wh": 12300, "mwh": 0, "sid": 4, "open": True, "s_wh": 0, "s_mwh": 0,
             "s_ms": 0, "s_max": 0.0, "s_start": None, "t": None}


def old_firmware_flash(name, newest=OLD_NEWEST):
    """The files an older firmware left: two JSON checkpoints, no checksum, seq inside."""
    d = fresh(name)
    write(d + "/" + LEGACY_FILES[1], json.dumps(newest).encode())
    write(d + "/" + LEGACY_FILES[0], json.dumps(OLD_OLDER).encode())
    return d


def test_upgrade_from_the_old_checkpoint_files_keeps_the_count():
    d = old_firmware_flash("upgrade")
    e = Energy(d)
    assert e.wh_total == 12345.678
    assert e.restored["reason"] == "power_loss" and e.restored["sid"] == 4
    assert e.restored["wh"] == 21.5 and e.restored["max_a"] == 16.2
    assert not exists(d + "/" + LEGACY_FILES[0]) and not exists(d + "/" + LEGACY_FILES[1])
    assert exists(d + "/" + CHECKPOINT_FILES[0])
    e2 = Energy(d)                              # and again: the sealed copy, the session closed once
    assert e2.wh_total == 12345.678 and e2.restored is None and len(e2.sessions()) == 1
    e2.add_mwh(1000, 100)
    e2.checkpoint()
    assert Energy(d).wh_total == 12346.678


def test_upgrade_with_no_session_open_and_a_torn_old_file():
    closed = dict(OLD_NEWEST)
    closed["open"] = False
    d = old_firmware_flash("upgrade2", closed)
    assert Energy(d).wh_total == 12345.678 and Energy(d).sessions() == []
    d = old_firmware_flash("upgrade3")
    write(d + "/" + LEGACY_FILES[1], b'{"seq": 7, "wh": 123')     # the old firmware's torn write
    assert Energy(d).wh_total == 12300.0


def test_upgrade_cut_while_sealing_reads_the_old_files_again():
    d = old_firmware_flash("upgrade4")
    Energy(d)
    sealed = read(d + "/" + CHECKPOINT_FILES[0])
    for k in (0, 1, len(sealed) // 2, len(sealed) - 1):
        d = old_firmware_flash("upgrade4")      # the old files are still there...
        write(d + "/" + CHECKPOINT_FILES[0], sealed[:k])     # ...the first copy torn
        e = Energy(d)
        assert e.wh_total == 12345.678, (k, e.wh_total)
        assert not exists(d + "/" + LEGACY_FILES[1])


# --- stop 45: the copies move from the root into energy/ (a nearly full littlefs wore the root out) ---

STOP44_OLDER = {"wh": 500, "mwh": 0, "sid": 3, "open": False, "s_wh": 0, "s_mwh": 0, "s_ms": 0,
                "s_max_ma": 0, "s_start": None, "s_user": None, "t": None}
STOP44_NEWEST = {"wh": 600, "mwh": 250, "sid": 4, "open": True, "s_wh": 100, "s_mwh": 250, "s_ms": 1800000,
                 "s_max_ma": 16000, "s_start": None, "s_user": "TAG1", "t": None}


def stop44_flash(name):
    """What stop 44's firmware left: its two sealed copies in the root (600.25 Wh the newest, a
    session open at the cut), nothing in energy/."""
    d = fresh(name)
    for n in CHECKPOINT_FILES + ROOT_FILES + ("sessions.ring",):
        remove(d + "/" + n)
    try:
        os.rmdir(d + "/energy")
    except OSError:
        pass
    root = Copies([d + "/" + n for n in ROOT_FILES], CHECKPOINT_MAX_BYTES)
    root.write(json.dumps(STOP44_OLDER).encode())
    root.write(json.dumps(STOP44_NEWEST).encode())
    return d


def test_the_move_into_the_directory_keeps_the_count_whatever_step_a_power_cut_ends():
    """The steps of the first boot after the update: the directory made, the count (and the session
    the cut left open, recorded once) sealed into energy/energy.a. The power is cut before each
    step and at every byte of the write: each boot after it counts 600.25 Wh, and the session is
    in the history once."""
    d = stop44_flash("move")
    root = [read(d + "/" + n) for n in ROOT_FILES]
    e = Energy(d)                               # the whole move, no cut
    assert e.wh_total == 600.25 and e.restored["reason"] == "power_loss" and e.restored["user"] == "TAG1"
    sealed = read(d + "/" + CHECKPOINT_FILES[0])
    assert [read(d + "/" + n) for n in ROOT_FILES] == root          # the root copies untouched
    for k in range(-1, len(sealed) + 1):        # -1: cut before the directory was made
        d = stop44_flash("move")
        if k >= 0:
            Energy(d)                           # the first boot's record in the history...
            write(d + "/" + CHECKPOINT_FILES[0], sealed[:k])    # ...its copy torn at byte k
        booted = Energy(d)
        assert booted.wh_total == 600.25, (k, booted.wh_total)
        assert len(booted.sessions()) == 1, (k, booted.sessions())
        assert Energy(d).wh_total == 600.25
    booted.add_mwh(1000, 100)
    booted.checkpoint()
    assert Energy(d).wh_total == 601.25
    assert [read(d + "/" + n) for n in ROOT_FILES] == root          # counting goes on in energy/ only


def test_root_copies_above_the_directory_s_are_never_lost():
    """An older firmware installed again after the move counts on in the root copies (the
    directory's left as they were); the update again boots with the higher count, never the
    directory's lower one, and seals it there."""
    d = stop44_flash("again")
    Energy(d)                                   # moved: 600.25 in energy/
    old = Copies([d + "/" + n for n in ROOT_FILES], CHECKPOINT_MAX_BYTES)
    old.read()
    later = dict(STOP44_NEWEST, wh=700, open=False)
    old.write(json.dumps(later).encode())       # the older firmware counted 100 Wh more
    e = Energy(d)
    assert e.wh_total == 700.25
    assert json.loads(Copies([d + "/" + n for n in CHECKPOINT_FILES], CHECKPOINT_MAX_BYTES).read()[0])["wh"] == 700


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
