# Executes scenario commands on the bench vehicle (real or virtual time) and speaks the serial
# protocol: one line in, one JSON line out per command. See docs/bench-vehicle.md.
import json

from bench_vehicle import pilot_meter as PM
from bench_vehicle import vehicle as V
from bench_vehicle.scenario import Parser, ScenarioError

POLL_MS = 10                # `expect ... within S`: pause between measurements
MAX_LINE = 200              # longer input lines are refused (a stuck or noisy serial line)
PILOT_STATES = ("A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2", "E", "F")
PILOT_ALIASES = {"wakeup": "F"}     # the sleeping-car wake-up is F on the pilot (facts 4)
# Scenario verbs a vehicle cannot do to a real charger (or only with an optional bench relay)
NOT_PHYSICAL = ("config", "draw", "temp", "noise", "limit")
RELAY_OF = {"rcd": "RCD_TEST", "weld": "WELD", "power": "POWER_CUT"}


class Runner:
    def __init__(self, vehicle, meter, clock=None):
        if clock is None:
            import time as clock        # after mock_machine.install() on the host: virtual time
        self.ticks_ms = clock.ticks_ms
        self.ticks_diff = clock.ticks_diff
        self.sleep_ms = clock.sleep_ms
        self.vehicle = vehicle
        self.meter = meter

    def safe(self):
        self.vehicle.safe()

    def execute(self, cmd):
        """Run one parsed Command; returns the reply dict."""
        r = {"line": cmd.line, "ok": True, "text": cmd.text}
        verb = cmd.verb
        a = cmd.args
        v = self.vehicle
        if verb == "expect":
            return self._expect(r, a)
        if verb == "wait":
            self.sleep_ms(int(a[0] * 1000 + 0.5))
            r["done"] = "waited"
        elif verb == "plug":
            r["done"] = v.plug(a[0])
        elif verb == "unplug":
            r["done"] = v.unplug()
        elif verb == "ev":
            r["done"] = v.set_ev(a[0] if a[0] is not None else a[1])
        elif verb == "diode":
            r["done"] = v.set_diode_short(a[0] == "short")
        elif verb == "cp":
            r["done"] = v.set_cp_short(a[0] == "short")
        elif verb == "button":
            r["done"] = v.set_button(a[0] == "press")
        elif verb == "pp":
            r["done"] = v.set_pp(a[0])
        elif verb in RELAY_OF:
            on = (a[0] > 0) if verb == "rcd" else (a[0] is True or a[0] == "off")
            name = RELAY_OF[verb]
            if v.set_relay(name, on):
                r["done"] = "%s relay %s" % (name, "on" if on else "off")
            else:
                r["skipped"] = "no %s relay on this bench" % name
        elif verb in NOT_PHYSICAL:
            r["skipped"] = "not physical on a vehicle bench"
        else:
            r["ok"] = False
            r["error"] = "unknown command"
        return r

    # --- expect: checked on what the pilot shows ---
    def _expect(self, r, a):
        what, value, tol, within = a
        if what == "state":
            value = PILOT_ALIASES.get(value, value)
        if what == "fault" or (what == "state" and value not in PILOT_STATES):
            r["skipped"] = "not visible on the pilot"
            return r
        if what == "contactor" and self.vehicle.ac_present() is None:
            r["skipped"] = "no AC-sense input on this bench"
            return r
        t0 = self.ticks_ms()
        limit_ms = int((within or 0) * 1000 + 0.5)
        while True:
            # A check counts when it started within the limit (a duty reading takes ~0.3 s).
            started = self.ticks_diff(self.ticks_ms(), t0)
            ok, m = self._check(what, value, tol)
            if ok:
                break
            left = limit_ms - self.ticks_diff(self.ticks_ms(), t0)
            if left <= 0:
                break
            self.sleep_ms(min(POLL_MS, left))
        r["ok"] = ok
        r["measured"] = m
        if within is not None:
            r["after_s"] = started / 1000
        return r

    def _check(self, what, value, tol):
        if what == "contactor":
            ac = self.vehicle.ac_present()
            return (ac == (value == "closed")), {"ac": ac}
        m = self.meter.measure(what != "state")      # the state needs only the plateaus
        if what == "state":
            return m["state"] == value, m
        if what == "duty":
            tol = max(tol, PM.DUTY_RESOLUTION_PCT)
            got = m["duty"]
        else:
            tol = max(tol, PM.DUTY_RESOLUTION_PCT * PM.amps_per_pct(m["duty"]))
            got = m["amps"]
        m["tol"] = tol
        return got is not None and abs(got - value) <= tol + 1e-9, m


