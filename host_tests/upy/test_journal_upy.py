# The fault journal on flash, on both interpreters: a fault set in the control tick appends one
# short line (the file of 31 records before it is left as it is, never rewritten), a line torn by
# a power cut is skipped and the journal goes on, the file of older firmware (one JSON object) is
# still read, and the file stays bounded (compacted into one snapshot after LINES_MAX lines).
import json
import os

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.drive import Drive
from tools.sim.rig import Rig, new_flash_dir
from evse.services import journal as J
from evse.services.console import Console

import upytest

OLD = {"records": [[1000 * i, "ventilation", "C2"] for i in range(31)],
       "counters": {"ventilation": 31, "watchdog_reset": 2}, "latched": None}


def _old_file(d, obj=OLD):
    """The journal as older firmware wrote it: one JSON object, no newline."""
    with open(d + "/faults.json", "w") as f:
        f.write(json.dumps(obj))
    with open(d + "/faults.json", "rb") as f:
        return f.read()


def _bytes(d):
    with open(d + "/faults.json", "rb") as f:
        return f.read()


def test_a_fault_in_the_tick_appends_one_line_and_rewrites_nothing():
    d = new_flash_dir()
    before = _old_file(d)
    bench = Drive(config={"max_current": 32}, flash_dir=d).run(1.0).charge().run(0.5)
    assert bench.state == "C2", bench.state
    bench.set(diode_ok=False)                  # diode short while charging: a fault in the tick
    bench.run(0.1)
    assert bench.fault == "diode"
    after = _bytes(d)
    assert after[:len(before)] == before       # the 31 records on flash untouched
    tail = after[len(before):]
    assert tail.count(b"\n") == 1 and len(tail) < 40, tail
    line = json.loads(tail.decode())
    assert line[1:3] == ["diode", "C2"] and 3000 < line[0] < 3200, line    # the state it came in
    assert line[3:] == [0, None, 1], line      # not latched, no clock on the bench, the first boot numbered
    j = J.read(d + "/faults.json")
    assert [r[1] for r in j["records"]][-2:] == ["ventilation", "diode"] and len(j["records"]) == 32
    assert j["counters"] == {"ventilation": 31, "watchdog_reset": 2, "diode": 1}


def test_a_torn_last_line_is_skipped_and_the_next_fault_is_kept():
    d = new_flash_dir()
    _old_file(d)
    j = J.Journal(d + "/faults.json")
    j.add(5000, "weld", "C2", latched=True)
    with open(d + "/faults.json", "a") as f:
        f.write('\n[6000, "diode", "C')         # the power cut in the middle of the next line
    j = J.Journal(d + "/faults.json")          # the reboot
    assert j.latched == "weld" and j.records[-1][:3] == [5000, "weld", "C2"]
    assert j.counters.get("diode") is None and "1 damaged line" in j.error
    j.add(7000, "cleared", "weld")
    j.clear_latched()
    again = J.Journal(d + "/faults.json")
    assert [r[:3] for r in again.records[-2:]] == [[5000, "weld", "C2"], [7000, "cleared", "weld"]]
    assert again.latched is None and again.counters["weld"] == 1 and again.counters["cleared"] == 1


def test_a_torn_snapshot_left_a_copy_that_is_read():
    d = new_flash_dir()
    _old_file(d, {"records": [[1, "weld", "C2"]], "counters": {"weld": 1}, "latched": "weld"})
    os.rename(d + "/faults.json", d + "/faults.json.tmp")    # cut between remove and rename (FAT)
    j = J.Journal(d + "/faults.json")
    assert j.latched == "weld" and j.counters == {"weld": 1}
    assert J.read(d + "/faults.json")["latched"] == "weld"  # compacted back into its place


def test_the_old_format_is_read_as_it_was():
    d = new_flash_dir()
    _old_file(d, dict(OLD, latched="weld"))
    j = J.Journal(d + "/faults.json")
    assert j.records == OLD["records"] and j.counters == OLD["counters"] and j.latched == "weld"
    assert j.error is None


def test_the_file_stays_bounded():
    d = new_flash_dir()
    j = J.Journal(d + "/faults.json")
    sizes = []
    for i in range(5 * J.LINES_MAX):
        j.add(i, "rcd_dc", "C2")
        sizes.append(len(_bytes(d)))
    assert max(sizes) < 4000, max(sizes)
    again = J.Journal(d + "/faults.json")
    assert again.counters == {"rcd_dc": 5 * J.LINES_MAX} and len(again.records) == J.RING_SIZE
    assert again.records[-1][:3] == [5 * J.LINES_MAX - 1, "rcd_dc", "C2"]


def test_the_console_log_is_the_same_from_either_file():
    import gc
    gc.collect()                               # two boots of the App in this test
    d = new_flash_dir()
    _old_file(d)
    rig = Rig(config={"max_current": 32}, flash_dir=d)
    rig.app.journal.add(99, "weld", "C2", latched=True)
    con = Console(rig.app, None)
    live = con.answer({"cmd": "log", "n": 5}, 0)
    rig.power_off()
    rig.power_on()
    booted = Console(rig.app, None).answer({"cmd": "log", "n": 5}, 0)
    assert live == booted and booted["latched"] == "weld" and booted["records"][-1][:3] == [99, "weld", "C2"]
    assert booted["counters"]["ventilation"] == 31


if __name__ == "__main__":
    upytest.run(globals())
