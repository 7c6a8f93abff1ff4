# The bench vehicle's logic on mock pins, under CPython (pytest) and the MicroPython unix port.
# A small EVSE model drives the pilot: a +-12 V PWM through 1 kOhm into the network the vehicle's
# relays select, read by the vehicle's ADC through its divider.
import json

from tools.sim import mock_machine as mm

mm.install()

from bench_vehicle import pilot_meter as PM  # noqa: E402
from bench_vehicle import runner as R  # noqa: E402
from bench_vehicle import vehicle as V  # noqa: E402
from tools.sim.virtual_vehicle import VirtualPins, network, to_u16  # noqa: E402

PINS = VirtualPins
DIODE_V = 0.7
SOURCE_OHMS = 1000.0
EDGE_US = 4                 # linear ramps, like the virtual bench's pilot


class Evse:
    """The charger side: duty in percent (100: X1, 0: F) from t_us on (a list of changes)."""

    def __init__(self, duty, source_v=12.0):
        self.changes = [(0, duty)]
        self.v = source_v

    def at(self, t_us, duty):
        self.changes.append((t_us, duty))

    def levels(self):
        n = network(PINS)
        hi, lo = self.v, -self.v
        if n["cp_short"]:
            return 0.0, 0.0
        if not n["plugged"]:
            return hi, lo
        r = n["ev_ohms"]
        pos = DIODE_V + (hi - DIODE_V) * r / (r + SOURCE_OHMS)
        neg = lo if n["diode_ok"] else lo * r / (r + SOURCE_OHMS)
        return pos, neg

    def u16(self, t_us):
        duty = 0
        for t, d in self.changes:
            if t <= t_us:
                duty = d
        pos, neg = self.levels()
        ph = t_us % 1000
        high = duty * 10
        if high <= 0 or high >= 1000:
            v = pos if high > 0 else neg
        elif ph < high:
            v = pos if ph >= EDGE_US else neg + (pos - neg) * ph / EDGE_US
        else:
            e = ph - high
            v = neg if e >= EDGE_US else pos - (pos - neg) * e / EDGE_US
        return to_u16(PINS.PILOT_FRONTEND, v)


def setup(duty=53.333, conv=12, sense=False):
    mm.reset_world()
    mm.clock.us = 12345
    evse = Evse(duty)
    mm.adc_sources[PINS.PILOT_ADC_PIN] = evse.u16
    mm.adc_conv_us[PINS.PILOT_ADC_PIN] = conv
    s = R.build(PINS, mm)
    if not sense:
        s.runner.vehicle.ac_sense = None
    return s, evse


def send(s, line):
    out = s.handle(line)
    return None if out is None else json.loads(out)


def on(name):
    return mm.output(getattr(PINS, name + "_PIN")) == 1


def pp_on():
    return [o for o, p in PINS.PP_PINS if mm.output(p) == 1]


def test_commands_switch_the_right_pins():
    s, _ = setup()
    assert not on("CP_RELAY") and pp_on() == []
    send(s, "plug")
    assert on("CP_RELAY") and not on("R_C") and not on("R_D") and pp_on() == [220]
    send(s, "ev C")
    assert on("R_C") and not on("R_D")
    send(s, "ev D")
    assert on("R_D") and not on("R_C")
    send(s, "ev A")
    assert not on("CP_RELAY") and pp_on() == [220]      # resistors off, plug still in
    send(s, "ev B")
    assert on("CP_RELAY") and not on("R_C") and not on("R_D")
    send(s, "diode short")
    assert on("DIODE_SHORT")
    send(s, "diode ok")
    assert not on("DIODE_SHORT")
    send(s, "cp short")
    assert on("CP_SHORT")
    send(s, "cp ok")
    send(s, "button press")
    assert on("BUTTON")
    send(s, "button release")
    assert not on("BUTTON")
    send(s, "pp 480")
    assert pp_on() == [680]
    send(s, "pp open")
    assert pp_on() == []
    send(s, "weld on")
    assert on("WELD")
    send(s, "rcd 30")
    assert on("RCD_TEST")
    send(s, "rcd 0")
    assert not on("RCD_TEST")
    r = send(s, "unplug")
    assert r["ok"] and not on("CP_RELAY") and pp_on() == []


