"""A charger that runs for months, eighth audit: MicroPython's ticks_ms wraps every 2**30 ms
(12.4 days) and ticks_diff is right only for stamps less than 2**29 ms (6.2 days) apart; on a
32-bit port an int past 2**30 - 1 is no small int any more (each new value allocates). The virtual
bench's clock wraps like the ports, and idles through days in coarse steps (one control cycle every
`step` seconds: no car, no timer of the core running).

Each scenario failed on the code before its fix (the commit that added it says what it read),
but two guards: the power cut after a two-week session, and the whole charger through two wraps
(sessions, the energy count, the contactor, the fallback and the minimum pause across them)."""
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from evse.core import vocab as V
from evse.metering.s0 import S0Meter

DAY_S = 86400
WRAP_MS = 1 << 30                   # the ports' ticks period
HALF_MS = 1 << 29                   # ticks_diff is right below this
SMALL_INT_MAX = (1 << 30) - 1       # a 32-bit port's largest small int
MASK = WRAP_MS - 1


def long_ints(obj):
    """The ints an object keeps past a 32-bit port's small ints (each update a new long int)."""
    return {k: v for k, v in vars(obj).items() if type(v) is int and not -SMALL_INT_MAX - 1 <= v <= SMALL_INT_MAX}


def idle(b, seconds, step=60):
    """`seconds` of virtual time with one control cycle every `step` seconds (the charger idles:
    the cycles between change nothing but the clocks)."""
    end = mm.clock.us + int(seconds * 1e6)
    while mm.clock.us < end:
        mm.clock.advance_us(min(int(step * 1e6), end - mm.clock.us))
        b.rig.next_tick_us = mm.clock.us
        b.run(0.001)


# --- S0: a week without a pulse is no power (s0.py) --------------------------------------------------

