"""Audit 9: every source of a current limit at once, on the virtual bench (hypothesis).

Sources driven here, each through the face that carries it: the console's and the REST API's
`limit` (Console.answer), MQTT's limit/set payload (parse_limit, retained or not), OCPP's limit
(the service's set_limit: App.command with source ocpp), the planner's schedule and surplus limits
(App.command, as Planner._apply sends them), the settings' max_current (the console's `set`), the
board's rating (80 A on the sim board), the Type 2 cable's PP coding, the fallback of a silent
remote controller, thermal derating, and `enable`/`disable`. Watched at the pilot pin (the duty the
analyzer reads, amps by the J1772/IEC 61851-1 formula) after every step:
- the offered current is never above the lowest active limit (derated by the temperature);
- under 6 A the pilot is X1 (a pause), never a PWM under 10 % or over 96 %; under the car's own
  minimum (min_current_a: 6, 8 or 10 A here), whichever source set it, X1 too (a PWM under it is a
  current the car refuses, sitting in B with no reason shown);
- a value that is not a number in 0..80 (NaN, inf, negative, a string, true, a huge number) is
  refused and changes nothing; a valid one is never refused;
- with nothing changing for 5.6 s (the 5 s raise hold, the 3 s X1 hold), the pilot offers exactly
  the lowest limit of the sources left (rounded down, within the duty's resolution), or X1 when
  that is under the car's minimum.
The default run is small and fixed (make test); LIMITS_AUDIT_EXAMPLES=N runs N random ones by hand.
"""
import math
import os

from hypothesis import HealthCheck, example, given, settings, strategies as st

from evse.core import limits as L
from evse.services import console
from evse.services.mqtt import parse_limit
from evse.shell.hal import ticks_ms
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

EXAMPLES = int(os.environ.get("LIMITS_AUDIT_EXAMPLES", "40"))
FIXED = "LIMITS_AUDIT_EXAMPLES" not in os.environ    # make test: the same examples every run
SOURCES = ("console", "rest", "mqtt", "ocpp", "schedule", "surplus")
REMOTE = ("mqtt", "rest")
VALID = [None, 0, -0.0, 3, 5.99, 6, 7.5, 10, 13, 16.55, 20, 32, 51.2, 52.5, 63, 80]
INVALID = [float("nan"), float("inf"), float("-inf"), -1, -0.01, "16", True, 1e9, 80.01, [16]]
T2_PP = {100: 63, 220: 32, 680: 20, 1500: 13}       # Type 2 coding resistor -> cable amps (Table B.2)
TEMPS = [25.0, 66.5, 69.5, 75.0]                     # well inside each band: the ADC's noise stays in it
CHECK_S = 0.05          # a lower limit is on the pilot within a tick or two
SETTLE_S = 5.6          # 5 s raise hold (facts 2) and the 3 s X1 hold, with margin
CHUNK_S = 0.1
SLACK_A = 0.1           # the duty's resolution and the x10 rounding, both downwards

ACTIONS = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(SOURCES), st.sampled_from(VALID + INVALID)),
    st.tuples(st.just("limit"), st.sampled_from(SOURCES), st.floats(0, 80)),
    st.tuples(st.just("retained"), st.just("mqtt"), st.sampled_from(VALID)),
    st.tuples(st.just("max_current"), st.sampled_from([6.0, 10.0, 16.0, 32.0, 40.0]), st.none()),
    st.tuples(st.just("plug"), st.none(), st.none()),
    st.tuples(st.just("unplug"), st.none(), st.none()),
    st.tuples(st.just("ev"), st.sampled_from(["B", "C"]), st.none()),
    st.tuples(st.just("temp"), st.sampled_from(TEMPS), st.none()),
    st.tuples(st.just("wait"), st.floats(0.05, 4.0), st.none()),
    st.tuples(st.just("settle"), st.none(), st.none()),
    st.tuples(st.just("enable"), st.booleans(), st.none()),
)


