# Runs after boot.py: the charger controller. /board.py (or .mpy) is the board's pin map.
# Ctrl-C on the USB serial port stops it and gives the REPL, as mpremote expects, in the maintenance
# state (evse/shell/maint.py: outputs safe, watchdog fed for a bounded window, docs/flashing.md).
import board
from evse.app import main

main(board)
