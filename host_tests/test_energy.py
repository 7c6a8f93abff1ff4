"""Energy accounting and its flash store: checkpoints, power cuts, torn files, the session ring."""
import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from evse.shell import ring, store
from evse.metering.energy import CHECKPOINT_FILES, CHECKPOINT_MS, CHECKPOINT_MWH, Energy, SESSIONS_FILE


def cut(d):
    """Power cut: RAM is gone, a new object boots on the same flash directory."""
    return Energy(str(d))


def newest(e):
    """The newest checkpoint on flash (dict), as the sealed copy holds it."""
    body, problems = store.Copies(e.copies.paths).read()
    assert not problems, problems
    return json.loads(body)


# --- store ------------------------------------------------------------------------------------
def test_write_and_read_json(tmp_path):
    p = str(tmp_path / "a.json")
    assert store.read_json(p, {"x": 0}) == {"x": 0}
    store.write_json_atomic(p, {"x": 1})
    store.write_json_atomic(p, {"x": 2})
    assert store.read_json(p) == {"x": 2}
    assert not os.path.exists(p + ".tmp")


@pytest.mark.parametrize("content", [b"", b'{"x": 3', b"\xff\xfe garbage", b"null}"])
def test_read_json_never_raises(tmp_path, content):
    p = tmp_path / "a.json"
    p.write_bytes(content)
    assert store.read_json(str(p), "dflt") == "dflt"


def test_read_json_falls_back_to_tmp(tmp_path):
    # a cut between remove and rename on a filesystem that cannot rename over a file
    p = tmp_path / "a.json"
    (tmp_path / "a.json.tmp").write_text('{"x": 5}')
    assert store.read_json(str(p)) == {"x": 5}


def test_join():
    assert store.join("/", "a") == "/a"
    assert store.join("/tmp/x", "a") == "/tmp/x/a"
    assert store.join("/tmp/x/", "a") == "/tmp/x/a"
    assert store.join("", "a") == "a"


def test_ring_wraps_and_keeps_order(tmp_path):
    p = str(tmp_path / "r.ring")
    r = ring.Ring(p, 4)
    for i in range(10):
        assert r.append({"i": i})
    assert [x["i"] for x in r.records()] == [6, 7, 8, 9]
    assert os.path.getsize(p) == 4 * ring.RING_SLOT_BYTES
    r2 = ring.Ring(p, 4)                       # after a reboot it continues the sequence
    r2.append({"i": 10})
    assert [x["i"] for x in r2.records()] == [7, 8, 9, 10]
    assert [x["seq"] for x in r2.records()] == [7, 8, 9, 10]


def test_ring_torn_slot_is_skipped_and_reused(tmp_path):
    p = str(tmp_path / "r.ring")
    r = ring.Ring(p, 8)
    for i in range(3):
        r.append({"i": i})
    with open(p, "r+b") as f:                    # the cut tore the last record
        f.seek(2 * ring.RING_SLOT_BYTES + 5)
        f.write(b"\x00\x00\x00")
    r2 = ring.Ring(p, 8)
    assert [x["i"] for x in r2.records()] == [0, 1]
    r2.append({"i": "new"})
    assert [x["i"] for x in r2.records()] == [0, 1, "new"]


def test_ring_rejects_oversize_record(tmp_path):
    r = ring.Ring(str(tmp_path / "r.ring"), 2, slot=32)
    assert not r.append({"text": "x" * 40})
    assert "too long" in r.error
    assert r.records() == []


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), size=st.integers(1, 9))
def test_ring_property(tmp_path_factory, n, size):
    p = str(tmp_path_factory.mktemp("ring") / "r.ring")
    r = ring.Ring(p, size)
    for i in range(n):
        r.append({"i": i})
    assert [x["i"] for x in ring.Ring(p, size).records()] == list(range(max(0, n - size), n))


# --- energy -----------------------------------------------------------------------------------
def test_fresh_start(tmp_path):
    e = Energy(str(tmp_path))
    assert e.wh_total == 0 and e.wh_session == 0 and not e.session_open and e.sessions() == []


def test_integer_accounting_is_exact(tmp_path):
    e = Energy(str(tmp_path))
    for _ in range(1000):
        e.add_mwh(333, 0)
    assert e.wh_total == 333.0                  # not a mWh left over: 333 + x / 1000 == 333.0 only for x = 0


def test_checkpoint_every_50_wh(tmp_path):
    e = Energy(str(tmp_path))
    e.session_start(0)
    w0 = e.writes
    for t in range(1, 200):                      # 1 Wh per 100 ms: 36 kW
        e.add_mwh(1000, t * 100)
    assert e.writes - w0 == 199 // 50
    assert newest(e)["s_wh"] == 150


def test_checkpoint_every_60_s_at_low_power(tmp_path):
    e = Energy(str(tmp_path))
    e.session_start(0)
    w0 = e.writes
    for s in range(1, 601):                      # 10 min at 1.8 kW: 0.5 Wh per second
        e.add_mwh(500, s * 1000)
    assert e.writes - w0 == 600 * 1000 // CHECKPOINT_MS


def test_no_writes_while_idle(tmp_path):
    e = Energy(str(tmp_path))
    w0 = e.writes
    for s in range(1, 3600):
        e.poll(s * 1000)
    assert e.writes == w0