def pilot_amps(d):
    """(mode, amps) at the pilot pin: 'X1', 'F' or 'PWM' with the current its duty advertises."""
    pwm = mm.pwms.get(d.rig.board.PILOT_PWM_PIN)
    duty = 100.0 * pwm.counts / pwm.steps
    if duty >= 99.99:
        return "X1", 0.0
    if duty <= 0.01:
        return "F", 0.0
    if duty < 10.0 or duty > 96.0:
        return "BAD %.2f %%" % duty, 99.0
    return "PWM", (duty * 0.6 if duty <= 85.0 else (duty - 64.0) * 2.5)


def thermal_level(t, cfg):
    if t >= cfg["temp_stop_c"]:
        return 3
    if t >= cfg["temp_quarter_c"]:
        return 2
    if t >= cfg["temp_half_c"]:
        return 1
    return 0


def scaled_x10(x10, level):
    return (x10, x10 // 2, x10 // 4, 0)[level]


def clamp_x10(x10):
    if x10 < L.AMPS_MIN_X10:
        return 0
    if x10 > L.AMPS_MAX_X10:
        return L.AMPS_MAX_X10
    if L.AMPS_LOW_MAX_X10 < x10 < L.AMPS_GAP_MAX_X10:
        return L.AMPS_LOW_MAX_X10
    return x10


class Model:
    """What the limits should be, kept apart from the firmware's own bookkeeping."""

    def __init__(self, d, cfg):
        self.d = d
        self.cfg = cfg
        self.limits = {"settings": cfg["max_current"], "board": 80.0}
        self.t2 = cfg["connector"] == "type2-socket"
        self.pp = None              # plugged: the PP ohms; None: unplugged
        self.ev = "B"
        self.enabled = True
        self.temp = 25.0
        self.peak = 0               # the hottest level since the last full cool-down (a step down waits)
        self.cool_since = 0.0
        self.watched = None         # the fallback's remote controller
        self.heard = 0.0
        self.fb_until = None        # a word came while a pause held: the cap ends then
        self.lost = False           # the fallback's state no longer known: its checks are left out
        self.order = []             # the remote limits standing, oldest first
        self.violations = []
        self.pwm = None             # the PWM current last on the pin, and since when (raise hold)
        self.pwm_since = 0.0
        d.rig.probes.append(self.probe)

    def probe(self):
        """After every tick: a higher PWM current no sooner than 5 s after the last change."""
        mode, amps = pilot_amps(self.d)
        if mode != "PWM":
            self.pwm = None
            return
        if self.pwm is not None and abs(amps - self.pwm) > 1e-9:
            if amps > self.pwm and self.now() - self.pwm_since < L.DUTY_NOMINAL_RAISE_MS / 1000 - 0.011:
                self.violations.append("raised %.2f -> %.2f A %.3f s after the last change at %.2f s" % (
                    self.pwm, amps, self.now() - self.pwm_since, self.now()))
        if self.pwm is None or abs(amps - self.pwm) > 1e-9:
            self.pwm, self.pwm_since = amps, self.now()

    def now(self):
        return mm.clock.us / 1e6

    def fallback_state(self):
        """(certainly active, uncertain): the fallback's cap by the watched source's silence."""
        t = self.cfg["fallback_timeout_s"]
        if self.lost:
            return False, True
        if not t or self.watched is None:
            return False, False
        silent = self.now() - self.heard
        if self.fb_until is not None:       # heard during the fallback's pause: held until then
            return self.now() < self.fb_until - 0.02, abs(self.now() - self.fb_until) < CHECK_S
        return silent >= t + CHECK_S, t - 0.02 <= silent < t + CHECK_S

    def note(self, src, clears):
        """The remote limits standing, in the order they were set (as Fallback.held)."""
        if src in self.order:
            self.order.remove(src)
        if not clears:
            self.order.append(src)

    def speak(self, src, alive, clears):
        """Fallback.heard's rules: the last remote source that set a limit is watched; its own
        removal ends the watch; a retained copy starts a watch only. A word ends the cap once a
        pause it made (fallback_current_a under 6 A) has lasted min_pause_s."""
        t = self.cfg["fallback_timeout_s"]
        if not t or src not in REMOTE or (clears and src != self.watched) or (not alive and self.watched):
            return
        if self.watched is not None and src != self.watched and self.now() - self.heard >= t - 0.02:
            if self.now() - self.heard < t + CHECK_S:
                self.lost = True        # a word at the timeout's own tick: which came first is not modelled
            return                      # the cap in force: only the silent one's word ends it
        now = self.now()
        if self.watched is not None and now - self.heard >= t:          # the cap was in force
            start = self.heard + t
            hold = self.cfg["min_pause_s"] if self.cfg["fallback_current_a"] < self.cfg["min_current_a"] else 0
            if self.fb_until is not None:
                start = self.fb_until          # (a second silence after a held word: not modelled)
            self.fb_until = max(now, start + hold)
            if self.fb_until <= now + 1e-9:
                self.fb_until = None
        self.watched = src
        if clears:                  # the watch passes to the last other remote limit still standing
            others = [k for k in self.order if k != src and k in self.limits]
            self.watched = others[-1] if others else None
        self.heard = now

    def bound(self):
        """(the highest current allowed now in A, the exact x10 offer when certain, else None)."""
        lims = dict(self.limits)
        if self.t2:
            lims["cable"] = T2_PP[self.pp] if self.pp is not None else 0
        active, unsure = self.fallback_state()
        if active:
            lims["fallback"] = self.cfg["fallback_current_a"]
        low = min(lims.values())
        level = thermal_level(self.temp, self.cfg)
        factor = (1.0, 0.5, 0.25, 0.0)[level]
        exact = None
        if not unsure and level == self.peak:
            x10 = scaled_x10(int(low * 10), level)
            exact = clamp_x10(x10) if x10 >= int(self.cfg["min_current_a"] * 10) else 0
        return low * factor, exact

    def after_time(self):
        if self.fb_until is not None and self.now() >= self.fb_until + CHECK_S:
            self.fb_until = None
        if self.temp < self.cfg["temp_restore_c"]:
            if self.now() - self.cool_since >= 1.1:
                self.peak = thermal_level(self.temp, self.cfg)
        lvl = thermal_level(self.temp, self.cfg)
        if lvl > self.peak:
            self.peak = lvl

    def check(self, what, settled=False):
        d = self.d
        self.after_time()
        mode, amps = pilot_amps(d)
        hi, exact = self.bound()
        where = "%s at %.2f s (limits %s, temp %s, fallback watch %s since %.2f)" % (
            what, self.now(), sorted(d.charger.limits.items()), self.temp, self.watched, self.heard)
        if mode.startswith("BAD"):
            self.violations.append("pilot %s: %s" % (mode, where))
            return
        if mode == "PWM" and amps > hi + 1e-6:
            self.violations.append("offers %.2f A above the limit %.2f A: %s" % (amps, hi, where))
        if mode == "PWM" and hi < max(6.0, self.cfg["min_current_a"]) - 1e-9:
            self.violations.append("PWM under 6 A or the car's minimum %.1f A (%.2f A allowed): %s"
                                   % (self.cfg["min_current_a"], hi, where))
        if not settled or self.pp is None or exact is None:
            return
        if not self.enabled:       # F; X1 after a fault
            if mode == "PWM":
                self.violations.append("disabled but pilot %s: %s" % (mode, where))
            return
        if exact == 0:
            if mode != "X1":
                self.violations.append("pause must be X1, pilot %s: %s" % (mode, where))
            return
        if mode != "PWM" or not exact / 10 - SLACK_A <= amps <= exact / 10 + 1e-6:
            self.violations.append("settled at %s %.2f A, not the lowest limit %.1f A: %s"
                                   % (mode, amps, exact / 10, where))


def run_chunks(m, seconds, what, settled_at_end=False):
    left = seconds
    while left > 1e-9:
        step = min(CHUNK_S, left)
        m.d.run(step)
        left -= step
        m.check(what, settled_at_end and left <= 1e-9)


def limit(m, d, src, value, alive=True):
    """One limit through its source's own face -> True when accepted."""
    now = ticks_ms()
    if src in ("console", "rest"):
        r = d.app.console.answer({"cmd": "limit", "amps": value}, now, src)
        ok = r.get("ok") is True
    elif src == "mqtt":
        text = "none" if value is None else (value if isinstance(value, str) else repr(value))
        try:
            amps = parse_limit(str(text).encode())
            d.app.command("limit", amps, now, "mqtt", alive or amps is None)
            ok = True
        except ValueError:
            ok = False
    else:
        try:
            d.app.command("limit", value, now, src)
            ok = True
        except ValueError:
            ok = False
    return ok


def valid(value):
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and 0 <= value <= 80


def apply(m, d, act):
    kind, a, b = act
    if kind in ("limit", "retained"):
        alive = kind == "limit"
        ok = limit(m, d, a, b, alive)
        want = valid(float(b) if a == "mqtt" and isinstance(b, str) else b)
        if ok != want:
            m.violations.append("%s limit %r from %s: %s" % (
                "refused a valid" if want else "took an invalid", b, a, "accepted" if ok else "refused"))
        if ok:
            if b is None:
                m.limits.pop(a, None)
            else:
                m.limits[a] = float(b)
            m.speak(a, alive or b is None, b is None)   # a retained "none" removes (mqtt.py)
            if a in REMOTE:
                m.note(a, b is None)
    elif kind == "max_current":
        r = d.app.console.answer({"cmd": "set", "values": {"max_current": a}}, ticks_ms())
        if r.get("ok") is not True:
            m.violations.append("max_current %s refused: %r" % (a, r))
        else:
            m.limits["settings"] = a
    elif kind == "plug":
        if m.pp is None:
            m.pp = 150 if not m.t2 else sorted(T2_PP)[int(m.now() * 10) % len(T2_PP)]
            d.plug(m.pp)
            m.ev = "B"
    elif kind == "unplug":
        if m.pp is not None:
            d.unplug()
            m.pp = None
            run_chunks(m, 0.5, "unplugged")   # a hand takes longer to plug again
    elif kind == "ev":
        if m.pp is not None:
            d.ev(a)
            m.ev = a
    elif kind == "temp":
        if a < m.cfg["temp_restore_c"] <= m.temp:
            m.cool_since = m.now()
        m.temp = a
        d.set(temp_c=a)
    elif kind == "enable":
        d.app.command("enable" if a else "disable", None, ticks_ms())
        m.enabled = a
    if kind == "wait":
        run_chunks(m, a, "wait")
    elif kind == "settle":
        run_chunks(m, SETTLE_S, "settle", settled_at_end=True)
    else:
        run_chunks(m, CHECK_S, "%r" % (act,))


def bench(tmp, cfg_over):
    cfg = {"max_current": 32.0, "wakeup_after_s": 0, "fallback_timeout_s": 0, "fallback_current_a": 6.0,
           "min_pause_s": 2}
    cfg.update(cfg_over)
    d = Drive(config=cfg, flash_dir=str(tmp))
    console.attach(d.app, console.UartStream(mm.UART(9, 115200)))
    d.run(0.5)
    m = Model(d, d.app.cfg)
    return d, m


S = ("settle", None, None)


# the scenarios the audit asked for by name: a source withdrawing restores the lowest of the rest
@example(actions=[("ev", "C", None), ("limit", "console", 10), S, ("limit", "ocpp", 8), S,
                  ("limit", "console", None), S, ("limit", "ocpp", None), S],
         connector="j1772", fallback=(0, 6.0), car_min=6.0)
@example(actions=[("limit", "mqtt", 16), ("wait", 3.0, None), S, ("limit", "mqtt", 16), S,
                  ("limit", "rest", 20), ("wait", 3.0, None), S, ("limit", "rest", None), S],
         connector="type2-socket", fallback=(2, 6.0), car_min=6.0)
@example(actions=[("limit", "mqtt", 16), ("wait", 3.0, None), S, ("limit", "mqtt", 20), S, S,
                  ("retained", "mqtt", None), S], connector="j1772", fallback=(2, 0.0), car_min=6.0)
@example(actions=[("ev", "C", None), ("temp", 75.0, None), S, ("temp", 66.5, None), S, ("temp", 25.0, None), S,
                  ("limit", "schedule", 0), S, ("limit", "schedule", None), ("limit", "surplus", 7.5), S,
                  ("max_current", 6.0, None), S, ("max_current", 40.0, None), ("limit", "surplus", None), S],
         connector="j1772", fallback=(0, 6.0), car_min=6.0)
# a car that refuses under 10 A: 8 A from OCPP, 16 A derated to 8 A, a fallback of 8 A all pause it
@example(actions=[("ev", "C", None), ("limit", "ocpp", 8), S, ("limit", "ocpp", None), S, ("temp", 66.5, None), S,
                  ("temp", 25.0, None), S, ("max_current", 10.0, None), S, ("limit", "mqtt", 16), ("wait", 3.0, None), S],
         connector="j1772", fallback=(2, 8.0), car_min=10.0)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=FIXED, suppress_health_check=list(HealthCheck))
