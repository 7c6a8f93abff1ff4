"""Check board files before anything is built or flashed: every pin exists, is used once, can do its
role on the board's chip and is safe at reset; the rating and the PWM port are stated and sane.

    python -m tools.boardcheck                     every boards/*.py
    python -m tools.boardcheck my_esp32 boards/x.py   by name (boards/NAME.py) or by path
    python -m tools.boardcheck --source rpi_pico_w    the board file as the board gets it (BASE merged)

Exit status 1 with one line per problem ("boards/x.py: CONTACTOR_PINS: GPIO12 is a strapping pin ...").
`make flash` runs the same check first (tools/flash.py). The chip comes from PWM_PORT: 'esp32' (ESP32,
ESP32-WROOM-32 module), 'rp2' (RP2040 on a Raspberry Pi Pico), 'sim' (the virtual board: any pin
number, looser rules).
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS_DIR = os.path.join(ROOT, "boards")
VBOARD = "vboard"                      # the virtual board runs the `sim` pin map
PORT_ARCH = {"esp32": "xtensawin", "rp2": "armv6m", "sim": None}

# Pin roles: (attribute, kind, required attribute, low at reset, a tuple of pins).
# Kinds: pwm and out drive the pin; in_up / in_down need the chip's internal pull; adc; uart_tx/rx.
# "Low at reset": an output that must not be driven or pulled high while the chip resets or boots
# (a coil would close the contactor, the test winding would trip the RCD).
ROLES = (
    ("PILOT_PWM_PIN", "pwm", True, False, False),
    ("CONTACTOR_PINS", "out", True, True, True),
    ("RCD_TEST_PIN", "out", True, True, False),
    ("FEEDBACK_PIN", "in_up", True, False, False),      # hal: Pin.PULL_UP
    ("RCD_TRIP_PIN", "in", True, False, False),
    ("RCD_DC_PIN", "in", True, False, False),
    ("PILOT_ADC_PIN", "adc", True, False, False),
    ("PP_ADC_PIN", "adc", True, False, False),
    ("TEMP_ADC_PIN", "adc", True, False, False),
    ("CT_ADC_PINS", "adc", False, False, True),
    ("V_ADC_PIN", "adc", False, False, False),
    ("MODBUS_TX_PIN", "uart_tx", False, False, False),
    ("MODBUS_RX_PIN", "uart_rx", False, False, False),
    ("MODBUS_DE_PIN", "out", False, False, False),
    ("S0_PIN", "in_down", False, False, False),         # meter_io: Pin.PULL_DOWN
    ("LOCK_PINS", "out", False, True, True),            # a plug lock's bridge (lock, unlock): idle low
    ("LOCK_FB_PIN", "in_up", False, False, False),      # shell/socket_lock.py: Pin.PULL_UP
    ("LED_PIN", "out", False, False, False),
)
NEVER_NONE = ("PILOT_PWM_PIN", "CONTACTOR_PINS", "PILOT_ADC_PIN")   # no charger without them
DRIVES = ("pwm", "out", "uart_tx")


class Esp32:
    """ESP32 (ESP32-WROOM-32): datasheet section 2.2 (pins), 2.4 (strapping), 4.1.2 (ADC)."""
    gpios = set(range(0, 20)) | {21, 22, 23, 25, 26, 27} | set(range(32, 40))
    reserved = dict([(p, "wired to the module's SPI flash") for p in range(6, 12)]
                    + [(1, "UART0 TX: the USB serial that make flash and the REPL use"),
                       (3, "UART0 RX: the USB serial that make flash and the REPL use")])
    input_only = set(range(34, 40))                      # no output driver, no internal pull-up/down
    adc1 = set(range(32, 40))
    adc2 = {0, 2, 4, 12, 13, 14, 15, 25, 26, 27}         # unreadable while Wi-Fi runs (OCPP)
    strapping = {0, 2, 5, 12, 15}                        # sampled at reset, pulled up or down by the chip
    uarts = (1, 2)                                       # UART0 is the REPL
    attens = (0, 1, 2, 3)                                # machine.ADC.ATTN_0DB ... ATTN_11DB

    def problem(self, attr, kind, pin, low_at_reset):
        if pin not in self.gpios:
            return "GPIO%s does not exist on the ESP32" % pin
        if pin in self.reserved:
            return "GPIO%d is %s" % (pin, self.reserved[pin])
        if kind in DRIVES and pin in self.input_only:
            return "GPIO%d is input-only (GPIO34-39 cannot drive an output)" % pin
        if kind in ("in_up", "in_down") and pin in self.input_only:
            return "GPIO%d has no internal pull-%s (GPIO34-39): the input would float" % (
                pin, "up" if kind == "in_up" else "down")
        if kind == "adc" and pin in self.adc2:
            return "GPIO%d is on ADC2, which cannot be read while Wi-Fi runs: use ADC1 (GPIO32-39)" % pin
        if kind == "adc" and pin not in self.adc1:
            return "GPIO%d has no ADC: use ADC1 (GPIO32-39)" % pin
        if low_at_reset and pin in self.strapping:
            return ("GPIO%d is a strapping pin (0, 2, 5, 12, 15): pulled or read at reset, it must not "
                    "drive an output that has to stay low" % pin)
        return None

    def uart_problem(self, kind, pin, uart):
        return None                                      # the GPIO matrix routes a UART to any pin

    def gpio(self, kind, pin):
        return pin


class Rp2:
    """RP2040 on a Raspberry Pi Pico: RP2040 datasheet 1.4.3 (functions), 4.9 (ADC); Pico datasheet
    (GP23 SMPS mode, GP24 VBUS sense, GP25 LED, GP29 VSYS/3)."""
    gpios = set(range(0, 30))
    reserved = {23: "the Pico's SMPS power-save control", 24: "the Pico's VBUS sense",
                29: "the Pico's VSYS/3 measurement (ADC3)"}
    adc = {26, 27, 28}
    uarts = (0, 1)
    attens = (None,)
    named = {}                                       # pins the port names with a string

    def problem(self, attr, kind, pin, low_at_reset):
        if kind == "adc" and pin == 4:
            return None if attr == "TEMP_ADC_PIN" else "ADC 4 is the chip's temperature sensor"
        if kind == "adc" and pin in (0, 1, 2, 3):
            pin += 26                                    # machine.ADC(0-3) are GP26-29
        if pin not in self.gpios:
            return "GP%s does not exist on the RP2040" % pin
        if pin in self.reserved:
            return "GP%d is %s" % (pin, self.reserved[pin])
        if pin == 25 and attr != "LED_PIN":
            return "GP25 is the Pico's LED (LED_PIN only)"
        if kind == "adc" and pin not in self.adc:
            return "GP%d has no ADC: use GP26-28 (ADC0-2)" % pin
        return None                   # every GPIO resets as an input with its pull-down: low

    def pwm_problem(self, b):
        """The economiser drives the first coil output as a 20 kHz PWM (hal.set_contactor). GPn is
        channel A or B of slice (n >> 1) & 7 (RP2040 datasheet 4.5.2: GP0, 1, 16, 17 slice 0 ...),
        and a slice has one counter: on the pilot's slice the port sets that counter for 20 kHz, and
        the pilot runs at 20 kHz (measured on the emulated Pico: 50 us periods on GP16)."""
        pilot, coils = b.get("PILOT_PWM_PIN"), b.get("CONTACTOR_PINS")
        if not (_int(pilot) and isinstance(coils, tuple) and coils and _int(coils[0])):
            return None
        if coils[0] != pilot and (coils[0] >> 1) & 7 == (pilot >> 1) & 7:
            return ("CONTACTOR_PINS: GP%d is on PWM slice %d with the pilot's GP%d: the economiser's "
                    "20 kHz would set the pilot's frequency (use a coil pin on another slice)" % (
                        coils[0], (pilot >> 1) & 7, pilot))
        return None

    def uart_problem(self, kind, pin, uart):
        if pin % 4 != (0 if kind == "uart_tx" else 1) or ((pin + 4) // 8) % 2 != uart:
            return "GP%d is not UART%d %s (TX GP0/12/16/28 UART0, GP4/8/20/24 UART1; RX the next pin)" % (
                pin, uart, "TX" if kind == "uart_tx" else "RX")
        return None

    def gpio(self, kind, pin):
        if kind == "adc" and pin == 4:
            return None                                  # the internal sensor: no pin
        return pin + 26 if kind == "adc" and pin < 4 else pin


class Rp2W(Rp2):
    """RP2040 on a Raspberry Pi Pico W (a board file with WIFI): Pico W datasheet 2.1 and 3.1, the
    CYW43439 radio on GP23-25 and GP29; the LED is the radio's GPIO 0, machine.Pin("LED")."""
    reserved = {23: "the Pico W's radio power (WL_ON)", 24: "the Pico W's radio data (WL_D)",
                25: "the Pico W's radio chip select (WL_CS)",
                29: "the Pico W's radio clock (WL_CLK, shared with the VSYS/3 ADC)"}
    named = {"LED_PIN": "LED"}


