"""What the firmware writes to its flash, ninth audit: the virtual bench runs the unmodified
firmware on a flash directory whose every write is counted file by file (tools/sim/flashcount.py);
the counts are the budget docs/metering.md gives ("Flash writes, file by file"). littlefs copies a
file's last block on every append and a small file's metadata on every rewrite, so what matters is
how often a file is written, not how much: nothing may be written per tick or per second, nothing
may grow without a cap.

Each scenario that failed on the code before its fix says so."""
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from tools.sim.flashcount import FlashCount
from evse.services import console

HOUR_S = 3600


class Broken:
    """A service whose poll raises every cycle (a part gone bad in the field: a peripheral that
    answers OSError, a MemoryError of a fragmented heap): the App reports it, every cycle."""

    def poll(self, now):
        raise OSError(5)


def _bench(tmp_path, **cfg):
    b = Drive(config=dict({"max_current": 32}, **cfg), flash_dir=str(tmp_path))
    console.attach(b.app, console.UartStream(mm.UART(9, 115200)))
    return b


def test_an_error_repeated_every_cycle_for_an_hour_is_written_a_few_times_not_every_second(tmp_path):
    """A service that raises at every control cycle for an hour (360,000 reports). Before: the
    log appended to log.txt once a second (3,600 appends, 3.8 MB and 496 rotations an hour). Now
    the same line again is counted, not written, and said ("last line repeated N times") when
    another line is written or every REPEATS_FLUSH_MS (10 min); the file still says what happened
    and how often: 7 writes, 323 bytes in the hour."""
    from evse.services import log as L
    b = _bench(tmp_path)
    b.run(1)
    b.app.services.append(Broken())
    with FlashCount(b.rig.flash_dir) as fc:
        b.run(HOUR_S)
    writes = fc.files.get("log.txt", {}).get("appends", 0)
    assert writes <= 3 + HOUR_S * 1000 // L.REPEATS_FLUSH_MS, fc.files      # measured: 7
    text = "\n".join(b.app.log.lines())
    assert "Broken: OSError(5)" in text
    assert "repeated" in text, text[-400:]
    assert fc.total("bytes") < 64 * 1024, fc.files


def test_a_new_error_after_a_repeating_one_still_reaches_the_flash_within_seconds(tmp_path):
    """The budget holds back repeats, not news: after an hour of the same error, a different
    one is on flash within a few seconds."""
    b = _bench(tmp_path)
    b.run(1)
    bad = Broken()
    b.app.services.append(bad)
    b.run(HOUR_S)
    b.app.services.remove(bad)
    b.app.report("meter", "something new")
    b.run(2)
    assert "something new" in "\n".join(b.app.log.lines())


def test_an_idle_log_poll_calls_nothing(tmp_path):
    """The Pico polls the log every 10 ms. Stop 44's write budget was kept up at every poll, with
    nothing to write: two method calls a poll, +0.07 ms of each 10 ms on the emulated Pico
    (`make bench`'s rp2_tick_cpu A 1.11 -> 1.19 ms). With nothing queued, nothing pending and no
    repeat counted, a poll now calls no other function."""
    import sys
    from evse.services import log as L
    log = L.Log(str(tmp_path))
    log.error("once")
    log.poll(0)
    log.poll(2000)                       # written: nothing left
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append(frame.f_code.co_name) if event == "call" else None)
    try:
        log.poll(4000)
    finally:
        sys.setprofile(None)
    assert [c for c in calls if c != "poll"] == [], calls


# --- the budget docs/metering.md gives ("Flash writes, file by file"), measured as `make bench` does ---

def test_an_idle_charger_writes_nothing(tmp_path):
    """Two hours with nothing plugged in, the console and its log attached: not a byte."""
    from tools.benchmarks import bench_flash as B
    fc, per_day = B.idle(str(tmp_path), hours=2)
    assert fc.files == {} and per_day == 12


def test_each_car_costs_ten_checkpoints_a_copy_and_one_record(tmp_path):
    """Two cars, 15 min at 16 A (3.7 kW) each (the 20-car day is ten times this): a checkpoint
    every 50 Wh or 60 s, alternately into the two copies, one session record each, nothing else;
    no file is written more than once in 40 s."""
    from tools.benchmarks import bench_flash as B
    fc, _ = B.plugs(str(tmp_path), n=2)
    got = {k: (v["rewrites"], v["appends"]) for k, v in fc.files.items()}
    assert got == {"energy/energy.a": (20, 0), "energy/energy.b": (20, 0), "sessions.ring": (1, 2)}, got
    assert 2 * 15 * 60 / (got["energy/energy.a"][0] + got["energy/energy.b"][0]) > 20
    import os
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "metering.md")) as f:
        doc = f.read()       # the 20-car day there: ten times these, and the ring created once
    row = "| 20 cars, each 15 min at 16 A | %d | " % (10 * (20 + 20 + 2) + 1)
    assert row + "71 KB | `energy/energy.a` / `energy.b` 200 each, `sessions.ring` 20 records |" in doc


