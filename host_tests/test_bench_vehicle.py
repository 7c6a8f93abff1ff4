"""The bench vehicle end to end on the host: scenario files from host_tests/scenarios/ drive the
vehicle board's logic (mock pins) against the unmodified firmware on the virtual bench, through
the host tool; the serial protocol over a mock UART and over a stand-in pyserial port; pin maps."""
import io
import json
import os
import sys
import types

import pytest

from tools.sim import mock_machine as mm

mm.install()

from tools.bench_vehicle import host  # noqa: E402
from bench_vehicle import runner  # noqa: E402
from bench_vehicle import pins_esp32_devkitc, pins_rpi_pico  # noqa: E402
from bench_vehicle import vehicle as V  # noqa: E402
from tools.sim.virtual_vehicle import VirtualPair  # noqa: E402

SCN = os.path.join(os.path.dirname(__file__), "scenarios")
# Scenarios that use only what a vehicle can do (other verbs and fault expectations are skipped)
PHYSICAL = ("normal_session", "c_to_b", "button_press", "diode_short", "diode_short_charging",
            "state_e", "type2_coding", "unplug_while_charging", "ventilation_allowed",
            "ventilation_refused", "bouncing_car", "nacs_48a")


def run_virtual(path):
    out = io.StringIO()
    rc = host.run(path, host.VirtualLink, out)
    return rc, out.getvalue()


@pytest.mark.parametrize("name", PHYSICAL)
def test_scenario_file_drives_the_vehicle(name):
    path = os.path.join(SCN, name + ".scn")
    if not os.path.exists(path):
        pytest.skip("scenario not in the library")
    rc, text = run_virtual(path)
    assert rc == 0, text
    assert "FAIL" not in text


def test_normal_session_checks_on_the_pilot():
    rc, text = run_virtual(os.path.join(SCN, "normal_session.scn"))
    assert rc == 0, text
    lines = dict((int(l.split(":")[0][5:]), l) for l in text.splitlines() if l.startswith("line "))
    assert "ok" in lines[5] and "state=A1" in lines[5]          # expect state A1
    assert "duty=53.3" in lines[8]                               # expect duty 53.3 ±0.1
    assert "skipped" in lines[3] and "skipped" in lines[16]      # config, expect no fault


def test_failing_expect_exits_1(tmp_path):
    p = tmp_path / "wrong.scn"
    p.write_text("config max_current=32\nwait 1\nplug\nexpect duty 60 within 0.2\n")
    rc, text = run_virtual(str(p))
    assert rc == 1 and "line 4: FAIL" in text, text
    lib = os.path.join(SCN, "expect_fail", "wrong_duty.scn")
    if os.path.exists(lib):
        assert run_virtual(lib)[0] == 1


def test_unreadable_scenario_exits_2(tmp_path):
    p = tmp_path / "bad.scn"
    p.write_text("wait 1\nfly away\n")
    rc, text = run_virtual(str(p))
    assert rc == 2 and ":2:" in text
    assert run_virtual(str(tmp_path / "missing.scn"))[0] == 2
    d = os.path.join(SCN, "invalid")
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else ():
        if f.endswith(".scn") and f != "bad_setting.scn":   # bad settings: the firmware's check
            assert run_virtual(os.path.join(d, f))[0] == 2, f


def test_uart_protocol_one_json_line_per_command():
    pair = VirtualPair(config={"max_current": 32})
    uart = mm.UART(1)
    reader = runner.LineReader()
    uart.feed(b"# hello\nwait 1\nplug\r\nexpect state B2 within 0.2\nev Q\nexpect du")
    assert runner.serve_uart_once(pair.session, uart, reader) == 5
    replies = [json.loads(l) for l in uart.sent.decode().splitlines()]
    assert [r["line"] for r in replies] == [2, 3, 4, 5]
    assert [r["ok"] for r in replies] == [True, True, True, False]
    assert replies[2]["measured"]["state"] == "B2"
    uart.feed(b"ty 53.3\nwait 0.1\nexpect duty 53.3\n")   # the rest of a split line
    del uart.sent[:]
    runner.serve_uart_once(pair.session, uart, reader)
    r = [json.loads(l) for l in uart.sent.decode().splitlines()][-1]
    assert r["line"] == 8 and r["ok"] is False   # after the bad line the vehicle went safe (A)
    assert r["measured"]["duty"] == 100.0 and r["measured"]["state"] == "A1"


class FakeSerial:
    """Stands in for pyserial's Serial: the board behind it is the virtual pair."""

    def __init__(self, port, baud, timeout=None):
        self.pair = VirtualPair(config={"max_current": 32})
        self.out = [b"MicroPython boot banner\n"]

    def write(self, data):
        for line in data.decode().split("\n")[:-1]:
            r = self.pair.handle(line)
            if r is not None:
                self.out.append(r.encode() + b"\n")

    def readline(self):
        return self.out.pop(0) if self.out else b""

    def close(self):
        pass


def test_serial_link(monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", types.SimpleNamespace(Serial=FakeSerial))
    rc = host.main([os.path.join(SCN, "c_to_b.scn"), "--port", "/dev/fake"])
    assert rc == 0


@pytest.mark.parametrize("pm", [pins_esp32_devkitc, pins_rpi_pico])
def test_pin_maps(pm):
    ids = [getattr(pm, n + "_PIN") for n in V.OUTPUTS]
    ids += [getattr(pm, n + "_PIN") for n in V.OPTIONAL_OUTPUTS if getattr(pm, n + "_PIN") is not None]
    ids += [p for _, p in pm.PP_PINS] + [pm.PILOT_ADC_PIN, pm.AC_SENSE_PIN]
    assert len(ids) == len(set(ids)), "a pin used twice"
    assert sorted(o for o, _ in pm.PP_PINS) == [100, 150, 220, 680, 1500]
    if pm is pins_esp32_devkitc:
        assert not set(ids) & {0, 2, 5, 12, 15}, "strapping pin"
        assert 32 <= pm.PILOT_ADC_PIN <= 39
    mm.reset_world()
    s = runner.build(pm, mm)
    assert all(mm.output(p) == 1 - pm.OUTPUT_ACTIVE for p in ids[:len(V.OUTPUTS)])
    assert json.loads(s.handle("!reset"))["ready"]