class Sim:
    """The virtual board: pins are plain numbers; each used once."""
    uarts = (0, 1, 2)
    attens = (None,)

    def problem(self, attr, kind, pin, low_at_reset):
        return None

    def uart_problem(self, kind, pin, uart):
        return None

    def gpio(self, kind, pin):
        return pin


CHIPS = {"esp32": Esp32(), "rp2": Rp2(), "sim": Sim()}


def chip_of(b):
    """The chip rules of a board: a Pico with WIFI is a Pico W (its radio takes four pins)."""
    if b.get("PWM_PORT") == "rp2" and b.get("WIFI"):
        return Rp2W()
    return CHIPS.get(b.get("PWM_PORT"))


def resolve(board):
    """The board file for a name (boards/NAME.py, `vboard` = boards/sim.py) or a path to a .py."""
    if board == VBOARD:
        return os.path.join(BOARDS_DIR, "sim.py")
    if board.endswith(".py") or os.sep in board or "/" in board:
        return os.path.abspath(board)
    return os.path.join(BOARDS_DIR, board + ".py")


def names():
    """The board names under boards/ (and the virtual board)."""
    found = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(BOARDS_DIR, "*.py"))
                   if not os.path.basename(p).startswith("_"))
    return found + [VBOARD]


def source(path, depth=0):
    """The board file's text as the board imports it. A file that names a BASE board (a name under
    boards/, e.g. the Pico W's "rpi_pico") is that board's text followed by its own lines, so a
    variant states only what differs and no shared number is written twice."""
    with open(path) as f:
        text = f.read()
    ns = {}
    exec(compile(text, path, "exec"), ns)
    base = ns.get("BASE")
    if base is None:
        return text
    if not isinstance(base, str) or depth > 2:
        raise ValueError("BASE: %r is not the name of a board under boards/" % (base,))
    near = os.path.join(os.path.dirname(path), base + ".py")
    base_path = near if os.path.exists(near) else os.path.join(BOARDS_DIR, base + ".py")
    return "%s\n# ---- %s: its own values ----\n%s" % (source(base_path, depth + 1),
                                                         os.path.basename(path), text)


