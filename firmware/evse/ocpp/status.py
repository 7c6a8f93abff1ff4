"""Connector status for StatusNotification, from the core's state, fault and session."""
from ..core import vocab as V

# Core fault name -> OCPP 1.6 ChargePointErrorCode.
FAULT_CODES = {
    V.FAULT_RCD: "GroundFailure", V.FAULT_RCD_DC: "GroundFailure", V.FAULT_RCD_EARLY: "GroundFailure",
    V.FAULT_RCD_LOCKOUT: "GroundFailure", V.FAULT_RCD_SELFTEST: "GroundFailure",
    V.FAULT_WELD: "PowerSwitchFailure", V.FAULT_NO_CLOSE: "PowerSwitchFailure",
    V.FAULT_OVERCURRENT: "OverCurrentFailure",
    V.FAULT_INTERNAL: "InternalError",
    V.FAULT_LOCK: "ConnectorLockFailure",
    # Mode 3 with the vehicle failed (7.6 EVCommunicationError); info names which
    V.FAULT_PILOT: "EVCommunicationError", V.FAULT_DIODE: "EVCommunicationError",
    V.FAULT_STATE_E: "EVCommunicationError",
    # state_f, ventilation, pp and settings have no own code: OtherError + info.
    # (Temperature is no fault: the core pauses; the thermal stop's HighTemperature is as_sent's.)
}

PLUGGED_STATES = (V.ST_B1, V.ST_B2, V.ST_C1, V.ST_C2, V.ST_D1, V.ST_D2)
_PREPARING = ("Preparing", "NoError", None)


def error_code(fault):
    """(errorCode, info) for a core fault name (None -> NoError)."""
    if not fault:
        return "NoError", None
    code = FAULT_CODES.get(fault)
    if code and code != "EVCommunicationError":   # which of the vehicle's signals failed: info says
        return code, None
    return code or "OtherError", fault[:50]


def connector_status(state, fault, contactor, plugged, in_tx, finishing, operative, waiting=False,
                     reserved=False):
    """(status, errorCode, info); status None while the contactor closes or a wake-up runs in a
    transaction (the last status sent holds: no transient on the way to Charging).
    plugged: a car is connected (last pilot state B/C/D); in_tx: an OCPP transaction runs;
    finishing: the transaction ended and the car is still connected; operative: not set Inoperative
    by ChangeAvailability; waiting: an idTag (or RemoteStart) was accepted and waits for the car
    (Preparing until ConnectionTimeOut);
    reserved: a reservation holds the connector (Reserved while no car is connected)."""
    down = unavailable(state, fault, operative, in_tx)
    if down == "Faulted":
        code, info = error_code(fault or V.FAULT_INTERNAL)   # a fault state names its fault
        return down, code, info
    if down:
        return down, "NoError", None
    if finishing and plugged:
        return "Finishing", "NoError", None
    if state in PLUGGED_STATES or (state == V.ST_PAUSED and plugged):
        return _vehicle_status(state, contactor, in_tx), "NoError", None
    if state == V.ST_A1 or not plugged:
        return _no_car(waiting, in_tx, reserved), "NoError", None
    # the wake-up's 4 s of F: in a transaction the last status holds (never Preparing in one, 4.9)
    return None if in_tx else "Preparing", "NoError", None


def as_sent(st, was, meter_lost, heat=0):
    """connector_status's (status, errorCode, info) as it goes out after `was`, the last one sent;
    meter_lost: the meter has given no reading for METER_LOST_MS; heat: 1 the thermal stop, 2 no
    temperature read (CoreLink.heat). Neither is a fault (no Faulted): the status stays what it
    is and the errorCode says why (7.6; EVerest reports its HighTemperature so, not as a fault)."""
    if st[0] == "Finishing" and was[0] in ("Unavailable", "Preparing"):
        # 4.9 has no Unavailable -> Finishing (H6): Operative again, the car left there is Preparing (and stays)
        st = _PREPARING
    if st[0] and st[1] == "NoError":
        if heat == 1:
            st = (st[0], "HighTemperature", None)       # nothing offered until it cools down
        elif heat:
            st = (st[0], "OtherError", V.WARN_TEMP_SENSOR)
        elif meter_lost:
            st = (st[0], "PowerMeterFailure", None)     # the meter stops no energy
    return st


def sent_before(st, was):
    """The status that must go out before `st` after `was`, or None: a new transaction on a
    Finishing connector is Preparing first (4.9: F2, then B3-B5)."""
    if st[0][:4] in ("Susp", "Char") and was[0] == "Finishing":
        return _PREPARING
    return None


def unavailable(state, fault, operative, in_tx):
    """'Faulted' or 'Unavailable' while the connector is, else None: connector_status's first
    rules, which a reservation also ends on (reservation.py, section 5.13)."""
    if fault or state == V.ST_FAULT:
        return "Faulted"
    if state == V.ST_DISABLED or (not operative and not in_tx):
        return "Unavailable"
    return None


def _held_back(in_tx):
    """The EVSE offers nothing to a connected car: SuspendedEVSE in a running transaction; before
    one (a car asking before its tag), Preparing (OCPP 1.6 section 4.9)."""
    return "SuspendedEVSE" if in_tx else "Preparing"


def _no_car(waiting, in_tx, reserved):
    """No car: SuspendedEV in a transaction kept open (StopTransactionOnEVSideDisconnect false),
    Preparing while an accepted idTag waits for one (OCPP 1.6 section 4.9), else Available."""
    if in_tx:
        return "SuspendedEV"
    if waiting:
        return "Preparing"
    return "Reserved" if reserved else "Available"


def _vehicle_status(state, contactor, in_tx):
    """The status in B1/B2 (connected), C2/D2 (the vehicle asks for power), and C1/D1 or paused
    (the EVSE offers nothing to a connected car). Preparing only before a transaction (section
    4.9: "no ongoing Transaction (yet)"): in one, B2 (offered, the car takes nothing) is SuspendedEV
    and B1 (nothing offered) SuspendedEVSE, before the car's first charge too."""
    if state == V.ST_C1 or state == V.ST_D1 or state == V.ST_PAUSED:
        return _held_back(in_tx)
    if state == V.ST_C2 or state == V.ST_D2:
        if contactor:
            return "Charging"
        # closing (self-test, 1 s at most): the last status holds, after a pause too (no SuspendedEVSE
        # for that second between SuspendedEV and Charging: the EVSE held nothing back)
        return None if in_tx else "Preparing"
    if in_tx:
        return "SuspendedEV" if state == V.ST_B2 else "SuspendedEVSE"
    return "Preparing"
