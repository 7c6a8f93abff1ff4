# Raspberry Pi Pico W (RP2040 and an Infineon CYW43439 radio). Copied to the board as /board.py by
# `make flash`, after boards/rpi_pico.py: the same RP2040 pins, front end and rating, so only what
# differs is here (tools/boardcheck.py `source`). The radio takes GP23 (WL_ON), GP24 (WL_D), GP25
# (WL_CS) and GP29 (WL_CLK): none of them is a charger pin, and the LED hangs off the radio chip.
BASE = "rpi_pico"
NAME = "rpi_pico_w"
WIFI = True                    # the radio: a Wi-Fi station, or the set-up access point (shell/net.py)
LED_PIN = "LED"                # machine.Pin("LED"): the CYW43's GPIO 0, not an RP2040 pin
TICK_LED = False               # that LED is switched over the radio's bus: too slow to light twice a tick