def test_nearest_resistors():
    s, _ = setup()
    send(s, "plug 1000")
    assert pp_on() == [680]             # 1000 is nearer 680 than 1500 on a ratio scale
    send(s, "plug 1500")
    assert pp_on() == [1500]
    send(s, "plug 90")
    assert pp_on() == [100]
    r = send(s, "ev 900")
    assert on("R_C") and not on("R_D") and "882" in r["done"]
    send(s, "ev 250")
    assert on("R_D") and not on("R_C")
    send(s, "ev 2000")
    assert not on("R_C") and not on("R_D") and on("CP_RELAY")
    send(s, "ev 50000")
    assert not on("CP_RELAY")           # open: state A


def check_duty(duty, amps, conv=12):
    s, _ = setup(duty, conv)
    send(s, "plug")
    m = s.runner.meter.measure()
    assert abs(m["duty"] - duty) <= PM.DUTY_RESOLUTION_PCT, m
    assert abs(m["amps"] - amps) <= PM.DUTY_RESOLUTION_PCT * PM.amps_per_pct(duty), m
    assert m["state"] == "B2" and m["diode"] == "ok", m
    assert abs(m["pos"] - 8.98) < 0.05 and abs(m["neg"] + 12.0) < 0.05, m


def test_duty_10():
    check_duty(10.0, 6.0)


def test_duty_53_3():
    check_duty(53.333, 32.0)


def test_duty_90():
    check_duty(90.0, 65.0)


def test_duty_96():
    check_duty(96.0, 80.0)


def test_duty_at_40us_per_sample():
    check_duty(53.333, 32.0, conv=40)
    check_duty(96.0, 80.0, conv=40)


def test_state_at_96_and_5_percent_whatever_the_sample_grid():
    """The 40 us negative plateau at 96 % (50 us positive at 5 %) with a grid locked to the PWM
    (25 or 20 samples per period) or not, at many offsets, edges sampled: the state is B2 or C2
    with the diode seen, from the plateau bursts alone."""
    bad = []
    for duty in (96, 5):
        for conv in (12, 40, 45, 50):
            for off in range(0, 1000, 53):
                for ev in ("B", "C"):
                    s, _ = setup(duty, conv)
                    mm.clock.us += off
                    send(s, "plug")
                    send(s, "ev " + ev)
                    m = s.runner.meter.measure(False)
                    if m["state"] != ev + "2" or m["diode"] != "ok":
                        bad.append((duty, conv, off, m["state"], m["diode"]))
    assert bad == [], bad


def test_states_on_the_pilot():
    s, evse = setup(100)
    assert s.runner.meter.measure()["state"] == "A1"
    send(s, "plug")
    assert s.runner.meter.measure()["state"] == "B1"
    evse.at(0, 53.333)
    send(s, "ev C")
    assert s.runner.meter.measure()["state"] == "C2"
    send(s, "ev D")
    assert s.runner.meter.measure()["state"] == "D2"
    send(s, "ev B")
    send(s, "diode short")
    m = s.runner.meter.measure()
    assert m["state"] == "B2" and m["diode"] == "short", m
    send(s, "diode ok")
    send(s, "cp short")
    assert s.runner.meter.measure()["state"] == "E"
    send(s, "cp ok")
    evse.at(0, 0)
    m = s.runner.meter.measure()
    assert m["state"] == "F" and m["duty"] == 0.0, m


def test_expect_lines_pass_and_fail():
    s, _ = setup(53.333)
    assert send(s, "plug")["ok"]
    assert send(s, "expect state B2")["ok"]
    assert not send(s, "expect state C2")["ok"]
    assert send(s, "expect duty 53.3")["ok"]
    r = send(s, "expect duty 60")
    assert not r["ok"] and abs(r["measured"]["duty"] - 53.33) < 0.2
    assert send(s, "expect current 32")["ok"]
    assert not send(s, "expect current 16")["ok"]
    assert send(s, "ev C")["ok"]
    assert send(s, "expect state C2")["ok"]