@given(actions=st.lists(ACTIONS, min_size=5, max_size=30),
       connector=st.sampled_from(["j1772", "type2-socket"]),
       fallback=st.sampled_from([(0, 6.0), (2, 6.0), (3, 10.0), (2, 13.0), (2, 0.0), (3, 4.0)]),
       car_min=st.sampled_from([6.0, 8.0, 10.0]))
def test_random_limit_sequences_never_offer_above_the_lowest(tmp_path_factory, actions, connector, fallback, car_min):
    d, m = bench(tmp_path_factory.mktemp("flash"), {"connector": connector, "fallback_timeout_s": fallback[0],
                                                    "fallback_current_a": fallback[1], "min_current_a": car_min})
    for act in [("plug", None, None)] + actions + [("settle", None, None)]:
        apply(m, d, act)
        assert not m.violations, (act, m.violations[:3])
    assert not d.app.errors, d.app.errors


# --- the planner's two sources beside the others: the schedule from the board's clock, the grid
# limit from the console's grid readings (a seeded random sequence) ---
MONDAY_2026_06_01 = 1780272000          # 00:00 UTC
OFFPEAK = (23 * 3600, 7 * 3600)         # "daily 23:00-07:00" in UTC
PEAK_A = 10.0


def schedule_amps(rtc):
    """None (no cap), PEAK_A (peak tariff) or 0 (clock unset with charging windows: none known open)."""
    if rtc is None:
        return PEAK_A                   # off-peak windows only: the peak current is assumed
    s = rtc % 86400
    return None if s >= OFFPEAK[0] or s < OFFPEAK[1] else PEAK_A


