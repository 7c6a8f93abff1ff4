"""What the firmware writes to its flash, tenth audit (over years and offline): what stop 44's
wear measurement (tools/benchmarks/bench_flash.py, docs/metering.md "Flash writes, file by file")
left. The days are the bench's own; the OCPP ones run against the PyPI `ocpp` central system
(octt_cs), which checks every frame against the official OCPP 1.6 schemas.

Each scenario that failed on the code before its fix says so."""
from datetime import datetime

from octt_cs import charging, run_case
from test_octt_core import _offline, _online
from tools.benchmarks import bench_flash as B

HOLD_S = 60     # txqueue.HOLD_MS: offline samples held in RAM at most this long


def _stamp(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def _register(mv):
    for s in mv["meterValue"][0]["sampledValue"]:
        if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
            return int(float(s["value"]))
    return None


# --- 1. MeterValues every second offline: held in RAM, one append a minute (txqueue.py) -------------

def test_an_offline_transaction_sampled_every_second_appends_its_queue_about_once_a_minute(tmp_path):
    """Ten minutes of an offline transaction at 7.4 kW, MeterValueSampleInterval 1 (a central
    system that asks for every second, then goes away). Before: each sample was one append of
    ocpp/txq.log (802 in the ten minutes: 19,248 a day of 4 h, the flash of a Pico worn out in
    about a year). Now the samples are held in RAM and written together once the oldest is
    HOLD_MS (60 s) old: about one append a minute (measured 11), every sample still queued."""
    fc, per_day = B.ocpp_offline(str(tmp_path), minutes=10, interval=1)
    appends = fc.files["ocpp/txq.log"]["appends"]
    assert appends <= 10 * 60 // HOLD_S + 2, fc.files
    assert per_day == 24


def test_samples_held_offline_lose_at_most_a_minute_to_a_power_cut_and_keep_their_order(tmp_path):
    """A transaction charging, the central system gone, MeterValues every second for 150 s, then
    the power is cut. At the next boot the queue holds the samples written, in order, one second
    apart, and only the last HOLD_MS (60 s) at most are gone; back online they arrive before the
    PowerLoss StopTransaction, whose meterStop is at least every register the central system got."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        await _offline(cs, b)
        n = len(cs.calls)
        await b.wait(150.0)
        b = await power_on(wait_accepted=False)         # the power cut: a new board, same flash
        await _online(cs, b)
        await b.until(lambda: cs.actions("StopTransaction"), 60, "StopTransaction")
        await b.until(lambda: not b.svc.txq.records, 60, "queue delivered")
        after = [(a, p) for a, p in cs.calls[n:] if a in ("MeterValues", "StopTransaction")]
        assert after[-1][0] == "StopTransaction" and after[-1][1]["reason"] == "PowerLoss", after[-1]
        mvs = [p for a, p in after if a == "MeterValues" and p.get("transactionId")]
        ts = [_stamp(p["meterValue"][0]["timestamp"]) for p in mvs]
        assert [round(y - x) for x, y in zip(ts, ts[1:])] == [1] * (len(ts) - 1), ts
        assert len(mvs) >= 150 - HOLD_S - 2, len(mvs)
        regs = [_register(p) for p in mvs]
        assert regs == sorted(regs) and after[-1][1]["meterStop"] >= regs[-1], (regs, after[-1])
    run_case(tmp_path, case)


# --- 2. state.json in a transaction: once per 50 Wh, not once per sample (chargepoint.meter_wh) --------

def test_a_connected_transaction_sampled_every_second_rewrites_its_state_once_per_50_wh(tmp_path):
    """Two minutes of charging at 32 A (7.4 kW, about 250 Wh) with the central system connected
    and answering MeterValues every second. Before: ocpp/state.json was rewritten before each
    sample (the register handed out and its time: 120 rewrites; 14,448 a day of 4 h). Now the
    register's ceiling is kept HI_AHEAD_WH (50 Wh) ahead of what is handed out: one rewrite per
    50 Wh (measured 4), and every register sent is below the one on flash."""
    import json
    import os
    from tools.sim.flashcount import FlashCount
    fc = FlashCount(str(tmp_path))

    async def case(cs, power_on):
        b = await power_on(meter="ct")                  # a CT meter: the register counts
        await charging(b)
        await b.wait(5.0)
        n = len(cs.calls)
        with fc:
            await b.wait(120.0)
        regs = [_register(p) for a, p in cs.calls[n:] if a == "MeterValues" and p.get("transactionId")]
        assert len(regs) >= 110 and regs[-1] - regs[0] >= 200, regs
        with open(os.path.join(str(tmp_path), "ocpp", "state.json")) as f:
            assert json.load(f)["hi"] >= regs[-1]
    run_case(tmp_path, case)
    writes = fc.files.get("ocpp/state.json.tmp", {}).get("rewrites", 0)
    assert 1 <= writes <= 8, fc.files


# --- 3. the energy checkpoints in a directory of their own (metering/energy.py) ----------------------

def test_a_charge_writes_its_checkpoints_in_their_own_directory_not_the_root(tmp_path):
    """Two cars of 15 min at 16 A. On a nearly full littlefs the root directory's metadata pair is
    never moved by wear levelling, and it took every checkpoint's commit: 13 years of 4 h a day on
    a Pico, 138 with the checkpoints in a directory (stop 44's replay). Before: energy.a and
    energy.b in the root. Now in energy/; the root gets the one session record a car."""
    fc, _ = B.plugs(str(tmp_path), n=2)
    root = sorted(name for name in fc.files if "/" not in name)
    assert root == ["sessions.ring"], fc.files
    assert fc.files["energy/energy.a"]["rewrites"] == fc.files["energy/energy.b"]["rewrites"] == 20, fc.files


def test_samples_held_offline_are_on_flash_before_a_reboot_asked_for(tmp_path):
    """Offline, 30 s of MeterValues every second held in RAM, then a reboot asked for (the
    console's `reboot`, OCPP's Reset after its wait, a web firmware update): they are on flash
    before it, as the energy count is (App.reset); a power cut alone may lose them."""
    import os
    from evse.ocpp.txqueue import TxQueue
    from evse.shell import hal
    d = B.board(str(tmp_path), ocpp_url="ws://127.0.0.1:9/", ocpp_id="cp1",
                ocpp_config={"AllowOfflineTxForUnknownId": True, "LocalAuthorizeOffline": True,
                             "MeterValueSampleInterval": 1})
    from evse.ocpp import auth
    d.run(60)
    d.plug()
    d.run(1)
    auth.present_id(d.app.ocpp, "TAG1")
    d.run(2)
    d.ev("C")
    d.run(30)
    held = len(d.app.ocpp.txq.unsaved)
    assert held >= 20
    reset, hal.reset = hal.reset, lambda: None
    try:
        d.app.reset()
    finally:
        hal.reset = reset
    queued = TxQueue(os.path.join(str(tmp_path), "ocpp", "txq.log")).records
    assert sum(1 for r in queued if r[1] == "MeterValues") >= held, (held, len(queued))


def test_a_full_offline_queue_keeps_the_whole_time_at_a_coarser_interval(tmp_path):
    """Four hours offline at MeterValueSampleInterval 1: 14,400 samples for a queue of 400. Before,
    each sample past the cap dropped the oldest (a drop line and a share of a compaction of the
    whole file a sample; the queue held the last 7 minutes, the transaction's first 3 h 53 min
    gone). Now a full queue drops every second sample and queues one in twice as many from then
    on: it covers the four hours at one interval, and most samples never reach the flash."""
    import json
    import os
    from evse.ocpp import txqueue
    from evse.ocpp.txqueue import TxQueue
    from tools.sim.flashcount import FlashCount
    path = os.path.join(str(tmp_path), "txq.log")
    q = TxQueue(path)
    q.push("StartTransaction", {"idTag": "TAG1", "meterStart": 0}, 1)
    n = 4 * 3600
    with FlashCount(str(tmp_path)) as fc:
        for i in range(n):
            q.push("MeterValues", {"i": i}, 1, keep=False)
            if i % 60 == 59:
                q.flush()                               # HOLD_MS (the service's poll)
        q.push("StopTransaction", {"meterStop": 9}, 1)
    kept = [r[2]["i"] for r in q.records if r[1] == "MeterValues"]
    assert len(q) <= txqueue.MAX_QUEUED
    gaps = sorted(set(b - a for a, b in zip(kept, kept[1:])))
    assert len(gaps) == 1 and gaps[0] <= 64, gaps           # one interval, the whole time
    assert kept[0] <= gaps[0] and kept[-1] >= n - gaps[0], (kept[:3], kept[-3:])
    assert [r[1] for r in TxQueue(path).records][::len(q) - 1] == ["StartTransaction", "StopTransaction"]
    line = len(json.dumps(["q", 1, "MeterValues", {"i": n}, 1, {}])) + 1
    written = sum(f["bytes"] for f in fc.files.values())
    assert written < n * line // 4, (written, n * line)     # measured under a fifth
