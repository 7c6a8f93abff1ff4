# Runs first after every reset, before main.py: the contactor coil outputs go low at once, so a
# floating pin cannot pull the contactor in while the firmware is still loading.
import machine

try:
    import board
    for _pin in board.CONTACTOR_PINS:
        machine.Pin(_pin, machine.Pin.OUT, value=0)
except Exception as _e:      # no board file yet (first flash): nothing to hold, the REPL stays up
    print("boot:", repr(_e))