def test_schedule_grid_limit_and_the_other_sources_seeded_sequences(tmp_path):
    import random
    runs = int(os.environ.get("LIMITS_AUDIT_PLANNER_RUNS", "5"))
    for seed in range(runs):
        rnd = random.Random(seed)
        (tmp_path / ("s%d" % seed)).mkdir()
        d = Drive(config={"max_current": 32.0, "wakeup_after_s": 0, "offpeak_windows": "daily 23:00-07:00",
                          "peak_current_a": PEAK_A, "tz": "UTC0", "solar_mode": "grid", "grid_source": "console",
                          "grid_limit_w": 4600, "grid_timeout_s": 20, "solar_smoothing_s": 0,
                          "min_pause_s": 0}, flash_dir=str(tmp_path / ("s%d" % seed)))
        console.attach(d.app, console.UartStream(mm.UART(9, 115200)))
        rtc = MONDAY_2026_06_01 + 22 * 3600
        mm.set_rtc(rtc)
        d.plug()
        d.run(1.0)
        d.ev("C")
        others = {"settings": 32.0, "board": 80.0}
        sched_was, sched_at = schedule_amps(rtc), 0.0
        violations = []
        for step in range(60):
            now_s = mm.clock.us / 1e6
            kind = rnd.choice(["clock", "grid", "grid_bad", "limit", "limit_bad", "wait", "settle"])
            if kind == "clock":
                was = schedule_amps(rtc)
                rtc = rnd.choice([None, MONDAY_2026_06_01 + rnd.randrange(0, 7 * 86400)])
                mm.set_rtc(mm.RTC_UNSET if rtc is None else rtc)
                sched_was, sched_at = was, now_s
            elif kind in ("grid", "grid_bad"):
                w = rnd.choice([-3000, 0, 1000, 3000, 4500, 6000]) if kind == "grid" else \
                    rnd.choice([float("nan"), float("inf"), "3000", None, True, 1e12])
                g = d.app.planner.surplus.grid_w
                r = d.app.console.answer({"cmd": "grid", "watts": w}, ticks_ms())
                if (r.get("ok") is True) != (kind == "grid"):
                    violations.append("grid %r: %r" % (w, r))
                if kind == "grid_bad" and d.app.planner.surplus.grid_w != g:
                    violations.append("refused grid %r changed the reading" % (w,))
            elif kind in ("limit", "limit_bad"):
                src = rnd.choice(["console", "rest", "ocpp"])
                v = rnd.choice([None, 6, 8, 13, 16, 25]) if kind == "limit" else \
                    rnd.choice([float("nan"), -3, "8", 81, float("-inf")])
                ok = limit(None, d, src, v)
                if ok != (kind == "limit"):
                    violations.append("limit %r from %s: %s" % (v, src, ok))
                if ok:
                    if v is None:
                        others.pop(src, None)
                    else:
                        others[src] = float(v)
            d.run({"wait": rnd.uniform(0.1, 3.0), "settle": 6.2}.get(kind, 1.2))
            surplus = d.app.planner.sent.get("surplus")    # the surplus' own value, as it sent it ...
            d.run(0.03)                                    # ... on the pilot at the next tick
            now_s = mm.clock.us / 1e6
            sched = schedule_amps(rtc)
            lims = dict(others)
            later = d.app.planner.sent.get("surplus")
            if surplus is None or (later is not None and later > surplus):
                surplus = later
            if surplus is not None:
                lims["surplus"] = surplus
            if sched is not None:
                lims["schedule"] = sched
            low = min(lims.values())
            if now_s - sched_at < 1.1 and sched_was is None:   # the planner evaluates once a second
                low = max(low, min(v for k, v in lims.items() if k != "schedule"))
            mode, amps = pilot_amps(d)
            where = "step %d %s at %.1f s: limits %s, core %s" % (
                step, kind, now_s, sorted(lims.items()), sorted(d.charger.limits.items()))
            if mode == "PWM" and (amps > low + 1e-6 or low < 6):
                violations.append("offers %.2f A over %.2f A: %s" % (amps, low, where))
            if kind == "settle":
                want = clamp_x10(int(low * 10)) / 10
                if (want == 0 and mode != "X1") or (want and not (mode == "PWM" and want - SLACK_A <= amps <= want)):
                    violations.append("settled at %s %.2f A, not %.1f A: %s" % (mode, amps, want, where))
            assert not violations, (seed, violations)
        assert not d.app.errors, d.app.errors


