# The virtual board of the bench (tools/sim/mock_machine). Same format as the real boards.
# Pins are plain numbers; None means "not wired on this board".
NAME = "sim"
ARCH = None                    # host only: no mpy-cross target

# The virtual board's own rating: the pilot's highest current (J1772 80 A), so the bench
# reaches every duty; a real board states what its relay, cable and traces carry.
MAX_CURRENT_A = 80

# Control pilot: 1 kHz PWM out through the +-12 V driver; back in through the front-end divider.
PILOT_PWM_PIN = 4
PWM_PORT = "sim"               # the mock machine's own PWM: a 4 MHz counter, duty truncated
PWM_STEPS = 4000               # its counts per period at 1 kHz: coarser than the real boards on
                               # purpose, so duty rounding is exercised
PILOT_ADC_PIN = 26
PILOT_FRONTEND = (0.1, 1.65, 3.3)   # (gain, offset volts, ADC full scale volts): V_adc = 1.65 + 0.1 x V_cp
ADC_SAMPLE_US = 20             # one read_u16 (conversion plus interpreter), used for the burst length
PILOT_BURST = 56               # samples per burst: >= 1.1 PWM periods at ADC_SAMPLE_US
ADC_ATTEN = None               # ESP32 only

# Proximity: PP to PE through the plug/cable resistor, pulled up to PP_VREF by PP_PULLUP_OHMS.
PP_ADC_PIN = 27
PP_PULLUP_OHMS = 1000
PP_VREF = 3.3

# Temperature: a TMP36-style sensor (500 mV at 0 C, 10 mV per C)
TEMP_ADC_PIN = 28
TEMP_MV_AT_0C = 500
TEMP_UV_PER_C = 10000

# Contactor: coil outputs (one, or two for three-phase), feedback from a mirror contact.
CONTACTOR_PINS = (16, 17)
FEEDBACK_PIN = 18
FEEDBACK_ACTIVE = 1            # pin level when the contacts are closed

# Residual current monitor: trip outputs (AC 20 mA, DC 6 mA) and the self-test winding.
RCD_TRIP_PIN = 19
RCD_DC_PIN = 20
RCD_TRIP_ACTIVE = 1
RCD_TEST_PIN = 21

# Metering (issue 5): current transformer inputs, one per phase
CT_ADC_PINS = (29, 30, 31)
LED_PIN = None
