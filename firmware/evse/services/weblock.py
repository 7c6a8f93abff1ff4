# Password guessing on the web page and API (evse.services.web): wrong passwords counted per address
# and from all together, each lockout answered 429 (docs/web.md, Lockout). Imported at the first
# password given: a page only read costs no heap for it. The counts are in RAM only: nothing is
# written to flash per guess, one log line per lockout.
from ..shell.hal import ticks_diff

FAILS_FREE = 5                   # wrong passwords from one address, then its lockout: every password it sends
LOCK_S = 30                      # is answered 429 for 30 s, doubled by each wrong one after (OWASP
LOCK_MAX_S = 900                 # Authentication Cheat Sheet: threshold, duration, growing), to 15 min at
                                 # most: about 100 guesses a day from one address, the owner's after a typo
ALL_FREE = 20                    # wrong passwords from addresses not locked out yet, all together, then every
                                 # address is locked out the same way: many addresses guess no faster (NIST
                                 # SP 800-63B 5.2.2: at most 100 failed attempts in a row); a token stays good
FORGET_S = 3600                  # a count is forgotten an hour after its last wrong password
ADDRS_MAX = 8                    # addresses counted at once (RAM bounded; nothing goes to flash per guess):
                                 # a ninth's count takes the place of the oldest not locked out


class Lockout:
    """Wrong passwords counted per address (ADDRS_MAX of them) and from all together, each row
    [address, wrong ones, ticks of the last, ms locked out from then: 0 none]; in RAM only."""

    def __init__(self, app):
        self.app = app
        self.rows = []
        self.all = [None, 0, 0, 0]

    def _row(self, peer):
        for r in self.rows:
            if r[0] == peer:
                return r
        return None

    def left_s(self, peer, now):
        """Whole seconds the address (or every address) is still locked out; 0: its password is judged."""
        left = 0
        for r in (self._row(peer), self.all):
            if r is not None and r[3]:
                left = max(left, r[3] - ticks_diff(now, r[2]))
        return (left + 999) // 1000

    def right(self, peer):
        r = self._row(peer)
        if r is not None:
            self.rows.remove(r)

    def wrong(self, peer, now):
        r = self._row(peer) or self._new(peer, now)
        if r is None or r[1] < FAILS_FREE:          # an address already locked out counts alone
            self._count(self.all, now, ALL_FREE, "from several addresses")
        if r is not None:
            self._count(r, now, FAILS_FREE, "from " + str(peer))

    def _new(self, peer, now):
        if len(self.rows) >= ADDRS_MAX:
            old = [r for r in self.rows if r[3] <= ticks_diff(now, r[2])]
            if not old:
                return None                         # counted in all only
            old.sort(key=lambda r: ticks_diff(now, r[2]))
            self.rows.remove(old[-1])
        r = [peer, 0, now, 0]
        self.rows.append(r)
        return r

    def _count(self, r, now, free, who):
        r[1] += 1
        r[2] = now
        if r[1] >= free:
            lock = min(LOCK_S << min(r[1] - free, 5), LOCK_MAX_S)
            r[3] = lock * 1000
            msg = "web: %d wrong passwords %s: logins refused for %d s" % (r[1], who, lock)
            log = self.app.log
            if log is not None:                     # one line a lockout, never one a guess
                log.warn(msg)
            else:
                print("evse:", msg)

    def sweep(self, now):
        """Counts forgotten FORGET_S after their last wrong password (before the ticks' wrap, too)."""
        self.rows = [r for r in self.rows if ticks_diff(now, r[2]) < FORGET_S * 1000]
        if ticks_diff(now, self.all[2]) >= FORGET_S * 1000:
            self.all = [None, 0, now, 0]
