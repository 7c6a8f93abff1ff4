"""The core alone (evse/core/charger.py), with no hal or app: a car behind an ideal pilot (its
diode healthy) and a contactor whose mirror contact follows the coil, unless it sticks. The safety
audits' scenarios that need nothing but the core's own steps (test_safety_audit2.py, 3 and 4)."""


class CoreBench:
    """settings over the defaults (max_current 16, no residual-current self-test: no monitor on this
    bench, the close sequence is not the point); max_amps, the board's rating."""

    def __init__(self, max_amps=80, **settings):
        from evse.core.charger import Charger, Measurements
        from evse.core.ticks import ticks_diff
        from evse.services import settings as S
        c = S.defaults()
        c.update({"max_current": 16, "rcd_selftest": False})
        c.update(settings)
        self.ch = Charger(c, diff=ticks_diff, max_amps=max_amps)
        self.m = Measurements()
        self.now = 0
        self.car_mv = 12000               # the positive plateau the car makes: A 12 V, B 9 V, C 6 V
        self.stuck = False                # the contacts closed whatever the coil

    def read(self):
        """What the hal would measure now: the pilot's plateaus and the mirror contact."""
        from evse.core import limits as L
        ch, m = self.ch, self.m
        mode = ch.out.pilot_mode
        pos = -12000 if mode == L.PILOT_F else self.car_mv
        m.pilot_pos, m.pilot_ok = pos, True
        m.pilot_neg = -12000 if mode in (L.PILOT_PWM, L.PILOT_5PCT) else pos
        m.feedback = 1 if ch.out.contactor or self.stuck else 0

    def run(self, ms, every=10):
        """Steps every `every` ms on the port's wrapping tick count (MicroPython's ticks_ms wraps at
        2**30 ms, 12.4 days, and ticks_diff reads at most 2**29 ms, 6.2 days, ahead)."""
        end = self.now + ms
        while self.now < end:
            self.read()
            self.ch.step(self.m, self.now & ((1 << 30) - 1))
            self.now += every
        return self

    def charging(self):
        """A car plugs in (B) and asks for power (C): charging, the contactor closed."""
        for mv, ms in ((12000, 500), (9000, 500), (6000, 1000)):
            self.car_mv = mv
            self.run(ms)
        assert self.ch.state == "C2" and self.ch.out.contactor
        return self
