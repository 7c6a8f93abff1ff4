# The fault log's time and boot on the board's own interpreter (the unix port): a fault after the
# clock is set keeps its UTC seconds on flash and the console gives it in ISO 8601; a power cut
# (the clock lost with it) gives the next records a higher boot and no time; the lines of older
# firmware are read beside them.
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.rig import Rig, new_flash_dir
from evse.services.console import Console

import upytest

NOW_UTC = 1796558400           # 2026-12-06T12:00:00Z


def test_records_keep_their_utc_time_and_boot_across_a_power_cut():
    import gc
    gc.collect()
    d = new_flash_dir()
    with open(d + "/faults.json", "w") as f:     # older firmware's file: a snapshot, then a line
        f.write('{"records": [[1000, "ventilation", "C2"]], "counters": {"ventilation": 1}, "latched": null}'
                '\n[2000, "rcd", "C2"]')
    rig = Rig(config={"max_current": 32}, flash_dir=d)
    mm.set_rtc(NOW_UTC)
    rig.run(1.0)
    rig.app.journal.add(1000, "diode", "B2")
    rig.power_off()
    rig.power_on()                               # the clock is not set again
    rig.run(1.0)
    rig.app.journal.add(1000, "diode", "B2")
    recs = Console(rig.app, None).answer({"cmd": "log", "n": 4}, 0)["records"]
    assert recs[:2] == [[1000, "ventilation", "C2", None, None], [2000, "rcd", "C2", None, None]], recs
    assert recs[2][:3] == [1000, "diode", "B2"] and recs[2][3].startswith("2026-12-06T12:00:0"), recs
    assert recs[3] == [1000, "diode", "B2", None, recs[2][4] + 1], recs


if __name__ == "__main__":
    upytest.run(globals())
