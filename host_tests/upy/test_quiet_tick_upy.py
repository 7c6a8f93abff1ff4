# The quiet tick against the full step, on both interpreters (safety core, issue 11): Charger.step
# skips a step that would change nothing (the last full one changed nothing, no request since,
# the same inputs, no timer about to run out). Two chargers get the same random inputs, requests,
# live settings and clock: one with the quiet tick, one that always steps in full. After every
# tick they agree on every field, every output and every event. The inputs hold for long runs
# (a bench's car, cable, meter and temperature), so most ticks are quiet; time sometimes jumps so
# that every timer runs out on some tick.
from evse.core import charger as CH
from evse.core import limits as L, proximity as PX
from evse.core.socket_lock import SocketLock
from evse.services import settings

import upytest
from lcg import Rand

# Not the core's state (Charger._fill): settings (the car's minimum among them), the clock, the
# parts (filled on their own), the events (a step that emits one is never quiet), the limits
# (set_limit disarms the quiet tick), the plug lock's hold (OCPP's UnlockConnectorOnEVSideDisconnect:
# set by a request, SocketLock.keep; let go only in a step that changes the lock's command) and the
# quiet tick's own fields.
NOT_STATE = ("cfg", "car_min_x10", "diff", "out", "events", "det", "oc", "thermal", "rcd", "limits", "lock", "hold",
             "_q_a", "_q_b", "_q_in", "_q_t", "_q_rem", "_windows")
LEVELS = (12000, 9000, 9000, 6000, 6000, 6000, 3000, 0, 10500, 7500, 4500, 14000,  # A B C D E, gaps, impossible
          11000, 10000, 8000, 7000, 5000, 4000, 2000, 13000, -1000, -11000)   # each band's edge: the noise crosses it
NEGS = (-12000, -12000, -12000, -10000, -14000, -9000)    # the negative plateau, at its range's edges too
PP = (150, 150, 150, L.PP_NOT_WIRED, 480, L.PP_OPEN, 1500, 298, 330, 140, 2000, 60)
TEMPS = (None, 30, 66, 69, 72, 60, 64, 62, -50, -1480)   # (the last two: a broken sensor)
CURRENTS = (None, 0, 16000, 33000, 45000, -1)


def _cfg():
    c = settings.defaults()
    c["max_current"] = 32
    return c


class World:
    """The car, cable, contactor mirror, RCD, meter and thermometer, each held for a while."""

    def __init__(self, r):
        self.r = r
        self.level, self.diode_short, self.ok, self.neg = 9000, False, True, -12000
        self.pp, self.fb_mode, self.temp, self.ma = 150, 0, 30, None
        self.rcd, self.rcd_dc, self.edges, self.test_ticks = False, False, 0, 0

    def change(self):
        r = self.r
        k = r.below(9)
        if k < 3:
            self.level = r.pick(LEVELS)
        elif k == 3:
            self.diode_short = r.below(6) == 0
            self.neg = r.pick(NEGS)
        elif k == 4:
            self.pp = r.pick(PP)
        elif k == 5:
            self.fb_mode = (0, 1, 1, 1, 2)[r.below(5)]     # none, follows the coil, stuck closed
        elif k == 6:
            self.temp = r.pick(TEMPS)
        elif k == 7:
            self.ma = r.pick(CURRENTS)
        elif r.below(3) == 0:
            self.rcd_dc = r.below(8) == 0
            if r.below(4) == 0:
                self.rcd = not self.rcd
                self.edges += self.rcd

    def fill(self, m, out):
        r = self.r
        if out.rcd_test:                       # the self-test's winding trips the monitor soon
            self.test_ticks += 1
            if self.test_ticks == 3:
                self.rcd, self.edges = True, self.edges + 1
        elif self.test_ticks:
            self.test_ticks, self.rcd = 0, False
        noise = r.below(3) * 40 - 40 if r.below(4) == 0 else 0
        if out.pilot_mode == L.PILOT_F:
            pos = neg = -12000 + noise
        elif out.pilot_mode == L.PILOT_X1:
            pos = neg = self.level + noise
        else:
            pos = self.level + noise
            neg = -pos if self.diode_short else self.neg + noise
        m.pilot_pos, m.pilot_neg, m.pilot_ok = pos, neg, r.below(200) != 0
        # a real ADC's noise on every read: PP by a few ohms, the temperature by a degree (across
        # the band edges and thresholds of PP and TEMPS too)
        jitter = r.below(5) - 2
        m.pp_ohms = self.pp if self.pp in (L.PP_NOT_WIRED, L.PP_OPEN) else self.pp + jitter
        m.feedback = (-1, 1 if out.contactor else 0, 1)[self.fb_mode]
        m.rcd_trip, m.rcd_dc_trip, m.rcd_edges = self.rcd, self.rcd_dc, self.edges
        m.temp_c = None if self.temp is None else self.temp + (jitter & 1)
        m.current_ma = self.ma


