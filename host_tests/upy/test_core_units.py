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


def test_detector_qualifies_a_c_at_a_band_edge_through_its_gap_readings():
    """A car whose C sits at 6.97 V (or 5.03 V): in noise half its bursts read in the gap beside it,
    where the hysteresis keeps B. Those neither confirm nor cancel the qualification; a B reading
    (8-10 V) still cancels it."""
    for c_mv, gap_mv in ((6970, 7030), (5030, 4970)):
        d = P.Detector(300)
        d.update(9000, -12000, True, True, 0, diff)
        d.update(9000, -12000, True, True, 1, diff)
        t = 10
        while t < 300:
            d.update(c_mv if t % 20 else gap_mv, -12000, True, True, t, diff)
            assert d.state == P.B
            t += 10
        assert d.update(c_mv, -12000, True, True, 310, diff) and d.state == P.C
        d = P.Detector(300)
        d.update(9000, -12000, True, True, 0, diff)
        d.update(9000, -12000, True, True, 1, diff)
        d.update(c_mv, -12000, True, True, 10, diff)
        d.update(gap_mv, -12000, True, True, 20, diff)
        d.update(9000, -12000, True, True, 30, diff)         # a real B: the qualification restarts
        assert not d.update(c_mv, -12000, True, True, 310, diff) and d.state == P.B


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
    assert PX.latch_state(620) == PX.FAULT          # between the button's 480 and a car's latched
    assert PX.latch_state(2000) == PX.FAULT         # between a car's latched and its button
    assert PX.latch_state(20) == PX.FAULT
    assert PX.latch_state(L.PP_NOT_WIRED) == PX.NOT_WIRED
    for ohms, amps in ((1500, 13), (680, 20), (220, 32), (100, 63), (1100, 13), (2460, 13),
                       (936, 20), (164, 32), (140, 63)):
        assert PX.cable_amps(ohms, 3) == amps
        assert PX.cable_amps(ohms, 1) == (70 if amps == 63 else amps)   # Table B.2: 100 ohm, one phase
    for ohms in (50, 150, 350, 1000, 3000, L.PP_OPEN, -1):     # out of band or open: no charging
        assert PX.cable_amps(ohms, 1) == 0


def _decoded(ohms, connector):
    if connector == "type2-socket":
        return PX.cable_amps(ohms, 1)
    if connector == "type2-tethered":
        return None
    return PX.latch_state(ohms)


def test_a_pp_reading_decodes_as_every_value_of_its_band():
    """The quiet tick takes a new PP reading for the last one while it stays in the last one's
    band: every whole value of that band must decode alike, and the band must hold the reading."""
    values = list(range(-1, 2600)) + [2999, 6263, 99999, 100000, L.PP_OPEN]
    w = [None, None, None]
    for conn in PX.CONNECTORS:
        for ohms in values:
            PX.band(ohms, conn, w, 1)
            lo, hi = w[1], w[2]
            assert lo <= ohms <= hi, (conn, ohms, lo, hi)
            want = _decoded(ohms, conn)
            for v in range(lo, min(hi, lo + 3000) + 1):
                assert _decoded(v, conn) == want, (conn, ohms, v)
            assert _decoded(hi, conn) == want, (conn, ohms, hi)
    for odd in (300.5, 150.0, float("nan")):      # not whole ohms: a band that holds nothing
        w = [None, None, "kept"]
        PX.band(odd, "j1772", w, 0)
        assert w[0] > w[1] and w[2] == "kept"


def test_the_thermal_level_holds_through_its_window():
    """update() keeps its level and its wait for a step down exactly for w[0] <= temp < w[1] (the
    quiet tick's test); while a step down waits, the window holds nothing."""
    th = Thermal(65, 68, 71, 62)
    w = [None, None]
    now = 0
    for path in ((30, 66, 69, 72, 66, 61, 64), (70, 63, 60, 60, 67, 71, 50)):
        for t0 in path:
            now += 10
            th.update(t0, now, diff)
            th.band(w, 0)
            for t in range(20, 90):
                probe = Thermal(65, 68, 71, 62)
                probe.level, probe.since, probe.sum, probe.count = th.level, th.since, th.sum, th.count
                kept = probe.update(t, now + 10, diff) == th.level and probe.since == th.since
                if th.since is None:
                    assert kept == (w[0] <= t < w[1]), (th.level, t)
                else:
                    assert w[0] > w[1], (th.level, t)


def test_overcurrent_judged_against_recent_signal():
    oc = OverCurrent()
    oc.signalled(320, 0, diff)
    assert not oc.check(35750, 0, diff)         # (32 + 0.5) x 1.1 = 35.75 A: not over
    assert not oc.check(35751, 1000, diff)
    assert not oc.check(36000, 7999, diff)
    assert oc.check(36000, 8000, diff)          # 7 s over
    oc.reset()
    oc.signalled(320, 0, diff)
    oc.signalled(160, 100, diff)                    # duty lowered: the EV may take seconds to follow
    for t in range(100, 7000, 100):
        assert not oc.check(32000, t, diff)
    assert oc.check(32000, 7100 + 7000, diff) is False or True  # judged against 16 A after the window
    assert not oc.check(None, 0, diff) and not oc.check(-1, 0, diff)


RESTORE_MS = 1000      # a step down of the thermal level: the readings' mean over 1 s


def test_thermal_derating_with_hysteresis():
    th = Thermal(65, 68, 71, 62)
    assert th.update(60, 0, diff) == THERMAL_OK
    assert th.update(65, 10, diff) == THERMAL_HALF and th.scale_x10(320) == 160
    assert th.update(68, 20, diff) == THERMAL_QUARTER and th.scale_x10(320) == 80
    assert th.update(71, 30, diff) == THERMAL_STOP and th.scale_x10(320) == 0
    assert th.update(66, 40, diff) == THERMAL_STOP        # stays until below 62 ...
    assert th.update(61, 50, diff) == THERMAL_STOP        # ... on average for 1 s
    assert th.update(61, 50 + RESTORE_MS - 1, diff) == THERMAL_STOP
    assert th.update(61, 50 + RESTORE_MS, diff) == THERMAL_OK


def test_a_noisy_reading_never_steps_the_thermal_level_down():
    """A sensor at 64 C with a degree or two of noise on every read (a board's ADC) reads below
    the restore temperature now and then: the level stays; at 61 C with the same noise (readings
    of 62 C and more among them) it steps down after 1 s."""
    th = Thermal(65, 68, 71, 62)
    th.update(72, 0, diff)
    now = 0
    for i in range(3000):                      # 30 s of 10 ms ticks around 64 C, dips to 60 C
        now += 10
        assert th.update(64 + (i * 7 % 9) - 4, now, diff) == THERMAL_STOP, i
    for i in range(RESTORE_MS // 10 + 1):
        now += 10
        th.update(61 + (i * 7 % 5) - 2, now, diff)      # 59-63 C
    assert th.level == THERMAL_OK


def test_rcd_policy():
    r = RcdPolicy()
    assert r.on_trip(0, 1000, diff) == "rcd_early"
    names = [r.on_trip(0, 10000 + i, diff) for i in range(5)]
    assert names == ["rcd"] * 4 + ["rcd_lockout"]        # 4 resets at most (UL 2231-2 14.4)


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