def test_an_ocpp_transaction_offline_writes_once_a_sample_not_once_a_second(tmp_path):
    """Ten minutes of an offline transaction at 7.4 kW, MeterValues every 60 s: the state (the
    register handed out, on flash before it is sent) and one queued message per sample, the
    checkpoints as without OCPP."""
    from tools.benchmarks import bench_flash as B
    fc, per_day = B.ocpp_offline(str(tmp_path), minutes=10)
    got = {k: (v["rewrites"], v["appends"], v["renames"]) for k, v in fc.files.items()}
    assert got["ocpp/state.json.tmp"][0] <= 11 and got["ocpp/state.json"][2] <= 11, got
    assert got["ocpp/txq.log"][1] <= 11, got
    assert got["energy/energy.a"][0] + got["energy/energy.b"][0] <= 26, got
    assert per_day == 24


# --- OCPP smart charging: a TxProfile every 15 s (schedule.py) ----------------------------------------

def _profile(pid, purpose, amps):
    return {"chargingProfileId": pid, "stackLevel": 0, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}


def test_a_load_manager_s_tx_profile_every_15_s_does_not_rewrite_the_kept_profiles(tmp_path):
    """A site's load manager sends the running transaction a new TxProfile every 15 s for 4 hours
    (960 profiles), beside the site's ChargePointMaxProfile. TxProfiles end with their transaction
    and are not kept on flash, yet every one rewrote profiles.json with the same content (960
    rewrites a day for nothing). Now the file is written when what it keeps changes: once."""
    from evse.ocpp.schedule import Profiles
    path = str(tmp_path / "profiles.json")
    pr = Profiles(path)
    with FlashCount(str(tmp_path)) as fc:
        assert pr.add(0, _profile(1, "ChargePointMaxProfile", 32), None) == "Accepted"
        for i in range(960):
            assert pr.add(1, _profile(2, "TxProfile", 6 + i % 20), 7) == "Accepted"
        pr.end_transaction()
    writes = fc.files["profiles.json.tmp"]["rewrites"]
    assert writes == 1, fc.files
    again = Profiles(path)                                  # a reboot: the site's cap is there
    assert [it[1]["purpose"] for it in again.items] == ["ChargePointMaxProfile"]
    assert again.limit_at(0) == 32


def test_a_configuration_value_sent_again_is_not_written_again(tmp_path):
    """A central system that applies its whole configuration at every connection (a flapping link:
    100 reconnections) sends the same MeterValueSampleInterval each time: config.json was
    rewritten every time; now only the first, a new value again."""
    from evse.ocpp.config import Config
    path = str(tmp_path / "config.json")
    cfg = Config(path)
    with FlashCount(str(tmp_path)) as fc:
        for _ in range(100):
            assert cfg.change("MeterValueSampleInterval", "300") == "Accepted"
        assert cfg.change("MeterValueSampleInterval", "60") == "Accepted"
    assert fc.files["config.json.tmp"]["rewrites"] == 2, fc.files
    assert Config(path).get("MeterValueSampleInterval") == 60


# --- OCPP firmware update: a download that failed (firmware.py) ------------------------------------

def test_a_failed_firmware_download_leaves_no_file_on_flash(tmp_path, monkeypatch):
    """UpdateFirmware whose file arrives whole but is not the one the location pins (sha256): the
    update ends DownloadFailed. The downloaded file (up to 768 KB, three quarters of a Pico's free
    littlefs) stayed in fw/ until the next update: a filesystem left nearly full, where the
    checkpoints' wear falls on a few blocks and the next offline queue can fill it. It is removed."""
    import os
    from evse.ocpp import connection
    from host_tests.test_octt_firmware import files_case, fw_statuses, update
    from test_firmware_bundle import version_bundle
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/9.0.0.bin#sha256=" + "0" * 64))
        await b.until(lambda: "DownloadFailed" in fw_statuses(cs), 20, "DownloadFailed")
        await b.wait(0.5)
        left = os.listdir(str(tmp_path / "fw"))
        assert "download.bin" not in left, left
    files_case(tmp_path, case, {"/fw/9.0.0.bin": version_bundle("9.0.0")})


# --- MQTT and Home Assistant connected (mqtt.py) ---------------------------------------------------