def test_power_cut_restores_to_last_checkpoint_exactly(tmp_path):
    e = Energy(str(tmp_path))
    e.session_start(0)
    t = 0
    for _ in range(1234):                        # 1.234 kWh in 0.7 Wh steps and 123 mWh crumbs
        t += 250
        e.add_mwh(700, t)
        e.note_current_ma(31500)
    e.add_mwh(123, t)
    saved = newest(e)
    unsaved = e.wh_total - (saved["wh"] + saved["mwh"] / 1000)
    assert 0 <= unsaved < CHECKPOINT_MWH / 1000
    e2 = cut(tmp_path)
    assert e2.wh_total == saved["wh"] + saved["mwh"] / 1000     # exact to the last checkpoint
    assert not e2.session_open
    rec = e2.sessions()[-1]
    assert rec["reason"] == "power_loss"
    assert rec["wh"] == pytest.approx(saved["s_wh"] + saved["s_mwh"] / 1000)
    assert rec["max_a"] == 31.5 and rec["sid"] == 1
    assert e2.restored == {k: v for k, v in rec.items() if k != "seq"}
    e3 = cut(tmp_path)                           # booting again does not close it twice
    assert len(e3.sessions()) == 1 and e3.wh_total == e2.wh_total


def test_cut_between_record_and_checkpoint(tmp_path, monkeypatch):
    e = Energy(str(tmp_path))
    e.session_start(0)
    e.add_mwh(60000, 1000)
    # the session record is written, then the power goes before the "closed" checkpoint
    monkeypatch.setattr(e, "checkpoint", lambda: False)
    e.session_end(1000, "unplug")
    e2 = cut(tmp_path)
    assert [r["reason"] for r in e2.sessions()] == ["unplug"]


def test_session_cycle_and_records(tmp_path):
    wall = [1000]
    e = Energy(str(tmp_path), wall=lambda: wall[0])
    e.session_start(0)
    e.add_mwh(7000000, 3600000)
    e.note_current_ma(32040)
    wall[0] = 1100
    rec = e.session_end(3600000, "unplug")
    assert rec == {"sid": 1, "start": 1000, "end": 1100, "dur_s": 3600, "wh": 7000.0, "max_a": 32.0,
                   "reason": "unplug"}
    assert e.session_end(3700000, "again") is None
    e.add_mwh(5000, 3700000)                     # energy outside a session: lifetime only
    assert e.wh_session == 7000.0 and e.wh_total == 7005.0
    e.session_start(3800000)
    assert e.wh_session == 0
    e.session_end(3900000, "a very long reason that will be cut short")
    recs = cut(tmp_path).sessions()
    assert [r["sid"] for r in recs] == [1, 2] and len(recs[1]["reason"]) == 24
    assert cut(tmp_path).wh_total == 7005.0


@pytest.mark.parametrize("damage", ["newest", "both_half", "garbage"])
def test_torn_checkpoint_files(tmp_path, damage):
    e = Energy(str(tmp_path))
    e.session_start(0)
    e.add_mwh(100000, 1000)                      # checkpoint at 100 Wh
    e.add_mwh(100000, 2000)                      # checkpoint at 200 Wh
    last = tmp_path / CHECKPOINT_FILES[e.copies.newest]
    older = tmp_path / CHECKPOINT_FILES[1 - e.copies.newest]
    if damage == "newest":
        last.write_bytes(last.read_bytes()[:20])
        assert cut(tmp_path).wh_total == 100.0
    elif damage == "both_half":
        last.write_bytes(last.read_bytes()[:20])
        older.write_bytes(older.read_bytes()[:20])
        e2 = cut(tmp_path)
        assert e2.wh_total == 0.0                   # nothing readable: start again, no crash
        assert "checkpoint damaged" in e2.error     # ...and say so
    else:
        last.write_bytes(b'{"seq": "x", "wh": []}')
        assert cut(tmp_path).wh_total == 100.0


def test_flash_failure_is_reported_and_retried(tmp_path, monkeypatch):
    import evse.metering.energy as energy_mod
    e = Energy(str(tmp_path))

    def full(self, body):
        raise OSError(28, "ENOSPC")

    monkeypatch.setattr(energy_mod.Copies, "write", full)
    e.add_mwh(60000, 1000)
    assert e.error and "checkpoint failed" in e.error
    e.add_mwh(1, 5000)                           # within the retry delay: no new attempt
    monkeypatch.undo()
    e.add_mwh(1, 6000)
    assert e.error is not None
    e.add_mwh(1, 12000)
    assert e.error is None and cut(tmp_path).wh_total == pytest.approx(60.003)


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 20000), st.integers(1, 30000)), min_size=1, max_size=60),
       cut_at=st.integers(0, 59))
def test_property_loss_is_bounded(tmp_path_factory, steps, cut_at):
    """Whatever the flow, after a cut the total is the last checkpoint, and what is lost is under
    one checkpoint's worth (0.05 kWh) unless less than 60 s passed."""
    d = tmp_path_factory.mktemp("e")
    e = Energy(str(d))
    e.session_start(0)
    t = 0
    for i, (mwh, dt) in enumerate(steps):
        if i == cut_at:
            break
        t += dt
        e.add_mwh(mwh, t)
    before = e.wh_total * 1000                   # mWh, from the same integers both sides
    e2 = Energy(str(d))
    after = e2.wh_total * 1000
    assert 0 <= before - after
    assert before - after < CHECKPOINT_MWH + 20000   # one step may overshoot the threshold
    assert e2.sessions()[-1]["reason"] == "power_loss"


def test_files_on_flash(tmp_path):
    e = Energy(str(tmp_path))
    e.session_start(0)
    e.session_end(1000, "unplug")
    names = sorted(os.listdir(str(tmp_path)))
    assert names == ["energy", SESSIONS_FILE]       # the copies in a directory of their own (stop 45)
    assert sorted("energy/" + n for n in os.listdir(str(tmp_path / "energy"))) == sorted(CHECKPOINT_FILES)
    assert store.unseal((tmp_path / CHECKPOINT_FILES[0]).read_bytes())[0] == 0
