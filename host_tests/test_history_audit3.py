"""Third audit, what must survive: the OCPP offline queue through a power cut that tears its last
line, the queue's flash writes once it is full, the session numbers when both energy
checkpoints are lost, and a session record on a full flash. Each scenario is a bench case: a power cut is a new object on the same
flash directory."""
import json
import os

from evse.metering.energy import CHECKPOINT_FILES, Energy
from evse.ocpp import txqueue
from evse.ocpp.txqueue import TxQueue

MV = {"connectorId": 1, "transactionId": 7,
      "meterValue": [{"timestamp": "2026-12-06T09:00:00Z",
                      "sampledValue": [{"value": "12345.678", "unit": "Wh",
                                        "measurand": "Energy.Active.Import.Register"}]}]}


def _torn_append(path, entry, keep):
    """A power cut while the queue appended `entry`: only its first `keep` characters reached flash."""
    with open(path, "a") as f:
        f.write((json.dumps(entry) + "\n")[:keep])


def test_a_line_torn_by_a_cut_never_swallows_the_stop_transaction_queued_after_it(tmp_path):
    path = str(tmp_path / "txq.log")
    q = TxQueue(path)
    q.push("StartTransaction", {"idTag": "CARD1", "meterStart": 0}, 1)
    q.push("MeterValues", MV, 1)
    line = ["q", 3, "MeterValues", MV, 1, {}]
    for keep in range(1, len(json.dumps(line)) + 1):   # the cut at every byte of the line
        p = str(tmp_path / ("txq%d.log" % keep))
        with open(path) as src, open(p, "w") as dst:
            dst.write(src.read())
        _torn_append(p, line, keep)
        booted = TxQueue(p)                            # the charger boots again
        booted.push("StopTransaction", {"meterStop": 5, "reason": "PowerLoss"}, 1)
        again = TxQueue(p)                             # and once more before the backend answers
        actions = [r[1] for r in again.records]
        assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction", (keep, actions)
        assert len(again) == len(booted), keep


def test_an_acknowledgement_after_a_torn_line_is_kept(tmp_path):
    """The central system answered the StartTransaction after the cut: it must not be sent twice."""
    path = str(tmp_path / "txq.log")
    q = TxQueue(path)
    start = q.push("StartTransaction", {"idTag": "CARD1", "meterStart": 0}, 1)
    _torn_append(path, ["q", 2, "MeterValues", MV, 1, {}], 20)
    booted = TxQueue(path)
    booted.drop(start)
    booted.set_txid(1, 42)
    again = TxQueue(path)
    assert len(again) == 0 and again.txids == {1: 42}


def test_a_full_offline_queue_does_not_rewrite_itself_at_every_meter_sample(tmp_path):
    """Offline for days at the default 60 s MeterValueSampleInterval: once 400 messages wait, each
    new sample dropped the oldest one and rewrote the whole file (about 120 KB) - 60 rewrites an
    hour. The file's dead lines are what compaction is for: at most one rewrite per
    COMPACT_LINES / 2 samples, the queue still bounded and in order."""
    path = str(tmp_path / "txq.log")
    q = TxQueue(path)
    rewrites = []
    real = q.compact

    def counted():
        rewrites.append(os.stat(path).st_size)
        real()
    q.compact = counted
    q.push("StartTransaction", {"idTag": "CARD1", "meterStart": 0}, 1)
    for _ in range(txqueue.MAX_QUEUED + 600):          # 10 hours past full, one sample a minute
        q.push("MeterValues", MV, 1)
    assert txqueue.MAX_QUEUED // 2 <= len(q) <= txqueue.MAX_QUEUED      # thinned (stop 45)
    assert len(rewrites) <= 600 // (txqueue.COMPACT_LINES // 2) + 1, len(rewrites)
    booted = TxQueue(path)
    assert [r[0] for r in booted.records] == [r[0] for r in q.records]
    assert booted.records[0][1] == "StartTransaction"
    # bounded: the live messages plus at most COMPACT_LINES dead lines
    assert booted.lines <= txqueue.MAX_QUEUED + txqueue.COMPACT_LINES + 2


def test_an_online_queue_still_compacts_as_often_as_before(tmp_path):
    """Each message answered at once: the log is rewritten after about COMPACT_LINES lines."""
    path = str(tmp_path / "txq.log")
    q = TxQueue(path)
    for _ in range(300):
        q.drop(q.push("MeterValues", MV, 1))
    assert q.lines <= txqueue.COMPACT_LINES + 1
    assert len(TxQueue(path)) == 0