def test_home_assistant_connected_writes_its_discovery_file_once_not_at_each_connection(tmp_path):
    """The charger on a real broker (mosquitto) with Home Assistant's discovery: connected,
    charging, its link dropped and back. What it writes: the checkpoints of the charge, and
    mqtt_ha.json (the prefix and the number's max announced) once, at the first connection; the
    reconnection and the states published meanwhile write nothing."""
    import asyncio
    from mqtt_broker import Broker, Proxy, Subscriber, need_mosquitto
    from test_mqtt_bench import Bench, P, run
    need_mosquitto()
    (tmp_path / "broker").mkdir()
    (tmp_path / "flash").mkdir()
    broker = Broker(tmp_path / "broker").start()
    fc = FlashCount(str(tmp_path / "flash"))

    async def main():
        proxy = await Proxy(broker.port).start()
        sub = await Subscriber(broker.port).start()
        b = Bench(proxy.port, tmp_path / "flash")
        with fc:
            await b.start()
            try:
                await b.until(lambda: sub.last(P + "status") == "online", what="online")
                b.d.plug()
                await b.until(lambda: sub.last(P + "state") == "B2", what="B2")
                b.d.charge(16)
                await b.until(lambda: sub.last(P + "state") == "C2", 30, "charging")
                await b.wait(60)
                proxy.cut()
                await b.until(lambda: sub.last(P + "status") == "offline", 5, "the will")
                proxy.allow()
                await b.until(lambda: sub.last(P + "status") == "online", 300, "back online")
                await b.wait(30)
            finally:
                await b.stop()
                await proxy.close()
                await sub.close()

    try:
        run(main())
    finally:
        broker.stop()
    assert fc.files["mqtt_ha.json.tmp"]["rewrites"] == 1, fc.files
    assert set(fc.files) <= {"mqtt_ha.json.tmp", "mqtt_ha.json", "energy/energy.a", "energy/energy.b", "sessions.ring"}, fc.files


# --- OCPP online: MeterValues answered at once (txqueue.py) ------------------------------------------

def _queued_lines(path, action):
    try:
        with open(path) as f:
            return sum(1 for line in f if '"%s"' % action in line)
    except OSError:
        return 0


def test_meter_values_every_10_s_to_a_connected_central_system_do_not_go_through_the_flash(tmp_path):
    """evcc sets MeterValueSampleInterval 10 (docs/ocpp.md). Two minutes of charging with the
    central system answering: a dozen MeterValues arrive, and none of them was written to the
    transaction queue's file (before: each was appended, then its answer appended too, two
    appends of the queue's file every 10 s while charging)."""
    from octt_cs import charging, run_case

    async def case(cs, power_on):
        b = await power_on(ocpp_config={"MeterValueSampleInterval": 10})
        await charging(b)
        n = len(cs.actions("MeterValues"))
        await b.wait(120.0)
        await b.until(lambda: not b.svc.txq.records, 5, "queue delivered")
        assert len(cs.actions("MeterValues")) - n >= 11
        assert _queued_lines(b.svc.txq.path, "MeterValues") == 0
        assert _queued_lines(b.svc.txq.path, "StartTransaction") == 1     # a Start is kept as always
    run_case(tmp_path, case)


def test_a_sample_held_in_ram_goes_to_flash_when_the_link_drops_or_another_message_queues(tmp_path):
    """The sample on the wire is in RAM only; answered, nothing is written; not answered (the
    link lost, refused), held its time or with a Start or Stop queued behind it, it is written
    first, in its order, and a reboot finds it."""
    from evse.ocpp.txqueue import TxQueue
    path = str(tmp_path / "txq.log")
    q = TxQueue(path)
    s1 = q.push("MeterValues", {"n": 1}, 7, keep=False)
    assert _queued_lines(path, "MeterValues") == 0 and q.head()[0] == s1
    q.drop(s1)                                             # answered
    assert not q.records and _queued_lines(path, "MeterValues") == 0 and not q.unsaved
    s2 = q.push("MeterValues", {"n": 2}, 7, keep=False)
    q.flush()                                              # the link dropped with it on the wire
    assert [r[0] for r in TxQueue(path).records] == [s2]
    s3 = q.push("MeterValues", {"n": 3}, 7, keep=False)   # behind s2: held too (stop 45)
    assert [r[0] for r in TxQueue(path).records] == [s2]
    q.flush()                                              # held its time (chargepoint.poll)
    assert [r[0] for r in TxQueue(path).records] == [s2, s3]
    q.drop(s2)
    q.drop(s3)
    s4 = q.push("MeterValues", {"n": 4}, 7, keep=False)
    s5 = q.push("StopTransaction", {"meterStop": 5}, 7)   # queued behind the sample on the wire
    assert [(r[0], r[1]) for r in TxQueue(path).records] == [(s4, "MeterValues"), (s5, "StopTransaction")]
