# A Type 2 socket's plug lock: the shell's half. The actuator (a motor or a solenoid) through an
# H-bridge, LOCK_PINS (lock, unlock): a pulse of LOCK_PULSE_MS towards the core's command, again
# every LOCK_RETRY_MS while the feedback switch disagrees (esp32-evse, SmartEVSE-3 retry too).
# Imported only on a board with LOCK_PINS (startup.py): the core's SocketLock decides.
# A drive ends by a one-shot timer too: the tick that ends it may come late (the loop held by a
# long call: a pulse of 2.1 s behind a TLS handshake), and a motor rated for a pulse must not stay
# powered against its end stop. The timer is a hard one (rp2: it runs during a call in C). esp32
# has only soft ones (ports/esp32/machine_timer.c): they wait behind the same call, a virtual one's
# deinit before its first init raises, and each init creates a FreeRTOS timer the last one's is
# not deleted for (a leak per drive): there the tick ends the drive, as before.
import time

import machine

from ..core import limits as L

ticks_diff = time.ticks_diff


class LockDriver:
    def __init__(self, board, hw):
        a, b = board.LOCK_PINS
        self._lock = machine.Pin(a, machine.Pin.OUT, value=0)
        self._unlock = machine.Pin(b, machine.Pin.OUT, value=0)
        self._fb = machine.Pin(board.LOCK_FB_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
        self._active = board.LOCK_FB_ACTIVE     # the switch's level when locked
        self._want = None         # the command last driven towards
        self._on = None           # when the running pulse started (None: the actuator off)
        self._last = 0            # when the last pulse started
        self._cmd = None          # when the command changed: drives again only within LOCK_MOVE_MS
        self._end_cb = self.timed_off  # bound once: starting a drive allocates nothing
        timer = machine.Timer(-1)
        try:
            self._arm(timer)
            timer.deinit()
        except (ValueError, TypeError):     # (esp32: "hard Timers are not implemented")
            timer = None
        self._timer = timer
        safe = hw.safe

        def safe_and_off():       # hw.safe() (an exception, the REPL, a reset) stops the motor too:
            safe()                # never left driven; the bolt holds where it is (a Hardware method
            self.off()            # would cost every board's heap)
        hw.safe = safe_and_off

    def step(self, m, core, now):
        """Each tick, before the core's step: the actuator towards the core's last command (a tick
        late: nothing for a motor of LOCK_PULSE_MS), then the switch into m for this step. While
        a drive runs it reads as not there yet: the switch is judged once the drive is over
        (esp32-evse and SmartEVSE-3 read it then; it opens as soon as the bolt starts to leave)."""
        # once the core read it there (ok), a switch that reads otherwise is not driven again: a
        # retry's drive would read as 'not there yet' for LOCK_PULSE_MS (a bounce was a fault)
        want = core.want
        self.apply(want, (1 if want else 0) if core.ok else m.lock_fb, now)
        if self._on is None:
            m.lock_fb = 1 if self._fb.value() == self._active else 0
        else:
            m.lock_fb = 0 if self._want else 1

    def apply(self, want, fb, now):
        if want is None:          # the core has not stepped yet: nothing commanded, nothing driven
            return
        if want != self._want:
            self._cmd = now
        else:
            cmd = self._cmd
            if cmd is not None and ticks_diff(now, cmd) >= L.LOCK_MOVE_MS:
                # the move's time over: a motor is not driven for ever, and the time stops (the
                # ticks wrap: 2**29 ms on, it read as new and pulsed a jam every second for 6.2 days)
                self._cmd = cmd = None
            if not (self._on is None and cmd is not None and fb != (1 if want else 0)
                    and ticks_diff(now, self._last) >= L.LOCK_RETRY_MS):
                if self._on is not None and ticks_diff(now, self._on) >= L.LOCK_PULSE_MS:
                    self.off()
                return
        timer = self._timer
        if timer is not None:
            timer.deinit()        # (the last drive's: it must not end this one)
        if want:                  # the other side first: the bridge never drives both ways at once
            self._unlock.value(0)
            self._lock.value(1)
        else:
            self._lock.value(0)
            self._unlock.value(1)
        self._want = want
        self._on = self._last = now
        if timer is not None:
            self._arm(timer)

    def _arm(self, timer):
        timer.init(mode=machine.Timer.ONE_SHOT, period=L.LOCK_PULSE_MS, callback=self._end_cb, hard=True)

    def timed_off(self, t):
        """The drive's timer (an interrupt, maybe inside a long call): the actuator off. Pins only:
        the tick reads _on (off() clears it there), nothing is allocated."""
        self._lock.value(0)
        self._unlock.value(0)

    def off(self):
        """The actuator unpowered (the lock holds where it is)."""
        self._lock.value(0)
        self._unlock.value(0)
        self._on = None
