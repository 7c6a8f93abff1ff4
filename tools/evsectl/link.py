"""A connection to the firmware's console over a serial port, socket:// or the virtual board."""
import json
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VBOARD_TTY = os.path.join(ROOT, "build", "vboard", "tty")
BAUD = 115200


class LinkError(Exception):
    pass


def resolve(port):
    return VBOARD_TTY if port == "vboard" else port


def open_port(port, timeout=0.1):
    import serial
    dev = resolve(port)
    if "://" not in dev and not os.path.exists(dev):
        raise LinkError("no device at %s" % dev)
    try:
        s = serial.serial_for_url(dev, baudrate=BAUD, timeout=timeout)
    except (serial.SerialException, OSError) as e:
        raise LinkError("cannot open %s: %s" % (dev, e))
    try:
        s.reset_input_buffer()
    except Exception:
        pass
    return s


class Link:
    """request() sends one command and returns its reply; event lines seen meanwhile go to on_event."""

    def __init__(self, port, timeout=5.0, on_event=None, on_other=None, stream=None):
        self.port = port
        self.timeout = timeout
        self.on_event = on_event
        self.on_other = on_other          # lines that are not JSON (REPL text, tracebacks)
        self.s = stream if stream is not None else open_port(port)
        self._buf = b""
        self._sent = None                 # the last request line, to tell a REPL's echo of it
        self.echoed = False               # it came back: a REPL, not the firmware, is reading
        self._next_id = int(time.time()) % 10000 * 10

    def close(self):
        self.s.close()

    def lines(self, until):
        """Yield decoded JSON objects until the deadline `until` (time.monotonic())."""
        while time.monotonic() < until:
            try:
                chunk = self.s.read(4096)
            except Exception as e:      # serial.SerialException: unplugged, or another program reads
                raise LinkError("%s: %s" % (self.port, e))
            if chunk:
                self._buf += chunk
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                line = line.strip(b"\r\x04 ")
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                if self._sent is not None and self._sent in line:
                    self.echoed = True    # a REPL echoes what it is sent: never a reply
                    continue
                if isinstance(obj, dict):
                    yield obj
                elif self.on_other is not None:
                    self.on_other(line.decode("utf-8", "replace"))
            if not chunk:
                yield None

    def request(self, cmd, timeout=None, **args):
        rid = args.pop("id", None)        # raw's own id: the reply carries it, not ours
        if rid is None:
            self._next_id += 1
            rid = self._next_id
        req = {"id": rid, "cmd": cmd}     # id first: an over-long line's error still carries it
        req.update(args)
        self._sent = json.dumps(req, ensure_ascii=False).encode()   # U+10000 and up as UTF-8: no \ud83d pair
        self.echoed = False
        self.s.write(self._sent + b"\n")
        until = time.monotonic() + (self.timeout if timeout is None else timeout)
        for obj in self.lines(until):
            if obj is None:
                continue
            if "ev" in obj:
                if self.on_event is not None:
                    self.on_event(obj)
            elif obj.get("id") == rid and "ok" in obj:
                return obj
        if self.echoed:
            raise LinkError("%s echoed the request: a Python REPL is open there, not the firmware "
                            "(close mpremote, or reset the board to start it)" % self.port)
        raise LinkError("no reply from %s within %g s (firmware not running, or a REPL session open?)"
                        % (self.port, self.timeout if timeout is None else timeout))

    def wait_ready(self, timeout):
        """Ask for status until the firmware answers (after a reset it boots first, and what was
        sent while it reset is lost); a REPL's echo ends the wait at once."""
        until = time.monotonic() + timeout
        while True:
            try:
                return self.request("status", timeout=min(1.0, max(0.1, until - time.monotonic())))
            except LinkError:
                if self.echoed or time.monotonic() >= until:
                    raise
