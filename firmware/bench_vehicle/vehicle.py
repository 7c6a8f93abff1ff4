# The car's switches: pilot resistors, diode short, CP short, latch button, plug relay, PP coding
# resistors and the optional bench relays. A class over injected Pin objects (no `machine` import),
# so the host tests drive it on mock pins and the board on real ones.
import math

R_B = 2740          # always in while plugged (facts 3): state B
R_C = 1300          # in parallel: 882 Ohm, state C
R_D = 270           # in parallel: 246 Ohm, state D
OPEN_ABOVE_OHMS = 10000     # `ev OHMS` above this: pilot resistors off (state A)
PP_DEFAULT_OHMS = 220       # `plug` without OHMS (bench contract)
# The latch button (BUTTON_PIN) opens S3: 330 Ohm in series with the PP resistor (docs/bench-vehicle.md)

# Output names in the pin map; the optional ones may be None (not wired on this bench).
OUTPUTS = ("CP_RELAY", "R_C", "R_D", "DIODE_SHORT", "CP_SHORT", "BUTTON")
OPTIONAL_OUTPUTS = ("RCD_TEST", "WELD", "POWER_CUT")


def _par(*rs):
    return 1.0 / sum(1.0 / r for r in rs)


# (ohms behind the diode, R_C on, R_D on, label)
EV_CHOICES = (
    (R_B, 0, 0, "B"),
    (_par(R_B, R_C), 1, 0, "C"),
    (_par(R_B, R_D), 0, 1, "D"),
    (_par(R_B, R_C, R_D), 1, 1, "C+D"),
)


def nearest(ohms, choices):
    """The choice whose resistance is nearest to `ohms` on a log scale (ratio, not difference)."""
    best = None
    err = 0.0
    for c in choices:
        e = abs(math.log(ohms / c))
        if best is None or e < err:
            best, err = c, e
    return best


