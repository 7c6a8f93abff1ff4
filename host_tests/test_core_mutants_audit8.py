"""The safety core against its mutants (eighth audit): each scenario here is a rule of the facts
sheet (shared/reference/evse-facts.md: the standard, or the practice it names) that a mutant of
evse/core broke while the safety tests run against it still passed. On the core alone
(core_bench.py): a car behind an ideal pilot, the contactor's mirror contact following the coil."""
from core_bench import CoreBench as Core   # the core alone, at a board's 80 A, limited to 16 A
from evse.core import limits as L


def charging_at(amps):
    c = Core(max_current=amps)
    c.charging()
    c.m.current_ma = amps * 1000
    c.run(2000)
    assert c.ch.out.amps_x10 == amps * 10
    return c


# --- over-current (facts 7) ----------------------------------------------------------------------

def test_a_car_that_takes_11_s_to_follow_a_lowered_duty_is_not_tripped():
    # facts 2: EVs may take 5 s, some 6 s more, to follow a new duty; facts 7: the over-current is
    # judged against the current actually signalled (a field bug: false trips after a lowering)
    c = charging_at(32)
    c.ch.set_limit("console", 16)
    c.run(11000)                          # still 32 A against (16 + 0.5) x 1.1 = 18.15 A
    assert c.ch.fault is None and c.ch.out.contactor and c.ch.out.amps_x10 == 160
    c.m.current_ma = 16000                # it follows
    c.run(20000)
    assert c.ch.fault is None and c.ch.out.contactor


def test_a_car_that_never_follows_a_lowered_duty_is_tripped():
    c = charging_at(32)
    c.ch.set_limit("console", 16)
    t = c.now
    while c.ch.fault is None and c.now - t < 30000:
        c.run(10)
    # the old current's allowance for 7 s, then over (16 + 0.5) x 1.1 A for 7 s
    assert c.ch.fault == "overcurrent" and not c.ch.out.contactor
    assert c.now - t <= 14100


def test_an_over_current_that_never_lasts_7_s_in_a_row_is_not_tripped():
    # facts 7: over (I + 0.5 A) x 1.1 for 7 s; bursts of 5 s with the signalled current between them
    # are no 7 s of over-current (the time over starts again after each)
    c = charging_at(16)
    for _ in range(4):
        c.m.current_ma = 20000            # over 18.15 A ...
        c.run(5000)
        c.m.current_ma = 16000            # ... and back for a second
        c.run(1000)
    assert c.ch.fault is None and c.ch.out.contactor
    c.m.current_ma = 20000                # then 7 s in a row: tripped
    c.run(7100)
    assert c.ch.fault == "overcurrent" and not c.ch.out.contactor


def test_the_over_current_threshold_is_the_signalled_current_plus_half_an_amp_plus_10_percent():
    # facts 7: I > (I_signalled + 0.5 A) x 1.10 for 7 s: at 16 A, 18.15 A
    c = charging_at(16)
    c.m.current_ma = 18100                # under it: never tripped
    c.run(20000)
    assert c.ch.fault is None and c.ch.out.contactor
    c.m.current_ma = 18200                # over it: tripped after 7 s
    c.run(6900)
    assert c.ch.fault is None
    c.run(200)
    assert c.ch.fault == "overcurrent" and not c.ch.out.contactor



# --- the pilot (facts 3, 4: IEC 61851-1 Table A.4; F is the EVSE's own -12 V) ---------------------

def test_a_pilot_that_reads_minus_12_v_while_the_charger_offers_is_a_fault_that_opens_at_once():
    # F (-12 V) is the charger's own "not available"; read while it drives +12 V or the PWM, the
    # line is shorted to the negative supply: a fault, and the contactor opens (seq 8.1: 100 ms)
    c = charging_at(16)
    c.car_mv = -12000
    c.run(100)
    assert c.ch.fault == "state_f" and not c.ch.out.contactor



# facts 3 (Table A.4 as implemented with hysteresis): a level in a gap between two bands keeps the
# state it came from on the side the table names, else reads the band below it
GAPS = {10500: {"A": "A", "B": "B", "C": "B", "D": "B"},       # 10-11 V: keep A, else B
        7500: {"A": "A", "B": "B", "C": "C", "D": "C"},        # 7-8 V: keep A/B, else C
        4500: {"A": "A", "B": "B", "C": "C", "D": "D"}}        # 4-5 V: keep A/B/C, else D