def load(path):
    """The board file's names, as the board would import them."""
    ns = {}
    exec(compile(source(path), path, "exec"), ns)
    return ns


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _amps_range():
    """The pilot's range (firmware/evse/core/limits.py, one source): a rating outside it is a typo."""
    for d in (os.path.join(ROOT, "tools", "hostlib"), os.path.join(ROOT, "firmware")):
        if d not in sys.path:
            sys.path.insert(0, d)                                  # hostlib: micropython.const
    from evse.core import limits
    return limits.AMPS_MIN_X10 // 10, limits.AMPS_MAX


def check_values(b):
    """Problems with the board's non-pin values: identity, rating, PWM port, analog front end."""
    out = []
    if not isinstance(b.get("NAME"), str) or not b["NAME"]:
        out.append("NAME: missing (a string naming the board)")
    port = b.get("PWM_PORT")
    if port not in PORT_ARCH:
        out.append("PWM_PORT: %r is not one of 'esp32', 'rp2', 'sim'" % (port,))
    elif b.get("ARCH", "missing") != PORT_ARCH[port]:
        out.append("ARCH: %r does not match PWM_PORT %r (needs %r)" % (b.get("ARCH"), port, PORT_ARCH[port]))
    if port == "sim" and not (_int(b.get("PWM_STEPS")) and b["PWM_STEPS"] > 0):
        out.append("PWM_STEPS: the sim PWM's counts per period (a positive integer) is missing")
    lo, hi = _amps_range()
    amps = b.get("MAX_CURRENT_A")
    if amps is None:
        out.append("MAX_CURRENT_A: missing (the board's own rating: contactor, wiring, cable, %d-%d A)" % (lo, hi))
    elif not _number(amps) or not lo <= amps <= hi:
        out.append("MAX_CURRENT_A: %r is not a rating of %d-%d A" % (amps, lo, hi))
    fe = b.get("PILOT_FRONTEND")
    if not (isinstance(fe, tuple) and len(fe) == 3 and all(_number(x) for x in fe) and fe[0] > 0 and fe[2] > 0):
        out.append("PILOT_FRONTEND: %r is not (gain > 0, offset V, full scale V > 0)" % (fe,))
    for name in ("ADC_SAMPLE_US", "PILOT_BURST", "PP_PULLUP_OHMS"):
        if not (_int(b.get(name)) and b[name] > 0):
            out.append("%s: %r is not a positive integer" % (name, b.get(name)))
    for name in ("PP_VREF",):
        if not (_number(b.get(name)) and b[name] > 0):
            out.append("%s: %r is not a positive voltage" % (name, b.get(name)))
    for name in ("TEMP_MV_AT_0C", "TEMP_UV_PER_C"):
        if not _int(b.get(name)):
            out.append("%s: %r is not an integer" % (name, b.get(name)))
    for name in ("FEEDBACK_ACTIVE", "RCD_TRIP_ACTIVE"):
        if b.get(name) not in (0, 1):
            out.append("%s: %r is not a pin level (0 or 1)" % (name, b.get(name)))
    chip = CHIPS.get(port)
    if chip and b.get("ADC_ATTEN", "missing") not in chip.attens:
        out.append("ADC_ATTEN: %r is not one of %r for %s" % (b.get("ADC_ATTEN"), chip.attens, port))
    if b.get("TICK_LED") and not _int(b.get("LED_PIN")):
        out.append("TICK_LED: LED_PIN %r is not a GPIO of the chip (the tick's light switches twice a "
                   "tick; an LED behind a radio is too slow)" % (b.get("LED_PIN"),))
    uart = b.get("MODBUS_UART")
    if chip and uart is not None and uart not in chip.uarts:
        out.append("MODBUS_UART: %r is not one of %r for %s" % (uart, chip.uarts, port))
    return out


