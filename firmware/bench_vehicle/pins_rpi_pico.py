# Bench vehicle on a Raspberry Pi Pico (RP2040). Data only; wiring in docs/bench-vehicle.md.
NAME = "rpi_pico"
OUTPUT_ACTIVE = 1              # level that energises a relay / turns a MOSFET on (driver board)

CP_RELAY_PIN = 2               # relay in the CP line: closed = plugged and resistors in (not `ev A`)
R_C_PIN = 3                    # MOSFET: 1.3 kOhm in parallel with 2.74 kOhm (state C)
R_D_PIN = 4                    # MOSFET: 270 Ohm in parallel (state D)
DIODE_SHORT_PIN = 5            # relay across the pilot diode (`diode short`)
CP_SHORT_PIN = 6               # relay CP to PE on the charger side of the CP relay (`cp short`)
BUTTON_PIN = 7                 # relay, NC contact across the 330 Ohm: energised = button pressed
PP_PINS = ((150, 8), (1500, 9), (680, 10), (220, 11), (100, 12))

# Optional bench relays (None: not wired; the scenario command is then reported `skipped`)
RCD_TEST_PIN = 13
WELD_PIN = 14
POWER_CUT_PIN = 15
AC_SENSE_PIN = 16
AC_SENSE_ACTIVE = 0

PILOT_ADC_PIN = 26             # ADC0 through the pilot divider (charger side of the CP relay)
PILOT_FRONTEND = (0.1189, 1.454, 3.3)
ADC_ATTEN = None
ADC_SAMPLE_US = 12             # read_u16 plus the loop at 125 MHz (the meter measures it anyway)
SERIAL_UART = None             # None: the USB serial (REPL's stdin/stdout); else a UART id
