# Raspberry Pi Pico (RP2040). Copied to the board as /board.py by `make flash`.
# Three ADC inputs only (GP26-28): pilot, PP and one current transformer; the chip's own sensor
# (ADC 4) gives the temperature.
NAME = "rpi_pico"
ARCH = "armv6m"

# The reference board's own rating: a 32 A contactor, 6 mm2 wiring and a 32 A tethered cable
# (a build with other parts states its own). No setting or source can exceed it.
MAX_CURRENT_A = 32

PILOT_PWM_PIN = 16
PWM_PORT = "rp2"               # the HAL reads the port's TOP from the PWM slice (v1.28 at 125 MHz:
                               # 64515, DIV 31/16) and models its rounding (evse/core/pilot.py)
PILOT_ADC_PIN = 26
# Reference front end as on the ESP32 board, 3.3 V full scale.
PILOT_FRONTEND = (0.1189, 1.454, 3.3)
ADC_SAMPLE_US = 12             # read_u16 (2 us conversion) plus the interpreter loop at 125 MHz
PILOT_BURST = 96
ADC_ATTEN = None

PP_ADC_PIN = 27
PP_PULLUP_OHMS = 1000
PP_VREF = 3.3

TEMP_ADC_PIN = 4               # internal sensor: 27 C = 0.706 V, -1.721 mV per C
TEMP_MV_AT_0C = 752
TEMP_UV_PER_C = -1721         # coarse (the die, not the terminals): an external TMP36 is better

CONTACTOR_PINS = (15, 14)
FEEDBACK_PIN = 13
FEEDBACK_ACTIVE = 0

RCD_TRIP_PIN = 12
RCD_DC_PIN = 10
RCD_TRIP_ACTIVE = 1
RCD_TEST_PIN = 11

CT_ADC_PINS = (28,)
CT_SPC_MAX = 20                # CT rounds per mains cycle the Pico keeps between its ticks: at 40 (the
                               # ct_spc default) the tick's 2-3 ms left gaps over 3 rounds, every burst
                               # was retaken and the meter went blind (measured on the emulated Pico)
MODBUS_UART = 0                # UART0: TX GP0, RX GP1 to a MAX485, DE/RE on GP2
MODBUS_TX_PIN = 0
MODBUS_RX_PIN = 1
MODBUS_DE_PIN = 2
S0_PIN = 9
LED_PIN = 25
TICK_LED = True                # the LED lit while the control tick runs: a scope on GP25 times it (an
                               # LED_PIN that is a GPIO of the chip: tools/boardcheck.py)
