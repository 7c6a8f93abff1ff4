# Logging with levels to the console and to a small rotating file on flash.
# log.warn("...") only appends to a bounded queue; poll() (a service) does the I/O a little at a
# time, so a log call never waits for flash or the serial line.
from ..shell.hal import ticks_diff
from ..shell.store import join, remove

DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40
NAMES = {DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error"}

LOG_FILE = "log.txt"
QUEUE_MAX = 32            # entries waiting for poll(); beyond it the oldest is dropped (counted)
MSG_MAX = 160             # characters kept of one message
FILE_MAX_BYTES = 8192     # one file; then it becomes log.txt.1 (the previous .1 is dropped)
FILE_FLUSH_MS = 1000      # at most one flash write per second, with every line queued by then
PER_POLL = 8              # entries handed to the console per poll
# Flash wears by the write (littlefs copies the file's last block at every append): an error
# repeated every cycle wrote the file every second, about 86,000 block copies a day. A line equal
# to the one before it is counted instead ("repeated N times" when another line is written, or
# after REPEATS_FLUSH_MS), and the file is written at most FILE_BURST times in a row, then once
# per refill.
FILE_BURST = 10           # writes at once after a quiet spell (a line still on flash within 1 s)
FILE_REFILL_MS = 60000    # then one write a minute at most
REPEATS_FLUSH_MS = 600000  # "repeated N times" alone waits this long (a fault that stays)


class Log:
    def __init__(self, flash_dir="/", level=INFO, file_level=WARN, console=None):
        self.path = join(flash_dir, LOG_FILE) if flash_dir is not None else None
        self.level = level               # lowest level sent to the console
        self.file_level = file_level     # lowest level written to flash (flash wears)
        self.console = console
        self.queue = []                  # (t_ms, level, msg) not yet shown
        self.pending = []                # lines not yet written to the file
        self.dropped = 0
        self.last_error = None           # last flash error (the log itself never raises)
        self._last_write = None
        self._tokens = FILE_BURST        # file writes allowed now (FILE_BURST, FILE_REFILL_MS)
        self._refilled = None            # when the last token came back
        self._last_line = None           # (level, msg) of the last line kept for the file
        self.repeats = 0                 # lines equal to it since, not written
        self._size = self._file_size()
        self._now = 0

    def _file_size(self):
        if self.path is None:
            return 0
        try:
            import os
            return os.stat(self.path)[6]
        except OSError:
            return 0

    def log(self, level, msg, t_ms=None):
        if level < self.level and level < self.file_level:
            return
        if len(self.queue) >= QUEUE_MAX:
            self.queue.pop(0)
            self.dropped += 1
        self.queue.append((self._now if t_ms is None else t_ms, level, str(msg)[:MSG_MAX]))

    def debug(self, msg):
        self.log(DEBUG, msg)

    def info(self, msg):
        self.log(INFO, msg)

    def warn(self, msg):
        self.log(WARN, msg)

    def error(self, msg):
        self.log(ERROR, msg)

    def poll(self, now_ms):
        self._now = now_ms
        n = 0
        while self.queue and n < PER_POLL:
            t, level, msg = self.queue.pop(0)
            n += 1
            name = NAMES.get(level, str(level))
            if level >= self.level and self.console is not None:
                self.console.log_line(name, msg, t)
            if level >= self.file_level and self.path is not None:
                if self._last_line == (level, msg):
                    self.repeats += 1
                    continue
                self._said_repeats(t)
                self._last_line = (level, msg)
                self._keep("%d %s %s\n" % (t, name, msg))
        if not (self.pending or self.repeats):    # the usual poll: nothing to write (a Pico's 10 ms)
            return
        self._refill(now_ms)
        if self._due(now_ms):
            self._last_write = now_ms
            self._tokens -= 1
            if not self.repeats:         # a line again a day later is news: written whole
                self._last_line = None
            self._said_repeats(now_ms)
            self._write()

    def _due(self, now_ms):
        """The file is to be written now: lines waiting a second, or repeats alone ten minutes,
        and a write left in the budget."""
        last = self._last_write
        since = FILE_FLUSH_MS if last is None else ticks_diff(now_ms, last)
        if since < 0:                         # (a write 2**29 ms ago reads as recent)
            since = REPEATS_FLUSH_MS
        return self._tokens and (self.pending and since >= FILE_FLUSH_MS
                                 or self.repeats and since >= REPEATS_FLUSH_MS)

    def _keep(self, line):
        if len(self.pending) >= QUEUE_MAX:
            self.pending.pop(0)
            self.dropped += 1
        self.pending.append(line)

    def _said_repeats(self, t):
        if self.repeats:
            self._keep("%d %s last line repeated %d times\n" % (t, NAMES.get(self._last_line[0], ""), self.repeats))
            self.repeats = 0

    def _refill(self, now_ms):
        if self._refilled is None or self._tokens >= FILE_BURST:
            self._refilled = now_ms
            return
        d = ticks_diff(now_ms, self._refilled)
        n = d // FILE_REFILL_MS if d >= 0 else FILE_BURST     # (negative: 2**29 ms ago)
        if n:
            self._tokens = min(FILE_BURST, self._tokens + n)
            self._refilled = now_ms

    def _write(self):
        text = "".join(self.pending)
        self.pending = []
        path = self.path
        if path is None:
            return
        try:
            if self._size + len(text) > FILE_MAX_BYTES:
                self._rotate(path)
            with open(path, "a") as f:
                f.write(text)
            self._size += len(text)
            self.last_error = None
        except Exception as e:     # full or read-only flash: keep running, say so in status
            self.last_error = repr(e)

    def _rotate(self, path):
        import os
        old = path + ".1"
        remove(old)
        try:
            os.rename(path, old)
        except OSError:
            pass
        self._size = 0

    def lines(self):
        """The file's lines, older file first (for tests and the console)."""
        out = []
        if self.path is None:
            return out
        for p in (self.path + ".1", self.path):
            try:
                with open(p) as f:
                    out.extend(f.read().splitlines())
            except OSError:
                pass
        return out
