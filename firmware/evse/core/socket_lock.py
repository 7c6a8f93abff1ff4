# A Type 2 socket's plug lock: the core's half (pure: a command out, the feedback in). Imported only
# on a board with a lock (startup.py): a board without one never loads it (heap).
# The rules esp32-evse, SmartEVSE-3 and EVerest agree on (docs/design.md, "The plug lock"): lock
# once a car is connected and before any current is offered; never unlock while the contactor is
# closed (or its mirror reads closed); unlock when the car leaves, after a fault once the contactor
# is open, or on OCPP's UnlockConnector once the transaction has stopped; a lock that does not
# report its position in time, or opens under the plug, is a fault (nothing offered).
# OCPP's UnlockConnectorOnEVSideDisconnect false (section 9.1): the cable unplugged at the car stays
# locked in the socket (its PP still reads) until someone authorized releases it (unlock()).
from . import limits as L
from . import proximity as PX
from . import vocab as V

# The states with a car connected: the plug is held
_CAR = (V.ST_B1, V.ST_B2, V.ST_C1, V.ST_C2, V.ST_D1, V.ST_D2, V.ST_PAUSED, V.ST_WAKEUP)


class SocketLock:
    def __init__(self):
        # the command: True locked (the shell drives the actuator to it); None until the first
        # step: a boot with the contactor welded (its mirror closed) drove it open for a tick
        self.want = None
        self.ok = False         # the feedback reads the command (read since it was given)
        self.since = None       # when the command changed, until the feedback agrees (LOCK_MOVE_MS)
        self.release = False    # UnlockConnector: unlocked, nothing offered, until the car leaves
        self.hold = False       # UnlockConnectorOnEVSideDisconnect false, armed for a transaction
        self.doubt = None       # when a held lock's switch began to read otherwise (LOCK_OPEN_CONFIRM_MS)

    def shown(self):
        """The status' words: locked, unlocked, or on the way (locking, unlocking)."""
        if self.ok:
            return "locked" if self.want else "unlocked"
        return "locking" if self.want else "unlocking"

    def holds(self, cfg):
        """Charging may go on: the plug is locked, or the connector has no lock to use."""
        return (self.want and self.ok) or cfg["connector"] != "type2-socket"

    def held(self, ch):
        """A cable kept locked in the socket with no car at its other end (hold)."""
        return self.want and ch.t_closed is None and ch.state not in _CAR

    def unlock(self, ch):
        """Someone authorized asks for the cable (App.command 'unlock'): a session is stopped
        first, the lock released once the contactor is open, nothing offered until the car leaves."""
        if ch.cfg["connector"] != "type2-socket":
            raise ValueError("no plug lock: the cable is tethered")
        if not self.want and self.since is not None:
            raise ValueError("the plug lock is busy unlocking")
        if ch.state in _CAR:        # (a kept cable's release withdraws no one's card given since)
            ch.stop("unlock")
        ch.request()
        self.release = True
        return {"unlocking": self.want}

    def keep(self, ch, flag):
        """Keep the cable (flag True: OCPP's UnlockConnectorOnEVSideDisconnect is false) or not."""
        self.hold = bool(flag)
        ch.request()

    def closable(self):
        """The contactor may close: no reading of the switch in doubt (a bounce is never closed on)."""
        return self.doubt is None

    def opened(self, ch, m, now):
        """Before the core's state: a lock that read its command reads otherwise (opened under the
        plug, a wire off) for LOCK_OPEN_CONFIRM_MS is the fault, so nothing closes on it in this
        step; a shorter reading is a bounce (nothing closes on it either: closable)."""
        if self.ok and _fb(ch, m) != (1 if self.want else 0):
            t = self.doubt
            if t is None:
                self.doubt = now
            elif ch.diff(now, t) >= L.LOCK_OPEN_CONFIRM_MS or ch.diff(now, t) < 0:
                self.ok = False
                self.doubt = None
                if self.want or ch.fault is None:
                    ch._set_fault(V.FAULT_LOCK, now)
        else:
            self.doubt = None

    def step(self, ch, m, now):
        """After the core's step: the command from its state, and the feedback (m.lock_fb: 1
        locked, 0 unlocked) judged against it. With hold, locked stays locked while the cable's PP
        reads, the car gone or not."""
        want = self._command(ch, m)
        if ch.state == V.ST_A1:
            self.release = False
            if not want:
                self.hold = False   # let go: the next cable is kept for a transaction of its own
        fb = _fb(ch, m)
        if want != self.want:
            self.want = want
            self.ok = False
            self.since = now
            self.doubt = None
        elif fb == (1 if want else 0):
            self.ok = True
            self.since = None
        elif self.doubt is not None:
            pass                    # held and read otherwise since doubt: opened() judges it
        elif self.ok or (self.since is not None and ch.diff(now, self.since) >= L.LOCK_MOVE_MS):
            # opened under the plug (the contactor opens at once), or never got there
            self.ok = False
            self.since = None
            if want or ch.fault is None:    # (a stuck unlock never replaces the fault that came first)
                ch._set_fault(V.FAULT_LOCK, now)

    def _command(self, ch, m):
        """Locked: the contactor closed, or its mirror reading closed, or welded (the socket live
        whatever one reading of the mirror says: a spike on its wire), or wanted (below)."""
        return ch.cfg["connector"] == "type2-socket" and (
            ch.t_closed is not None or m.feedback == 1 or ch.fault == V.FAULT_WELD or self._wanted(ch))

    def _wanted(self, ch):
        """Locked with the contactor open: a car connected, or a kept cable still in (hold)."""
        return ch.fault is None and not self.release and (
            ch.state in _CAR or (self.hold and self.want and ch._pp == PX.LATCHED))

    def horizon(self, d, now, r):
        """ms until the move's time, or a doubt's, runs out (Charger._horizon)."""
        if self.since is not None:
            t = L.LOCK_MOVE_MS - d(now, self.since)
            if 0 < t < r:
                r = t
        if self.doubt is not None:
            t = L.LOCK_OPEN_CONFIRM_MS - d(now, self.doubt)
            if 0 < t < r:
                r = t
        return r

    def fill(self, b, i):
        b[i] = self.want
        b[i + 1] = self.ok
        b[i + 2] = self.since
        b[i + 3] = self.release
        b[i + 5] = self.doubt


def _fb(ch, m):
    """The lock's switch as judged: on a tethered cable the lock is not used (SmartEVSE-3 offers its
    lock only for a socket) and its switch means nothing: read as the command (unlocked)."""
    return m.lock_fb if ch.cfg["connector"] == "type2-socket" else 0
