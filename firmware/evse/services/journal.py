# Fault log: the last (time, reason, state) records on flash, trip counters per reason, and the
# latched fault that must survive a reboot (a welded contactor is never a reason to close again).
#
# The file is JSON lines: a snapshot, {"records": [...], "counters": {...}, "latched": ...} (the
# whole file of older firmware, still read), then one short line appended per change:
# [t_ms, reason, state, latched (0 or 1), utc, boot] for a record, [] when the latched fault is
# cleared (older firmware wrote [t_ms, reason, state] and [t_ms, reason, state, 1]: still read, and
# it reads these: the latched flag stays 4th). A record is [t_ms, reason, state, utc, boot]: utc the
# board's clock in seconds (None while it is not set), boot a number that is the same for the
# records of one boot and higher for a later one (one more than the newest record's on flash).
# A fault set inside the control tick thus costs one appended line, not a rewrite of the whole
# file (2 ms of json.dumps and 3-10 ms of littlefs on the Pico), and the
# App appends it after the cycle's service polls (save()), once the fault's report is out. After
# LINES_MAX appended lines the file is written again as one snapshot (atomically: old or new).
# Each line is appended after a newline: a line torn by a power cut is skipped on reading and
# never swallows the next one.
import json

from ..shell import store

RING_SIZE = 32
LINES_MAX = 32          # lines appended before the file is compacted again: about 1.5 KB
FILE_MAX = 16384        # a larger file is not read into the heap: a new journal, said in .error


def read(path):
    """The journal in a file as {"records", "counters", "latched"}, the file left as it is."""
    j = Journal(path, repair=False)
    return {"records": j.records, "counters": j.counters, "latched": j.latched}


class Journal:
    def __init__(self, path, repair=True, clock=None):
        self.path = path
        self.clock = clock           # UTC seconds or None (hal.utc_seconds)
        self.error = None
        self.records, self.counters, self.latched = [], {}, None
        self.appended = 0            # lines after the snapshot, damaged ones included (file size)
        self.pending = []            # lines recorded in RAM, not yet on flash (save())
        from_tmp, damaged = self._load()
        self.boot = 1
        for r in self.records:     # after the newest record that has one (older firmware's have none)
            try:
                self.boot = r[4] + 1
            except Exception:
                pass
        if damaged:
            self.error = "fault log: %d damaged line(s) skipped" % damaged
        if repair and (from_tmp or self.appended >= LINES_MAX):
            self._compact()

    def _load(self):
        """(read from the .tmp copy a cut compaction left?, damaged lines)."""
        data = None
        for src, p in enumerate((self.path, self.path + store.TMP_SUFFIX)):
            try:
                data = store.read_small(p, FILE_MAX)
            except Exception:          # too large, empty, failing flash: a new journal
                data = b"?"
            if data is not None:
                break
        damaged = 0
        for line in (data or b"").split(b"\n"):
            if line.strip():
                try:
                    self._apply(json.loads(line.decode()))
                except Exception:      # torn by a power cut, garbage: that line only
                    damaged += 1
                    self.appended += 1
        return src == 1 and data is not None, damaged

    def _apply(self, item):
        if isinstance(item, dict):     # a snapshot: the whole journal as it was then
            recs = list(item.get("records", []))[-RING_SIZE:]
            counters = dict((k, n) for k, n in item.get("counters", {}).items() if isinstance(n, int))
            self.records, self.counters, self.latched = recs, counters, item.get("latched")
            self.appended = 0
            return
        if not isinstance(item, list):
            raise ValueError("not a journal line")
        if item:
            self._record(item[:3] + item[4:6], len(item) > 3 and item[3])
        else:                          # []: the latched fault cleared
            self.latched = None
        self.appended += 1

    def _record(self, rec, latched):
        self.counters[rec[1]] = self.counters.get(rec[1], 0) + 1    # (a line too short: nothing kept)
        self.records.append(rec)
        if len(self.records) > RING_SIZE:
            self.records.pop(0)
        if latched:
            self.latched = rec[1]

    def _compact(self):
        try:
            store.write_json_atomic(self.path, {"records": self.records, "counters": self.counters,
                                                "latched": self.latched})
            self.appended = 0
        except (OSError, MemoryError) as e:     # a full or failing flash (or no heap for its
            # file) must not stop the control loop
            self.error = "fault log not saved: %s" % e
            self.appended = LINES_MAX + 1000     # save() tries again 1000 calls later

    def save(self):
        """Writes the lines kept since the last save: one append to the file, or a compaction once
        LINES_MAX lines are there (the journal in RAM already holds them). A write the flash refuses
        keeps them pending: the whole journal is written again 1000 calls later (10 s of the App's
        cycles), until it goes in (a latched fault must be on flash for the next boot). Meanwhile
        appended counts those calls down above LINES_MAX."""
        if self.appended > LINES_MAX + 1:
            self.appended -= 1
            return
        items, self.pending = self.pending, []
        if not items:
            return
        if self.appended + len(items) > LINES_MAX:
            self._compact()
        else:
            try:
                with open(self.path, "a") as f:
                    for item in items:
                        f.write("\n" + json.dumps(item))
                        self.appended += 1
            except (OSError, MemoryError):      # the whole journal then, or the error said
                self._compact()
        if self.appended > LINES_MAX:   # refused (never past LINES_MAX once on flash)
            self.pending = items

    # save=False keeps the line in RAM until save(): the control loop reports a fault first and
    # writes flash after its service polls (the first append to the journal took 23.7 ms of littlefs
    # on the emulated Pico, after the charger's files were flashed).
    def add(self, t_ms, reason, state, latched=False, save=True):
        try:
            utc = self.clock and self.clock()
        except Exception:          # none to read: no time, never a guess
            utc = None
        rec = [t_ms, reason, state, utc, self.boot]
        self._record(rec, latched)
        self.pending.append(rec[:3] + [1 if latched else 0] + rec[3:])
        if save:
            self.save()

    def clear_latched(self, save=True):
        if self.latched is not None:
            self.latched = None
            self.pending.append([])
            if save:
                self.save()
