"""OCPP configuration keys (GetConfiguration / ChangeConfiguration), kept on flash when changed."""
from . import store

CONNECTOR = 1  # the only connector (NumberOfConnectors)
MEASURANDS = ("Energy.Active.Import.Register", "Current.Import", "Power.Active.Import", "Voltage",
              "Current.Offered", "Power.Offered")
DEFAULT_MEASURANDS = "Energy.Active.Import.Register,Current.Import,Power.Active.Import"
# ConnectorPhaseRotation's values (section 9.1.7), alone or per connector: "0.RST,1.RTS" (0: the grid meter)
ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")

# name: (type, read-only, default, rule). Types: int (rule (lo, hi)), bool (rule: the values it
# takes, None: both), csl (rule: allowed items), str (rule: max length). 'w' marks write-only (never reported, e.g. the password).
KEYS = {
    "AdditionalRootCertificateCheck": ("bool", True, False, None),  # security extension (security.py)
    "AllowOfflineTxForUnknownId": ("bool", False, False, None),
    "AuthorizationCacheEnabled": ("bool", False, True, None),
    "AuthorizationKey": ("w", False, "", 40),  # hex; the password is its bytes (connection.password)
    "AuthorizeRemoteTxRequests": ("bool", False, False, None),
    "CertificateStoreMaxLength": ("int", True, 8, None),  # both root types together (security.STORE_MAX each)
    "ChargeProfileMaxStackLevel": ("int", True, 8, None),
    "ChargingScheduleAllowedChargingRateUnit": ("csl", True, "Current,Power", None),
    "ChargingScheduleMaxPeriods": ("int", True, 24, None),
    "ClockAlignedDataInterval": ("int", False, 0, (0, 86400)),
    "ConnectionTimeOut": ("int", False, 60, (1, 3600)),
    "ConnectorPhaseRotation": ("csl", False, "NotApplicable", ROTATIONS),
    "CpoName": ("str", False, "", 100),
    "GetConfigurationMaxKeys": ("int", True, 50, None),
    "HeartbeatInterval": ("int", False, 300, (1, 86400)),
    "LocalAuthListEnabled": ("bool", False, True, None),
    "LocalAuthListMaxLength": ("int", True, 100, None),
    "LocalAuthorizeOffline": ("bool", False, True, None),
    "LocalPreAuthorize": ("bool", False, False, None),
    "MaxChargingProfilesInstalled": ("int", True, 8, None),
    "MeterValueSampleInterval": ("int", False, 60, (0, 86400)),
    "MeterValuesAlignedData": ("csl", False, DEFAULT_MEASURANDS, MEASURANDS),
    "MeterValuesAlignedDataMaxLength": ("int", True, 4, None),
    "MeterValuesSampledData": ("csl", False, DEFAULT_MEASURANDS, MEASURANDS),
    "MeterValuesSampledDataMaxLength": ("int", True, 4, None),
    "NumberOfConnectors": ("int", True, 1, None),
    "ReserveConnectorZeroSupported": ("bool", True, True, None),  # reserves the only connector
    "ResetRetries": ("int", False, 1, (0, 10)),
    "SecurityProfile": ("int", False, 0, (0, 3)),  # only raised, when it can be met (security.change_key)
    "SendLocalListMaxLength": ("int", True, 100, None),
    "StopTransactionOnEVSideDisconnect": ("bool", False, True, None),  # false: unplug suspends (transactions.ev_left)
    "StopTransactionOnInvalidId": ("bool", False, True, None),
    "StopTxnAlignedData": ("csl", False, "", MEASURANDS),
    "StopTxnAlignedDataMaxLength": ("int", True, 4, None),
    "StopTxnSampledData": ("csl", False, "", MEASURANDS),
    "StopTxnSampledDataMaxLength": ("int", True, 4, None),
    "SupportedFileTransferProtocols": ("csl", True, "HTTP,HTTPS", None),  # firmware.py, http.py
    "SupportedFeatureProfiles": ("csl", True, "Core,FirmwareManagement,LocalAuthListManagement,RemoteTrigger,Reservation,SmartCharging", None),
    "TransactionMessageAttempts": ("int", False, 3, (1, 100)),
    "TransactionMessageRetryInterval": ("int", False, 20, (1, 3600)),
    "UnlockConnectorOnEVSideDisconnect": ("bool", False, True, None),  # no lock actuator: either way
    "WebSocketPingInterval": ("int", False, 0, (0, 3600)),
}


def ci_key(d, text):
    """The key d holds `text` under, compared as OCPP compares a CiString (without letter case:
    idTags, configuration keys), or None."""
    if text in d:
        return text
    up = text.upper()
    for k in d:
        if k.upper() == up:
            return k
    return None


def canonical(key):
    """The key as KEYS spells it (CiString50: OCPP 1.6 sections 6.3, 6.23), or None when unknown."""
    return ci_key(KEYS, key)


class Config:
    def __init__(self, path, overrides=None):
        self.path = path
        self.values = {}
        for k, (_, _, default, _) in KEYS.items():
            self.values[k] = default
        for k, v in (overrides or {}).items():  # from settings (tests, site defaults)
            if k in KEYS:
                self.values[k] = v
        saved = store.read_json(path, {}) if path else {}
        for k, v in saved.items():
            if k in KEYS and not KEYS[k][1]:
                self.values[k] = v

    def get(self, key):
        return self.values.get(key)

    def _text(self, key):
        v = self.values[key]
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def report(self, keys=None):
        """GetConfiguration -> (configurationKey list, unknownKey list)."""
        known, unknown = [], []
        for k in (keys if keys else sorted(KEYS)):
            name = canonical(k)
            spec = KEYS[name] if name else None
            if spec is None or spec[0] == "w":
                if keys:
                    unknown.append(k)
                continue
            known.append({"key": name, "readonly": spec[1], "value": self._text(name)})
        return known, unknown

    def change(self, key, text):
        """ChangeConfiguration -> 'Accepted' | 'Rejected' | 'RebootRequired' | 'NotSupported'."""
        key = canonical(key)
        if key is None:
            return "NotSupported"
        spec = KEYS[key]
        typ, ro, _, rule = spec
        if ro:
            return "Rejected"
        ok, v = _parse(typ, rule, text)
        most = self.values.get(key + "MaxLength")  # a measurand list's declared maximum (section 9.1)
        if not ok or (most is not None and str(v).count(",") >= most):
            return "Rejected"
        self.values[key] = v
        if self.path:
            saved = store.read_json(self.path, {})
            saved[key] = v
            store.write_json(self.path, saved)
        return "Accepted"


def _parse(typ, rule, text):
    """A ChangeConfiguration value -> (True, value), or (False, None) when its key's type or rule
    refuses it."""
    if typ == "int":
        try:
            v = int(text)
        except ValueError:
            return False, None
        return (not rule or rule[0] <= v <= rule[1]), v
    if typ == "bool":
        low = text.strip().lower()
        return low in (rule or ("true", "false")), low == "true"
    if typ == "csl":
        return _csl(rule, text)
    if typ == "w":  # the Basic auth password, hex: 16-20 bytes (Security Whitepaper, AuthorizationKey)
        return len(text) in (32, 34, 36, 38, 40) and all(c in "0123456789abcdefABCDEF" for c in text), text
    return not (rule and len(text) > rule), text


def _csl(rule, text):
    """A comma-separated list: each item one of the rule's (a phase rotation may name its
    connector first, "1.RST")."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    bare = [x[2:] if rule is ROTATIONS and x[:2] in ("0.", "1.") else x for x in items]
    return not (rule and any(x not in rule for x in bare)), ",".join(items)
