"""The core as the OCPP service sees it: the charger's verbs (set_limit, enable, authorize, stop)
each turned into an App.command under the source 'ocpp' (one place for the checks, the fallback and
the session's user), and the app's public view (state, fault, outputs and three queries). The
service is written against these verbs, so its tests drive it with a recording stand-in."""
from micropython import const
from ..shell.hal import ticks_ms

_ID_TAG_MAX = const(20)  # OCPP 1.6 IdToken: CiString20Type


class CoreLink:
    def __init__(self, app, source):
        self.app, self.source = app, source
        ch = app.charger
        self.out = ch.out                            # what the pilot offers now
        self.limit_without, self.pilot_read = ch.limit_without, ch.pilot_read

    @property
    def state(self):
        return self.app.charger.state

    @property
    def fault(self):
        return self.app.charger.fault

    @property
    def heat(self):
        """0; 1: too hot to charge (the thermal stop); 2: no temperature read (the sensor)."""
        th = self.app.charger.thermal
        return 2 if th.broken else 1 if th.hot else 0

    def _do(self, verb, arg=None, source=None):
        return self.app.command(verb, arg, ticks_ms(), source or self.source)

    def set_limit(self, source, amps):
        self._do("limit", amps, source)

    def enable(self, flag):
        self._do("enable" if flag else "disable")

    def authorize(self, flag, id_tag=None):
        """id_tag: the idTag the charge is for (the session's user in the history). One that is not
        an OCPP idTag is not passed on: the record then names the source, 'ocpp'."""
        if not flag:
            self._do("deauthorize")
        elif isinstance(id_tag, str) and 0 < len(id_tag) <= _ID_TAG_MAX:
            self._do("authorize", id_tag)
        else:
            self._do("authorize")

    def stop(self, reason):
        self._do("stop", reason)

    def unlock(self, tx=False):
        """A Type 2 socket's plug lock released once the contactor is open (the session stopped
        first; nothing offered until the car leaves) -> the core's lock, to read; None: no lock (a
        transaction, tx, stopped all the same)."""
        lock = self.app.charger.lock
        if lock is None or self.app.cfg["connector"] != "type2-socket":
            if tx:
                self._do("stop", "unlock")
            return None
        try:
            self._do("unlock")          # (the core's one stop: a session is stopped there)
        except ValueError:              # already unlocking: the answer waits for it all the same
            pass
        return lock

    @property
    def enabled(self):
        """Not switched off (the console, the web page, MQTT, ChangeAvailability)."""
        return self.app.charger.enabled

    @property
    def held(self):
        """A cable kept locked in the socket after the car side left (UnlockConnectorOnEVSideDisconnect
        false). A property: the status poll reads it every 10 ms (a bound method is an allocation)."""
        lock = self.app.charger.lock
        return lock is not None and lock.held(self.app.charger)

    def keep_cable(self, flag):
        """UnlockConnectorOnEVSideDisconnect false (flag True), for this transaction: its cable stays
        locked in the socket when the car side leaves, until released (unlock, its owner's card)."""
        lock = self.app.charger.lock
        if lock is not None:
            lock.keep(self.app.charger, flag)

    def clock_from_ntp(self):
        """Whether NTP (services/netclock.py) has set the board's clock this boot: it then wins
        over the central system's time (docs/network.md)."""
        nc = self.app.netclock
        return nc is not None and nc.synced is not None
