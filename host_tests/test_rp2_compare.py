"""How the rp2 comparison (rp2_bench.compare) times the contactor's moments, on two small logs: a
residual-current trip and its retry 5 minutes later, as the whole library ran it on the emulated
Pico (rcd_trip_retry, rcd_dc). No emulator needed."""
from rp2_bench import compare

VCD = """$var wire 1 ! contactor $end
$enddefinitions $end
#0
0!
#%d
1!
#%d
0!
#%d
1!
"""


def session(trip, fault, release, end, close):
    """A log and its VCD: charging from 2 s, a trip at `trip`, the fault at `fault` (the coil open),
    the bench's `rcd 0` at `release`, the fault's end and the retry's closing."""
    lines = [{"t": 0.0, "kind": "state", "state": "A1"},         # time 0: the charger booted
             {"t": 1.8, "kind": "input", "text": "ev C"},
             {"t": 2.0, "kind": "contactor", "closed": True},
             {"t": trip, "kind": "input", "text": "rcd 30"},
             {"t": fault, "kind": "fault", "fault": "rcd", "set": True},
             {"t": fault, "kind": "contactor", "closed": False},
             {"t": fault, "kind": "expect", "text": "expect fault rcd within 1", "ok": True},
             {"t": release, "kind": "input", "text": "rcd 0"},
             {"t": end, "kind": "fault", "fault": "rcd", "set": False},
             {"t": close, "kind": "contactor", "closed": True}]
    return lines, VCD % (2.0e6, fault * 1e6, close * 1e6)


def test_a_retry_closing_is_timed_from_the_faults_end_not_from_a_late_report():
    """In the whole library's run the Pico's fault line reached the bench 35 ms after the fault, so
    its `rcd 0` went 35 ms after the host's, and timed from that command its retry closed 28 ms
    early against a 31 ms tolerance. With the line 45 ms late (a flash write nearby) that is 38 ms:
    a difference that is not the firmware's. Timed from the fault's end, the two agree within 3 ms."""
    host, host_vcd = session(7.0, 7.4512, 7.4512, 307.4602, 307.6712)
    pico, pico_vcd = session(7.0, 7.4550, 7.5000, 307.4680, 307.6816)
    assert compare(host, pico, host_vcd, pico_vcd) == []


def test_a_late_retry_is_still_a_difference():
    host, host_vcd = session(7.0, 7.4512, 7.4512, 307.4602, 307.6712)
    pico, pico_vcd = session(7.0, 7.4550, 7.4900, 307.4680, 307.7216)    # 40 ms later
    assert any("contactor closed" in d for d in compare(host, pico, host_vcd, pico_vcd))


def closing(close, offered=True):
    """A car in C1 that is offered the PWM at 1.8 s (its session starts: C2), or a car offered the
    PWM in B that asks at 1.8 s, and a closing at `close`."""
    lines = [{"t": 0.0, "kind": "state", "state": "A1"},         # time 0: the charger booted
             {"t": 0.5, "kind": "state", "state": "C1" if offered else "B2"},
             {"t": 1.8, "kind": "input", "text": "enable" if offered else "ev C"},
             {"t": 1.8, "kind": "state", "state": "C2"},
             {"t": close, "kind": "contactor", "closed": True}]
    return lines, """$var wire 1 ! contactor $end
$enddefinitions $end
#0
0!
#%d
1!
""" % (close * 1e6)


def test_a_closing_held_by_a_flash_write_on_the_pico_agrees():
    """boot_in_c on the installed flash: the session's checkpoint, written in the tick that starts
    the PWM, met a littlefs compaction and held the Pico's loop 35 ms; its closing came 30.8 ms after
    the host's. A closing may be that much later on the Pico, never earlier."""
    host, host_vcd = closing(2.001)
    pico, pico_vcd = closing(2.0318)
    assert compare(host, pico, host_vcd, pico_vcd) == []
    late, late_vcd = closing(2.075)              # 74 ms: more than three ticks and one flash write
    assert any("contactor closed" in d for d in compare(host, late, host_vcd, late_vcd))
    early, early_vcd = closing(1.965)            # 36 ms early: no flash write makes a closing early
    assert any("contactor closed" in d for d in compare(host, early, host_vcd, early_vcd))


def test_a_closing_with_no_session_starting_on_its_path_gets_no_such_allowance():
    host, host_vcd = closing(2.001, offered=False)
    late, late_vcd = closing(2.040, offered=False)         # 39 ms: past three ticks
    assert any("contactor closed" in d for d in compare(host, late, host_vcd, late_vcd))
