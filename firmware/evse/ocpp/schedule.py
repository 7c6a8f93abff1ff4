"""Smart charging: installed charging profiles, the limit in force now, and composite schedules.

Times are seconds on the charge point's time line (epoch seconds once the central system gave the
time; Absolute and Recurring profiles stay inactive until then). Limits are handled in amperes;
schedules in watts are converted with the nominal voltage and the site's phases: the pilot offers
one current on all of them, so a period's numberPhases is not used (fewer phases would let the
power past the limit). A limit that
is not a finite number in range (NaN, 1e999 read as infinity) makes its profile Rejected."""
from ..core import limits as L
from . import store
from .config import CONNECTOR
from .wallclock import parse_iso

PURPOSE_MAX = "ChargePointMaxProfile"
PURPOSE_DEFAULT = "TxDefaultProfile"
PURPOSE_TX = "TxProfile"
RECURRENCE_S = {"Daily": 86400, "Weekly": 7 * 86400}
MAX_BREAKPOINTS = 96  # cap on composite schedule periods (a GetCompositeSchedule answer stays small)
LIMIT_MAX = {"A": 10000, "W": 10000000}  # beyond any site (10 kA, 10 MW): a number, but not a limit
LIMIT_EVAL_MS = 1000  # how often the service re-evaluates the limit in force


