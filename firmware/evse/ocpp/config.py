"""OCPP configuration keys (GetConfiguration / ChangeConfiguration), kept on flash when changed."""
from . import store
from ..core.ocpp_keys import KEYS, MEASURANDS, ci_key, canonical, from_json, parse, value   # noqa: F401 (their home)

CONNECTOR = 1  # the only connector (NumberOfConnectors)
DAMAGED = "config.json damaged: its keys read as defaults"


class Config:
    def __init__(self, path, overrides=None):
        self.path = path
        self.damaged = None
        self.values = {}
        for k, (_, _, default, _) in KEYS.items():
            self.values[k] = default
        for k, v in (overrides or {}).items():  # the setting ocpp_config (checked there: ocpp_keys.check)
            self._first(canonical(k), v)         # a CiString: in any letter case
        for k, v in self._saved().items():       # a central system's word wins over the setting's
            if k in KEYS and not KEYS[k][1]:
                self._first(k, v)

    def _first(self, key, v):
        """A value of the setting or the key file as ChangeConfiguration takes it; a bad one not."""
        if key is not None:
            ok, v = from_json(key, v)
            if ok:
                self.values[key] = v

    def _saved(self):
        """The keys on flash; {} when none, or when the file is damaged (self.damaged: what the
        service's status says, the keys a central system set being back at their first values)."""
        saved = store.read_json(self.path) if self.path else {}
        if isinstance(saved, dict):
            return saved
        if saved is not None or store.exists(self.path) or store.exists(self.path + ".tmp"):
            self.damaged = DAMAGED       # (None: unreadable, damaged if it is there at all)
        return {}

    def get(self, key):
        return self.values.get(key)

    def _text(self, key):
        v = self.values[key]
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def report(self, keys=None):
        """GetConfiguration -> (configurationKey list, unknownKey list). A write-only key (the
        AuthorizationKey) is a known key listed without its value (value is optional in KeyValue),
        so the central system never reads the password back (Security Whitepaper)."""
        known, unknown = [], []
        for k in (keys if keys else sorted(KEYS)):
            name = canonical(k)
            spec = KEYS[name] if name else None
            if spec is None:
                if keys:
                    unknown.append(k)
                continue
            kv = {"key": name, "readonly": spec[1]}
            if spec[0] != "w":
                kv["value"] = self._text(name)
            known.append(kv)
        return known, unknown

    def change(self, key, text, must=False):
        """ChangeConfiguration -> 'Accepted' | 'Rejected' | 'RebootRequired' | 'NotSupported'.
        A value the flash refuses is Rejected and not applied: one that a reboot forgets (a new
        AuthorizationKey, a raised SecurityProfile) would lock the charger out of its central
        system. must: applied all the same (the fallback that keeps the charger in reach)."""
        key = canonical(key)
        if key is None:
            return "NotSupported"
        if KEYS[key][1]:   # read-only
            return "Rejected"
        ok, v = value(key, text)
        if not ok:
            return "Rejected"
        if self.path:
            saved = self._saved()
            if key not in saved or saved[key] != v:   # a value sent again is not written again
                saved[key] = v
                if not store.write_json(self.path, saved) and not must:
                    return "Rejected"
        self.values[key] = v
        return "Accepted"
