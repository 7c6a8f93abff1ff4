"""The bench vehicle on mock pins, wired to the virtual bench's World with the unmodified firmware
on a Rig (host only): the vehicle's relays set the World's vehicle, its ADC reads the World's
pilot through the vehicle's divider. `python -m tools.bench_vehicle.host --virtual` runs on this.
"""
from tools.sim import mock_machine as mm
from bench_vehicle import pilot_meter as PM
from bench_vehicle import runner as R
from bench_vehicle import vehicle as V

RCD_TEST_MA = 30            # the bench's RCD test loop: above the 20 mA trip level


class VirtualPins:
    """A pin map with named pin ids: no clash with the sim board's numbered pins."""
    NAME = "virtual"
    OUTPUT_ACTIVE = 1
    CP_RELAY_PIN = "v_cp_relay"
    R_C_PIN = "v_r_c"
    R_D_PIN = "v_r_d"
    DIODE_SHORT_PIN = "v_diode_short"
    CP_SHORT_PIN = "v_cp_short"
    BUTTON_PIN = "v_button"
    PP_PINS = ((150, "v_pp150"), (1500, "v_pp1500"), (680, "v_pp680"), (220, "v_pp220"),
               (100, "v_pp100"))
    RCD_TEST_PIN = "v_rcd_test"
    WELD_PIN = "v_weld"
    POWER_CUT_PIN = None
    AC_SENSE_PIN = "v_ac_sense"
    AC_SENSE_ACTIVE = 1
    PILOT_ADC_PIN = "v_pilot"
    PILOT_FRONTEND = (0.1189, 1.454, 3.3)
    ADC_ATTEN = None
    ADC_SAMPLE_US = 12
    SERIAL_UART = None


def network(pm):
    """What the vehicle's relays make of the cable, from the pin levels: dict of World fields."""
    act = getattr(pm, "OUTPUT_ACTIVE", 1)

    def on(name):
        pid = getattr(pm, name + "_PIN", None)
        return pid is not None and mm.output(pid) == act

    r = float(V.R_B)
    if on("R_C"):
        r = V._par(r, V.R_C)
    if on("R_D"):
        r = V._par(r, V.R_D)
    pp = [ohms for ohms, pid in pm.PP_PINS if mm.output(pid) == act]
    return {"plugged": on("CP_RELAY"), "ev_ohms": r, "diode_ok": not on("DIODE_SHORT"),
            "cp_short": on("CP_SHORT"), "button": on("BUTTON"),
            "pp_ohms": V._par(*pp) if pp else None, "rcd": on("RCD_TEST"), "weld": on("WELD")}


def to_u16(frontend, volts):
    gain, offset, fullscale = frontend
    u = int((offset + gain * volts) / fullscale * 65535)
    return 0 if u < 0 else 65535 if u > 65535 else u


class _RigClock:
    """Runner and meter time: sleeping runs the firmware."""

    def __init__(self, pair):
        self.pair = pair
        self.ticks_ms = mm.ticks_ms
        self.ticks_us = mm.ticks_us
        self.ticks_diff = mm.ticks_diff

    def sleep_ms(self, ms):
        self.pair.run(ms / 1000.0)

    def sleep_us(self, us):
        # Between the meter's sub-bursts: let a due firmware tick run, then give back the time its
        # own ADC burst took on the shared clock (on a real bench the two boards run side by side),
        # so the meter's dither sees only its own sleep.
        rig = self.pair.rig
        if rig.powered and mm.clock.us >= rig.next_tick_us:
            t = mm.clock.us
            self.pair.run(0)
            mm.clock.us = t
        mm.clock.advance_us(us)


class VirtualPair:
    def __init__(self, config=None, board="sim", seed=1, pins=VirtualPins):
        from tools.sim.rig import Rig
        self.rig = Rig(board=board, config=config, seed=seed)
        self.rig.boot_to_idle()        # a booted charger, nothing plugged in (the bench's time 0)
        self.pm = pins
        self.vehicle = V.from_map(self.pm, mm.Pin)
        self._wire()
        clock = _RigClock(self)
        # The firmware runs while the vehicle sleeps (between the meter's sub-bursts, in `wait`),
        # never inside a sub-burst: its own ADC bursts advance the shared clock.
        adc = mm.ADC(mm.Pin(self.pm.PILOT_ADC_PIN))
        meter = PM.PilotMeter(adc, self.pm.PILOT_FRONTEND, self.pm.ADC_SAMPLE_US, clock)
        self.session = R.Session(R.Runner(self.vehicle, meter, clock))

    def _wire(self):
        pm = self.pm
        fe = pm.PILOT_FRONTEND
        w = self.rig.world
        mm.adc_conv_us[pm.PILOT_ADC_PIN] = pm.ADC_SAMPLE_US
        mm.adc_sources[pm.PILOT_ADC_PIN] = lambda t: to_u16(fe, w.cp_volts(t))
        mm.output_hooks.append(self._on_output)
        self._apply()

    def _on_output(self, pin, level):
        if isinstance(pin, str) and pin.startswith("v_"):
            self._apply()

    def _apply(self):
        w = self.rig.world
        n = network(self.pm)
        w.plugged = n["plugged"]
        w.ev_ohms = n["ev_ohms"]
        w.diode_ok = n["diode_ok"]
        w.cp_short = n["cp_short"]
        w.button = n["button"]
        w.pp_ohms = n["pp_ohms"]
        w.rcd_ma = RCD_TEST_MA if n["rcd"] else 0.0
        w.weld = n["weld"]
        w.recompute()
        w.update()
        self._sense()

    def _sense(self):
        mm.drive(self.pm.AC_SENSE_PIN, 1 if self.rig.world.ac_out() else 0)

    def run(self, seconds):
        if self._on_output not in mm.output_hooks:     # the rig power-cycled (watchdog): rewire
            self._wire()
        self.rig.run(seconds)
        self._sense()

    def handle(self, line):
        return self.session.handle(line)
