"""The scenario parser on both interpreters (the bench-vehicle board parses the same files): a
decimal too long for a float is a bad argument, as a written inf is (a second audit of the bench)."""
from bench_vehicle.scenario import parse, ScenarioError

import upytest

BIG = "9" * 400


def test_a_number_too_big_for_a_float_is_refused_with_its_line():
    for cmd in ("noise " + BIG, "ev " + BIG, "temp -" + BIG, "wait " + BIG, "expect current " + BIG):
        try:
            parse("wait 1\n# x\n" + cmd + "\n")
            assert False, cmd[:12]
        except ScenarioError as e:
            assert e.line == 3, (cmd[:12], e.line)
            assert "too large" in e.reason, e.reason


def test_long_decimals_that_fit_still_read():
    c = parse("temp -" + "9" * 30 + "\nnoise 0." + "0" * 300 + "1\n")
    assert c[0].args == (-float("9" * 30),)
    assert 0 <= c[1].args[0] < 1e-299


if __name__ == "__main__":
    upytest.run(globals())