def test_another_controllers_limit_does_not_end_the_fallback_of_the_silent_one(tmp_path):
    # A load balancer on MQTT allows 32 A and dies: 5 s later the fallback caps the car at 6 A. The
    # owner then sets 32 A from the web page (REST): the load balancer is still silent, its 32 A
    # still in force, so the cap stays (it ended, and the car was offered 32 A again with the house's
    # load balancer dead) until the load balancer itself speaks again.
    d, m = bench(tmp_path, {"fallback_timeout_s": 5, "fallback_current_a": 6.0})
    d.charge()
    d.app.command("limit", 32, ticks_ms(), "mqtt")
    d.run(8.0)
    assert pilot_amps(d) == ("PWM", 6.0)
    d.app.console.answer({"cmd": "limit", "amps": 32}, ticks_ms(), "rest")
    d.run(3.5)                                               # past the 5 s raise hold, REST not silent yet
    assert pilot_amps(d) == ("PWM", 6.0), d.charger.limits
    d.app.command("limit", 20, ticks_ms(), "mqtt")           # the load balancer is back
    d.run(0.1)
    mode, amps = pilot_amps(d)
    assert mode == "PWM" and 19.9 < amps <= 20.0 and "fallback" not in d.charger.limits


def test_a_silent_controllers_limit_stays_watched_when_the_watched_one_hands_back(tmp_path):
    # The load balancer on MQTT allows 32 A; a solar controller on REST then sets 16 A (it is the one
    # watched: the last that set a limit) and later hands back (none). The load balancer has died
    # meanwhile: its 32 A was left in force, watched by nobody, for ever. The watch now passes to it.
    d, m = bench(tmp_path, {"fallback_timeout_s": 8, "fallback_current_a": 6.0})
    d.charge()
    d.app.command("limit", 32, ticks_ms(), "mqtt")
    d.run(1.0)
    d.app.console.answer({"cmd": "limit", "amps": 16}, ticks_ms(), "rest")
    d.run(3.0)
    d.app.console.answer({"cmd": "limit", "amps": None}, ticks_ms(), "rest")
    d.run(8.5)                                               # the load balancer silent since: 12.5 s
    assert pilot_amps(d) == ("PWM", 6.0), d.charger.limits
    d.app.command("limit", 32, ticks_ms(), "mqtt")           # it speaks again
    d.run(5.1)
    mode, amps = pilot_amps(d)
    assert mode == "PWM" and amps > 31.9 and "fallback" not in d.charger.limits


