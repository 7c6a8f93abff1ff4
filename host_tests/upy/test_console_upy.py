# The console on both interpreters, against a real App on the Rig.
import json

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import Rig
from evse.services import console as C

import upytest


def _rig():
    rig = Rig(config={"max_current": 32})
    s = upytest.Console()
    con = C.attach(rig.app, s)
    rig.run(1.0)
    return rig, s, con


def _ask(rig, s, line, t=0.05):
    s.rx += line + b"\n"
    rig.run(t)
    return s.replies()


def test_status_a1():
    rig, s, con = _rig()
    r = _ask(rig, s, b'{"cmd": "status", "id": 5}')
    assert len(r) == 1 and r[0]["id"] == 5 and r[0]["state"] == "A1" and r[0]["duty"] == 100.0


def test_events():
    rig, s, con = _rig()
    w = rig.world
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    rig.run(1.0)
    evs = [json.loads(x) for x in s.tx.decode().split("\n") if x.strip()]
    assert any(e.get("ev") == "state" and e["state"] == "B2" for e in evs)


def test_limit_and_settings():
    rig, s, con = _rig()
    r = _ask(rig, s, b'{"cmd": "limit", "amps": 12}')
    assert r[0]["ok"] and rig.app.charger.limits["console"] == 120   # tenths of an amp
    r = _ask(rig, s, b'{"cmd": "set", "values": {"max_current": 20, "phases": 3}}')   # on J1772
    assert not r[0]["ok"] and "connector, phases: j1772 carries one phase" in r[0]["error"], r
    assert rig.app.cfg["max_current"] == 32.0                            # refused: nothing changed
    r = _ask(rig, s, b'{"cmd": "set", "values": {"max_current": 20, "connector": "type2-tethered", "phases": 3}}')
    assert r[0]["ok"] and r[0]["reboot"] == ["connector", "phases"] and rig.app.cfg["max_current"] == 20.0


def test_malformed():
    rig, s, con = _rig()
    for line in (b"status", b"{", b"[]", b'{"cmd": "x"}', b'{"cmd": "limit", "amps": true}',
                 b"\xff\xfe", b"x" * 600):
        r = _ask(rig, s, line, 0.05)    # 256 bytes read per tick
        assert len(r) == 1 and r[0]["ok"] is False, (line, r)
    assert rig.app.charger.enabled and "console" not in rig.app.charger.limits


def test_overlong_line_keeps_its_id():
    rig, s, con = _rig()
    pad = b"x" * 600
    for head, rid in ((b'{"id": 4711, ', 4711), (b'{"id": "a-7", ', "a-7"), (b'{', None)):
        r = _ask(rig, s, head + b'"cmd": "set", "values": {"ssid": "' + pad + b'"}}', 0.1)
        assert len(r) == 1 and r[0]["ok"] is False and "too long" in r[0]["error"], r
        assert r[0].get("id") == rid, r
    assert C.prefix_id(b'{"id": 47') is None       # cut inside the number: no guess


def test_status_temperature_holds_through_the_adcs_noise():
    """The status's temp_c on a Pico board (its sensor reads about 1 C of noise): whole degrees
    that stay put once settled (App._shown_temp; host_tests/test_adc_noise_bench.py has the rest)."""
    rig = Rig(config={"max_current": 32}, board="rpi_pico")
    s = upytest.Console()
    C.attach(rig.app, s)
    rig.world.temp_c = 40.4
    rig.run(0.5)
    raw, shown = [], []
    for _ in range(60):
        r = _ask(rig, s, b'{"cmd": "status"}', 0.25)
        raw.append(rig.app.m.temp_c)
        shown.append(r[0]["temp_c"])
    assert len(set(raw)) >= 3, raw
    assert len(set(shown[20:])) == 1 and shown[-1] in (39, 40, 41), shown


if __name__ == "__main__":
    upytest.run(globals())
