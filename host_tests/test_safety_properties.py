"""Safety properties under random vehicles, noise and faults (hypothesis).

Whatever the vehicle and the installation do, watched at the pins of the virtual board:
- the contactor is never closed outside C/D for more than 100 ms;
- it never closes without a residual-current self-test that tripped since it last closed, nor
  while the vehicle's diode has been shorted for longer than the detection time;
- it never closes unless the pilot has been in the C or D band for the qualification time, whatever
  reset the pilot detector before (boot, a reboot, a wake-up, a fault) and however long the vehicle sat
  in a gap between bands;
- it never closes a welded contactor (once a weld could be seen) or a tripped monitor;
- a residual-current trip opens it at once, from the interrupt, not the next tick.
"""
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

ACTIONS = st.one_of(
    st.tuples(st.just("wait"), st.floats(0.005, 3.0)),
    st.tuples(st.just("plug"), st.sampled_from([150, 220, None])),
    st.tuples(st.just("unplug"), st.none()),
    st.tuples(st.just("ev"), st.sampled_from(["A", "B", "C", "D", 1500, 600, 3000])),
    st.tuples(st.just("ev"), st.one_of(st.integers(1270, 1820),     # 7-8 V: between B and C
                                       st.integers(420, 610),       # 4-5 V: between C and D
                                       st.integers(4700, 10200))),  # 10-11 V: between A and B
    st.tuples(st.just("reboot"), st.floats(0.0, 1.0)),
    st.tuples(st.just("diode_ok"), st.booleans()),
    st.tuples(st.just("cp_short"), st.booleans()),
    st.tuples(st.just("rcd_ma"), st.sampled_from([0.0, 0.0, 10.0, 30.0, 100.0])),
    st.tuples(st.just("weld"), st.booleans()),
    st.tuples(st.just("temp_c"), st.sampled_from([25.0, 66.0, 69.0, 75.0])),
    st.tuples(st.just("noise"), st.sampled_from([0.0, 0.2, 0.5])),
    st.tuples(st.just("limit"), st.sampled_from([None, 4, 10, 16, 32])),
    st.tuples(st.just("button"), st.booleans()),
)

DIODE_DETECT_US = 40000      # a shorted diode must be seen within a few bursts
QUALIFY_US = 300000 - 10000  # C/D held for bc_qualify_ms (one tick of sampling resolution)
ASKING_MV = (2000, 7000)     # the D and C bands and the C/D gap: levels that can qualify C or D ...
HELD_MAX_MV = 8000           # ... and, once qualified, the B/C gap keeps C (hysteresis)
OUTSIDE_CD_MAX_US = 100000   # contactor closed with the EV outside C/D: at most 100 ms


