# Fault log: a ring of (time, reason, state) records on flash, trip counters, and the latched fault
# that must survive a reboot (a welded contactor is never a reason to close again).
import json

from evse import settings

RING_SIZE = 32


class Journal:
    def __init__(self, path):
        self.path = path
        self.records = []
        self.counters = {}
        self.latched = None
        self.error = None
        try:
            with open(path) as f:
                data = json.loads(f.read())
            self.records = list(data.get("records", []))[-RING_SIZE:]
            self.counters = dict(data.get("counters", {}))
            self.latched = data.get("latched")
        except OSError:
            pass                         # first boot: no log yet
        except (ValueError, AttributeError, TypeError):
            self.error = "fault log unreadable; started a new one"

    def _save(self):
        settings.save(self.path, {"records": self.records, "counters": self.counters,
                                  "latched": self.latched})

    def add(self, t_ms, reason, state, latched=False):
        self.records.append([t_ms, reason, state])
        if len(self.records) > RING_SIZE:
            self.records.pop(0)
        self.counters[reason] = self.counters.get(reason, 0) + 1
        if latched:
            self.latched = reason
        self._save()

    def clear_latched(self):
        if self.latched is not None:
            self.latched = None
            self._save()
