"""Authorization: the cache and the local authorization list (OCPP 1.6 sections 3.5.1, 3.5.2),
and the decision for a presented idTag.

Cache and list map idTag -> idTagInfo {status, expiryDate?, parentIdTag?} and live on flash as
JSON (AuthStore; the cache as pairs, oldest first). A presented idTag (present_id) is accepted
online by the local list or cache when LocalPreAuthorize is set, else by Authorize; offline by the
offline rules; an accepted idTag lapses after ConnectionTimeOut without a car (expire). Those
functions take the service (chargepoint.OcppService)."""
from . import store, transactions
from .config import ci_key    # an idTag is a CiString20 (IdToken, section 7)
from .wallclock import parse_iso

CACHE_MAX = 64  # entries; the one answered longest ago is dropped first


def _valid(info, now_s):
    """'Accepted' only while not expired (an unknown time never expires an entry)."""
    if not info:
        return None
    st = info.get("status")
    exp = parse_iso(info.get("expiryDate")) if info.get("expiryDate") else None
    if st == "Accepted" and exp is not None and now_s is not None and now_s >= exp:
        return "Expired"
    return st


def _table(d):
    """The list's idTag -> idTagInfo as read from flash, or {} when the file holds something else
    (damaged): an empty list accepts no card, and the service still starts."""
    return d if isinstance(d, dict) and all(isinstance(v, dict) for v in d.values()) else {}


def _pairs(d):
    """The cache file: [[idTag, idTagInfo], ...], the oldest answer first (a MicroPython dict keeps
    no order; a dict is the file of stops before). Anything else (damaged) is an empty cache."""
    if isinstance(d, dict):
        d = list(d.items())
    ok = isinstance(d, list) and all(isinstance(e, (list, tuple)) and len(e) == 2 and isinstance(e[0], str)
                                     and isinstance(e[1], dict) for e in d)
    return d if ok else []


class AuthStore:
    def __init__(self, cache_path, list_path, list_max=100):
        self.cache_path = cache_path
        self.list_path = list_path
        self.list_max = list_max
        self.cache, self.order = {}, []  # order: the oldest answer first, dropped first when full
        for tag, info in _pairs(store.read_json(cache_path, None) if cache_path else None):
            if tag not in self.cache:
                self.order.append(tag)
            self.cache[tag] = info
        saved = store.read_json(list_path, None) if list_path else None
        if not (isinstance(saved, dict) and isinstance(saved.get("v"), int)):
            saved = {"v": 0}    # none, or damaged: an empty list
        self.list_version = saved["v"]
        self.local = _table(saved.get("l"))

    # -- cache ---------------------------------------------------------------------------------
    def remember(self, tag, info):
        """Store the central system's answer for `tag` (every Authorize/Start answer, spec 3.5.1)."""
        if not isinstance(info, dict) or "status" not in info:
            return
        keep = {k: info[k] for k in ("status", "expiryDate", "parentIdTag") if k in info}
        old = ci_key(self.cache, tag)   # one entry a card, whatever the spelling: the newest answer
        if old is not None:
            self.order.remove(old)
            if self.cache[old] == keep:     # answered again alike: the newest, the flash spared
                self.order.append(old)
                return
            del self.cache[old]
        self.cache[tag] = keep
        self.order.append(tag)
        while len(self.order) > CACHE_MAX:
            self.cache.pop(self.order.pop(0), None)
        self._save()

    def clear_cache(self):
        self.cache = {}
        self.order = []
        self._save()

    def _save(self):
        store.write_json(self.cache_path, [[t, self.cache[t]] for t in self.order])  # (no path: RAM only)

    # -- local list ----------------------------------------------------------------------------
    def send_local_list(self, version, entries, update_type):
        """SendLocalList -> 'Accepted' | 'Failed' | 'VersionMismatch'. A Full list's entries each
        need their idTagInfo (section 7.2): one without is Failed, the list kept."""
        if update_type == "Full":
            if [e for e in entries or () if e.get("idTagInfo") is None]:
                return "Failed"
            new = {}
        else:
            if version <= (self.list_version if self.local else 0):   # as GetLocalListVersion says
                return "VersionMismatch"
            new = dict(self.local)
        for e in entries or ():
            info = e.get("idTagInfo")
            new.pop(ci_key(new, e["idTag"]), None)  # differential: no info means remove
            if info is not None:
                new[e["idTag"]] = {k: info[k] for k in ("status", "expiryDate", "parentIdTag") if k in info}
        if len(new) > self.list_max:
            return "Failed"
        if not store.write_json(self.list_path, {"v": version, "l": new}):
            return "Failed"     # a full flash: the list on flash and in RAM stays the one before
        self.local = new
        self.list_version = version
        self._uncache_listed()
        return "Accepted"

    def _uncache_listed(self):
        """A card the list names leaves the cache (section 3.5.3: what the list knows is not the
        cache's): an older Accepted entry must not come back once it is taken off the list."""
        listed = set(k.upper() for k in self.local)
        keep = [t for t in self.order if t.upper() not in listed]
        if len(keep) < len(self.order):
            self.order = keep
            self.cache = {t: self.cache[t] for t in keep}
            self._save()

    # -- lookup --------------------------------------------------------------------------------
    def lookup(self, tag, now_s, use_list=True, use_cache=True):
        """(status, source) from the local list first, then the cache; (None, None) if unknown."""
        k = ci_key(self.local, tag) if use_list else None
        if k is not None:
            return _valid(self.local[k], now_s), "list"
        k = ci_key(self.cache, tag) if use_cache else None
        if k is not None:
            return _valid(self.cache[k], now_s), "cache"
        return None, None

    def parent(self, tag):
        info = self.local.get(ci_key(self.local, tag)) or self.cache.get(ci_key(self.cache, tag)) or {}
        return info.get("parentIdTag")


