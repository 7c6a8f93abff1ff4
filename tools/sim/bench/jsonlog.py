"""The bench's JSON-lines log (bench contract): one object per line, `t` (seconds) and `kind` first."""
import json

from evse.core import vocab as V
from tools.sim import mock_machine as mm

METER_PERIOD_US = 1000000   # a meter line once per second while the contactor is closed


class JsonLog:
    """Listener of the app's events (state, pwm, contactor, fault), and the bench's own lines."""

    def __init__(self, rig, f, origin=0):
        """origin: the firmware's clock (us) at the scenario's time 0."""
        self.rig = rig
        self.f = f
        self.origin = origin
        self._meter_next = None
        self.closed = False         # the coil as the last `contactor` line said

    def write(self, kind, **fields):
        d = {"t": round((mm.clock.us - self.origin) / 1e6, 6), "kind": kind}
        for k in sorted(fields):
            d[k] = fields[k]
        self.f.write(json.dumps(d) + "\n")

    # app listener
    def on_event(self, ev, now_ms):
        kind = ev[0]
        if kind == V.EV_STATE:
            self.write(kind, state=ev[1])
        elif kind == V.EV_PWM:
            self.write(kind, duty=ev[1], amps=ev[2])
        elif kind == V.EV_CONTACTOR:
            self.coil(bool(ev[1]))
        elif kind == V.EV_FAULT:
            self.write(kind, fault=ev[1], set=bool(ev[2]))

    def coil(self, closed):
        """A `contactor` line when the coil changes, once: at the pin's edge or the app's event,
        whichever comes first. A residual-current trip drops the coil from its interrupt, and the app
        says so on its next tick: the line came up to a tick (10 ms) after the VCD's edge, and a 200 mA
        trip read 40 ms in the log for the 30 ms it took (UL 2231: 37 ms at most)."""
        if closed != self.closed:
            self.closed = closed
            self.write("contactor", closed=closed)

    def pin(self, pin, level):
        """Rig pin hook: the contactor's coil as driven, at the instant it changes."""
        if pin in self.rig.board.CONTACTOR_PINS:
            self.coil(self.rig.world.coil())

    def input(self, cmd):
        self.write("input", line=cmd.line, text=cmd.text)

    def expect(self, cmd, ok):
        self.write("expect", line=cmd.line, ok=bool(ok), text=cmd.text)

    # rig probe: the meter once per second while charging
    def probe(self):
        app = self.rig.app
        meter = app.meter if app is not None else None
        if meter is None or not self.rig.world.coil():
            self._meter_next = None
            return
        now = mm.clock.us
        if self._meter_next is None or now >= self._meter_next:
            self._meter_next = now + METER_PERIOD_US
            try:
                amps = round(float(max(meter.amps)), 3)
                wh = round(meter.wh_session, 3)
            except Exception:      # a meter without readings yet: skip this second
                return
            # the contract's `amps` is a number, as `pwm`'s: the current per phase (`draw` draws
            # the same on each; the highest phase's reading)
            self.write("meter", amps=amps, wh=wh)
