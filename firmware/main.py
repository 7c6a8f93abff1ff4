# Runs after boot.py: the charger controller. /board.py (or .mpy) is the board's pin map.
# Ctrl-C on the USB serial port stops it (outputs safe) and gives the REPL, as mpremote expects.
import board
from evse.app import main

main(board)