def test_an_s0_meter_silent_for_a_week_does_not_show_the_last_charge_again():
    """7.4 kW (a pulse every 486 ms at 1000 imp/kWh) until the car is full, then no pulse for a
    week: the power and current read 0 all week, and a new car's pulses give its own power."""
    s = S0Meter(1000, nominal_volts=230.0, phases=1)
    iv_us = int(3.6e12 / (1000 * 7400))
    t_us = 0
    for _ in range(20):
        s.on_pulse(t_us & MASK)
        s.poll((t_us // 1000) & MASK)
        t_us += iv_us
    assert abs(s.power_w - 7400) < 10
    shown = []
    t_ms = t_us // 1000
    for _ in range(7 * 24 * 60):               # a poll a minute for a week (the board: every tick)
        t_ms += 60000
        s.poll(t_ms & MASK)
        shown.append((t_ms, s.power_mw, s.ma[0]))
    last_ms = t_ms - 7 * 24 * 60 * 60000
    late = [(t, p, a) for t, p, a in shown if (p or a) and t - last_ms > 500000]   # (s0.MAX_INTERVAL_MS)
    # (before: from 2**29 ms on the time since the last pulse read as negative, and the last
    # interval's 7.4 kW and 32 A were shown again: the current is the core's over-current input)
    assert late == [], late[:3]
    t_us = t_ms * 1000
    for _ in range(6):                          # the next car: 3.7 kW
        t_us += 2 * iv_us
        s.on_pulse(t_us & MASK)
        s.poll((t_us // 1000) & MASK)
        assert s.power_w < 3800, s.power_w      # the first pulse after the week gives no rate
    assert abs(s.power_w - 3700) < 10


# --- a Modbus meter off its bus for a week (meter.py) ----------------------------------------------

def test_a_modbus_meter_back_after_a_week_off_its_bus_counts_what_its_register_counted(tmp_path):
    """The meter's RS-485 cable is cut while a car charges (the charge goes on, blind and warned);
    it is mended a week later. The meter's own register counted all along: the energy count takes
    its difference (at most the meter's rate over that week), not a jump to resynchronise."""
    from host_tests.test_meter_plausibility import bench, KWH

    def run(b, seconds, step_ms):
        for _ in range(int(seconds * 1000 / step_ms)):
            b.t += step_ms
            b.true_wh += b.true_w * step_ms / 3600000.0
            b.sim.set_float(KWH, b.kwh0 + b.true_wh / 1000.0)
            b.meter.poll(b.t & MASK)              # the port's ticks

    b = bench(tmp_path, 230.0, 16.0)
    run(b, 60, 10)
    b.sim.unit = 99                               # off the bus: no answer
    run(b, 10 * 3600, 1000)                       # 10 h more of charging, unread
    b.charge(230.0, 0.0)                          # the car full
    run(b, 7 * DAY_S - 10 * 3600, 60000)
    assert not b.meter.ok
    b.sim.unit = 1
    run(b, 10, 10)
    # (before: the week read as 5.4 days back, 0 ms counted: 36.8 kWh in the register "jumped")
    assert b.meter.ok and b.meter.error is None, b.meter.error
    assert abs(b.meter.wh_total - b.true_wh) < 0.01 * b.true_wh, (b.meter.wh_total, b.true_wh)


# --- the log on flash: a line after a quiet week (log.py) ----------------------------------------------

def _logged(b):
    try:
        with open(b.rig.flash_dir + "/log.txt") as f:
            return f.read()
    except OSError:
        return ""


def test_a_log_line_after_a_quiet_week_reaches_the_flash_within_a_second(tmp_path):
    from evse.services import console
    b = Drive(flash_dir=str(tmp_path))
    console.attach(b.app, console.UartStream(mm.UART(9, 115200)))
    b.run(1)
    b.app.report("meter", "first")
    b.run(1.5)
    assert "first" in _logged(b)
    idle(b, 7 * DAY_S)                          # nothing to log for a week
    b.app.report("meter", "a week later")
    b.run(1.5)
    # (before: its last write 2**29 ms ago read as just now: the line waited in RAM up to 6.2 days
    # more, lost at a power cut, and with 32 more lines the oldest dropped)
    assert "a week later" in _logged(b)


# --- the energy count's clocks stay small ints (energy.py) ---------------------------------------------

def test_idle_for_two_weeks_the_energy_clocks_stay_small_ints(tmp_path):
    b = Drive(config={"meter": "ct", "meter_phases": 1}, flash_dir=str(tmp_path))
    b.run(1)
    e = b.app.meter.energy
    idle(b, 14 * DAY_S)
    # (before: the time since the last checkpoint grew with no energy to write, past 2**30 after
    # 12.4 days: on a 32-bit board a long int made in every control tick's meter poll)
    assert long_ints(e) == {}


def test_a_car_left_plugged_for_two_weeks_its_session_lasts_two_weeks(tmp_path):
    b = Drive(config={"meter": "ct", "meter_phases": 1}, flash_dir=str(tmp_path))
    b.run(1)
    b.charge(16)
    b.run(60)
    b.ev("B")                                   # full: the car stays plugged
    b.run(2)
    e = b.app.meter.energy
    assert e.session_open
    wh = e.wh_session
    idle(b, 14 * DAY_S, step=30)
    # (before: the session's ms passed 2**30 after 12.4 days: a long int in every tick's poll)
    assert long_ints(e) == {}
    b.unplug()
    b.run(2)
    rec = b.app.meter.sessions()[-1]
    assert abs(rec["dur_s"] - (14 * DAY_S + 65)) <= 3, rec
    assert abs(rec["wh"] - wh) < 0.01, (rec, wh)


def test_a_power_cut_after_a_two_week_session_records_its_two_weeks(tmp_path):
    """(A guard of the fix above, passed before it too: the checkpoint still keeps the session's
    whole ms, read back into seconds and ms.)"""
    b = Drive(config={"meter": "ct", "meter_phases": 1}, flash_dir=str(tmp_path))
    b.run(1)
    b.charge(16)
    b.run(60)
    b.ev("B")
    b.run(2)
    idle(b, 14 * DAY_S, step=30)
    b.charge(16)                                # (the car asks again: a checkpoint with its energy)
    b.run(120)
    b.rig.power_off()
    b.rig.power_on()
    b.run(1)
    rec = b.app.meter.energy.restored
    assert rec is not None and rec["reason"] == "power_loss"
    assert abs(rec["dur_s"] - (14 * DAY_S + 185)) <= 65, rec     # (checkpoints a minute apart)


# --- the temperature shown after a week nobody asked (app.py) --------------------------------------

def test_the_temperature_shown_after_a_week_nobody_asked_is_the_one_read(tmp_path):
    """No MQTT, no page open: the status is asked once, then a week later. The shown value is a
    mean of the readings the status was asked with, begun afresh after 5 s without one."""
    b = Drive(flash_dir=str(tmp_path))
    b.set(temp_c=20.0)
    b.run(1)
    assert b.app.status(mm.clock.ticks_ms())["temp_c"] == int(b.app.m.temp_c) == 19   # (the ADC's step)
    b.set(temp_c=24.0)                          # a warmer day: 5 degC, not more than a mean follows
    idle(b, 7 * DAY_S)
    # (before: the week-old mean read as recent, moved 1/8 of the way: 19 degC shown still)
    assert b.app.status(mm.clock.ticks_ms())["temp_c"] == int(b.app.m.temp_c) == 24


# --- OCPP: a transaction made offline, sent a week later (ocpp/wallclock.py) --------------------------

def test_a_start_transaction_made_offline_a_week_before_the_link_keeps_its_time(tmp_path, monkeypatch):
    """A power cut during an internet outage: the charger boots with no central system, so with
    no clock; a car starts a transaction (the free idTag) and charges for a week. The link comes
    back, the BootNotification answer sets the clock, and the queued StartTransaction goes out with
    the time it was made: a week ago, from the ticks it was made at."""
    import asyncio
    from datetime import datetime, timezone
    import host_tests.test_ocpp_cs as T
    from ocpp_cs import CentralSystem
    clock = _jump_clock(monkeypatch)

    async def main():
        cs = CentralSystem()
        await cs.start()
        await cs.stop()                                   # out of reach, its port known
        rig = await T.Rig(cs, tmp_path, ocpp_free_id_tag="GOOD").start()
        rig.state("B2")
        await asyncio.sleep(0.3)
        assert rig.svc.tx and not rig.svc.wall.known()    # started offline, no clock
        rig.event("contactor", True)
        rig.state("C2")
        for _ in range(7 * 4):                            # a week, polled all along (the app polls
            clock.skip_ms += 6 * 3600 * 1000              # every tick: here every 6 h of it)
            await asyncio.sleep(0.05)
        await cs.start(cs.port)
        await cs.wait_for(lambda: rig.svc.accepted)
        start = (await cs.wait_action("StartTransaction"))[-1]
        made = datetime.strptime(start["timestamp"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        age = datetime.now(timezone.utc) - made
        # (before: the ticks it was made at, 7 days before the clock's, read as 5.4 days after them)
        assert abs(age.total_seconds() - 7 * DAY_S) < 60, (start["timestamp"], age)
        await rig.kill()
        await cs.stop()
    T.run(main())


def _jump_clock(monkeypatch):
    """The OCPP bench's clock, that a test moves on (the service polled meanwhile)."""
    import time
    import host_tests.test_ocpp_cs as T
    from ocpp_cs import HostClock
    from evse.ocpp import connection

    class Clock(HostClock):
        skip_ms = 0

        def ticks_ms(self):
            return (int((time.monotonic() - self._t0) * 1000) + self.skip_ms) & MASK

    clock = Clock()
    monkeypatch.setattr(T, "HostClock", lambda: clock)
    monkeypatch.setattr(connection, "RECONNECT_MIN_MS", 100)
    monkeypatch.setattr(connection, "RECONNECT_MAX_MS", 400)
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 50)
    return clock


def test_a_heartbeat_interval_of_two_weeks_from_the_central_system_still_beats(tmp_path, monkeypatch):
    """A BootNotification answer's interval is the central system's (no range in 4.2); one of
    two weeks (a mistyped 1209600 s) is more than ticks_diff spans: the charger beats at least
    daily, the most ChangeConfiguration takes (HeartbeatInterval 1..86400 s)."""
    import asyncio
    import host_tests.test_ocpp_cs as T
    from ocpp_cs import CentralSystem
    clock = _jump_clock(monkeypatch)

    async def main():
        cs = CentralSystem(heartbeat=14 * DAY_S)
        await cs.start()
        rig = await T.Rig(cs, tmp_path).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        for _ in range(5):                                # 30 h, polled all along
            clock.skip_ms += 6 * 3600 * 1000
            await asyncio.sleep(0.1)
        # (before: 1209600000 ms, never reached by a ticks_diff under 2**29: no Heartbeat ever)
        assert cs.actions("Heartbeat"), cs.actions("Heartbeat")
        await rig.kill()
        await cs.stop()
    T.run(main())


def test_a_diagnostics_upload_retried_a_week_later_is_retried(tmp_path, monkeypatch):
    """GetDiagnostics with retries 2 and a retryInterval of a week (its range: any natural number,
    section 6.33): the first upload fails (nothing listens there), the second comes a week on."""
    import asyncio
    import host_tests.test_ocpp_cs as T
    from ocpp_cs import CentralSystem, call
    clock = _jump_clock(monkeypatch)

    def statuses(cs):
        return [p["status"] for p in cs.actions("DiagnosticsStatusNotification")]

    async def main():
        cs = CentralSystem()
        await cs.start()
        (tmp_path / "log.txt").write_text("1000 error meter: lost\n")   # something to upload
        (tmp_path / "ocpp").mkdir()
        rig = await T.Rig(cs, tmp_path / "ocpp").start()
        await cs.wait_for(lambda: rig.svc.accepted)
        res = await cs.call("cp1", call.GetDiagnostics(location="http://127.0.0.1:9/diag/", retries=2,
                                                       retry_interval=7 * DAY_S))
        assert res.file_name
        await cs.wait_for(lambda: statuses(cs) == ["Uploading"])
        await asyncio.sleep(0.5)                          # the first attempt failed meanwhile
        for _ in range(7 * 4 + 1):                        # a week and 6 h, polled all along
            clock.skip_ms += 6 * 3600 * 1000
            await asyncio.sleep(0.1)
        await cs.wait_for(lambda: "UploadFailed" in statuses(cs), 5)
        # (before: 604800000 ms, more than ticks_diff spans: the retry never came, the job hung)
        assert statuses(cs) == ["Uploading", "Uploading", "UploadFailed"]
        await rig.kill()
        await cs.stop()
    T.run(main())


# --- evsectl watch across the board's ticks wrap (tools/evsectl) ---------------------------------------

def test_evsectl_watch_across_the_boards_ticks_wrap_counts_on():
    """A board up 12.4 days: its ticks_ms (the lines' `t`) wraps while an operator watches. The
    times shown count on from the status, across the wrap."""
    import io
    import time
    from host_tests.test_evsectl import ScriptPort
    from tools.evsectl import __main__ as ctl
    from tools.evsectl.link import Link
    status = {"ok": True, "state": "A1", "pilot": "X1", "duty": 100.0, "amps": 0.0, "limit": 32.0,
              "contactor": False, "enabled": True, "authorized": False, "session": False,
              "t": WRAP_MS - 500}
    port = ScriptPort({"status": lambda req: status})
    link = Link("test", 0.1, stream=port)
    out = io.StringIO()
    n = {"reads": 0}
    script_read = port.read

    def read(k):
        n["reads"] += 1
        if n["reads"] == 1:
            return script_read(k)
        if n["reads"] == 20:
            return b'{"ev": "state", "state": "B1", "t": 400}\n'      # 0.9 s on, past the wrap
        if n["reads"] == 30:
            raise KeyboardInterrupt
        time.sleep(0.01)
        return b""
    port.read = read
    assert ctl.watch(link, 0, out, every=5) == ctl.EXIT_OK
    # (before: -1073740.924 s)
    assert "0.900 s  state      B1" in out.getvalue(), out.getvalue()


# --- the whole charger through two wraps of ticks_ms ---------------------------------------------------

VOLTS = 230.0                       # the CT meter's nominal volts (no voltage input on the bench)
HOUSE_W = 3000                      # the house without the car
LONG = {"meter": "ct", "meter_phases": 1, "max_current": 32,
        "solar_mode": "grid", "grid_source": "rest", "grid_limit_w": 11000, "solar_smoothing_s": 0,
        "grid_timeout_s": 60, "min_pause_s": 120,
        "fallback_timeout_s": 60, "fallback_current_a": 10}


class Uptime:
    """The App (core, CT meter, protections, planner in grid mode fed over `rest`, the fallback
    watching a `rest` controller, console and log) for weeks: idle in coarse steps, each car's
    visit in 10 ms control ticks, the grid reading a second and the controller's word every 20 s
    while a car is there. Every tick checks the contactor against the car's state and the offer,
    and integrates what the car drew (the energy the meter should count)."""

    def __init__(self, tmp_path):
        from evse.services import console
        self.b = b = Drive(config=LONG, flash_dir=str(tmp_path))
        console.attach(b.app, console.UartStream(mm.UART(9, 115200)))
        b.world.follow_max = 32.0           # the car takes what is offered, 2 s late
        self.house_w = HOUSE_W
        self.drawn_wh = 0.0                 # what the car drew, by the bench's own count
        self.closed_bad = 0                 # ticks in a row closed with the car not in C
        self.closed_unoffered = 0           # ticks in a row closed with no current offered
        self.worst = [0, 0]
        self.dense_ticks = 0
        self.steps = 0
        self._t = mm.clock.us
        b.rig.probes.append(self._probe)
        b.run(1)

    def _probe(self):
        b, w = self.b, self.b.world
        now = mm.clock.us
        self.drawn_wh += w.ev_current() * VOLTS * (now - self._t) / 3.6e9
        self._t = now
        self.dense_ticks += 1
        closed = w.coil()
        self.closed_bad = self.closed_bad + 1 if closed and w.ev_state() not in ("C", "D") else 0
        self.closed_unoffered = self.closed_unoffered + 1 if closed and not w.advertised() else 0
        self.worst[0] = max(self.worst[0], self.closed_bad)
        self.worst[1] = max(self.worst[1], self.closed_unoffered)

    def ms(self):
        return mm.clock.us // 1000          # uptime, unwrapped (the bench's own)

    def idle_until(self, ms, step=20):
        assert not self.b.world.plugged
        while self.ms() < ms:
            mm.clock.advance_us(min(step * 1000000, (ms - self.ms()) * 1000))
            self._t = mm.clock.us           # (no car: nothing drawn meanwhile)
            self.b.rig.next_tick_us = mm.clock.us
            self.b.run(0.001)
            self.steps += 1

    def grid(self):
        car_w = self.b.world.ev_current() * VOLTS
        self.b.app.command("grid", self.house_w + car_w, mm.clock.ticks_ms(), "rest")

    def word(self):
        self.b.app.command("limit", 20, mm.clock.ticks_ms(), "rest")

    def visit(self, plug_ms, seconds, silent=None, load=()):
        """A car plugged at plug_ms (uptime) that charges `seconds`, then is full and leaves.
        silent: (from_s, to_s) into the visit when the controller says nothing; load: (at_s, W)
        the house's changes. -> (plug_us, leave_us, drawn Wh, total Wh before)."""
        b = self.b
        self.idle_until(plug_ms)
        before = b.app.meter.wh_total
        drawn = self.drawn_wh
        t0 = b.plug()
        self.word()
        self.grid()
        b.run(0.5)
        b.ev("C")
        todo = sorted(load)
        for s in range(seconds):
            if not (silent and silent[0] <= s < silent[1]) and s % 20 == 0:
                self.word()
            while todo and todo[0][0] <= s:
                self.house_w = todo.pop(0)[1]
            self.grid()
            b.run(1)
        b.ev("B")
        b.run(3)
        t1 = b.unplug()
        b.run(2)
        self.house_w = HOUSE_W
        return t0, t1, self.drawn_wh - drawn, before


def b_first(b, what, after_us):
    for t, e in b.events:
        if t >= after_us and e[0] == V.EV_SESSION and e[1] == what:
            return t
    return None


def offers(b, t0_us, t1_us):
    """(t_us, amps) of the pilot's offers between two times (the app's pwm events)."""
    return [(t, e[2]) for t, e in b.events if t0_us <= t < t1_us and e[0] == "pwm"]


def test_the_whole_charger_through_two_wraps_of_ticks_ms(tmp_path):
    import time
    wall = time.time()
    u = Uptime(tmp_path)
    b = u.b
    wrap1, wrap2 = WRAP_MS, 2 * WRAP_MS
    visits = [                                        # (plug, seconds of charge, silent, load)
        (3600 * 1000, 180, None, ()),                 # the first hour
        (2 * DAY_S * 1000, 180, None, ()),
        (HALF_MS - 90000, 180, None, ()),             # across 2**29 ms: ticks_diff's turn
        (wrap1 - 150000, 420, (140, 400), ()),        # across the wrap, the controller silent from
        (wrap1 + 3 * DAY_S * 1000, 180, None, ()),    # 30 s before it
        (3 * HALF_MS - 90000, 180, None, ()),
        (wrap2 - 200000, 420, None, ((150, 14000), (215, HOUSE_W))),   # paused across the wrap
        (wrap2 + DAY_S * 1000, 180, None, ()),
    ]
    done = []
    for plug_ms, seconds, silent, load in visits:
        t0, t1, drawn, before = u.visit(plug_ms, seconds, silent, load)
        done.append((plug_ms, seconds, silent, load, t0, t1, drawn, before))
    u.idle_until(wrap2 + 2 * DAY_S * 1000)
    recs = b.app.meter.sessions()
    figures = []
    assert len(recs) == len(visits), recs
    total = 0.0
    for rec, (plug_ms, seconds, silent, load, t0, t1, drawn, before) in zip(recs, done):
        s0, s1 = b_first(b, V.SESSION_START, t0), b_first(b, V.SESSION_END, t0)
        figures.append((plug_ms, rec["dur_s"], round((s1 - s0) / 1e6, 1), rec["wh"], round(drawn, 1)))
        assert s0 is not None and t0 <= s0 < s1 <= t1 + 100000, (s0, s1, t0, t1)
        assert abs(rec["dur_s"] - (s1 - s0) / 1e6) <= 1.0, (rec, s0, s1)
        assert abs(rec["wh"] - drawn) <= 0.02 * drawn + 1, (rec, drawn)
        assert abs(before - total) < 0.5, (before, total)     # the count went on between the visits
        total += rec["wh"]
    assert abs(b.app.meter.wh_total - total) < 0.5, (b.app.meter.wh_total, total)
    # closed only with the car in C (a tick or two at its change) and an offer on (after a pause's
    # offer 0 the car has EV_STOP_WAIT_MS to stop, seq 10.2); the energy's clocks small ints
    assert u.worst[0] <= 2 and u.worst[1] * 10 <= 6000, u.worst
    assert long_ints(b.app.meter.energy) == {}
    print("\nuptime run: %.1f days virtual, %d control ticks + %d idle steps, %.1f s wall; ticks closed"
          " in a row: car not in C %d, no offer %d" % (u.ms() / 86400000, u.dense_ticks, u.steps,
                                                      time.time() - wall, u.worst[0], u.worst[1]))
    for f in figures:
        print("  plug at %d ms: dur %s s (events %s s), %s Wh (drawn %s Wh)" % f)
    # the fallback: the controller's last word 20 s before its silence, 30 s before the wrap; the
    # offer capped at fallback_current_a 60 s on (the app polls it every tick), lifted by its word
    plug_ms, seconds, silent, load, t0, t1, drawn, before = done[3]
    quiet_us = t0 + 500000 + (silent[0] - 20) * 1000000
    capped = [t for t, a in offers(b, quiet_us, t1) if a <= 10]
    lifted = [t for t, a in offers(b, t0 + silent[1] * 1000000, t1) if a > 10]
    print("  fallback: last word at %d ms, capped %.2f s later, lifted %.2f s after its word"
          % (quiet_us // 1000, (capped[0] - quiet_us) / 1e6, (lifted[0] - t0) / 1e6 - silent[1] - 0.5))
    assert quiet_us // 1000 < wrap1 < capped[0] // 1000
    assert 60 <= (capped[0] - quiet_us) / 1e6 <= 60.1, offers(b, quiet_us, t1)
    assert (lifted[0] - t0) / 1e6 - silent[1] - 0.5 <= 5.1      # (a raise waits 5 s after a change)
    # the minimum pause: the house over its limit 150 s in (50 s before the second wrap), back at
    # 215 s; the planner's pause (the offer 0) lasts min_pause_s, then the contactor closes again
    plug_ms, seconds, silent, load, t0, t1, drawn, before = done[6]
    paused = [t for t, a in offers(b, t0 + 150 * 1000000, t1) if a == 0][0]
    opened = b.coil_change(0, paused)
    reclosed = b.coil_change(1, opened)
    print("  pause: the offer 0 %.2f s after the overload, the contactor open %.2f s later, closed"
          " again %.2f s after the pause began" % ((paused - t0) / 1e6 - 150.5, (opened - paused) / 1e6,
                                                   (reclosed - paused) / 1e6))
    assert paused // 1000 < wrap2 < reclosed // 1000
    assert (opened - paused) / 1e6 <= 6.0                # the car did not stop: EV_STOP_WAIT_MS
    assert 120 <= (reclosed - paused) / 1e6 <= 121.5
