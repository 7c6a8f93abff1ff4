# Runs after boot.py: the charger controller. /board.py (or .mpy) is the board's pin map.
# Ctrl-C on the USB serial port stops it and gives the REPL, as mpremote expects, in the maintenance
# state (evse/shell/maint.py: outputs safe, watchdog fed for a bounded window, docs/flashing.md).
# A firmware bundle on trial (an update not yet confirmed) that fails to load or start resets the
# board at once: boot.py then rolls it back (evse/shell/bundle.py), instead of the charger waiting out
# the maintenance window at the REPL. Read here with json alone: the bundle's own modules may be
# what failed. (Ctrl-C is a KeyboardInterrupt, no Exception: it still gives the REPL.)
import board

try:
    from evse.app import main
    main(board)
except Exception as _e:
    try:
        import json
        with open("/fw/boot.json") as _f:
            _trial = json.load(_f).get("trial")
    except Exception:
        _trial = False
    if _trial:
        print("main: %r; the firmware on trial is rolled back by a reset" % (_e,))
        import machine
        machine.reset()
    raise
