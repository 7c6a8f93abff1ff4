"""Run a bench scenario on the bench vehicle: a real board on a serial port, or the virtual pair.

    python -m tools.bench_vehicle.host SCENARIO --port /dev/ttyUSB0 [--baud 115200]
    python -m tools.bench_vehicle.host SCENARIO --virtual        # the firmware on the mock bench

Sends the file line by line (the board counts lines like the file) and prints one result per
command. Exit status like the virtual bench: 0 every command and `expect` held (skipped ones
included), 1 an `expect` or a command failed, 2 unreadable scenario or no answer from the board.
"""
import argparse
import json
import sys
import time

from bench_vehicle.scenario import ScenarioError, parse

READY_TIMEOUT_S = 10.0      # the board resets when the port opens (ESP32 DevKitC: DTR/RTS)
REPLY_MARGIN_S = 10.0       # on top of a command's own wait/within time


class SerialLink:
    def __init__(self, port, baud):
        import serial       # pyserial: only needed for a real board
        self.ser = serial.Serial(port, baud, timeout=0.1)

    def send(self, line):
        self.ser.write(line.encode() + b"\n")

    def replies(self, timeout_s):
        """JSON objects from the board until timeout; other lines (boot banner) are skipped."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            raw = self.ser.readline()
            if not raw:
                continue
            try:
                obj = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj

    def close(self):
        self.ser.close()


class VirtualLink:
    def __init__(self, config):
        from tools.sim.virtual_vehicle import VirtualPair
        self.pair = VirtualPair(config=config)
        self.pending = []

    def send(self, line):
        out = self.pair.handle(line)
        if out is not None:
            self.pending.append(json.loads(out))

    def replies(self, timeout_s):
        while self.pending:
            yield self.pending.pop(0)

    def close(self):
        pass


def _reply_for(link, line_no, timeout_s):
    for obj in link.replies(timeout_s):
        if obj.get("line") == line_no:
            return obj
    return None


def command_time(cmd):
    if cmd.verb == "wait":
        return cmd.args[0]
    if cmd.verb == "expect" and cmd.args[3] is not None:
        return cmd.args[3]
    return 0.0


def describe(r):
    if not r.get("ok"):
        word = "FAIL"
    elif "skipped" in r:
        word = "skipped"
    else:
        word = "ok"
    extra = r.get("error") or r.get("skipped") or r.get("done") or ""
    m = r.get("measured")
    if m:
        keys = ("state", "duty", "amps", "pos", "neg", "diode", "ac")
        extra = " ".join("%s=%s" % (k, m[k]) for k in keys if k in m and m[k] is not None)
    return "line %d: %-7s %s%s" % (r.get("line", 0), word, r.get("text", ""),
                                   ("   [" + extra + "]") if extra else "")


def run(path, link_factory, out=sys.stdout):
    try:
        with open(path) as f:
            text = f.read()
    except (OSError, UnicodeError) as e:
        out.write("%s: cannot read: %s\n" % (path, e))
        return 2
    try:
        cmds = parse(text)
    except ScenarioError as e:
        out.write("%s:%d: %s\n" % (path, e.line, e.reason))
        return 2
    config = {}
    for c in cmds:
        if c.verb == "config":
            config.update(dict(c.args))
    by_line = dict((c.line, c) for c in cmds)
    try:
        link = link_factory(config)
    except Exception as e:
        out.write("cannot open the bench vehicle: %s\n" % e)
        return 2
    try:
        ready = None
        end = time.monotonic() + READY_TIMEOUT_S
        while ready is None and time.monotonic() < end:
            link.send("!reset")
            ready = _reply_for(link, 0, 1.0)
        if ready is None:
            out.write("no answer from the bench vehicle\n")
            return 2
        failed = skipped = 0
        for n, raw in enumerate(text.split("\n"), 1):
            link.send(raw.rstrip("\r"))
            cmd = by_line.get(n)
            if cmd is None:
                continue
            r = _reply_for(link, n, command_time(cmd) + REPLY_MARGIN_S)
            if r is None:
                out.write("line %d: no answer from the bench vehicle\n" % n)
                return 2
            failed += 0 if r.get("ok") else 1
            skipped += 1 if "skipped" in r else 0
            out.write(describe(r) + "\n")
        link.send("!end")
        out.write("%d commands, %d failed, %d skipped\n" % (len(cmds), failed, skipped))
        return 1 if failed else 0
    finally:
        link.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="the bench vehicle's serial port")
    g.add_argument("--virtual", action="store_true", help="the virtual pair: firmware on the mock bench")
    ap.add_argument("--baud", type=int, default=115200)
    a = ap.parse_args(argv)
    if a.virtual:
        factory = VirtualLink
    else:
        def factory(config):
            return SerialLink(a.port, a.baud)
    return run(a.scenario, factory)


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
