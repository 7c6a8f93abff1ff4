# Espressif ESP32-DevKitC (ESP32-WROOM-32). Copied to the board as /board.py by `make flash`.
# ADC1 pins only (GPIO32-39): ADC2 cannot be read while Wi-Fi runs (OCPP).
# Strapping pins (0, 2, 5, 12, 15) are not used as outputs that must be low at boot.
NAME = "esp32_devkitc"
ARCH = "xtensawin"
WIFI = True                    # the radio: a Wi-Fi station, or the set-up access point (shell/net.py)

# The reference board's own rating: a 32 A contactor, 6 mm2 wiring and a 32 A tethered cable
# (a build with other parts states its own). No setting or source can exceed it.
MAX_CURRENT_A = 32

PILOT_PWM_PIN = 25
PWM_PORT = "esp32"             # LEDC at 1 kHz from the 80 MHz APB clock: 16-bit duty, truncated;
                               # the HAL reads each duty back (evse/core/pilot.py)
PILOT_ADC_PIN = 36             # SENSOR_VP
# Reference front end (README): CP -> 100k -> node; node -> 27k -> 3.3 V; node -> 27k -> GND,
# gives V_adc = 1.454 + 0.1189 x V_cp. Calibrate per unit: measure the node at X1 (+12 V) and F (-12 V).
PILOT_FRONTEND = (0.1189, 1.454, 3.1)   # 11 dB attenuation: about 3.1 V full scale
ADC_SAMPLE_US = 40             # read_u16 plus the interpreter loop at 240 MHz
PILOT_BURST = 32               # >= 1.1 PWM periods; longer on purpose at extreme duties (HAL)
ADC_ATTEN = 3                  # machine.ADC.ATTN_11DB

PP_ADC_PIN = 39                # SENSOR_VN
PP_PULLUP_OHMS = 1000
PP_VREF = 3.3

TEMP_ADC_PIN = 34              # TMP36 on the contactor/terminal block
TEMP_MV_AT_0C = 500
TEMP_UV_PER_C = 10000

CONTACTOR_PINS = (26, 27)      # through a transistor/SSR driver; 27 for the second (three-phase) pole
FEEDBACK_PIN = 14              # mirror contact to GND, internal pull-up: low when closed
FEEDBACK_ACTIVE = 0

RCD_TRIP_PIN = 13
RCD_DC_PIN = 4
RCD_TRIP_ACTIVE = 1
RCD_TEST_PIN = 23

CT_ADC_PINS = (35, 32, 33)
MODBUS_UART = 2                # UART2: TX 17, RX 16 to a MAX485, DE/RE on 22
MODBUS_TX_PIN = 17
MODBUS_RX_PIN = 16
MODBUS_DE_PIN = 22
S0_PIN = 18
LED_PIN = 2
