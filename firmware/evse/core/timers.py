# One small timer type for the core: started at a tick count, read against `now` through the
# port's wrapping ticks_diff (injected), so it is right across the ticks_ms wrap. Allocates nothing:
# start() and stop() only store a small int or None (two attributes: less heap per timer).


class Timer:
    def __init__(self, diff):
        self._diff = diff
        self.t0 = None                # tick count at start(); None: stopped

    @property
    def running(self):
        return self.t0 is not None

    def start(self, now):
        self.t0 = now

    def stop(self):
        self.t0 = None

    def expired(self, now, ms):
        """Running for at least ms; a stopped timer never expires."""
        t0 = self.t0
        return t0 is not None and self._diff(now, t0) >= ms