# -- the decision for a presented idTag ----------------------------------------------------------
def present_id(svc, id_tag, now_ms=None):
    """An idTag from the console or a reader (OcppService.present_id). Returns 'accepted', 'pending'
    (asking the central system), 'stopping' (it ended its own transaction) or the rejection status."""
    now_ms = svc.ticks() if now_ms is None else now_ms
    if not isinstance(id_tag, str) or not 0 < len(id_tag) <= 20:
        return "Invalid"
    if getattr(svc.charger, "held", False):   # a cable kept locked in the socket, the car side gone
        from . import unlock
        st = unlock.by_card(svc, id_tag, now_ms)
        if st is not None:
            return st
    if svc.tx:
        return present_during_tx(svc, id_tag, now_ms)
    if svc.fw_installing:   # Unavailable until the update's reboot (firmware.py): nothing to start
        return "Unavailable"
    if reserved_against(svc, id_tag):
        return reject(svc, id_tag, "Reserved")  # no Authorize for it (OCTT TC_046_1_CS step 5)
    if not svc.accepted:
        return offline_decision(svc, id_tag, now_ms)   # LocalPreAuthorize is for online (9.1)
    if svc.config.get("LocalPreAuthorize") and _lookup(svc, id_tag, now_ms)[0] == "Accepted":
        return accept(svc, id_tag, now_ms)
    _ask(svc, id_tag, now_ms)
    return "pending"


def group_of(svc, tag, pt=None):
    """A tag's group: the parentIdTag pt (a StartTransaction answer's), else the list's or cache's."""
    return (pt or svc.auth.parent(tag) or "").upper()


def may_stop(svc, id_tag, tag, pt, now_ms):
    """Would id_tag end what tag started (pt: its parentIdTag as answered)? Its own idTag, or a
    card valid here with the same parentIdTag (a kept cable too: unlock.by_card)."""
    if id_tag.upper() == tag.upper():
        return True
    parent = group_of(svc, tag, pt)
    return bool(parent) and group_of(svc, id_tag) == parent \
        and _lookup(svc, id_tag, now_ms)[0] == "Accepted"


def present_during_tx(svc, id_tag, now_ms):
    """Its own idTag, or a valid one of its group (the same parentIdTag), stops the transaction
    (reason Local, the presented idTag in StopTransaction). A tag of the group not valid here, or
    whose parentIdTag is not known here, is asked for with Authorize when the transaction has a
    group (OCTT TC_069_CS), and stops it only if Accepted (a blocked fleet card has no say: OCPP
    2.0.1 C09.FR.03 "a different, valid IdToken"); without a group no other tag can stop it, so
    nothing is asked (TC_068_CS)."""
    if may_stop(svc, id_tag, svc.tx["tag"], svc.tx.get("pt"), now_ms):
        return stop_by(svc, id_tag, now_ms)
    ref = svc.tx["ref"]

    def then():
        if svc.tx and svc.tx["ref"] == ref:
            stop_by(svc, id_tag, svc.ticks())
    return ask_group(svc, id_tag, svc.tx["tag"], svc.tx.get("pt"), now_ms, then)


