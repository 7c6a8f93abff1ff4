"""OCPP 1.6's configuration keys (section 9.1, GetConfiguration / ChangeConfiguration): their types,
defaults and rules, and the check of a value. Data in the core, below both the OCPP service (ocpp/config.py)
and the settings (the `ocpp_config` setting gives keys their first values, checked when set as a central
system's ChangeConfiguration is): settings, a service, may not import OCPP. Imported only where a key is
named: the table costs heap."""

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
    "GetConfigurationMaxKeys": ("int", True, 64, None),  # SteVe asks for its 51 1.6 keys at once
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
    "SupportedFileTransferProtocols": ("csl", True, "FTP,HTTP,HTTPS", None),  # firmware.py, http.py, ftp.py
    "SupportedFeatureProfiles": ("csl", True, "Core,FirmwareManagement,LocalAuthListManagement,RemoteTrigger,Reservation,SmartCharging", None),
    "TransactionMessageAttempts": ("int", False, 3, (1, 100)),
    "TransactionMessageRetryInterval": ("int", False, 20, (1, 3600)),
    "UnlockConnectorOnEVSideDisconnect": ("bool", False, True, None),  # either way: a plug lock lets go when the car leaves
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


def parse(typ, rule, text):
    """A ChangeConfiguration value -> (True, value), or (False, None) when its key's type or rule
    refuses it."""
    if typ == "int":
        t = text.strip()
        d = t[1:] if t[:1] == "-" else t
        if not d or any(c not in "0123456789" for c in d):  # int() takes "1_0"
            return False, None
        v = int(t)
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
    """A comma-separated list, each item one of the rule's and named once; a phase rotation one
    value, or one per connector ("0.RST,1.RTS"), never empty (9.1.7)."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if rule is ROTATIONS:
        c = [x[:2] if x[:2] in ("0.", "1.") else "" for x in items]
        ok = items and ("" not in c or len(c) == 1) and all(x[len(n):] in rule for x, n in zip(items, c))
        items, text = c, ",".join(items)
    else:
        ok, text = not (rule and any(x not in rule for x in items)), ",".join(items)
    return bool(ok) and len(set(items)) == len(items), text


def value(name, text):
    """parse() for key `name`, and a list at most its MaxLength (9.1) long."""
    typ, _, _, rule = KEYS[name]
    ok, v = parse(typ, rule, text)
    most = KEYS.get(name + "MaxLength")
    return ok and not (most and str(v).count(",") >= most[2]), v


def from_json(name, v):
    """value() of a JSON value (the setting, the key file): of the key's type, "30" is not 30."""
    typ = KEYS[name][0]
    # (MicroPython: a bool is no int to isinstance; CPython: it is)
    if isinstance(v, bool) if typ == "bool" else not isinstance(v, bool) and isinstance(
            v, int if typ == "int" else str):
        return value(name, ("true" if v else "false") if typ == "bool" else str(v))
    return False, None


def check(values):
    """Why the setting `ocpp_config` ({key: first value}) cannot be used, or None: each key known
    (in any letter case) and writable, each value as from_json() takes it. Not the AuthorizationKey,
    a password (ocpp_password, never read back), nor the SecurityProfile (ocpp_security_profile)."""
    for k in sorted(values):
        name = canonical(k)
        if name is None:
            return "%s: no OCPP configuration key of that name" % k
        typ, ro, _, rule = KEYS[name]
        if ro:
            return "%s: read-only" % name
        if typ == "w":
            return "%s: write-only, never kept in a setting: set ocpp_password" % name
        if name == "SecurityProfile":      # its own setting, checked against the URL and password
            return "%s: set ocpp_security_profile" % name
        if not from_json(name, values[k])[0]:
            return "%s: %r is not %s" % (name, values[k], _wanted(typ, rule))
    return None


def _wanted(typ, rule):
    """What a value of a key of this type and rule is, in words."""
    if typ == "int":
        return "a whole number %d..%d" % rule
    if typ == "bool":
        return "true or false"
    return "text of at most %d characters" % rule if typ == "str" else "a list of " + ", ".join(rule)
