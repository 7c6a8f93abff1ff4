# One small timer type for the core: started at a tick count, read against `now` through the
# port's wrapping ticks_diff (injected), so it is right across the ticks_ms wrap. Allocates nothing:
# start() and stop() only store a small int and a bool.


def _diff(a, b):
    return a - b


class Timer:
    def __init__(self, diff=None):
        self._diff = diff or _diff
        self.running = False
        self.t0 = 0

    def start(self, now):
        self.running = True
        self.t0 = now

    def stop(self):
        self.running = False

    def elapsed(self, now):
        """ms since start() (meaningful only while running)."""
        return self._diff(now, self.t0)

    def expired(self, now, ms):
        """Running for at least ms; a stopped timer never expires."""
        return self.running and self._diff(now, self.t0) >= ms