class Vehicle:
    """`out`: dict name -> Pin (or None) for OUTPUTS + OPTIONAL_OUTPUTS; `pp`: list of
    (ohms, Pin), one switched coding resistor each; `active`: the level that switches a relay on;
    `ac_sense`: optional input Pin, `ac_active` its level when AC is present at the outlet."""

    def __init__(self, out, pp=(), active=1, ac_sense=None, ac_active=1):
        self.out = out
        self.pp_pins = list(pp)
        self.pp_values = sorted(o for o, _ in self.pp_pins)
        self.active = active
        self.ac_sense = ac_sense
        self.ac_active = ac_active
        self.safe()

    def has(self, name):
        return self.out.get(name) is not None

    def safe(self):
        """All off: unplugged, resistors off, no short, no relay energised (pilot state A)."""
        self.plugged = False
        self.ev = "B"           # what the car shows once plugged
        self.r_c = 0
        self.r_d = 0
        self.ev_open = False
        self.diode_short = False
        self.cp_short = False
        self.button = False
        self.pp_ohms = None
        self.rcd_test = False
        self.weld = False
        self.power_cut = False
        self.apply()

    # --- scenario actions; each returns a short text saying what was switched ---
    def plug(self, ohms=None):
        self.plugged = True
        self.ev_open = False
        self.r_c = self.r_d = 0          # the EV shows state B (bench contract)
        self.ev = "B"
        got = self._select_pp(PP_DEFAULT_OHMS if ohms is None else ohms)
        self.apply()
        return "plugged, B, pp %s" % _ohms_text(got)

    def unplug(self):
        self.plugged = False
        self.pp_ohms = None
        self.button = False
        self.apply()
        return "unplugged"

    def set_ev(self, what):
        """`what`: 'A'-'D' or a resistance in ohms (nearest available)."""
        if what == "A":
            self.ev_open = True
            self.ev = "A"
        elif what in ("B", "C", "D"):
            self.ev_open = False
            self.ev = what
            self.r_c = 1 if what == "C" else 0
            self.r_d = 1 if what == "D" else 0
        else:
            ohms = float(what)
            if ohms <= 0:
                raise ValueError("ohms must be > 0")
            if ohms >= OPEN_ABOVE_OHMS:
                return self.set_ev("A")
            r, self.r_c, self.r_d, self.ev = nearest_ev(ohms)
            self.ev_open = False
            self.apply()
            return "ev %s Ohm (nearest %d, %s)" % (_num(ohms), int(r + 0.5), self.ev)
        self.apply()
        return "ev %s" % self.ev

    def set_diode_short(self, on):
        self.diode_short = bool(on)
        self.apply()
        return "diode short" if on else "diode ok"

    def set_cp_short(self, on):
        self.cp_short = bool(on)
        self.apply()
        return "cp short" if on else "cp ok"

    def set_button(self, pressed):
        self.button = bool(pressed)
        self.apply()
        return "button pressed" if pressed else "button released"

    def set_pp(self, ohms):
        """`ohms` None: PP open."""
        got = self._select_pp(ohms)
        self.apply()
        return "pp %s" % _ohms_text(got)

    def set_relay(self, name, on):
        """Optional bench relays: RCD_TEST, WELD, POWER_CUT. False when not wired."""
        if not self.has(name):
            return False
        setattr(self, name.lower(), bool(on))
        self.apply()
        return True

    def ac_present(self):
        """None without an AC-sense input, else True when the outlet is live."""
        if self.ac_sense is None:
            return None
        return self.ac_sense.value() == self.ac_active

    # --- pins ---
    def _select_pp(self, ohms):
        if ohms is None or not self.pp_values:
            self.pp_ohms = None
        else:
            self.pp_ohms = nearest(float(ohms), self.pp_values)
        return self.pp_ohms

    def _set(self, name, on):
        p = self.out.get(name)
        if p is not None:
            p.value(self.active if on else 1 - self.active)

    def apply(self):
        # Shorts and resistors first, the CP relay last: the charger never sees a half-made state.
        self._set("CP_SHORT", self.cp_short)
        self._set("DIODE_SHORT", self.diode_short)
        self._set("R_C", self.r_c)
        self._set("R_D", self.r_d)
        self._set("BUTTON", self.button)
        for ohms, p in self.pp_pins:
            p.value(self.active if (self.plugged and ohms == self.pp_ohms) else 1 - self.active)
        self._set("RCD_TEST", self.rcd_test)
        self._set("WELD", self.weld)
        self._set("POWER_CUT", self.power_cut)
        self._set("CP_RELAY", self.plugged and not self.ev_open)

    def capabilities(self):
        """What this bench can switch: optional relays, PP resistors, AC sense."""
        return {"relays": [n for n in OPTIONAL_OUTPUTS if self.has(n)], "pp": self.pp_values,
                "ac_sense": self.ac_sense is not None}

    def describe(self):
        return {"plugged": self.plugged, "ev": self.ev if self.plugged else "A",
                "diode_short": self.diode_short, "cp_short": self.cp_short,
                "button": self.button, "pp_ohms": self.pp_ohms if self.plugged else None}


def nearest_ev(ohms):
    best = None
    for c in EV_CHOICES:
        e = abs(math.log(ohms / c[0]))
        if best is None or e < best[0]:
            best = (e, c)
    return best[1]


def _num(x):
    return "%d" % x if x == int(x) else "%g" % x


def _ohms_text(r):
    return "open" if r is None else "%s Ohm" % _num(r)


def from_map(pm, pin_cls):
    """Build a Vehicle from a pin-map module (pins_*.py) and the Pin class (machine.Pin or a mock)."""
    active = getattr(pm, "OUTPUT_ACTIVE", 1)
    off = 1 - active
    out = {}
    for name in OUTPUTS + OPTIONAL_OUTPUTS:
        pid = getattr(pm, name + "_PIN", None)
        out[name] = None if pid is None else pin_cls(pid, pin_cls.OUT, value=off)
    pp = [(ohms, pin_cls(pid, pin_cls.OUT, value=off)) for ohms, pid in getattr(pm, "PP_PINS", ())]
    sense = getattr(pm, "AC_SENSE_PIN", None)
    ac = None if sense is None else pin_cls(sense, pin_cls.IN)
    return Vehicle(out, pp, active, ac, getattr(pm, "AC_SENSE_ACTIVE", 1))
