"""Transaction messages (StartTransaction, MeterValues of a transaction, StopTransaction) kept on
flash until the central system has answered them, delivered in order (OCPP 1.6 section 4.10).

The file is an append-only log of JSON lines, so a power cut can only tear the last line (which
is then ignored, and the next line appended after a newline of its own, never glued to it):
    ["q", seq, action, payload, txref, meta]   a queued message
    ["a", seq]                                  delivered (or given up): no longer queued
    ["t", txref, transactionId]                 the id the central system gave transaction txref
A transaction is known locally by `txref` until its StartTransaction is answered; queued messages
of that transaction get the real transactionId when they are sent. The log is rewritten (atomically,
temp file + rename) when it holds more than COMPACT_LINES lines no longer needed (answered or dropped
messages), not at every sample. A full queue is thinned (thin): every second MeterValues goes and
one sample in twice as many is queued from then on, so it covers the whole time offline.
A MeterValues is held in RAM (push keep=False) and written only when it has to be: connected, it
goes out at once and, answered, never touches the flash (a queued sample cost two appends and its
share of a compaction; evcc's 10 s wore a Pico's flash out in years); offline, the samples held
are written together in one append once the oldest is HOLD_MS old (the service's poll), before any
other message (a Start or Stop is never held, and order is kept: seq), when the link drops or an
answer fails (flush). The cap's drops of samples already on flash are written with the next line.
Offline at MeterValueSampleInterval 1 each sample was an append of the log (and, past the cap, a
drop line too): 19,000 appends a day of 4 h wore a Pico's flash out in about a year. A power cut
loses at most the samples of the last HOLD_MS (never a Start, a Stop or the register, which is
in state.json); a thinning's drops lost with it bring their samples back (delivered; the queue
is thinned again once full)."""
import json
import os
from . import store

MAX_QUEUED = 400  # messages; beyond it every second MeterValues goes (never a Start or Stop, thin)
COMPACT_LINES = 200  # dead log lines before a rewrite
KEEP_RECENT_TXIDS = 4
HOLD_MS = 60000  # MeterValues held in RAM at most this long (a power cut loses at most these)