def ask_group(svc, id_tag, tag, pt, now_ms, then):
    """id_tag is not known here to be of tag's group (pt: its parentIdTag as answered): when tag has
    a group and id_tag's is not known to be another, Authorize asks, and then() runs once the
    answer is Accepted with that parentIdTag -> 'pending'; else 'busy' (no one else's card ends
    it: TC_068_CS)."""
    parent = group_of(svc, tag, pt)
    if not parent or group_of(svc, id_tag) not in ("", parent) or not svc.accepted:
        return "busy"

    def done(ok, res):
        info = res.get("idTagInfo") if ok else None
        if isinstance(info, dict):
            learn(svc, id_tag, info)
            if info.get("status") == "Accepted" and (info.get("parentIdTag") or "").upper() == parent:
                then()
    svc.queue_call("Authorize", {"idTag": id_tag}, done, now_ms)
    return "pending"


def stop_by(svc, id_tag, now_ms):
    svc.charger.stop("local")
    transactions.stop(svc, "Local", now_ms, id_tag)
    return "stopping"


def _lookup(svc, tag, now_ms):
    return svc.auth.lookup(tag, svc.wall.now(now_ms), svc.config.get("LocalAuthListEnabled"),
                           svc.config.get("AuthorizationCacheEnabled"))


def _ask(svc, id_tag, now_ms):
    """Authorize: the answer accepts or rejects the tag; no answer (the link lost on the way) falls
    back to the offline rules. A CALLERROR, or an answer without idTagInfo, is the central system
    there and saying no card: Invalid (the offline rules are for a charger offline, 3.5.4; EVerest
    libocpp does the same)."""
    def done(ok, res, tag=id_tag):
        if ok and isinstance(res.get("idTagInfo"), dict):
            info = res["idTagInfo"]
            learn(svc, tag, info)
            if info.get("status") == "Accepted":
                accept(svc, tag, svc.ticks(), info.get("parentIdTag"))
            else:
                reject(svc, tag, info.get("status"))
        elif res is None:
            offline_decision(svc, tag, svc.ticks())
        else:
            reject(svc, tag, "Invalid")
    svc.queue_call("Authorize", {"idTag": id_tag}, done, now_ms)
    svc.last_auth = (id_tag, "pending")


def learn(svc, tag, info):
    """An idTagInfo from the central system (Authorize, Start/StopTransaction answers): cached
    (AuthorizationCacheEnabled), unless the tag is in the local list (section 3.5.3; a list
    disabled is none); a status other than the list's is a StatusNotification LocalListConflict
    on connector 0 (3.5.2)."""
    listed = svc.auth.local.get(ci_key(svc.auth.local, tag)) if svc.config.get("LocalAuthListEnabled") else None
    if listed is None:
        if svc.config.get("AuthorizationCacheEnabled"):
            svc.auth.remember(tag, info)
    elif _valid(listed, svc.wall.now(svc.ticks())) != info.get("status"):
        svc.queue_cp_status("LocalListConflict")


def offline_decision(svc, tag, now_ms):
    """A card the list or cache holds as not Accepted is refused even when unknown ones are let
    in, LocalAuthorizeOffline false too: it is no unknown identifier (OCPP 1.6 section 3.5.4)."""
    st, _ = _lookup(svc, tag, now_ms)
    if st not in (None, "Accepted"):
        return reject(svc, tag, st)
    if st and svc.config.get("LocalAuthorizeOffline") or svc.config.get("AllowOfflineTxForUnknownId"):
        return accept(svc, tag, now_ms)
    return reject(svc, tag, "Invalid")


def reserved_against(svc, tag, parent=None):
    """A reservation holds the connector for another idTag: True, False, or None when the tag's
    parentIdTag is unknown (Authorize finds it; accept decides then)."""
    if not svc.state.get("resv"):
        return False
    from . import reservation  # only while a reservation exists
    ok = reservation.admits(svc, tag, parent)
    return None if ok is None else not ok


def accept(svc, tag, now_ms, parent=None):
    if reserved_against(svc, tag, parent) is not False:
        return reject(svc, tag, "Reserved")
    svc.auth_tag = tag
    svc._auth_ms = now_ms
    svc.last_auth = (tag, "Accepted")
    svc.charger.authorize(True, tag)
    return "accepted"


def reject(svc, tag, status):
    svc.last_auth = (tag, status or "Invalid")
    rp = svc.remote_profile
    if rp and rp[0] == tag:  # a RemoteStart's idTag refused (AuthorizeRemoteTxRequests): its profile too
        svc.remote_profile = None
    return status or "Invalid"


def expire(svc, now_ms):
    """Nobody plugged in within ConnectionTimeOut of the authorization: it lapses, and with it a
    RemoteStartTransaction's TxProfile (that transaction's only, OCPP 1.6 section 5.16.2)."""
    if svc.auth_tag and not svc.tx and \
            svc.ticks_diff(now_ms, svc._auth_ms) > svc.config.get("ConnectionTimeOut") * 1000:
        svc.auth_tag = svc.remote_profile = None
        svc.charger.authorize(False)