def test_a_temperature_that_is_no_number_is_a_broken_sensor_not_a_cool_one():
    """A reading of NaN (a sensor driver dividing 0 by 0) compared false with every threshold, so
    it read as cool: the level stayed OK, and a step down already taken never came back either.
    Now it counts as a broken sensor: after 1 s of it, no charging; real readings restore it."""
    from evse.core.protections import Thermal, THERMAL_OK, THERMAL_STOP
    from evse.core.ticks import ticks_diff
    th = Thermal(65, 68, 71, 62)
    assert th.update(25.0, 0, ticks_diff) == THERMAL_OK
    assert th.update(float("nan"), 100, ticks_diff) == THERMAL_OK      # one reading: a glitch
    assert th.update(float("nan"), 1200, ticks_diff) == THERMAL_STOP and th.broken
    assert th.update(25.0, 1300, ticks_diff) == THERMAL_STOP           # restored as from a stop
    assert th.update(25.0, 2400, ticks_diff) == THERMAL_OK and not th.broken


def test_a_limit_under_the_cars_minimum_pauses_with_the_reason_whatever_its_source(tmp_path):
    """A car that refuses 6-9 A (min_current_a 10): 8 A from OCPP, the schedule's peak, the console
    or a 16 A derated by half was offered at the pilot, and the car sat in B with nothing that said
    why. Each is a pause now (X1, `paused`: SuspendedEVSE in a transaction), the page says why."""
    from evse.core import vocab as V
    from evse.ocpp.status import connector_status
    from evse.services.web import view
    d, m = bench(tmp_path, {"min_current_a": 10.0, "max_current": 16.0})
    d.charge()
    assert pilot_amps(d)[0] == "PWM" and abs(pilot_amps(d)[1] - 16.0) <= SLACK_A
    for src in ("ocpp", "schedule", "console", "temperature"):
        if src == "temperature":
            d.set(temp_c=66.5)
        else:
            d.app.command("limit", 8, ticks_ms(), src)
        d.run(6.5)                  # the car in C is given its 6 s to stop (seq 10.2)
        st = d.app.status(ticks_ms())
        assert pilot_amps(d) == ("X1", 0.0) and st["state"] in (V.ST_PAUSED, V.ST_C1) and not st["contactor"], (src, st)
        assert st["limit"] == 8.0 and st["car_min_a"] == 10.0 and view(st)["car_min_a"] == 10.0, (src, st)
        assert connector_status(st["state"], None, False, True, True, False, True)[0] == "SuspendedEVSE", src
        if src == "temperature":
            d.set(temp_c=25.0)
            d.run(2.0)
        else:
            d.app.command("limit", None, ticks_ms(), src)
        d.app.command("limit", 10, ticks_ms(), "ocpp")     # its minimum: offered
        d.run(6.0)
        assert pilot_amps(d)[0] == "PWM" and abs(pilot_amps(d)[1] - 10.0) <= SLACK_A, (src, pilot_amps(d))
        d.app.command("limit", None, ticks_ms(), "ocpp")
