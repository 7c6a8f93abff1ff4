"""The scenario parser (firmware/bench_vehicle/scenario.py) on both interpreters: the bench-vehicle board runs it too."""
from bench_vehicle.scenario import parse, Parser, ScenarioError, Command, DUTY_TOL

import upytest

SAMPLE = """# a normal session
config max_current=32 connector=nacs ventilation=true name="xy"
plug
wait 1.5
ev C   # asks for power
expect state C2 within 1
expect contactor closed
expect duty 53.3 \u00b10.2
expect duty 53.3 +- 0.2
expect duty 53.3+/-0.2
expect duty 10
expect current 32
expect fault weld within 0.02
expect no fault
draw 16 3
draw follow
draw follow 20
plug 680
pp open
pp 1500
rcd 30 dc
rcd 0
weld on
temp -5
noise 0.5
noise 0.5 glitch 0.001
power off
limit 6
ev 1000
button press
diode short
cp ok
unplug
"""


def _bad(text, line, word=None):
    try:
        parse(text)
    except ScenarioError as e:
        assert e.line == line, (e.line, line, e.reason)
        if word:
            assert word in e.reason, e.reason
        return
    assert False, "no error for %r" % text


def test_sample():
    cmds = parse(SAMPLE)
    by = {}
    for c in cmds:
        by.setdefault(c.line, c)
    assert by[2].verb == "config"
    assert by[2].args == (("max_current", 32), ("connector", "nacs"), ("ventilation", True), ("name", "xy"))
    assert by[3].args == (None,)
    assert by[4].args == (1.5,)
    assert by[5].args == ("C", 882) and by[5].text == "ev C"
    assert by[6].args == ("state", "C2", None, 1.0)
    assert by[7].args == ("contactor", "closed", None, None)
    for n in (8, 9, 10):
        assert by[n].args == ("duty", 53.3, 0.2, None), by[n].args
    assert by[11].args == ("duty", 10.0, DUTY_TOL, None)
    assert by[12].args[:2] == ("current", 32.0)
    assert by[13].args == ("fault", "weld", None, 0.02)
    assert by[14].args == ("fault", None, None, None)
    assert by[15].args == (16.0, 3)
    assert by[16].args == ("follow", None)
    assert by[17].args == ("follow", 20.0)
    assert by[18].args == (680.0,)
    assert by[19].args == (None,)
    assert by[21].args == (30.0, "dc")
    assert by[22].args == (0.0, "ac")
    assert by[23].args == (True,)
    assert by[24].args == (-5.0,)
    assert by[25].args == (0.5, 0.0)
    assert by[26].args == (0.5, 0.001)
    assert by[27].args == ("off",)
    assert by[28].args == (6.0,)
    assert by[29].args == (None, 1000.0)
    assert by[30].args == ("press",)
    assert by[33].args == () and by[33].verb == "unplug"


def test_config_values():
    c = parse("config a=1 b=2.5 c=true d=false e=nacs f=\"q\" g=")[0]
    assert c.args == (("a", 1), ("b", 2.5), ("c", True), ("d", False), ("e", "nacs"), ("f", "q"), ("g", ""))


def test_bad_lines():
    _bad("wait 1\nfly 3", 2, "unknown")
    _bad("wait x", 1, "seconds")
    _bad("wait -1", 1)
    _bad("wait 1e3", 1)
    _bad("wait inf", 1)
    _bad("wait", 1, "usage")
    _bad("plug\nwait 1\nconfig max_current=16", 3, "before the first wait")
    _bad("ev E", 1)
    _bad("diode broken", 1)
    _bad("cp", 1)
    _bad("draw 10 4", 1)
    _bad("draw 10 1.5", 1)
    _bad("button push", 1)
    _bad("rcd 30 xx", 1)
    _bad("weld maybe", 1)
    _bad("power reset", 1)
    _bad("noise 0.5 glitch 2", 1)
    _bad("expect state Z9", 1, "state")
    _bad("expect contactor ajar", 1)
    _bad("expect duty 120", 1)
    _bad("expect duty 50 +-", 1)
    _bad("expect duty 50 within", 1)
    _bad("expect fault melted", 1)
    _bad("expect no faults", 1)
    _bad("expect", 1)
    _bad("expect humidity 3", 1)
    _bad("config nokey", 1)
    _bad("config =3", 1)
    _bad("\n\n# c\n  limit many", 4)


def test_comments_blanks_and_case():
    cmds = parse("\n# x\n\n  WAIT 2  # two seconds\r\nExpect state A1\n")
    assert [c.line for c in cmds] == [4, 5]
    assert cmds[0] == Command(4, "wait", (2.0,), "WAIT 2")
    assert cmds[1].args[1] == "A1"


def test_line_parser():
    p = Parser()
    assert p.feed("config max_current=16") is not None
    assert p.feed("") is None
    assert p.feed("wait 1").line == 3
    try:
        p.feed("config x=1")
        assert False
    except ScenarioError as e:
        assert e.line == 4
    assert p.feed("expect duty 26.7 within 1", line=9).line == 9


def test_extensions():
    c = parse("rcd broken\nrcd ok\nnoise 0.2 glitch 0.01\nexpect current 16 +-0.5")
    assert [x.args for x in c] == [(None, "broken"), (None, "ok"), (0.2, 0.01), ("current", 16.0, 0.5, None)]


if __name__ == "__main__":
    upytest.run(globals())