class TxQueue:
    def __init__(self, path):
        self.path = path
        self.records = []  # [seq, action, payload, txref, meta], oldest first
        self.txids = {}  # txref -> transactionId
        self.seq = 0
        self.lines = 0
        self.torn = False  # the file ends in a line a power cut tore: the next append starts a line
        self.rewrite = False  # the next write is the whole queue (compact): lines were refused, or due
        self.unsaved = []  # seqs of the records held in RAM only (push keep=False), not yet on flash
        self.marks = []  # seqs the cap dropped whose "a" line waits for the next write
        self.stride = 1  # the queue full: one MeterValues in `stride` is queued (thin)
        self._skip = 0
        self._load()

    def _load(self):
        store.recover_tmp(self.path)
        live = {}
        try:
            f = open(self.path)
        except OSError:
            return
        line = "\n"
        with f:
            for line in f:
                self.lines += 1
                try:
                    r = json.loads(line)
                    kind = r[0]
                except (ValueError, IndexError, TypeError):
                    continue  # a torn last line
                if kind == "q" and len(r) == 6:
                    live[r[1]] = r[1:]
                    if r[1] > self.seq:
                        self.seq = r[1]
                elif kind == "a" and len(r) == 2:
                    live.pop(r[1], None)
                elif kind == "t" and len(r) == 3:
                    self.txids[r[1]] = r[2]
        self.torn = not line.endswith("\n")
        self.records = [live[k] for k in sorted(live)]

    def _append(self, entry):
        self._write([entry])

    def _write(self, entries):
        """Lines more on flash in one open of the file (one littlefs commit), the cap's drop lines
        first, or the whole queue rewritten (compact) when due or when lines went missing: a full
        or failing flash never raises here, the queue goes on in RAM and is written whole once
        there is room (store.error says it)."""
        try:
            if self.rewrite:
                self.compact()
            else:
                if self.marks:
                    entries = [["a", seq] for seq in self.marks] + entries
                torn, self.torn = self.torn, True  # until the lines are all there
                with open(self.path, "a") as f:
                    if torn:
                        f.write("\n")
                    for entry in entries:
                        f.write(json.dumps(entry) + "\n")
                self.torn = False
                self.lines += len(entries)
                self.marks = []
            self.rewrite = False
        except OSError as e:
            self.rewrite = True
            store.error = e

    def __len__(self):
        return len(self.records)

    def push(self, action, payload, txref, meta=None, keep=True):
        """Queue a message (its seq, or None for a MeterValues the full queue thins away);
        keep=False (a MeterValues): held in RAM until flush (above)."""
        if not self.records:
            self.stride = 1
        if len(self.records) >= MAX_QUEUED:
            self.thin()
        if action == "MeterValues":
            self._skip += 1
            if self._skip < self.stride:
                return None
            self._skip = 0
        self.seq += 1
        rec = [self.seq, action, payload, txref, meta or {}]
        self.records.append(rec)
        if keep or self.rewrite:
            self.flush(rec)
        else:
            self.unsaved.append(self.seq)
        return self.seq

    def flush(self, rec=None):
        """The records held in RAM only (they are older than `rec`, a record to write after them)
        and the cap's drop lines, to flash in one append."""
        if self.unsaved or self.marks or rec is not None or self.rewrite:
            seqs, self.unsaved = self.unsaved, []
            entries = [["q"] + r for r in self.records if r[0] in seqs]
            if rec is not None:
                entries.append(["q"] + rec)
            self._write(entries)

    def thin(self):
        """The queue full: every second MeterValues goes (the newest kept, so the next one queued
        is one new interval after it), and from now on one sample in twice as many is queued. The
        queue covers the whole time offline at an interval doubled at each fill, not its last 400
        samples: before, each sample past the cap dropped the oldest, one drop line and a share of
        a compaction a sample, and at an interval of 1 s the queue held the last 7 minutes. Start
        and Stop are never dropped."""
        n = 0
        for r in reversed([r for r in self.records if r[1] == "MeterValues"]):
            if n & 1:
                self.drop(r[0], True)
            n += 1
        if n > 1:
            self.stride *= 2

    def head(self):
        return self.records[0] if self.records else None

    def drop(self, seq, capped=False):
        """The message `seq` is done (answered, or given up after its attempts); `capped`: dropped
        for the cap, its line written with the next one."""
        self.records = [r for r in self.records if r[0] != seq]
        if seq in self.unsaved:       # never on flash: nothing to strike out there
            self.unsaved.remove(seq)
            return
        if self.lines + 1 + len(self.marks) - len(self.records) > COMPACT_LINES:
            self.rewrite = True
        if not capped:
            self._append(["a", seq])
        elif not self.rewrite:          # (else the next write is the compaction: no line needed)
            self.marks.append(seq)

    def set_txid(self, txref, txid):
        self.txids[txref] = txid
        self._append(["t", txref, txid])

    def has(self, action, txref):
        for r in self.records:
            if r[1] == action and r[3] == txref:
                return True
        return False

    def compact(self):
        # Keep ids still referenced, and the newest few: an open transaction's id is needed for
        # the StopTransaction queued after a reboot.
        refs = set(r[3] for r in self.records)
        refs.update(sorted(k for k in self.txids if isinstance(k, int))[-KEEP_RECENT_TXIDS:])
        tmp = self.path + ".tmp"
        n = 0
        with open(tmp, "w") as f:
            for ref in refs:
                if ref in self.txids:
                    f.write(json.dumps(["t", ref, self.txids[ref]]) + "\n")
                    n += 1
            for r in self.records:
                f.write(json.dumps(["q"] + r) + "\n")
                n += 1
        store.remove(self.path)
        os.rename(tmp, self.path)
        self.torn = False
        self.unsaved = []
        self.marks = []
        self.txids = {k: v for k, v in self.txids.items() if k in refs}
        self.lines = n
