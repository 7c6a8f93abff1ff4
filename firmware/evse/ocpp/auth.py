"""Authorization cache and local authorization list (OCPP 1.6 sections 3.5.1, 3.5.2).

Both map idTag -> idTagInfo {status, expiryDate?, parentIdTag?} and live on flash as JSON."""
from evse.ocpp import store
from evse.ocpp.wallclock import parse_iso

CACHE_MAX = 64  # entries; the oldest is dropped first


def _valid(info, now_s):
    """'Accepted' only while not expired (an unknown time never expires an entry)."""
    if not info:
        return None
    st = info.get("status")
    exp = parse_iso(info.get("expiryDate")) if info.get("expiryDate") else None
    if st == "Accepted" and exp is not None and now_s is not None and now_s >= exp:
        return "Expired"
    return st


class AuthStore:
    def __init__(self, cache_path, list_path, list_max=100):
        self.cache_path = cache_path
        self.list_path = list_path
        self.list_max = list_max
        self.cache = store.read_json(cache_path, {}) if cache_path else {}
        saved = store.read_json(list_path, None) if list_path else None
        self.list_version = saved["v"] if saved else 0
        self.local = saved["l"] if saved else {}
        self.order = list(self.cache)  # insertion order for eviction

    # -- cache ---------------------------------------------------------------------------------
    def remember(self, tag, info):
        """Store the central system's answer for `tag` (every Authorize/Start answer, spec 3.5.1)."""
        if not isinstance(info, dict) or "status" not in info:
            return
        keep = {k: info[k] for k in ("status", "expiryDate", "parentIdTag") if k in info}
        if self.cache.get(tag) == keep:
            return
        if tag in self.order:
            self.order.remove(tag)
        self.cache[tag] = keep
        self.order.append(tag)
        while len(self.order) > CACHE_MAX:
            self.cache.pop(self.order.pop(0), None)
        if self.cache_path:
            store.write_json(self.cache_path, self.cache)

    def clear_cache(self):
        self.cache = {}
        self.order = []
        if self.cache_path:
            store.write_json(self.cache_path, self.cache)

    # -- local list ----------------------------------------------------------------------------
    def send_local_list(self, version, entries, update_type):
        """SendLocalList -> 'Accepted' | 'Failed' | 'VersionMismatch'."""
        if update_type == "Full":
            new = {}
        else:
            if version <= self.list_version:
                return "VersionMismatch"
            new = dict(self.local)
        for e in entries or ():
            info = e.get("idTagInfo")
            if info is None:
                new.pop(e["idTag"], None)  # differential: no info means remove
            else:
                new[e["idTag"]] = {k: info[k] for k in ("status", "expiryDate", "parentIdTag") if k in info}
        if len(new) > self.list_max:
            return "Failed"
        self.local = new
        self.list_version = version
        if self.list_path:
            store.write_json(self.list_path, {"v": version, "l": new})
        return "Accepted"

    # -- lookup --------------------------------------------------------------------------------
    def lookup(self, tag, now_s, use_list=True, use_cache=True):
        """(status, source) from the local list first, then the cache; (None, None) if unknown."""
        if use_list and tag in self.local:
            return _valid(self.local[tag], now_s), "list"
        if use_cache and tag in self.cache:
            return _valid(self.cache[tag], now_s), "cache"
        return None, None

    def parent(self, tag):
        info = self.local.get(tag) or self.cache.get(tag) or {}
        return info.get("parentIdTag")
