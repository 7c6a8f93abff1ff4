"""Field tables for the CALLs a central system sends (OCPP 1.6 JSON schemas, reduced to what the
charge point relies on). Format: see rpc.check. 't' fields are dateTimes (checked when rule is 1)."""

PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
NAT = (0, None)

PERIOD = (
    ("startPeriod", "i", True, NAT),
    ("limit", "n", True, (0, None)),
    ("numberPhases", "i", False, (1, 3)),
)
SCHEDULE = (
    ("duration", "i", False, NAT),
    ("startSchedule", "t", False, 1),
    ("chargingRateUnit", "s", True, ("A", "W")),
    ("chargingSchedulePeriod", "l", True, ("o", PERIOD)),
    ("minChargingRate", "n", False, (0, None)),
)
PROFILE = (
    ("chargingProfileId", "i", True, None),
    ("transactionId", "i", False, None),
    ("stackLevel", "i", True, NAT),
    ("chargingProfilePurpose", "s", True, PURPOSES),
    ("chargingProfileKind", "s", True, ("Absolute", "Recurring", "Relative")),
    ("recurrencyKind", "s", False, ("Daily", "Weekly")),
    ("validFrom", "t", False, 1),
    ("validTo", "t", False, 1),
    ("chargingSchedule", "o", True, SCHEDULE),
)
ID_TAG_INFO = (
    ("expiryDate", "t", False, 1),
    ("parentIdTag", "s", False, 20),
    ("status", "s", True, ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")),
)

INCOMING = {
    "ChangeAvailability": (("connectorId", "i", True, NAT),
                           ("type", "s", True, ("Inoperative", "Operative"))),
    "ChangeConfiguration": (("key", "s", True, 50), ("value", "s", True, 500)),
    "ClearCache": (),
    "ClearChargingProfile": (("id", "i", False, None), ("connectorId", "i", False, NAT),
                             ("chargingProfilePurpose", "s", False, PURPOSES),
                             ("stackLevel", "i", False, NAT)),
    "DataTransfer": (("vendorId", "s", True, 255), ("messageId", "s", False, 50),
                     ("data", "s", False, None)),
    "GetCompositeSchedule": (("connectorId", "i", True, NAT), ("duration", "i", True, NAT),
                             ("chargingRateUnit", "s", False, ("A", "W"))),
    "GetConfiguration": (("key", "l", False, ("s", 50)),),
    "GetLocalListVersion": (),
    "RemoteStartTransaction": (("connectorId", "i", False, (0, None)), ("idTag", "s", True, 20),
                               ("chargingProfile", "o", False, PROFILE)),
    "RemoteStopTransaction": (("transactionId", "i", True, None),),
    "Reset": (("type", "s", True, ("Hard", "Soft")),),
    "SendLocalList": (("listVersion", "i", True, None),
                      ("localAuthorizationList", "l", False,
                       ("o", (("idTag", "s", True, 20), ("idTagInfo", "o", False, ID_TAG_INFO)))),
                      ("updateType", "s", True, ("Differential", "Full"))),
    "SetChargingProfile": (("connectorId", "i", True, NAT), ("csChargingProfiles", "o", True, PROFILE)),
    "TriggerMessage": (("requestedMessage", "s", True,
                        ("BootNotification", "DiagnosticsStatusNotification",
                         "FirmwareStatusNotification", "Heartbeat", "MeterValues",
                         "StatusNotification")),
                       ("connectorId", "i", False, NAT)),
}

