"""Energy accounting that survives power cuts: lifetime total, session energy, session records.

Energy arrives as integer milliwatt-hours (`add_mwh`) from whichever meter is fitted. Integers,
because boards have single-precision floats: a lifetime total of 10^5 kWh in a float32 would stop
counting 0.5 Wh steps. The total is kept as whole Wh plus a mWh remainder (both small ints).

Checkpoints go to two alternating sealed copies (energy/energy.a, energy/energy.b:
evse.shell.store.Copies, JSON then a last line '<seq> <crc32>'), at least every CHECKPOINT_MS or
every CHECKPOINT_MWH of new energy, whichever comes first, and at session start and end; never
while nothing changed. A write goes to the copy that does not hold the newest valid checkpoint, so
a torn write or a flipped bit costs at most the energy since the previous checkpoint, never the
lifetime total: on boot the newest copy whose checksum holds wins. A session that was open at the
cut is closed with the energy measured up to that checkpoint and reason 'power_loss'.
Upgrade: while no valid copy exists, the older firmware's energy_a.json / energy_b.json (no
checksum) are read, their newest checkpoint is sealed into a copy at once, then they are removed.
The copies live in a directory of their own (CHECKPOINT_DIR): on a nearly full littlefs the root
directory's metadata pair, which took every checkpoint's commit, is not moved by wear levelling
and wore out in 13 years of 4 h a day on a Pico (148 in a directory, docs/metering.md). Stop 44's
copies in the root (ROOT_FILES) are read at every boot and never written: the higher count of the
two places wins and is sealed into the directory at once, so a power cut at any step of the move
boots with the count as it was; an older firmware installed again reads the root copies (the count
at the move; docs/metering.md says how to keep it). A flash too full for the directory goes on
with the root's copies until a boot with room.
"""
import json
import os

from ..shell.ring import Ring
from ..shell.store import Copies, exists, join, read_json
from ..core.ticks import ticks_diff

CHECKPOINT_MS = 60000          # at least once a minute while energy flows
CHECKPOINT_MWH = 50000         # or every 0.05 kWh, whichever first
CHECKPOINT_RETRY_MS = 10000    # after a failed flash write
CHECKPOINT_DIR = "energy"
CHECKPOINT_FILES = ("energy/energy.a", "energy/energy.b")
ROOT_FILES = ("energy.a", "energy.b")                 # stop 44's copies, in the root: read, never written
LEGACY_FILES = ("energy_a.json", "energy_b.json")     # before the copies were sealed
CHECKPOINT_MAX_BYTES = 1024    # a checkpoint is about 200 bytes
SESSIONS_FILE = "sessions.ring"
SESSIONS_KEPT = 50
REASON_MAX_CHARS = 24
USER_MAX_CHARS = 20            # an OCPP idTag (CiString20); a longer console tag is cut
MWH_PER_WH = 1000


def _valid_checkpoint(cp):
    return (isinstance(cp, dict) and isinstance(cp.get("wh"), int) and isinstance(cp.get("mwh"), int)
            and cp["wh"] >= 0 and 0 <= cp["mwh"] < MWH_PER_WH)


def _legacy_checkpoint(dirpath):
    """The newest readable checkpoint of the older format (seq inside the JSON), or None."""
    best = None
    for name in LEGACY_FILES:
        cp = read_json(join(dirpath, name), None)
        if not isinstance(cp, dict) or not _valid_checkpoint(cp) or not isinstance(cp.get("seq"), int):
            continue
        if best is None or cp["seq"] > best["seq"]:
            best = cp
    return best


def _tag(user):
    """An id tag as a record keeps it: printable ASCII without quotes, at most USER_MAX_CHARS, so
    a record always fits its ring slot (RING_SLOT_BYTES) whatever a card or a console sent."""
    if not isinstance(user, str) or not user:
        return None
    return "".join(c if " " <= c <= "~" and c not in "\"\\" else "?" for c in user[:USER_MAX_CHARS])


class MilliUnits:
    """Float views, built only when read, of a source's integer mA, mV and mW (the tick reads none:
    every float is a heap object on a board)."""
    ma = mv = ()           # per phase, set by the source
    power_mw = 0

    @property
    def amps(self):
        return [a / 1000 for a in self.ma]

    @property
    def volts(self):
        return [u / 1000 for u in self.mv]

    @property
    def power_w(self):
        return self.power_mw / 1000


