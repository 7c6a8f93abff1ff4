# Fault log: the last (time, reason, state) records on flash, trip counters per reason, and the
# latched fault that must survive a reboot (a welded contactor is never a reason to close again).
from evse.shell import store

RING_SIZE = 32


class Journal:
    def __init__(self, path):
        self.path = path
        self.error = None
        data = store.read_json(path, None)
        if data is not None and not isinstance(data, dict):
            data = None
            self.error = "fault log unreadable; started a new one"
        data = data or {}
        try:
            self.records = list(data.get("records", []))[-RING_SIZE:]
            self.counters = dict(data.get("counters", {}))
            self.latched = data.get("latched")
        except (TypeError, ValueError):
            self.records, self.counters, self.latched = [], {}, None
            self.error = "fault log unreadable; started a new one"

    def _save(self):
        try:
            store.write_json_atomic(self.path, {"records": self.records, "counters": self.counters,
                                                "latched": self.latched})
        except OSError as e:        # a full or failing flash must not stop the control loop
            self.error = "fault log not saved: %s" % e

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
