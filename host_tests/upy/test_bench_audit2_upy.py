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


def test_words_after_the_verb_in_any_case():
    c = parse("EXPECT STATE c2 WITHIN 0.5\nweld ON\nRCD 30 DC\nexpect contactor CLOSED\n"
              "Expect Fault STATE_E\nexpect NO FAULT\nDRAW FOLLOW 20\nPP OPEN\nexpect state BOOT\n"
              "config name=ABC connector=nacs\n")
    assert [x.args for x in c[:9]] == [("state", "C2", None, 0.5), (True,), (30.0, "dc"),
                                        ("contactor", "closed", None, None), ("fault", "state_e", None, None),
                                        ("fault", None, None, None), ("follow", 20.0), (None,),
                                        ("state", "boot", None, None)]
    assert c[0].text == "EXPECT STATE c2 WITHIN 0.5"
    assert c[9].args == (("name", "ABC"), ("connector", "nacs"))      # config's values as written


if __name__ == "__main__":
    upytest.run(globals())