class Energy:
    def __init__(self, dirpath, wall=None, diff=ticks_diff, sessions_kept=SESSIONS_KEPT,
                 checkpoint_ms=CHECKPOINT_MS, checkpoint_mwh=CHECKPOINT_MWH):
        """dirpath: flash directory ('/' on the board). wall: optional function giving epoch
        seconds (or None while the clock is unknown) for the session records' start/end."""
        self._dir = dirpath
        self._wall = wall
        self._diff = diff
        self._cp_every_ms = checkpoint_ms
        self._cp_every_mwh = checkpoint_mwh
        self.ring = Ring(join(dirpath, SESSIONS_FILE), sessions_kept)
        self.copies = Copies([join(dirpath, n) for n in CHECKPOINT_FILES], CHECKPOINT_MAX_BYTES)
        self._mkdir()
        self.error = None
        self.writes = 0            # checkpoint files written since boot (for wear figures)
        self.restored = None       # the record closed at boot after a power cut, if any
        self._last_ms = None
        self._sid = 0              # last session number used
        self._total_wh = 0
        self._total_mwh = 0
        self._unsaved_mwh = 0
        self._since_cp_ms = 0
        self._retry_ms = 0
        self._pend = None          # a session record the ring refused (full flash): retried
        self._clear_session()
        self._restore()

    # --- figures ---------------------------------------------------------------------------
    @property
    def wh_total(self):
        return self._total_wh + self._total_mwh / MWH_PER_WH

    @property
    def wh_saved(self):
        """The lifetime total as on flash: what a power cut brings the count back to."""
        return self._total_wh + (self._total_mwh - self._unsaved_mwh) / MWH_PER_WH

    @property
    def wh_session(self):
        return self._s_wh + self._s_mwh / MWH_PER_WH

    @property
    def session_open(self):
        return self._s_open

    # --- feeding ---------------------------------------------------------------------------
    def add_mwh(self, mwh, now_ms):
        """Count mwh (a non-negative int) of delivered energy; checkpoints when due."""
        if mwh > 0:
            t = self._total_mwh + mwh
            self._total_wh += t // MWH_PER_WH
            self._total_mwh = t % MWH_PER_WH
            if self._s_open:
                s = self._s_mwh + mwh
                self._s_wh += s // MWH_PER_WH
                self._s_mwh = s % MWH_PER_WH
            self._unsaved_mwh += mwh
        self.poll(now_ms)

    def note_current_ma(self, ma):
        """The highest phase current just measured, int mA (for the session's max current)."""
        if self._s_open and ma > self._s_max_ma:
            self._s_max_ma = ma

    def poll(self, now_ms):
        """Advance the clocks; write a checkpoint when one is due. Never raises."""
        if self._last_ms is not None:
            dt = self._diff(now_ms, self._last_ms)
            if dt > 0:
                if self._since_cp_ms < self._cp_every_ms:   # (no further: with nothing to write it
                    self._since_cp_ms += dt                 # passed 2**30 in 12.4 days, a long int)
                if self._s_open:                # the session's time in s and ms: small ints for
                    ms = self._s_ms + dt        # 34 years (its ms alone passed 2**30 in 12.4 days)
                    if ms >= 1000:
                        s = ms // 1000
                        self._s_s += s
                        ms -= s * 1000
                    self._s_ms = ms
                if self._retry_ms > 0:
                    self._retry_ms -= dt
        self._last_ms = now_ms
        if self._retry_ms > 0:
            return
        if self._pend is not None and self._append(self._pend):
            self.error = None
        if self._unsaved_mwh > 0 and (
                self._since_cp_ms >= self._cp_every_ms or self._unsaved_mwh >= self._cp_every_mwh):
            self.checkpoint()

    # --- sessions --------------------------------------------------------------------------
    def session_start(self, now_ms, user=None):
        """user: who authorized it (an id tag), kept in its record."""
        if self._s_open:
            return
        self.poll(now_ms)
        self._clear_session()
        self._s_open = True
        self._sid += 1
        self._s_start = self._now_wall()
        self._s_user = _tag(user)
        self.checkpoint()

    def session_user(self, user):
        """Who authorized the open session, learned after it opened (an idTag whose answer came
        late): kept, and on flash at once, when the record names nobody yet."""
        if self._s_open and self._s_user is None:
            self._s_user = _tag(user)
            if self._s_user is not None:
                self.checkpoint()

    def session_end(self, now_ms, reason):
        """Close the open session; returns its record (or None when none was open)."""
        if not self._s_open:
            return None
        self.poll(now_ms)
        rec = self._record(str(reason), self._now_wall())
        self._s_open = False
        # The record first, then the checkpoint that says "closed": a cut in between is caught
        # at boot by the session number already in the ring.
        self._append(rec)
        self.checkpoint()
        return rec

    def sessions(self):
        """Session records on flash, oldest first."""
        try:
            return self.ring.records()
        except Exception as e:
            self.error = "sessions unreadable: %s" % e
            return []

    # --- flash -----------------------------------------------------------------------------
    def checkpoint(self):
        """Write the state now. Returns True on success; on failure sets error, retries later."""
        cp = {"wh": self._total_wh, "mwh": self._total_mwh, "sid": self._sid,
              "open": self._s_open, "s_wh": self._s_wh, "s_mwh": self._s_mwh, "s_ms": self._s_s * 1000 + self._s_ms,
              "s_max_ma": self._s_max_ma, "s_start": self._s_start, "s_user": self._s_user,
              "t": self._now_wall()}
        try:
            self.copies.write(json.dumps(cp).encode())
        except Exception as e:
            self.error = "checkpoint failed: %s" % e
            self._retry_ms = CHECKPOINT_RETRY_MS
            self._mkdir()           # (a full flash refused it at boot: tried again with the write)
            self._unsaved_mwh = self._unsaved_mwh or 1     # this state is not on flash: retried
            return False
        self.writes += 1
        self._unsaved_mwh = 0
        self._since_cp_ms = 0
        self.error = None if self._pend is None else "session record not stored: %s" % self.ring.error
        return True

    def _mkdir(self):
        d = join(self._dir, CHECKPOINT_DIR)
        try:
            os.mkdir(d)
        except OSError:
            if not exists(d):       # no room for a directory (a full flash): the root's copies go
                self.copies = Copies([join(self._dir, n) for n in ROOT_FILES], CHECKPOINT_MAX_BYTES)
                self.copies.read()  # on (inline on a Pico), and the move is tried at the next boot

    def _root_checkpoint(self):
        """The newest valid checkpoint of stop 44's copies in the root, or None (damage there is
        not reported: the directory's copies are the count)."""
        try:
            body = Copies([join(self._dir, n) for n in ROOT_FILES], CHECKPOINT_MAX_BYTES).read()[0]
            cp = json.loads(body.decode()) if body is not None else None
        except Exception:
            return None
        return cp if _valid_checkpoint(cp) else None

    def _read_copies(self):
        """The newest valid checkpoint (dict) or None; a damaged copy is reported in error."""
        body, problems = self.copies.read()
        cp = None
        if body is not None:
            try:
                cp = json.loads(body.decode())
            except Exception:       # not text, not JSON: sealed by a faulty writer
                cp = None
            if not _valid_checkpoint(cp):
                problems.append("newest copy: not a checkpoint")
                cp = None
        if problems:
            self.error = "checkpoint damaged: %s" % "; ".join(problems)
        return cp

    def _newest(self):
        """(the checkpoint to boot with or None, where it is: "dir", "root" (stop 44's copies, when
        their count is higher: never lower) or "legacy")."""
        best = self._read_copies()
        root = self._root_checkpoint()
        if root is not None and (best is None or (root["wh"], root["mwh"]) > (best["wh"], best["mwh"])):
            return root, "root"
        if best is not None:
            return best, "dir"
        return _legacy_checkpoint(self._dir), "legacy"

    def _restore(self):
        best, where = self._newest()
        if best is None:          # no checkpoint: the session numbers go on from the history
            last = self.ring.last()
            if last is not None and isinstance(last.get("sid"), int):
                self._sid = last["sid"]
            return
        a = best.get("s_max")                       # the older format kept amps
        if isinstance(a, (int, float)) and 0 <= a < 1000:
            best["s_max_ma"] = int(a * 1000 + 0.5)
        self._total_wh = best["wh"]
        self._total_mwh = best["mwh"]
        self._sid = best.get("sid", 0) or 0
        if best.get("open"):
            self._close_lost(best)
        elif where != "dir":                        # sealed into the directory at once
            self.checkpoint()
        if where == "legacy" and self.copies.seq >= 0:      # sealed now: the old files go
            for name in LEGACY_FILES:
                try:
                    os.remove(join(self._dir, name))
                except OSError:
                    pass

    def _close_lost(self, best):
        """A session open at the power cut: recorded once as power_loss, then closed."""
        self._s_wh = best.get("s_wh", 0) or 0
        self._s_mwh = best.get("s_mwh", 0) or 0
        self._s_s, self._s_ms = divmod(best.get("s_ms", 0) or 0, 1000)
        self._s_max_ma = best.get("s_max_ma", 0) or 0
        self._s_start = best.get("s_start")
        self._s_user = best.get("s_user")
        rec = self._record("power_loss", best.get("t"))
        last = self.ring.last()
        if last is None or last.get("sid") != self._sid:
            self._append(rec)
        self.restored = rec
        self._clear_session()
        self.checkpoint()

    def _append(self, rec):
        """The record into the ring; kept in RAM and tried again every CHECKPOINT_RETRY_MS when the
        ring refuses it (a full flash), said in error until it is stored."""
        self._pend = None
        if self.ring.append(rec):
            return True
        self._pend = rec
        self._retry_ms = CHECKPOINT_RETRY_MS
        self.error = "session record not stored: %s" % self.ring.error
        return False

    def _record(self, reason, end):
        dur = self._s_s
        start = self._s_start
        if end is not None and (start is None or end < start):   # the clock was set, or stepped back
            start = end - dur                   # (NTP on a fast RTC), during it: end - duration
        rec = {"sid": self._sid, "start": start, "end": end, "dur_s": dur,
               "wh": round(self.wh_session, 3), "max_a": round(self._s_max_ma / 1000, 1),
               "reason": reason[:REASON_MAX_CHARS]}
        if self._s_user is not None:      # who authorized it (an id tag), when someone did
            rec["user"] = self._s_user
        return rec

    def _clear_session(self):
        self._s_open = False
        self._s_wh = 0
        self._s_mwh = 0
        self._s_s = 0               # the session's time: whole seconds, then ms (under 1000)
        self._s_ms = 0
        self._s_max_ma = 0
        self._s_start = None
        self._s_user = None

    def _now_wall(self):
        if self._wall is None:
            return None
        try:
            return self._wall()
        except Exception:
            return None
