# upy-heap: 344k
# (not a board budget: the mock, five tests' rings and a 50-line CSV share it; at 256k the last
# test failed 2 runs in 3 on where a 1.8 KB string found room, depending on the import order;
# at 304k it failed every run after stop 44's fixes, the smallest it passes with is 312k: +10 %)
# The charging history on both interpreters: one record per session (start, stop, energy, who, peak
# current, end reason) in the ring on flash, through a power cut, as CSV through the console.
import json

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.metering.energy import Energy
from evse.services import console as C
from evse.services import history as H
from evse.shell.ring import RING_SLOT_BYTES

import upytest


class Port:
    def __init__(self):
        self.rx = b""
        self.tx = b""

    def read(self, n):
        d, self.rx = self.rx[:n], self.rx[n:]
        return d or None

    def write(self, data):
        self.tx += bytes(data)
        return len(data)


def _ask(rig, port, req):
    port.tx = b""
    port.rx += (json.dumps(req) + "\n").encode()
    rig.run(0.3)                     # 256 bytes written per poll
    return [json.loads(x) for x in port.tx.decode().split("\n")
            if x.strip() and '"ev"' not in x][-1]


def _session(rig, port, tag, amps, seconds):
    w = rig.world
    if tag:
        assert _ask(rig, port, {"cmd": "authorize", "id_tag": tag})["ok"]
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    rig.run(0.5)
    w.ev_ohms = 882
    w.draw_amps = amps
    w.recompute()
    rig.run(seconds)
    assert rig.app.charger.out.contactor


def _unplug(rig):
    w = rig.world
    w.ev_ohms = 2740
    w.recompute()
    rig.run(0.5)
    w.plugged, w.pp_ohms = False, None
    w.recompute()
    rig.run(1.0)


def _rig(**cfg):
    c = {"max_current": 32, "meter": "ct", "require_auth": True}
    c.update(cfg)
    rig = Rig(config=c)
    port = Port()
    C.attach(rig.app, port)
    rig.run(1.0)
    return rig, port


def test_one_record_per_session_with_who_peak_and_why_and_csv_from_the_console():
    rig, port = _rig()
    _session(rig, port, "CARD-1", 16, 20)
    _unplug(rig)
    _session(rig, port, "CARD,2", 10, 10)
    assert _ask(rig, port, {"cmd": "stop"})["ok"]
    rig.run(8)                       # the car keeps asking: open after 6 s (seq 10.2)
    recs = rig.app.sessions()
    assert [r["user"] for r in recs] == ["CARD-1", "CARD,2"]
    assert [r["reason"] for r in recs] == ["unplugged", "console"]
    assert 15.5 <= recs[0]["max_a"] <= 16.5 and 9.5 <= recs[1]["max_a"] <= 10.5
    assert 15 < recs[0]["wh"] < 25 * 230 * 16 / 3600 and recs[1]["wh"] > 0     # about 20 s at 16 A
    r = _ask(rig, port, {"cmd": "history"})
    assert r["ok"] and r["sessions"] == 2
    lines = r["csv"].split("\r\n")
    assert lines[0] == H.HEADER and lines[-1] == "" and len(lines) == 4
    cells = lines[1].split(",")
    assert cells[0] == "1" and cells[5] == "CARD-1" and cells[7] == "unplugged"
    assert lines[2].split(",")[5:7] == ['"CARD', '2"']      # quoted: the comma is the tag's
    assert _ask(rig, port, {"cmd": "history", "n": 1})["csv"].count("\r\n") == 2
    assert not _ask(rig, port, {"cmd": "history", "n": 99})["ok"]


def test_a_power_cut_mid_session_closes_it_at_boot_with_its_user():
    rig, port = _rig()
    _session(rig, port, "CARD-9", 16, 70)       # past a checkpoint (once a minute)
    rig.power_off()
    rig.run(5)
    rig.power_on()
    port = Port()
    C.attach(rig.app, port)
    rig.run(1.0)
    recs = rig.app.sessions()
    assert len(recs) == 1 and recs[0]["reason"] == "power_loss" and recs[0]["user"] == "CARD-9"
    assert 40 < recs[0]["wh"] <= 72 and recs[0]["max_a"] >= 15.5   # up to the last checkpoint (50 Wh)
    csv = _ask(rig, port, {"cmd": "history"})["csv"]
    assert csv.split("\r\n")[1].endswith(",CARD-9,%s,power_loss" % recs[0]["max_a"])
    _session(rig, port, "CARD-10", 8, 5)        # the next one numbers on
    _unplug(rig)
    assert [r["sid"] for r in rig.app.sessions()] == [1, 2]


def test_the_ring_is_bounded_and_a_worst_record_fits_its_slot():
    d = Rig(config={"max_current": 32}).flash_dir
    e = Energy(d, sessions_kept=3)
    for i in range(5):
        e.session_start(i * 1000, '"\\\u00e9' * 30)   # quotes, backslashes, non-ASCII: cleaned
        e.add_mwh(99999999, i * 1000 + 500)
        e.note_current_ma(80000)
        e.session_end(i * 1000 + 900, "x" * 40)
    recs = e.sessions()
    assert [r["sid"] for r in recs] == [3, 4, 5] and e.error is None
    assert recs[0]["user"] == "???" * 6 + "??"
    # 99999 sessions, 115 days long, 100 MWh, dated 2099: still one slot (and its newline)
    worst = dict(recs[-1], sid=99999, start=4102444799, end=4102444799, dur_s=9999999, seq=99999)
    assert len(json.dumps(worst)) < RING_SLOT_BYTES - 1


def test_csv_cells_and_times():
    assert H.iso_utc(1764640200) == "2025-12-02T01:50:00Z" and H.iso_utc(None) == ""
    assert H.iso_utc(951782400) == "2000-02-29T00:00:00Z"
    assert H.cell("=HYPERLINK()") == "'=HYPERLINK()" and H.cell('a"b') == '"a""b"'
    assert H.cell(None) == "" and H.cell(16.5) == "16.5"
    rec = {"sid": 7, "start": 1764640200, "end": 1764643800, "dur_s": 3600, "wh": 7360.5,
           "user": "@me", "max_a": 32.0, "reason": "unplugged"}
    assert H.line(rec) == "7,2025-12-02T01:50:00Z,2025-12-02T02:50:00Z,3600,7360.5,'@me,32.0,unplugged"


def test_the_longest_lines_fit_one_console_reply():
    import gc
    gc.collect()
    rec = {"sid": 99999, "start": 4102444799, "end": 4102444799, "dur_s": 99999999,
           "wh": 123456.789, "user": "," * 20, "max_a": 80.0, "reason": "x" * 24}
    reply = {"csv": H.csv([rec] * C.HISTORY_MAX), "sessions": 50, "ok": True, "id": 12345}
    assert len(json.dumps(reply)) + 1 <= C.OUT_MAX * 3 // 4


if __name__ == "__main__":
    upytest.run(globals())
