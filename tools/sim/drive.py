"""Vehicle actions on the virtual bench, in Python: for tests that read like bench scenarios and for
the latency benchmark. Records every firmware event and every contactor coil edge with its virtual
time in microseconds."""
from evse.core import vocab as V
from tools.sim import mock_machine as mm
from tools.sim.rig import Rig

EV_OHMS = {"A": None, "B": 2740, "C": 882, "D": 246}


class Drive:
    def __init__(self, config=None, board="sim", seed=1, flash_dir=None, start_us=0):
        self.events = []            # (t_us, event tuple)
        self.coil_edges = []        # (t_us, level)
        self.rig = Rig(board=board, config=config, flash_dir=flash_dir, seed=seed, start_us=start_us)
        self.rig.listeners.append(self)
        self.rig.app.listeners.append(self)
        self._watch_coil()

    def _watch_coil(self):
        pin = self.rig.board.CONTACTOR_PINS[0]

        def hook(p, level):
            if p == pin and level >= 0:
                self.coil_edges.append((mm.clock.us, level))
        self.rig.add_pin_hook(hook)

    def on_event(self, ev, now_ms):
        self.events.append((mm.clock.us, ev))

    # --- views ---
    @property
    def app(self):
        return self.rig.app

    @property
    def charger(self):
        return self.rig.app.charger

    @property
    def world(self):
        return self.rig.world

    @property
    def state(self):
        return self.charger.state

    @property
    def fault(self):
        return self.charger.fault

    @property
    def coil(self):
        return self.world.coil()

    @property
    def duty(self):
        return self.app.hw.duty_x100 / 100

    @property
    def now_us(self):
        return mm.clock.us

    def states(self):
        return [e[1] for _, e in self.events if e[0] == V.EV_STATE]

    def first(self, kind, after_us=0, value=None):
        """Virtual time of the first event of a kind (and value) at or after a time."""
        for t, e in self.events:
            if t >= after_us and e[0] == kind and (value is None or e[1] == value):
                return t
        return None

    def coil_change(self, level, after_us):
        for t, lv in self.coil_edges:
            if t >= after_us and lv == level:
                return t
        return None

    # --- actions ---
    def run(self, seconds):
        self.rig.run(seconds)
        return self

    def hold(self, seconds, changes=()):
        """The control loop held by one long call in C for `seconds` (Rig.hold)."""
        self.rig.hold(seconds, changes)
        return self

    def plug(self, pp_ohms=150):
        w = self.world
        w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, pp_ohms
        w.recompute()
        return mm.clock.us

    def unplug(self):
        w = self.world
        assert not w.lock_holds(), "the socket's lock holds the plug"
        w.plugged, w.pp_ohms = False, None
        w.recompute()
        return mm.clock.us

    def ev(self, state_or_ohms):
        self.world.ev_ohms = EV_OHMS.get(state_or_ohms, state_or_ohms)
        self.world.recompute()
        return mm.clock.us

    def set(self, **kw):
        """Any world attribute (diode_ok, cp_short, weld, rcd_ma, temp_c, draw_amps, ...)."""
        for k, v in kw.items():
            setattr(self.world, k, v)
        self.world.recompute()
        self.world.update()
        return mm.clock.us

    def charge(self, amps=None, pp_ohms=150):
        """Plug in (PP pp_ohms), ask for power, wait until the contactor is closed."""
        self.plug(pp_ohms)
        self.run(0.5)
        self.ev("C")
        if amps is not None:
            self.world.draw_amps = amps
        self.run(1.0)
        assert self.coil, "contactor did not close: state %s fault %s" % (self.state, self.fault)
        return self
