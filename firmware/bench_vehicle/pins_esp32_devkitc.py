# Bench vehicle on an Espressif ESP32-DevKitC (ESP32-WROOM-32). Data only; wiring in
# docs/bench-vehicle.md. Strapping pins (0, 2, 5, 12, 15) are not used; ADC1 only (GPIO 32-39).
NAME = "esp32_devkitc"
OUTPUT_ACTIVE = 1              # level that energises a relay / turns a MOSFET on (driver board)

CP_RELAY_PIN = 25              # relay in the CP line: closed = plugged and resistors in (not `ev A`)
R_C_PIN = 26                   # MOSFET: 1.3 kOhm in parallel with 2.74 kOhm (state C)
R_D_PIN = 27                   # MOSFET: 270 Ohm in parallel (state D)
DIODE_SHORT_PIN = 14           # relay across the pilot diode (`diode short`)
CP_SHORT_PIN = 13              # relay CP to PE on the charger side of the CP relay (`cp short`)
BUTTON_PIN = 4                 # relay, NC contact across the 330 Ohm: energised = button pressed
# PP to PE: one switched resistor each (150 Ohm: J1772/NACS latch circuit; others: Type 2 coding)
PP_PINS = ((150, 16), (1500, 17), (680, 18), (220, 19), (100, 21))

# Optional bench relays (None: not wired; the scenario command is then reported `skipped`)
RCD_TEST_PIN = 22              # test-current loop through the charger's RCD sensor (`rcd MA` > 0)
WELD_PIN = 23                  # relay bridging the charger's contactor contacts (`weld on`)
POWER_CUT_PIN = 32             # relay in the charger's supply, energised = cut (`power off`)
AC_SENSE_PIN = 34              # optocoupler on the charger's outlet (`expect contactor`), input only
AC_SENSE_ACTIVE = 0            # opto pulls low while AC is present

PILOT_ADC_PIN = 36             # SENSOR_VP through the pilot divider (charger side of the CP relay)
PILOT_FRONTEND = (0.1189, 1.454, 3.1)   # V_adc = 1.454 + 0.1189 x V_cp; 11 dB: about 3.1 V full scale
ADC_ATTEN = 3                  # machine.ADC.ATTN_11DB
ADC_SAMPLE_US = 40             # one read_u16 plus the loop at 240 MHz (the meter measures it anyway)
SERIAL_UART = None             # None: the USB serial (REPL's stdin/stdout); else a UART id
