# The bench vehicle: a second MicroPython board that plays the car on a real charger and runs the
# bench's scenario language over its serial port. See docs/bench-vehicle.md.