class Session:
    """The serial protocol over a Runner: `handle(line)` -> a JSON string, or None for a blank or
    comment line. Lines are counted like the scenario file (comments and blanks included), so the
    host sends the file as it is. `!` lines are protocol controls, not scenario text."""

    def __init__(self, runner):
        self.runner = runner
        self.parser = Parser()

    def handle(self, raw):
        try:
            return self._handle(raw)
        except Exception as e:      # never crash the board: report, go to the safe state
            return self._error(self.parser.line, raw, "internal: %s %s" % (type(e).__name__, e))

    def _handle(self, raw):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode()
            except UnicodeError:
                self.parser.line += 1
                return self._error(self.parser.line, "", "not UTF-8")
        raw = raw.rstrip("\r\n")
        if raw.startswith("!"):
            return self._control(raw.strip())
        if len(raw) > MAX_LINE:
            self.parser.line += 1
            return self._error(self.parser.line, raw[:40] + "...", "line longer than %d" % MAX_LINE)
        try:
            cmd = self.parser.feed(raw)
        except ScenarioError as e:
            return self._error(e.line, raw.strip(), e.reason)
        if cmd is None:
            return None
        try:
            res = self.runner.execute(cmd)
        except Exception as e:
            return self._error(cmd.line, cmd.text, "%s %s" % (type(e).__name__, e))
        return json.dumps(res)

    def _error(self, line, text, reason):
        self.runner.safe()
        return json.dumps({"line": line, "ok": False, "text": text, "error": reason})

    def _control(self, word):
        run = self.runner
        if word in ("!reset", "!end"):
            run.safe()
            self.parser = Parser()
            return json.dumps({"line": 0, "ok": True, "text": word, "ready": word == "!reset",
                               "vehicle": run.vehicle.capabilities()})
        if word == "!measure":
            return json.dumps({"line": self.parser.line, "ok": True, "text": word,
                               "measured": run.meter.measure(), "vehicle": run.vehicle.describe()})
        return json.dumps({"line": self.parser.line, "ok": False, "text": word,
                           "error": "controls: !reset !end !measure"})


class LineReader:
    """Collects bytes from a non-blocking stream (a UART) into lines."""

    def __init__(self):
        self.buf = b""

    def lines(self, data):
        out = []
        if data:
            self.buf += data
        while True:
            i = self.buf.find(b"\n")
            if i < 0:
                break
            out.append(self.buf[:i])
            self.buf = self.buf[i + 1:]
        if len(self.buf) > 4 * MAX_LINE:         # no newline in sight: drop the junk
            out.append(self.buf)
            self.buf = b""
        return out


def serve_uart_once(session, uart, reader):
    """Handle every complete line waiting on the UART; replies written back. Returns lines handled."""
    n = 0
    data = uart.read() if uart.any() else None
    for raw in reader.lines(data):
        n += 1
        out = session.handle(raw)
        if out is not None:
            uart.write(out.encode() + b"\n")
    return n


def build(pm, machine, clock=None):
    """Vehicle, meter, runner and session from a pin map and the `machine` module."""
    vehicle = V.from_map(pm, machine.Pin)
    adc = machine.ADC(machine.Pin(pm.PILOT_ADC_PIN))
    if getattr(pm, "ADC_ATTEN", None) is not None:
        adc.atten(pm.ADC_ATTEN)
    meter = PM.PilotMeter(adc, pm.PILOT_FRONTEND, pm.ADC_SAMPLE_US, clock)
    return Session(Runner(vehicle, meter, clock))