class Monitor:
    def __init__(self, d, monkeypatch):
        self.d = d
        b = d.rig.board
        self.b = b
        self.violations = []
        self.selftest_tripped = False
        self.outside_since = None
        self.weld_seen = False
        self.open_welded_since = None
        self.diode_short_since = None
        self.asking_since = None     # the pilot's positive plateau has been in C/D since (None: not)
        real_drive = mm.drive

        def drive(pin, level):
            if pin == b.RCD_TRIP_PIN and level == b.RCD_TRIP_ACTIVE:
                if mm.output(b.RCD_TEST_PIN):
                    self.selftest_tripped = True
            real_drive(pin, level)
            if pin == b.RCD_TRIP_PIN and level == b.RCD_TRIP_ACTIVE and not mm.output(b.RCD_TEST_PIN):
                if self.d.world.coil():
                    self.violations.append("trip did not open the contactor at once")
        monkeypatch.setattr(mm, "drive", drive)
        d.rig.add_pin_hook(self.on_pin)
        d.rig.probes.append(self.probe)

    def trip_active(self):
        return mm.input_level(self.b.RCD_TRIP_PIN) == self.b.RCD_TRIP_ACTIVE

    def on_pin(self, pin, level):
        if pin != self.b.CONTACTOR_PINS[0] or level != 1:
            return
        now = mm.clock.us
        if not self.selftest_tripped:
            self.violations.append("closed without a self-test trip at %d us" % now)
        self.selftest_tripped = False
        if self.diode_short_since is not None and now - self.diode_short_since > DIODE_DETECT_US:
            self.violations.append("closed with a shorted diode at %d us" % now)
        if self.weld_seen:
            self.violations.append("closed a welded contactor at %d us" % now)
        self.check_asking(now)
        if self.asking_since is None or now - self.asking_since < QUALIFY_US:
            self.violations.append("closed at %d us, C/D held only since %s" % (now, self.asking_since))
        if self.trip_active() and not mm.output(self.b.RCD_TEST_PIN):
            self.violations.append("closed while the monitor trips at %d us" % now)

    def check_asking(self, now):
        """Since when the pilot has asked for power: the positive plateau in C/D (or, once there, in
        the B/C gap) with the PWM running; F (a wake-up, a fault) or a power cut starts it afresh."""
        w = self.d.world
        pwm = self.d.rig.powered and self.d.app.hw.duty_x100 > 0
        mv = w.levels()[0] * 1000 if pwm else 0
        if not (ASKING_MV[0] <= mv < HELD_MAX_MV and w.diode_ok):
            self.asking_since = None
        elif self.asking_since is None and mv < ASKING_MV[1]:
            self.asking_since = now

    def probe(self):
        w = self.d.world
        now = mm.clock.us
        self.check_asking(now)
        coil = w.coil()
        # C/D as the firmware must read it: the B/C gap (7-8 V) keeps C (IEC 61851-1 Table A.4)
        in_cd = ASKING_MV[0] <= w.levels()[0] * 1000 < HELD_MAX_MV and not w.cp_short
        if coil and not in_cd:
            if self.outside_since is None:
                self.outside_since = now
            elif now - self.outside_since > OUTSIDE_CD_MAX_US:
                self.violations.append("closed outside C/D for %d us" % (now - self.outside_since))
                self.outside_since = now
        else:
            self.outside_since = None
        if w.weld and not coil:
            if self.open_welded_since is None:
                self.open_welded_since = now
            elif now - self.open_welded_since > 200000:
                self.weld_seen = True     # the firmware has had time to see the stuck contacts
        else:
            self.open_welded_since = None
        if not w.diode_ok and w.plugged:
            if self.diode_short_since is None:
                self.diode_short_since = now
        else:
            self.diode_short_since = None


def apply(d, action, arg):
    w = d.world
    if action == "wait":
        d.run(arg)
    elif action == "plug":
        d.plug(pp_ohms=arg)
    elif action == "unplug":
        d.unplug()
    elif action == "ev":
        d.ev(arg)
    elif action == "noise":
        w.set_noise(arg)
    elif action == "reboot":
        d.rig.power_off()
        d.run(arg)
        d.rig.power_on()
    elif action == "limit":
        d.charger.set_limit("console", arg) if d.rig.app else None
    else:
        d.set(**{action: arg})


# derandomize: the same 40 examples each run, so that CI is stable; the one case a random run found
# (stop 49's CI) is test_a_car_in_the_b_c_gap_with_noise_never_gets_the_contactor below
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(actions=st.lists(ACTIONS, min_size=5, max_size=25), seed=st.integers(1, 1000),
       wakeup_s=st.sampled_from([0, 1, 2, 30]))
def test_random_sessions_never_break_the_safety_rules(tmp_path_factory, monkeypatch, actions, seed,
                                                      wakeup_s):
    d = Drive(config={"max_current": 32, "wakeup_after_s": wakeup_s},
              flash_dir=str(tmp_path_factory.mktemp("flash")), seed=seed)
    mon = Monitor(d, monkeypatch)
    d.run(0.5)
    for action, arg in actions:
        apply(d, action, arg)
        d.run(0.02)
    d.run(2.0)
    assert mon.violations == [], (actions, mon.violations)


