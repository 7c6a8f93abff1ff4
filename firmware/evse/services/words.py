# Plain words for the states and faults, for people reading a page or a dashboard (the web service;
# imported only with it). The names themselves are evse.core.vocab's; a test checks each has words.
from ..core import vocab as V

# state: (IEC 61851-1 state letter, what it means)
STATES = {
    V.ST_BOOT: ("F", "starting: power-on checks"),
    V.ST_A1: ("A", "no vehicle connected"),
    V.ST_B1: ("B", "vehicle connected, nothing offered"),
    V.ST_B2: ("B", "vehicle connected, current offered, not asking"),
    V.ST_C1: ("C", "vehicle asks for power, none offered"),
    V.ST_C2: ("C", "charging"),
    V.ST_D1: ("D", "vehicle asks for power with ventilation, none offered"),
    V.ST_D2: ("D", "charging with ventilation"),
    V.ST_PAUSED: ("B", "paused by the charger (limit below 6 A or the car's minimum, temperature or a stop)"),
    V.ST_WAKEUP: ("F", "waking a sleeping vehicle"),
    V.ST_DISABLED: ("F", "disabled by the operator: not available"),
    V.ST_FAULT: ("F", "fault: contactor open"),
}

FAULTS = {
    V.FAULT_WELD: "the contactor is welded (closed while commanded open): call service",
    V.FAULT_NO_CLOSE: "the contactor did not close when commanded",
    V.FAULT_RCD: "residual current (AC) tripped: check the vehicle and the cable",
    V.FAULT_RCD_DC: "residual current (6 mA DC) tripped",
    V.FAULT_RCD_EARLY: "residual current tripped within 2 s of closing: call service",
    V.FAULT_RCD_SELFTEST: "the residual current monitor failed its self-test: call service",
    V.FAULT_RCD_LOCKOUT: "too many residual current trips: unplug to retry",
    V.FAULT_PILOT: "impossible pilot voltage: check the cable and the control pilot wiring",
    V.FAULT_DIODE: "the vehicle's pilot diode is missing or shorted: check the cable or adapter",
    V.FAULT_STATE_E: "pilot shorted to earth (state E)",
    V.FAULT_STATE_F: "the pilot reads -12 V (state F) while current is offered",
    V.FAULT_VENTILATION: "the vehicle needs ventilation (state D) and none is fitted",
    V.FAULT_PP: "the cable's proximity resistor (PP) is out of every band",
    V.FAULT_OVERCURRENT: "the vehicle drew more than it was offered for too long",
    V.FAULT_INTERNAL: "an internal error in the controller",
    V.FAULT_SETTINGS: "no valid current limit: the installer must set it",
    V.FAULT_LOCK: "the socket's plug lock did not lock or unlock, or opened: unplug, check the lock",
}

# The fault log's other records (app.py); a `cleared` record's state names the fault cleared.
LOG_ONLY = {
    "cleared": "a fault cleared by hand (the console, the web page or REST)",
    "watchdog_reset": "the watchdog restarted the controller: it hung, or a maintenance session at the REPL ran out",
}


def state(name):
    """(IEC letter, words) of a state name; unknown names are said as such, never guessed."""
    return STATES.get(name, ("?", "unknown state " + str(name)))


def fault(name):
    if name is None:
        return None
    return FAULTS.get(name) or LOG_ONLY.get(name, "fault " + str(name))


def diode(st):
    """The diode check as a technician reads it."""
    if st["fault"] == V.FAULT_DIODE:
        return "missing or shorted"
    return "ok" if st["diag"]["diode_seen"] else "not checked (no PWM yet)"