def _request(r, chargers, now):
    """The same request to both, as a service would make it between two ticks."""
    k = r.below(15)
    k = 4 if k > 11 else k                     # clear_fault more often: latched faults end
    arg = r.below(40)
    for ch in chargers:
        if k == 0:
            ch.enable(arg % 5 != 0)
        elif k == 1:
            ch.authorize(arg % 2 == 0)
        elif k == 2:
            ch.stop("remote")
        elif k == 3:
            ch.set_limit(("console", "ocpp", "settings")[arg % 3], None if arg == 0 else arg % 33)
        elif k == 4:
            ch.clear_fault()
        elif k == 5:
            ch.settings_fault("max_current: bad" if arg == 1 else None)
        elif k == 6:
            ch.auth_forced = arg % 2 == 0        # OCPP writes it directly
        elif k == 7:
            ch.cfg["require_auth"] = arg % 3 == 0    # live settings: the console writes app.cfg
        elif k == 8:
            ch.cfg["ventilation"] = arg % 2 == 0
        elif k == 9:
            ch.cfg["wakeup_after_s"] = (0, 1, 30)[arg % 3]
        elif k == 10:
            ch.cfg["rcd_selftest"] = arg % 4 != 0
        else:
            ch.cfg["connector"] = PX.CONNECTORS[arg % 4]


def _parts(ch):
    parts = (ch, ch.out, ch.det, ch.oc, ch.thermal, ch.rcd)
    return parts if ch.lock is None else parts + (ch.lock,)


def _fields(ch):
    return [sorted((k, repr(v)) for k, v in o.__dict__.items()
                   if k not in NOT_STATE and k not in ("_full_step", "_horizon"))   # (the test's own)
            for o in _parts(ch)]


def _count_full_steps(ch):
    """[n]: the full steps ch takes from now on (its quiet ones not counted)."""
    steps = [0]
    inner = ch._full_step

    def counted(m, now):
        steps[0] += 1
        inner(m, now)
    ch._full_step = counted
    return steps


def _run(seed, ticks, lock=False):
    """lock: both with a Type 2 socket's plug lock, its switch following the command a while
    later, now and then failing either way; now and then an UnlockConnector."""
    r = Rand(seed)
    quiet, full = CH.Charger(_cfg()), CH.Charger(_cfg())
    full._horizon = lambda now: 0              # never quiet: every step in full
    if lock:
        for ch in (quiet, full):
            ch.lock = SocketLock()
            ch.cfg["connector"] = "type2-socket"
    steps = _count_full_steps(quiet)
    w = World(r)
    mq, mf = CH.Measurements(), CH.Measurements()
    now = 1000
    for i in range(ticks):
        if r.below(60) == 0:
            w.change()
        if r.below(80) == 0:
            _request(r, (quiet, full), now)
        if lock and r.below(300) == 0:
            for ch in (quiet, full):           # UnlockConnector, the console's unlock (App.command)
                try:
                    ch.lock.unlock(ch)
                except ValueError:             # (refused alike: tethered, busy unlocking)
                    pass
        if lock and r.below(500) == 0:
            flag = r.below(2) == 0
            for ch in (quiet, full):           # UnlockConnectorOnEVSideDisconnect changed
                ch.lock.keep(ch, flag)
        now += 10 if r.below(100) else 1 + r.below(8000)
        w.fill(mq, quiet.out)
        if lock:
            k = r.below(400)
            if k < 20:                         # the bolt gets there ...
                mq.lock_fb = 1 if quiet.lock.want else 0
            elif k == 20:                      # ... or sticks, or opens under the plug
                mq.lock_fb = r.below(2)
        for k in mq.__dict__:
            setattr(mf, k, getattr(mq, k))
        for ch, m in ((quiet, mq), (full, mf)):
            ch.step(m, now)
            if ch.resample:                    # the shell's confirming burst, as App.tick does
                ch.step(m, now + 1)
        assert quiet.events == full.events, (seed, i, quiet.events, full.events)
        assert quiet.out.__dict__ == full.out.__dict__, (seed, i)
        assert _fields(quiet) == _fields(full), (seed, i, quiet.state, full.state)
        assert quiet.limits == full.limits and quiet.resample == full.resample, (seed, i)
        del quiet.events[:]
        del full.events[:]
    return steps[0]


