# Runs first after every reset, soft or hard, before main.py: the contactor coil outputs go low at
# once, so a floating pin cannot pull the contactor in while the firmware is still loading, and the
# pilot output goes low (-12 V, F: nothing offered) until the firmware drives it.
# Then the maintenance state (evse/shell/maint.py) until main.py's charger takes the watchdog over: it
# covers Ctrl-C while booting, and a soft reset into the raw REPL (mpremote), where main.py does
# not run but a watchdog started before the soft reset keeps running.
import machine

try:
    import board
    _coils = tuple(machine.Pin(_pin, machine.Pin.OUT, value=0) for _pin in board.CONTACTOR_PINS)
    machine.Pin(board.PILOT_PWM_PIN, machine.Pin.OUT, value=0)

    def _coils_open():
        for _c in _coils:
            _c.value(0)

    try:                     # the firmware bundle to run (evse/shell/bundle.py): before any other
        from evse.shell import bundle    # module of the firmware is imported; a trial that never
        bundle.boot()                    # confirmed itself rolls back here
        del bundle                       # out of RAM: imported again only by an update
    except Exception as _e:  # a damaged bundle state: the base install runs
        print("bundle:", repr(_e))
    from evse.shell import maint
    maint.start(_coils_open)
except Exception as _e:      # no board file yet (first flash): nothing to hold, the REPL stays up
    print("boot:", repr(_e))