def _session(e, now, user, mwh=2_000_000):
    e.session_start(now, user)
    e.add_mwh(mwh, now + 1000)
    e.session_end(now + 60_000, "ev_stop")
    return now + 61_000


def test_session_numbers_go_on_when_both_checkpoints_are_lost(tmp_path):
    """Both energy copies damaged on flash (the lifetime total is then gone, said in error): the
    history's session numbers go on from the ring, never a second session 1 in the CSV, and a
    power cut in the next session is still recorded once."""
    d = str(tmp_path)
    e = Energy(d, wall=lambda: 1_800_000_000, sessions_kept=5)
    now = 0
    for i in range(7):
        now = _session(e, now, "CARD%d" % i)
    assert [r["sid"] for r in e.sessions()] == [3, 4, 5, 6, 7]
    for n in CHECKPOINT_FILES:
        with open(os.path.join(d, n), "r+b") as f:
            f.seek(3)
            f.write(b"X")
    e = Energy(d, wall=lambda: 1_800_000_000, sessions_kept=5)
    assert e.error and "checkpoint damaged" in e.error
    _session(e, 0, "NEW")
    e.session_start(200_000, "CUT")
    e.add_mwh(60_000, 201_000)                          # a checkpoint with the session open
    e = Energy(d, wall=lambda: 1_800_000_000, sessions_kept=5)     # power cut
    sids = [r["sid"] for r in e.sessions()]
    assert sids == [5, 6, 7, 8, 9], sids
    assert [r.get("user") for r in e.sessions()][-2:] == ["NEW", "CUT"]
    assert e.sessions()[-1]["reason"] == "power_loss"


class FullFlash:
    """A full flash under `d`: every file opened for writing there fails with ENOSPC (reads work)."""

    def __init__(self, monkeypatch, d, only=None):
        import builtins
        import errno
        real = builtins.open

        def full(path, mode="r", *a, **k):
            if (self.on and isinstance(path, str) and path.startswith(d) and any(c in mode for c in "wa+")
                    and (only is None or path.endswith(only))):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(path, mode, *a, **k)
        self.on = True
        monkeypatch.setattr(builtins, "open", full)


def test_a_session_ended_on_a_full_flash_is_recorded_once_there_is_room(tmp_path, monkeypatch):
    """The flash fills during a session and the car leaves: its record could not be written. It
    was dropped silently (once a checkpoint went through, error was None and the ring empty, also
    after a reboot); it is kept, said in error, and written when the flash has room again."""
    d = str(tmp_path)
    e = Energy(d, wall=lambda: 1_800_000_000)
    e.session_start(0, "CARD1")
    e.add_mwh(7_000_000, 1000)
    flash = FullFlash(monkeypatch, d)
    rec = e.session_end(60_000, "ev_stop")
    assert rec["wh"] == 7000.0 and e.sessions() == []
    assert "not stored" in e.error or "checkpoint failed" in e.error
    e.poll(65_000)
    flash.on = False                                    # a log file removed: room again
    for t in range(70_000, 130_000, 1000):
        e.poll(t)
    assert e.error is None, e.error
    assert [(r["sid"], r["user"], r["wh"], r["reason"]) for r in e.sessions()] == [(1, "CARD1", 7000.0, "ev_stop")]
    e = Energy(d)                                       # and after a reboot: once, not open
    assert len(e.sessions()) == 1 and not e.session_open and e.wh_total == 7000.0


def test_a_record_the_ring_refuses_is_said_in_error_not_hidden_by_the_checkpoint(tmp_path, monkeypatch):
    """Only the ring's file cannot be written (the copies can): the checkpoint after the record
    cleared the ring's error at once, the record vanished with no word of it."""
    d = str(tmp_path)
    e = Energy(d, wall=lambda: 1_800_000_000)
    flash = FullFlash(monkeypatch, d, only="sessions.ring")
    e.session_start(0, "CARD1")
    e.add_mwh(2_000_000, 1000)
    e.session_end(60_000, "ev_stop")
    assert e.error is not None and "session record not stored" in e.error, e.error
    for t in range(61_000, 200_000, 1000):
        e.poll(t)
    assert "session record not stored" in (e.error or ""), e.error
    flash.on = False
    for t in range(200_000, 215_000, 1000):
        e.poll(t)
    assert e.error is None and [r["sid"] for r in e.sessions()] == [1]