def test_the_quiet_tick_changes_nothing_the_full_step_would_change():
    ticks = 4000
    skipped = 0
    for seed in (1, 7, 42, 1234, 99991):
        skipped += ticks - _run(seed, ticks)
    assert skipped > 5 * ticks // 2, skipped   # most ticks were quiet: the test tested something


def test_the_quiet_tick_with_a_plug_lock_changes_nothing_the_full_step_would_change():
    ticks = 4000
    skipped = 0
    for seed in (3, 77, 2024):
        skipped += ticks - _run(seed, ticks, lock=True)
    assert skipped > 3 * ticks // 2, skipped


def _pair(noisy=False):
    """Two chargers fed the same pilot level each tick (no noise; noisy: the PP and temperature
    as a real ADC reads them), the quiet one skipping its steps, the other stepping in full:
    tick(level) compares them after every tick."""
    cfg = _cfg()
    cfg["rcd_selftest"] = False                # (no RCD model here)
    pair = CH.Charger(dict(cfg)), CH.Charger(dict(cfg))
    pair[1]._horizon = lambda now: 0
    m = CH.Measurements()
    m.pilot_ok, m.pp_ohms, m.temp_c = True, 150, 30
    t = [1000]
    r = Rand(5)

    def tick(level, temp_c=None):
        t[0] += 10
        if temp_c is not None:
            m.temp_c = temp_c
        if noisy:       # RP2040: 1-2 LSB of 12 bits RMS (emu.mjs: 2); the PP by a few ohms, 0.5 C a step
            m.pp_ohms, m.temp_c = 150 + r.below(13) - 6, 30 + r.below(5) - 2
        for ch in pair:
            mode = ch.out.pilot_mode
            m.pilot_pos = -12000 if mode == L.PILOT_F else level
            m.pilot_neg = level if mode == L.PILOT_X1 else -12000
            ch.step(m, t[0])
            if ch.resample:
                ch.step(m, t[0])
        assert pair[0].events == pair[1].events and _fields(pair[0]) == _fields(pair[1])
        del pair[0].events[:]
        del pair[1].events[:]
    return pair, tick


def _charging_pair():
    """Both chargers charging a car in C2, the quiet one skipping its steps."""
    pair, tick = _pair()
    for level, n in ((9000, 400), (6000, 800)):
        for _ in range(n):
            tick(level)
    assert pair[0].state == "C2" and pair[0].out.contactor
    return pair, tick


def test_a_broken_sensor_between_real_readings_is_judged_afresh_each_time():
    """Broken readings (-50 C: a TMP36 input at 0 V) for 0.5 s, real ones for 2 s, broken again
    for 0.8 s: neither burst lasts the 1 s that stops charging, in the quiet tick as in the full."""
    pair, tick = _charging_pair()
    for temp, n in ((-50, 50), (30, 200), (-50, 80), (30, 100)):
        for _ in range(n):
            tick(6000, temp)
    assert pair[0].state == "C2" and not pair[0].thermal.broken


