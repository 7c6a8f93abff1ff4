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
    log appended to log.txt once a second (3,600 appends and 1,300 rotations an hour, 1.5 KB a
    write: on a Pico's 1.4 MiB littlefs about 86,000 block copies a day, 100,000 erase cycles in
    under a year). Now the same line again is counted, not written, and the file is written at most
    FILE_BURST times at once, then once a minute; the file still says what happened and how often."""
    from evse.services import log as L
    b = _bench(tmp_path)
    b.run(1)
    b.app.services.append(Broken())
    with FlashCount(b.rig.flash_dir) as fc:
        b.run(HOUR_S)
    writes = fc.files.get("log.txt", {}).get("appends", 0)
    assert writes <= HOUR_S * 1000 // L.FILE_REFILL_MS + L.FILE_BURST, fc.files
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
