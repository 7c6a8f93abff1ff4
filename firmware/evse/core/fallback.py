# Network without fear: a remote controller (MQTT, REST: a load balancer, a solar optimiser) that
# set a limit and then goes silent must not leave the charger at that limit for ever (a lost link
# once left one at full current and tripped a house's main breaker). After timeout_ms without a
# word from it, the core caps the current at the fallback amps as one more limit source
# (V.SRC_FALLBACK): the lowest limit still wins, so the fallback never raises the current.
# One controller is watched: the last one that set a limit. Its next limit ends the fallback (not
# another's: the silent one's limit still stands); its limit removed passes the watch to another remote
# controller whose limit still stands, else ends it (another's removal changes nothing). `kept` lets the app keep
# which one on flash: after a reboot its limit is gone with the RAM, a missing value, so the
# fallback holds from the boot until that controller speaks again (never the full current).
# A fallback under the car's minimum pauses the charge: that pause lasts at least hold_ms (the
# settings' min_pause_s, as the planner's) before the controller's word lifts it, so a controller
# slower than the timeout does not cycle the contactor at each of its late words.
# The central system (OCPP) is one such controller while it runs: its limit comes from profiles it
# stored, which hold without repeats (OCPP 1.6 3.13: in force offline too), so its limit is no word;
# a frame from it is (link()), and the fallback caps its profile's current once it is silent.
# Its cap set and lifted are said (say: the console and the log), naming who went silent.
from . import vocab as V

_NAMES = {"mqtt": "the MQTT controller", "rest": "the REST controller", "ocpp": "the central system"}


class Fallback:
    OCPP = "ocpp"   # the central system (CoreLink's source): its limit holds offline, its frames are words

    def __init__(self, charger, amps, timeout_ms, diff, kept=None, now_ms=0, say=None):
        """kept: (path, read_json, write_json_atomic, report), where the one watched is kept on flash
        for a reboot (the shell's store and the app's report: the core does no I/O of its own);
        say(text): the app's warning, when the cap is set or lifted."""
        self.say = say
        self.linked = None          # (source, heard()): a controller heard by its link, not its limit
        self._said = False          # the cap as last said
        self._who = None            # the silent controller it named
        self.charger = charger
        self.amps = amps
        self.timeout_ms = timeout_ms
        self.diff = diff
        self.kept = kept
        self.source = None          # the remote controller watched, or None
        self.held = []              # the remote controllers whose limit stands, the last to set it last
        self.active = False         # the fallback cap is in force
        self._last_ms = now_ms
        # a pause's minimum time (the settings' min_pause_s), when amps is under the car's minimum
        self.hold_ms = charger.cfg["min_pause_s"] * 1000 if amps * 10 < charger.car_min_x10 else 0
        self._since = None          # when a silence paused the charge (None: no pause to hold)
        self._heard = False         # the controller spoke during that pause's minimum time
        if kept is not None:
            path, read, _, _ = kept
            was = read(path)
            if isinstance(was, str):  # its limit went with the RAM: the fallback until it speaks
                self.source = was
                self.active = True
                charger.set_limit(V.SRC_FALLBACK, amps)

    def heard(self, source, amps, now_ms, alive=True):
        """A remote source set its limit (amps: watched from now), or removed it (None): only the
        watched source's own removal ends the watch (or passes it on); another's leaves it. A limit not
        `alive` (a broker's stored copy) is no word from the one watched: it starts a watch only.
        While the cap is in force only the silent one's word ends it: another controller's limit
        left the silent one's (a dead load balancer's 32 A) in force, unwatched."""
        held = self._hold(source, amps)
        alive = alive and not self._stored(source, amps)
        if (amps is None and source != self.source) or (not alive and self.source is not None) \
                or (self.active and self.source is not None and source != self.source):
            return
        was = self.source
        # the watched one's removal passes the watch, from now, to the last other remote controller
        # whose limit still stands (it was left in force unwatched: a dead one's 32 A for ever)
        self.source = source if amps is not None else (held[-1] if held else None)
        if self.source != was:          # a change only: a repeat writes nothing
            self._keep()
        self._last_ms = now_ms
        if self.active:
            self._heard = True
            self._lift()

    def _keep(self):
        if self.kept is not None:
            path, _, write, report = self.kept
            try:
                write(path, self.source)
            except OSError as e:        # the limit holds; only a reboot's watch is lost: said
                report("fallback", "not kept for a reboot: " + repr(e))

    def only(self, sources):
        """At boot: the controller kept on flash is forgotten unless its service runs (one turned
        off in the settings can never speak again: its cap would hold for ever)."""
        if self.source is not None and self.source not in sources:
            self.source = None
            self.active = False
            self.charger.set_limit(V.SRC_FALLBACK, None)
            self._keep()

    def _stored(self, source, amps):
        """A linked controller's limit (not its removal): from what it stored, no word from it."""
        return amps is not None and self.linked is not None and source == self.linked[0]

    def listen(self, source, heard):
        """source's limit is no word from it (the central system's profiles, stored: they hold
        offline); heard() is True when it spoke since the last call (a frame from it, a Pong too)."""
        self.linked = (source, heard)

    def link(self, source, now_ms):
        """A sign of life from a controller whose limit holds without repeats (OCPP: a frame from
        the central system, whose profiles stay in force): the watched one is heard, its limit kept."""
        if source == self.source:
            self._last_ms = now_ms
            if self.active:
                self._heard = True
                self._lift()

    def _hold(self, source, amps):
        """The remote limits standing, the last set last (a retained one stands too)."""
        held = self.held
        if source in held:
            held.remove(source)
        if amps is not None:
            held.append(source)
        return held

    def _lift(self):
        """End the cap once the controller spoke, and a pause it made has lasted its minimum time."""
        if self._heard and self._since is None:
            self.active = False
            self.charger.set_limit(V.SRC_FALLBACK, None)

    def poll(self, now_ms):
        """Once per control cycle: cap the current when the watched source has gone silent; say it
        when the cap came or went."""
        if self.linked is not None and self.linked[1]():
            self.link(self.linked[0], now_ms)
        started = self._poll(now_ms)
        if self.active != self._said and self.say is not None:
            self._said = self.active
            if self.active:     # named now: a removal may pass the watch on before the lift
                self._who = _NAMES.get(str(self.source), self.source)
                self.say("fallback: %s silent %s: at most %.1f A (fallback_current_a)" % (
                    self._who, "since before the boot" if self._since is None   # kept on flash
                    else "for %d s (fallback_timeout_s)" % (self.timeout_ms // 1000), self.amps))
            else:
                self.say("fallback: %s heard again or its limit removed: the cap lifted" % (self._who,))
        return started

    def _poll(self, now_ms):
        if self.active:
            t = self._since
            if t is not None and self.diff(now_ms, t) >= self.hold_ms:
                self._since = None      # the pause's minimum time is over: stopped (ticks wrap)
            if self.source is not None and self.diff(now_ms, self._last_ms) >= self.timeout_ms:
                self._heard = False     # silent again since its word: the cap stays
            self._lift()
            return False
        if self.source is None or self.diff(now_ms, self._last_ms) < self.timeout_ms:
            return False
        self.active = True
        self._since = now_ms
        self._heard = False
        self.charger.set_limit(V.SRC_FALLBACK, self.amps)
        return True
