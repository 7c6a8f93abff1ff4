"""A fixed-size ring of JSON records on flash, one fixed-length slot per record, written in place
(one slot per append, never the whole file): the meter's session records (metering/energy.py).
Apart from evse/shell/store.py so that a charger with no meter never loads it (1.9 KB of heap after
boot on the unix port; docs/design.md, "Memory")."""
import json

from .store import exists

RING_SLOT_BYTES = 192  # one record: a session record is about 110 bytes of JSON
SLOT_FILL = 0x20       # unused slot bytes are spaces; each slot ends with a newline


class Ring:
    """`size` records in fixed slots of `slot` bytes; the oldest is overwritten.

    Each slot holds `{"seq": N, ...}` padded with spaces and a newline. A slot torn by a power
    cut fails to parse and is skipped; the next append reuses it (seq is one past the highest
    readable). append() returns False (never raises) when the record is too long or flash fails.
    """

    def __init__(self, path, size, slot=RING_SLOT_BYTES):
        if size < 1 or slot < 16:
            raise ValueError("ring size must be >= 1 and slot >= 16")
        self.path = path
        self.size = size
        self.slot = slot
        self.error = None
        self._next = self._scan_next_seq()

    def _slots(self):
        """Yield each parsed record (dict) in file order; unreadable slots are skipped."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        try:
            for _ in range(self.size):
                raw = f.read(self.slot)
                if not raw:
                    break
                try:
                    rec = json.loads(raw.decode().strip())
                    if isinstance(rec, dict) and isinstance(rec.get("seq"), int):
                        yield rec
                except Exception:
                    pass
        finally:
            f.close()

    def _scan_next_seq(self):
        top = -1
        for rec in self._slots():
            if rec["seq"] > top:
                top = rec["seq"]
        return top + 1

    def append(self, record):
        """Store a copy of `record` (a dict of JSON values) with the next sequence number."""
        rec = dict(record)
        rec["seq"] = self._next
        data = json.dumps(rec).encode()
        if len(data) > self.slot - 1:
            self.error = "record too long (%d > %d bytes)" % (len(data), self.slot - 1)
            return False
        line = bytearray(self.slot)
        line[: len(data)] = data
        for i in range(len(data), self.slot - 1):
            line[i] = SLOT_FILL
        line[self.slot - 1] = 0x0A
        index = self._next % self.size
        try:
            self._write_slot(index, line)
        except OSError as e:
            self.error = "flash write failed: %s" % e
            return False
        self._next += 1
        self.error = None
        return True

    def _write_slot(self, index, line):
        if not exists(self.path):
            open(self.path, "wb").close()
        with open(self.path, "r+b") as f:
            end = f.seek(0, 2)
            if end is None:  # some ports return None from seek
                end = f.tell()
            pos = index * self.slot
            if end < pos:  # earlier slots torn away: pad so the slot lands at its place
                f.write(b" " * (pos - end))
            f.seek(pos)
            f.write(line)

    def records(self):
        """Every readable record, oldest first."""
        recs = list(self._slots())
        recs.sort(key=lambda r: r["seq"])
        return recs

    def last(self):
        recs = self.records()
        return recs[-1] if recs else None
