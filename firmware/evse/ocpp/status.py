"""Connector status for StatusNotification, from the core's state, fault and session."""

# Core fault name -> OCPP 1.6 ChargePointErrorCode.
FAULT_CODES = {
    "rcd": "GroundFailure", "rcd_dc": "GroundFailure", "rcd_early": "GroundFailure",
    "rcd_lockout": "GroundFailure", "rcd_selftest": "GroundFailure",
    "weld": "PowerSwitchFailure", "no_close": "PowerSwitchFailure",
    "overcurrent": "OverCurrentFailure",
    "overtemp": "HighTemperature",
    "internal": "InternalError",
    # pilot, diode, state_e, state_f, ventilation and pp have no own code: OtherError + info.
}

PLUGGED_STATES = ("B1", "B2", "C1", "C2", "D1", "D2")
_STATE_FAULTS = {"E": "state_e", "F": "state_f"}  # a faulted state without a fault name


def error_code(fault):
    """(errorCode, info) for a core fault name (None -> NoError)."""
    if not fault:
        return "NoError", None
    code = FAULT_CODES.get(fault)
    if code:
        return code, None
    return "OtherError", fault[:50]


def connector_status(state, fault, contactor, plugged, in_tx, charged, finishing, operative, waiting=False,
                     reserved=False):
    """(status, errorCode, info).
    plugged: a car is connected (last pilot state B/C/D); in_tx: an OCPP transaction runs;
    charged: the contactor closed during this transaction; finishing: the transaction ended and
    the car is still connected; operative: not set Inoperative by ChangeAvailability; waiting: an
    idTag (or RemoteStart) was accepted and waits for the car (Preparing until ConnectionTimeOut);
    reserved: a reservation holds the connector (Reserved while no car is connected)."""
    if fault or state in ("fault", "E", "F"):
        code, info = error_code(fault or _STATE_FAULTS.get(state, "internal"))
        return "Faulted", code, info
    if state == "disabled" or (not operative and not in_tx):
        return "Unavailable", "NoError", None
    if finishing and plugged:
        return "Finishing", "NoError", None
    if state in ("C2", "D2", "B1", "B2"):
        return _vehicle_status(state, contactor, in_tx, charged), "NoError", None
    if state in ("C1", "D1") or (state == "paused" and plugged):
        return _held_back(in_tx), "NoError", None
    if state in ("A1", "A2") or not plugged:
        return _no_car(waiting, in_tx, reserved), "NoError", None
    return "Preparing", "NoError", None


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


def _vehicle_status(state, contactor, in_tx, charged):
    """The status in B1/B2 (connected) and C2/D2 (the vehicle asks for power)."""
    if state in ("C2", "D2"):
        if contactor:
            return "Charging"
        return "SuspendedEVSE" if charged else "Preparing"
    if in_tx and charged:
        return "SuspendedEV" if state == "B2" else "SuspendedEVSE"
    return "Preparing"