def _prepare(profile):
    """Profile dict -> internal copy with parsed times and periods sorted, or None if unusable."""
    s = profile["chargingSchedule"]
    periods = sorted(s["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    if not periods or periods[0]["startPeriod"] != 0:
        return None
    for a, b in zip(periods, periods[1:]):
        if a["startPeriod"] == b["startPeriod"]:
            return None
    for p in periods:
        try:
            L.check_number(p["limit"], 0, LIMIT_MAX.get(s["chargingRateUnit"], 0))
        except ValueError:
            return None
    kind = profile["chargingProfileKind"]
    if kind == "Recurring" and ("recurrencyKind" not in profile or "startSchedule" not in s):
        return None
    return {
        "id": profile["chargingProfileId"],
        "tx": profile.get("transactionId"),
        "level": profile["stackLevel"],
        "purpose": profile["chargingProfilePurpose"],
        "kind": kind,
        "every": RECURRENCE_S.get(profile.get("recurrencyKind")),
        "from": parse_iso(profile["validFrom"]) if "validFrom" in profile else None,
        "to": parse_iso(profile["validTo"]) if "validTo" in profile else None,
        "start": parse_iso(s["startSchedule"]) if "startSchedule" in s else None,
        "duration": s.get("duration"),
        "unit": s["chargingRateUnit"],
        "periods": [(p["startPeriod"], p["limit"]) for p in periods],
    }


def _applies(c, p, purposes, connectors, tx_id):
    """A profile of one of these purposes and connectors (a TxProfile: of this transaction)."""
    if c not in connectors or p["purpose"] not in purposes:
        return False
    return not (p["purpose"] == PURPOSE_TX and p["tx"] is not None and tx_id is not None and p["tx"] != tx_id)


def _capped(best, unsure):
    """The winner's amps, capped by the lowest period of each profile that may be in force above it."""
    lim = None if best is None else best[1]
    for key, low in unsure:
        if (best is None or key > best[0]) and (lim is None or low < lim):
            lim = low
    return lim


def _refused(connector, profile, tx_id, n_connectors, max_level):
    """SetChargingProfile's rules on the connector, the purpose, the transaction and the stack level."""
    if connector > n_connectors:
        return True
    purpose = profile["chargingProfilePurpose"]
    if purpose == PURPOSE_MAX and connector != 0:
        return True
    if purpose == PURPOSE_TX:
        if connector == 0 or tx_id is None:
            return True
        if "transactionId" in profile and profile["transactionId"] != tx_id:
            return True
    return profile["stackLevel"] > max_level


class Profiles:
    def __init__(self, path, volts=230, phases=1, max_level=8, max_installed=8):
        self.path = path
        self.volts = volts
        self.phases = phases
        self.max_level = max_level
        self.max_installed = max_installed
        saved = store.read_json(path, []) if path else []
        self.items = []  # [connector_id, prepared profile, original profile]
        for it in saved if isinstance(saved, list) else ():
            try:  # an entry of another shape (another version, a flipped bit) is dropped, not the service
                c, prof = it
                p = _prepare(prof)
                for v in [c, p["level"], p["duration"] or 0] + [sp for sp, _ in p["periods"]] if p else ():
                    L.check_number(v, 0, 1e9)  # numbers, as SetChargingProfile's check let in
            except Exception:
                p = None
            if p:
                self.items.append([c, p, prof])
        self._kept = self._keep()    # what profiles.json holds

    def _keep(self):
        # TxProfiles end with their transaction; they are not worth keeping across a reboot.
        return [[c, o] for c, p, o in self.items if p["purpose"] != PURPOSE_TX]

    def _save(self):
        """profiles.json, when what it keeps changed: a load manager's TxProfile every few seconds
        rewrote the same file each time (flash wears by the write)."""
        keep = self._keep()
        if self.path and keep != self._kept and store.write_json(self.path, keep):
            self._kept = keep

    def add(self, connector, profile, tx_id, n_connectors=1):
        """SetChargingProfile -> 'Accepted' or 'Rejected'. `tx_id` is the running transaction's
        id (None when there is none; -1 while its id is not yet known)."""
        if _refused(connector, profile, tx_id, n_connectors, self.max_level):
            return "Rejected"
        p = _prepare(profile)
        if p is None:
            return "Rejected"
        # Same id replaces; same purpose and stack level replaces, on any connector: "in a Charge
        # Point" (OCPP 1.6 3.13.2; a TxDefaultProfile on 0 and one on 1 would both apply to 1).
        self.items = [it for it in self.items if it[1]["id"] != p["id"] and not (
            it[1]["purpose"] == p["purpose"] and it[1]["level"] == p["level"])]
        if len(self.items) >= self.max_installed:
            return "Rejected"
        self.items.append([connector, p, profile])
        self._save()
        return "Accepted"

    def clear(self, pid=None, connector=None, purpose=None, level=None):
        """ClearChargingProfile -> 'Accepted' if anything matched, else 'Unknown'."""
        def match(it):
            c, p = it[0], it[1]
            if pid is not None:
                return p["id"] == pid
            return ((connector is None or c == connector) and (purpose is None or p["purpose"] == purpose)
                    and (level is None or p["level"] == level))
        keep = [it for it in self.items if not match(it)]
        if len(keep) == len(self.items):
            return "Unknown"
        self.items = keep
        self._save()
        return "Accepted"

    def end_transaction(self):
        before = len(self.items)
        self.items = [it for it in self.items if it[1]["purpose"] != PURPOSE_TX]
        if len(self.items) != before:
            self._save()

    # -- evaluation --------------------------------------------------------------------------
    def _anchor(self, p, t, tx_start, clock_known):
        """Start of the schedule in force at t, or None if the profile cannot apply."""
        if p["kind"] == "Relative":
            return tx_start if tx_start is not None else t
        if not clock_known:
            return None
        start = p["start"]
        if start is None:
            start = tx_start if tx_start is not None else t  # Absolute without startSchedule
        if p["every"] and t >= start:
            start += (t - start) // p["every"] * p["every"]
        return start

    def _amps(self, limit, unit):
        if unit == "A":
            return float(limit)
        return limit / (self.volts * self.phases)

    def _lowest(self, p):
        return min(self._amps(limit, p["unit"]) for _, limit in p["periods"])

    def _profile_limit(self, p, t, tx_start, clock_known):
        if clock_known and ((p["from"] is not None and t < p["from"]) or (p["to"] is not None and t >= p["to"])):
            return None
        a = self._anchor(p, t, tx_start, clock_known)
        if a is None or t < a:
            return None
        off = t - a
        if p["duration"] is not None and off >= p["duration"]:
            return None
        lim = None
        for sp, limit in p["periods"]:
            if sp <= off:
                lim = self._amps(limit, p["unit"])
        return lim

    def _best(self, purposes, connectors, t, tx_start, clock_known, tx_id):
        """The limit of the highest profile in force. One that an unknown clock cannot place or date
        (Absolute, Recurring, validFrom/validTo: a reboot offline, no currentTime) may be in force
        or not: above the winner, its lowest period caps it (a missing time never raises a limit)."""
        best = None  # (level, connector-specific, amps)
        unsure = []  # (level, connector-specific, lowest amps)
        for c, p, _ in self.items:
            if not _applies(c, p, purposes, connectors, tx_id):
                continue
            key = (p["level"], c != 0)
            if not clock_known and (p["kind"] != "Relative" or p["from"] is not None or p["to"] is not None):
                unsure.append((key, self._lowest(p)))
                continue
            lim = self._profile_limit(p, t, tx_start, clock_known)
            if lim is not None and (best is None or key > best[0]):
                best = (key, lim)
        return _capped(best, unsure)

    def limit_at(self, t, connector=1, tx_start=None, clock_known=True, tx_id=None, in_tx=False):
        """Amperes allowed on `connector` (1 or more) at t (None = no profile limits it)."""
        cap = self._best((PURPOSE_MAX,), (0,), t, tx_start, clock_known, tx_id)
        lim = None
        if in_tx:
            lim = self._best((PURPOSE_TX,), (connector,), t, tx_start, clock_known, tx_id)
        if lim is None:
            lim = self._best((PURPOSE_DEFAULT,), (0, connector), t, tx_start, clock_known, tx_id)
        if cap is not None and (lim is None or not lim <= cap):   # NaN never escapes the cap
            lim = cap
        return lim

    def _breakpoints(self, t0, t1, tx_start, clock_known):
        pts = [t0]
        for _, p, _ in self.items:
            for b in (p["from"], p["to"]):
                if b is not None:
                    pts.append(b)
            anchors = []
            a = self._anchor(p, t0, tx_start, clock_known)
            while a is not None and a < t1:
                if len(anchors) == 16:
                    t1 = a  # recurrences not followed further: the answer ends here
                    break
                anchors.append(a)
                a = a + p["every"] if p["every"] else None
            for a in anchors:
                for sp, _ in p["periods"]:
                    pts.append(a + sp)
                if p["duration"] is not None:
                    pts.append(a + p["duration"])
        pts = sorted(set(x for x in pts if t0 <= x < t1))
        if len(pts) > MAX_BREAKPOINTS:
            t1 = pts[MAX_BREAKPOINTS]
        return pts[:MAX_BREAKPOINTS], t1  # and where they stop: an answer shorter than asked, never wrong

    def composite(self, t0, duration, connector=1, tx_start=None, clock_known=True, tx_id=None,
                  in_tx=False, unit="A", default_amps=None):
        """GetCompositeSchedule's chargingSchedule from t0 for `duration` seconds; default_amps (what
        the other sources allow) fills where no profile limits and caps where one allows more."""
        if tx_start is None:  # no session: one that starts now (each moment's own start kept period 1)
            tx_start = t0
        periods = []
        pts, t1 = self._breakpoints(t0, t0 + duration, tx_start, clock_known)
        for b in pts:
            # connector 0: the whole charger's consumption (section 5.7), i.e. its one connector's
            lim = self.limit_at(b, connector or CONNECTOR, tx_start, clock_known, tx_id, in_tx)
            if lim is None or (default_amps is not None and lim > default_amps):
                lim = default_amps  # the other limits (settings, board...) cap it as on the pilot
            if lim is None:
                continue
            if unit == "W":
                lim = lim * self.volts * self.phases
            lim = int(lim * 10) / 10  # one decimal (the schema's multipleOf 0.1), rounded down
            if periods and periods[-1]["limit"] == lim:
                continue
            # numberPhases absent reads as 3 (OCPP 1.6 7.14): a single-phase charger says so
            periods.append({"startPeriod": int(b - t0), "limit": lim, "numberPhases": self.phases})
        return {"duration": int(t1 - t0), "chargingRateUnit": unit, "chargingSchedulePeriod": periods}


# -- the service's side: profiles -> the core's 'ocpp' current limit ------------------------------
# Re-evaluated every LIMIT_EVAL_MS and on the next poll after any change (svc.limit_ms None).
# These functions take the service (chargepoint.OcppService).


def poll(svc, now_ms):
    if svc.limit_ms is None or svc.ticks_diff(now_ms, svc.limit_ms) >= LIMIT_EVAL_MS:
        svc.limit_ms = now_ms
        apply_limit(svc, now_ms)


def tx_args(svc):
    """What the schedule needs of the transaction: (start time, transactionId, running)."""
    tx = svc.tx
    return (tx["t0"] if tx else None), (tx.get("txid") if tx else None), tx is not None


def apply_limit(svc, now_ms):
    t0, txid, in_tx = tx_args(svc)
    try:
        amps = svc.profiles.limit_at(svc.cp_time(now_ms), CONNECTOR, t0, svc.wall.known(), txid, in_tx)
    except Exception as e:  # a profile that cannot be read: no limit known is no charging, said
        svc.last_error = "charging profiles: %r" % (e,)
        amps = 0.0
    if amps is not None:
        try:  # a checked profile gives a finite number; if not, offer nothing rather than guess
            amps = L.check_number(amps, 0, LIMIT_MAX["W"])
        except ValueError:
            amps = 0.0
        amps = int(min(amps, L.AMPS_MAX) * 10) / 10  # above 80 A nothing is limited; round down
    if amps != svc.limit_sent:
        svc.limit_sent = amps
        svc.charger.set_limit("ocpp", amps)