def test_expect_within_polls_until_it_holds():
    s, evse = setup(53.333)
    send(s, "plug")
    evse.at(mm.clock.us + 400000, 26.667)       # the charger lowers to 16 A 0.4 s from now
    r = send(s, "expect current 16 within 1")
    assert r["ok"] and 0.3 <= r["after_s"] <= 0.8, r
    evse.at(mm.clock.us + 2000000, 100)
    t0 = mm.clock.us
    r = send(s, "expect duty 100 within 0.5")
    assert not r["ok"] and mm.clock.us - t0 < 1000000, r


def test_wait_uses_the_clock():
    s, _ = setup()
    t0 = mm.clock.us
    assert send(s, "wait 2.5")["ok"]
    assert mm.clock.us - t0 == 2500000


def test_not_physical_commands_are_skipped():
    s, _ = setup()
    for line in ("config max_current=32", "draw 16", "temp 40", "noise 0.1", "limit 10",
                 "expect fault rcd", "expect no fault", "expect state paused",
                 "expect contactor closed"):
        r = send(s, line)
        assert r["ok"] and "skipped" in r, (line, r)


def test_optional_relays_absent_are_skipped():
    s, _ = setup()
    v = s.runner.vehicle
    v.out["WELD"] = None
    r = send(s, "weld on")
    assert r["ok"] and "skipped" in r
    r = send(s, "power off")                   # no POWER_CUT relay in this pin map
    assert r["ok"] and "skipped" in r


def test_contactor_from_ac_sense():
    s, _ = setup(sense=True)
    mm.drive(PINS.AC_SENSE_PIN, 1)
    assert send(s, "expect contactor closed")["ok"]
    assert not send(s, "expect contactor open")["ok"]
    mm.drive(PINS.AC_SENSE_PIN, 0)
    assert send(s, "expect contactor open")["ok"]


def test_malformed_lines_get_an_error_and_the_safe_state():
    s, _ = setup()
    send(s, "plug")
    send(s, "ev C")
    bad = ("bogus 1", "wait x", "ev Z", "expect duty", "expect state Q9", "plug -5",
           "\xff\xfe", "x" * 500, "!nonsense")
    for i, line in enumerate(bad):
        r = send(s, line)
        assert r is not None and r["ok"] is False and r["error"], (line, r)
        assert not on("CP_RELAY") and not on("R_C")
    r = send(s, b"\xff\xfe plug")
    assert r["ok"] is False and "UTF-8" in r["error"]


def test_line_numbers_follow_the_file():
    s, _ = setup()
    assert send(s, "!reset")["ready"]
    assert send(s, "# comment") is None
    assert send(s, "") is None
    assert send(s, "plug")["line"] == 3
    assert send(s, "wait 0.1")["line"] == 4
    r = send(s, "config a=1")                   # config after wait: the parser's rule
    assert r["line"] == 5 and not r["ok"]
    assert send(s, "!reset")["line"] == 0
    assert send(s, "unplug")["line"] == 1


def test_runner_never_raises_on_internal_errors():
    s, _ = setup()

    def boom(duty=True):
        raise OSError("adc")
    s.runner.meter.measure = boom
    send(s, "plug")
    r = send(s, "expect duty 50")
    assert r["ok"] is False and "adc" in r["error"] and not on("CP_RELAY")


def test_duty_to_amps():
    assert PM.duty_to_amps(10.0) == 6.0
    assert abs(PM.duty_to_amps(53.333) - 32.0) < 0.01
    assert abs(PM.duty_to_amps(90.0) - 65.0) < 0.01
    assert PM.duty_to_amps(96.0) == 80.0
    assert PM.duty_to_amps(5.0) == 0.0 and PM.duty_to_amps(100.0) == 0.0


def test_vehicle_choices():
    assert abs(V.EV_CHOICES[1][0] - 882) < 1 and abs(V.EV_CHOICES[2][0] - 246) < 1


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