def test_a_level_in_a_gap_between_two_bands_reads_as_the_hysteresis_table_says():
    from evse.core import pilot as P
    for mv, after in GAPS.items():
        for prev, want in after.items():
            got = P.classify(mv, -12000, False, getattr(P, prev))
            assert got == getattr(P, want), (mv, prev, got)


# --- residual current (facts 6: retried after 15 min at most 4 times, then locked out until unplug)

def rcd_trip(c):
    c.m.rcd_trip, c.m.rcd_edges, c.m.rcd_trip_ms = True, c.m.rcd_edges + 1, c.now
    c.run(20)
    c.m.rcd_trip = False


def test_the_trips_of_an_earlier_plug_in_do_not_count_towards_a_lockout():
    c = Core()
    c.charging()
    c.run(3000)
    for n in range(4):                    # four trips, each retried after 15 min
        rcd_trip(c)
        assert c.ch.fault == "rcd" and not c.ch.out.contactor, n
        c.run(15 * 60 * 1000 + 2000)
        assert c.ch.fault is None and c.ch.out.contactor, n
        c.run(3000)
    c.car_mv = 12000                      # unplugged: the count ends with the plug-in
    c.run(1000)
    assert c.ch.state == "A1"
    c.charging()                          # the next plug-in
    c.run(3000)
    rcd_trip(c)
    assert c.ch.fault == "rcd"            # its first trip: retried, not locked out
    c.run(15 * 60 * 1000 + 2000)
    assert c.ch.fault is None and c.ch.out.contactor


# --- temperature (facts 7: half current at 65 C, quarter at 68 C, stop at 71 C) ----------------

def test_each_temperature_threshold_derates_at_the_threshold_itself():
    c = charging_at(32)
    for temp_c, amps_x10 in ((64.9, 320), (65.0, 160), (67.9, 160), (68.0, 80), (70.9, 80)):
        c.m.temp_c = temp_c
        c.run(100)
        assert c.ch.out.amps_x10 == amps_x10 and c.ch.out.contactor, temp_c
    c.m.temp_c = 71.0                     # stop: no PWM, the car given up to 6 s to go to B
    c.run(100)
    assert c.ch.out.pilot_mode == L.PILOT_X1 and c.ch.state == "C1"
    c.run(6000)
    assert not c.ch.out.contactor


def test_a_derated_charger_restores_only_once_the_temperature_stays_below_62_c():
    # facts 7: restore below 62 C; one reading under it among warmer ones is noise, not a cooling
    c = charging_at(32)
    c.m.temp_c = 66.0
    c.run(100)
    assert c.ch.out.amps_x10 == 160
    c.m.temp_c = 61.0                     # one reading below 62 C ...
    c.run(10)
    c.m.temp_c = 62.5                     # ... and the rest above it: still half current (past
    c.run(8000)                           # the 5 s a raise of the duty waits, facts 2)
    assert c.ch.out.amps_x10 == 160
    c.m.temp_c = 61.0                     # below 62 C for good: full current again
    c.run(7000)                           # (a raise of the duty waits up to 5 s, facts 2)
    assert c.ch.out.amps_x10 == 320 and c.ch.fault is None


# --- proximity (facts 5): the quiet tick skips a step while PP stays in the last reading's range

def test_no_pp_reading_inside_the_last_ones_range_decodes_otherwise():
    # a latch button pressed (J1772, NACS) or a cable out of band (Type 2) must never be a reading
    # the quiet tick takes for "nothing changed": it would be seen up to 1 s late (facts 5: 500 ms)
    import bisect
    from evse.core import proximity as PX
    values = list(range(-1, 6000)) + [9999, 10000, 50000, 99999, 100000, 200000, L.PP_OPEN]
    decoders = {"j1772": PX.latch_state, "nacs": PX.latch_state, "type2-socket": lambda v: PX.cable_amps(v, 1)}
    w = [0, 0]
    for conn, decode in decoders.items():
        seen = [decode(v) for v in values]
        changes = [0]                       # changes[i]: decodings unlike their left one, before i
        for i in range(1, len(values)):
            changes.append(changes[-1] + (seen[i] != seen[i - 1]))
        for i, v in enumerate(values):
            PX.band(v, conn, w, 0)
            lo, hi = w
            if lo > hi:
                continue                    # an empty range: every reading takes a full step
            assert lo <= v <= hi, (conn, v, lo, hi)
            a = bisect.bisect_left(values, lo)
            b = bisect.bisect_right(values, hi) - 1
            assert changes[b] == changes[a], (conn, v, lo, hi)