def test_the_b_to_c_qualification_is_quiet_until_it_runs_out():
    """A car in C is qualified over bc_qualify_ms (300): the detector's count stops at FAST_CONFIRM,
    so its state is a fixed point until the time runs out, and the ticks between are quiet (on
    the Pico each full step costs 1 ms of a 10 ms tick); the closing comes at the same tick."""
    (quiet, full), tick = _pair()
    for _ in range(400):
        tick(9000)
    assert quiet.state == "B2"
    steps = _count_full_steps(quiet)
    n = 0
    while full.det.state != 3 and n < 100:        # pilot.C: qualified
        tick(6000)
        n += 1
    assert quiet.det.state == 3 and n == 300 // 10 + 1, n
    assert steps[0] <= 5, steps[0]            # the first readings, the fixed point, the end


def test_a_real_adcs_noise_on_pp_and_temperature_keeps_the_ticks_quiet():
    """On a board the PP and temperature readings differ a little on every read. The quiet tick
    compares them by what the step makes of them (the PP's band, the thermal level's window):
    charging, a second of noisy readings takes the one full step a second the quiet tick always
    takes (QUIET_MAX_MS), not a hundred (each 1 ms of a 10 ms tick on the Pico)."""
    (quiet, full), tick = _pair(noisy=True)
    for level, n in ((9000, 400), (6000, 800)):
        for _ in range(n):
            tick(level)
    assert quiet.state == "C2" and quiet.out.contactor
    steps = _count_full_steps(quiet)
    for _ in range(100):
        tick(6000)
    assert steps[0] <= 2, steps[0]


def test_a_request_between_quiet_ticks_is_acted_on_at_the_next_tick():
    requests = (lambda ch: ch.enable(False), lambda ch: ch.stop("remote"),
                lambda ch: ch.set_limit("console", 10), lambda ch: ch.settings_fault("bad"),
                lambda ch: ch.cfg.__setitem__("require_auth", True),
                lambda ch: setattr(ch, "auth_forced", True),
                lambda ch: setattr(ch, "hlc", True))
    for req in requests:
        (quiet, full), tick = _charging_pair()
        steps = _count_full_steps(quiet)
        tick(6000)
        assert steps[0] == 0                   # charging steadily: quiet
        before = (quiet.out.amps_x10, quiet.out.pilot_mode, quiet.state)
        req(quiet)
        req(full)
        tick(6000)                             # compared with the full step inside
        assert steps[0] == 1 and (quiet.out.amps_x10, quiet.out.pilot_mode, quiet.state) != before


def test_every_timer_of_the_core_bounds_the_quiet_time():
    """A new named timer must be named in Charger._horizon (else a quiet tick could miss it)."""
    cfg = _cfg()
    cfg["wakeup_after_s"] = 30
    ch = CH.Charger(cfg)
    timers = [(ch, k) for k in ch.__dict__ if k.startswith("t_")]
    timers += [(ch.oc, "_prev_until"), (ch.oc, "_over_since"), (ch.det, "_since")]
    ch.lock = SocketLock()
    timers.append((ch.lock, "since"))
    assert len(timers) >= 12
    now = 2000000
    assert ch._horizon(now) == L.QUIET_MAX_MS   # none running: a full step once a second
    spans = [getattr(L, n) for n in dir(L) if n.endswith("_MS")] + [30000, ch.det.bc_qualify_ms]
    for o, k in timers:                        # each running timer bounds it, 5 ms before one of its ends
        saved = getattr(o, k)
        bounded = False
        for ms in spans:
            setattr(o, k, now - ms + 5)
            bounded = bounded or ch._horizon(now) <= 6     # (some end 1 ms past their constant)
        setattr(o, k, saved)
        assert bounded, k


def test_every_field_is_in_the_snapshot():
    """A new field of the core must be in Charger._fill (else a step that changed only it would
    pass for one that changed nothing)."""
    ch = CH.Charger(_cfg())
    ch.lock = SocketLock()                     # (a board with a plug lock: its fields too)
    buf = [None] * len(ch._q_a)
    n = 0
    for o in _parts(ch):
        for k in [k for k in o.__dict__ if k not in NOT_STATE and not k.startswith("_room")]:
            saved = getattr(o, k)
            mark = object()
            setattr(o, k, mark)
            ch._fill(buf)
            setattr(o, k, saved)
            assert mark in buf, "%s.%s" % (type(o).__name__, k)
            n += 1
    assert n == len(buf)


if __name__ == "__main__":
    upytest.run(globals())