def test_a_car_in_the_b_c_gap_with_noise_never_gets_the_contactor(tmp_path_factory, monkeypatch):
    """Found by a random run of the test above in stop 49's CI (the code of stop 48 fails it too). A
    car at 1500 ohm sits at 7.48 V, in the B/C gap (IEC 61851-1 Table A.4: C is 5-7 V), with 0.5 V
    of noise. A burst read in C starts a C candidate; the gap's bursts "beside C" neither confirm
    nor cancel it (pilot._beside_c, stop 46, for a car whose C sits near 7 V), and a later one in C
    confirms it: the car is qualified in C and charged, never having been in C. Now C is qualified on
    the mean of the bursts over the qualification (pilot.Detector._weigh; test_pilot_gaps.py)."""
    d = Drive(config={"max_current": 32, "wakeup_after_s": 0}, flash_dir=str(tmp_path_factory.mktemp("flash")),
              seed=1)
    mon = Monitor(d, monkeypatch)
    d.run(0.5)
    for action, arg in [("plug", 150), ("ev", 1500), ("button", True), ("wait", 0.125), ("wait", 0.0625),
                        ("noise", 0.5), ("wait", 1.0), ("button", False)]:
        apply(d, action, arg)
        d.run(0.02)
    d.run(2.0)
    assert mon.violations == []


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(1, 10000), duty_limit=st.sampled_from([6, 10, 16, 32, 48, 63, 80]),
       source=st.sampled_from([(11.4, 970.0), (12.0, 1000.0), (12.6, 1030.0)]))
def test_noise_and_glitches_cause_no_state_change(tmp_path_factory, seed, duty_limit, source):
    """0.5 V RMS of noise and 1-in-2000 glitch samples, the source at its +-5 % / +-3 % corners:
    a charging session at any duty from 10 % to 96 % sees no state change at all."""
    d = Drive(config={"max_current": 80}, flash_dir=str(tmp_path_factory.mktemp("flash")), seed=seed)
    d.world.source_pos, d.world.source_neg = source[0], -source[0]
    d.world.source_ohms = source[1]
    d.charger.set_limit("console", duty_limit)
    d.run(0.5).charge()
    d.world.set_noise(0.5, 0.0005)
    before = len(d.events)
    d.run(20)
    changes = [e for _, e in d.events[before:] if e[0] in ("state", "contactor", "fault")]
    assert changes == [] and d.state == "C2"


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(1, 10000))
@example(seed=1507)     # once a false diode fault: B read at 10 V against -12 V (test_diode_check.py)
def test_noise_at_5_percent_causes_no_state_change(tmp_path_factory, seed):
    """High-level communication (5 %) with noise: the EV states still read right."""
    d = Drive(flash_dir=str(tmp_path_factory.mktemp("flash")), seed=seed)
    d.charger.hlc = True
    d.run(0.5)
    d.plug()
    d.run(0.5)
    assert d.duty == 5.0 and d.state == "B2"
    d.world.set_noise(0.5, 0.0005)
    before = len(d.events)
    d.run(20)
    assert [e for _, e in d.events[before:] if e[0] in ("state", "fault")] == []


GAP_OR_ASKING_OHMS = st.one_of(st.integers(1270, 1820), st.integers(420, 610),   # B/C, C/D gaps
                               st.sampled_from([2740, 882, 246]))                # B, C, D


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(reset=st.sampled_from(["boot", "reboot", "wakeup", "fault"]),
       levels=st.lists(st.tuples(GAP_OR_ASKING_OHMS, st.floats(0.01, 1.5)), min_size=1, max_size=6),
       seed=st.integers(1, 1000))
def test_after_any_reset_of_the_pilot_detector_c_is_qualified(tmp_path_factory, monkeypatch, reset,
                                                               levels, seed):
    """The detector starts afresh at boot, after a reboot, after a wake-up's F and after a fault's F;
    whatever the vehicle shows then (gaps between bands included), C or D must hold for the
    qualification time before the contactor closes."""
    d = Drive(config={"max_current": 32, "wakeup_after_s": 1 if reset == "wakeup" else 0,
                      "ventilation": True},
              flash_dir=str(tmp_path_factory.mktemp("flash")), seed=seed)
    mon = Monitor(d, monkeypatch)
    d.plug()
    if reset == "boot":
        d.ev(levels[0][0])
    d.run(0.5)
    if reset == "reboot":
        d.run(0.5).ev("C")
        d.run(1.0)
        d.rig.power_off()
        d.ev(levels[0][0])
        d.rig.power_on()
    elif reset == "wakeup":
        d.run(1.5)                          # B2 for 1 s: F for 4 s
        d.ev(levels[0][0])
        d.run(3.5)
    elif reset == "fault":
        d.set(cp_short=True)
        d.run(0.1)
        d.set(cp_short=False)
        d.ev(levels[0][0])
    for ohms, secs in levels:
        d.ev(ohms)
        d.run(secs)
    d.run(4.0)
    assert mon.violations == [], (reset, levels, mon.violations)