def check_pins(b):
    """Problems with the pins: present, capable of their role on the chip, safe at reset, unique."""
    chip = chip_of(b)
    if chip is None:
        return []                                        # reported by check_values
    out, used = [], {}
    for attr, kind, required, low_at_reset, many in ROLES:
        if attr not in b:
            if required:
                out.append("%s: missing (None if not wired)" % attr)
            continue
        v = b[attr]
        if v is None and attr not in NEVER_NONE:
            continue
        pins = v if many else (v,)
        if many and (not isinstance(v, tuple) or not v):
            out.append("%s: %r is not a tuple of pins" % (attr, v))
            continue
        for pin in pins:
            if isinstance(pin, str) and getattr(chip, "named", {}).get(attr) == pin:
                continue                                 # not a GPIO of the chip (the Pico W's LED)
            if not (_int(pin) and pin >= 0):
                out.append("%s: %r is not a pin number" % (attr, pin))
                continue
            why = chip.problem(attr, kind, pin, low_at_reset)
            if why is None and kind in ("uart_tx", "uart_rx") and _int(b.get("MODBUS_UART")):
                why = chip.uart_problem(kind, pin, b["MODBUS_UART"])
            if why:
                out.append("%s: %s" % (attr, why))
            g = chip.gpio(kind, pin)
            if g is None:
                continue
            if g in used:
                out.append("%s: pin %d is already %s" % (attr, g, used[g]))
            else:
                used[g] = attr
    if b.get("MODBUS_TX_PIN") is not None and b.get("MODBUS_RX_PIN") is None:
        out.append("MODBUS_RX_PIN: missing (MODBUS_TX_PIN is set)")
    out += _lock_problems(b)
    why = chip.pwm_problem(b) if hasattr(chip, "pwm_problem") else None
    if why:
        out.append(why)
    return out


def _lock_problems(b):
    """A Type 2 socket's plug lock: two bridge outputs (lock, unlock), its switch and the switch's
    level when locked, all or none."""
    pins = b.get("LOCK_PINS")
    if pins is None:
        return []
    out = []
    if not (isinstance(pins, tuple) and len(pins) == 2):
        out.append("LOCK_PINS: %r is not (lock pin, unlock pin)" % (pins,))
    if b.get("LOCK_FB_PIN") is None:
        out.append("LOCK_FB_PIN: missing (LOCK_PINS is set: the lock's switch)")
    if b.get("LOCK_FB_ACTIVE") not in (0, 1):
        out.append("LOCK_FB_ACTIVE: %r is not a pin level (0 or 1)" % (b.get("LOCK_FB_ACTIVE"),))
    return out


def check(path):
    """Every problem with the board file at `path`, one string each; [] when it is fit to flash."""
    try:
        b = load(path)
    except OSError as e:
        return ["cannot read it (%s)" % (e.strerror or e)]
    except Exception as e:                                   # a syntax error or a raise in the file
        return ["does not load: %s: %s" % (type(e).__name__, e)]
    return check_values(b) + check_pins(b)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--source":
        sys.stdout.write(source(resolve(args[1])))       # the /board.py a board gets (make pyright)
        return 0
    if any(a.startswith("-") for a in args):
        print(__doc__.strip())
        return 0 if args in (["-h"], ["--help"]) else 2
    paths = [resolve(a) for a in args] or [resolve(n) for n in names() if n != VBOARD]
    bad = 0
    for p in paths:
        shown = os.path.relpath(p) if p.startswith(ROOT) else p
        problems = check(p)
        for why in problems:
            print("%s: %s" % (shown, why))
        if not problems:
            print("%s: ok" % shown)
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
