"""Authorization of a presented idTag: local pre-authorization (LocalPreAuthorize), Authorize to
the central system when online, the offline rules (local list and cache, unknown ids) when not,
and the ConnectionTimeOut after which an unused authorization lapses. The list and cache
themselves are auth.AuthStore. Functions take the service (chargepoint.OcppService)."""
from evse.ocpp import transactions


def present_id(svc, id_tag, now_ms):
    """An idTag from the console or a reader. Returns 'accepted', 'pending' (asking the central
    system), 'stopping' (it ended its own transaction) or the rejection status."""
    if not isinstance(id_tag, str) or not 0 < len(id_tag) <= 20:
        return "Invalid"
    if svc.tx:
        if _ends_own(svc, id_tag):
            svc.charger.stop("local")
            transactions.stop(svc, "Local", now_ms, id_tag)
            return "stopping"
        return "busy"
    if svc.config.get("LocalPreAuthorize"):
        st, _ = _lookup(svc, id_tag, now_ms)
        if st == "Accepted":
            return accept(svc, id_tag, now_ms)
    if svc.accepted:
        _ask(svc, id_tag, now_ms)
        return "pending"
    return offline_decision(svc, id_tag, now_ms)


def _ends_own(svc, id_tag):
    """The transaction's own idTag, or one of its group (same parentIdTag)."""
    tx_tag = svc.tx["tag"]
    return id_tag == tx_tag or (svc.auth.parent(id_tag) and svc.auth.parent(id_tag) == svc.auth.parent(tx_tag))


def _lookup(svc, tag, now_ms):
    return svc.auth.lookup(tag, svc.wall.now(now_ms), svc.config.get("LocalAuthListEnabled"),
                           svc.config.get("AuthorizationCacheEnabled"))


def _ask(svc, id_tag, now_ms):
    """Authorize: the answer accepts or rejects the tag; no answer falls back to the offline rules."""
    use_cache = svc.config.get("AuthorizationCacheEnabled")

    def done(ok, res, tag=id_tag):
        if ok and isinstance(res.get("idTagInfo"), dict):
            info = res["idTagInfo"]
            if use_cache:
                svc.auth.remember(tag, info)
            if info.get("status") == "Accepted":
                accept(svc, tag, svc.ticks())
            else:
                reject(svc, tag, info.get("status"))
        else:
            offline_decision(svc, tag, svc.ticks())
    svc.queue_call("Authorize", {"idTag": id_tag}, done, now_ms)
    svc.last_auth = (id_tag, "pending")


def offline_decision(svc, tag, now_ms):
    if svc.config.get("LocalAuthorizeOffline"):
        st, _ = _lookup(svc, tag, now_ms)
        if st == "Accepted":
            return accept(svc, tag, now_ms)
        if st is not None:
            return reject(svc, tag, st)
    if svc.config.get("AllowOfflineTxForUnknownId"):
        return accept(svc, tag, now_ms)
    return reject(svc, tag, "Invalid")


def accept(svc, tag, now_ms):
    svc.auth_tag = tag
    svc._auth_ms = now_ms
    svc.last_auth = (tag, "Accepted")
    svc.charger.authorize(True)
    return "accepted"


def reject(svc, tag, status):
    svc.last_auth = (tag, status or "Invalid")
    return status or "Invalid"


def expire(svc, now_ms):
    """Nobody plugged in within ConnectionTimeOut of the authorization: it lapses."""
    if svc.auth_tag and not svc.tx and \
            svc.ticks_diff(now_ms, svc._auth_ms) > svc.config.get("ConnectionTimeOut") * 1000:
        svc.auth_tag = None
        svc.charger.authorize(False)
