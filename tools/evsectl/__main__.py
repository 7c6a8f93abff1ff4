"""evsectl: inspect and steer the charger controller over its console (docs/console.md).

    python -m tools.evsectl --port /dev/ttyUSB0 status
    python -m tools.evsectl --port socket://127.0.0.1:4000 limit 16
    python -m tools.evsectl --port vboard watch

Commands: status | limit AMPS|none | enable | disable | authorize ID | stop | clear | log [N] |
settings [--schema] | set KEY=VALUE... | reboot | watch [--seconds S] | raw JSON
PORT: a serial device, socket://HOST:PORT, or `vboard` (the virtual board, build/vboard/tty).
Exit status: 0 ok, 1 the firmware refused (error reply), 2 no connection or no reply.
"""
import argparse
import json
import sys
import time

from tools.evsectl.link import Link, LinkError

EV_WIDTH = 10


def fmt_event(e, t0=None):
    kind = e.get("ev")
    t = e.get("t")
    ts = "%10.3f s" % ((t - t0) / 1000.0) if isinstance(t, int) and t0 is not None else "%12s" % (t,)
    if kind == "state":
        text = e.get("state")
    elif kind == "pwm":
        text = "duty %.2f %%  advertises %.1f A" % (e.get("duty", 0), e.get("amps", 0))
    elif kind == "contactor":
        text = "closed" if e.get("closed") else "open"
    elif kind == "fault":
        text = "%s %s" % (e.get("fault"), "set" if e.get("set") else "cleared")
    elif kind == "session":
        text = "%s%s" % (e.get("what"), " (%s)" % e["reason"] if e.get("reason") else "")
    elif kind == "log":
        text = "%s: %s" % (e.get("level"), e.get("msg"))
    else:
        text = json.dumps({k: v for k, v in e.items() if k not in ("ev", "t")})
    return "%s  %-*s %s" % (ts, EV_WIDTH, kind, text)


def fmt_status(r):
    out = ["state      %s%s" % (r["state"], "  fault %s" % r["fault"] if r.get("fault") else ""),
           "pilot      %s  duty %.2f %%  advertises %.1f A  (limit %.1f A)" % (
               r["pilot"], r["duty"], r["amps"], r["limit"]),
           "contactor  %s" % ("closed" if r["contactor"] else "open"),
           "enabled    %s  authorized %s  session %s" % (r["enabled"], r["authorized"], r["session"]),
           "temp       %s" % ("-" if r.get("temp_c") is None else "%s C" % r["temp_c"])]
    if r.get("latched"):
        out.append("latched    %s (clear with: evsectl clear)" % r["latched"])
    en = r.get("energy")
    if en:
        out.append("energy     session %s Wh  total %s Wh  power %s W  amps %s" % (
            en.get("wh_session"), en.get("wh_total"), en.get("power_w"), en.get("amps")))
    return "\n".join(out)


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text                 # bare words are strings: connector=nacs


def build_request(a):
    """(cmd, args) for the parsed command line; ValueError for a bad one."""
    c = a.command
    rest = a.args
    if c in ("status", "enable", "disable", "stop", "clear", "reboot", "help"):
        return c, {}
    if c == "limit":
        if len(rest) != 1:
            raise ValueError("limit AMPS (or none)")
        return c, {"amps": None if rest[0].lower() in ("none", "null", "off") else float(rest[0])}
    if c == "authorize":
        if len(rest) != 1:
            raise ValueError("authorize ID")
        return c, {"id_tag": rest[0]}
    if c == "log":
        return c, {"n": int(rest[0])} if rest else {}
    if c == "settings":
        return c, {"schema": True} if a.schema else {}
    if c == "set":
        if not rest or any("=" not in x for x in rest):
            raise ValueError("set KEY=VALUE [KEY=VALUE ...]")
        return c, {"values": dict((k, parse_value(v)) for k, v in (x.split("=", 1) for x in rest))}
    if c == "raw":
        obj = json.loads(" ".join(rest))
        if not isinstance(obj, dict) or "cmd" not in obj:
            raise ValueError('raw {"cmd": ...}')
        return obj.pop("cmd"), obj
    raise ValueError("unknown command %r" % c)


def show(cmd, r, as_json):
    if as_json:
        return json.dumps(r)
    if not r.get("ok"):
        return "error: %s" % r.get("error")
    if cmd == "status":
        return fmt_status(r)
    if cmd == "log":
        lines = ["%10s ms  %-16s %s" % tuple(x) for x in r["records"]]
        lines.append("counters: %s" % (", ".join("%s %d" % kv for kv in sorted(r["counters"].items())) or "-"))
        lines.append("latched:  %s" % (r["latched"] or "-"))
        return "\n".join(lines)
    if cmd == "settings":
        lines = ["%-16s %s" % (k, json.dumps(v)) for k, v in sorted(r["settings"].items())]
        lines += ["! " + e for e in r.get("errors") or []]
        if r.get("schema"):
            lines.append("schema: " + json.dumps(r["schema"]))
        return "\n".join(lines)
    if cmd == "set":
        s = "saved: " + ", ".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(r["saved"].items()))
        if r.get("reboot"):
            s += "\nreboot needed for: %s (evsectl reboot)" % ", ".join(r["reboot"])
        return s
    return "ok " + json.dumps({k: v for k, v in r.items() if k not in ("ok", "id")})


def watch(link, seconds, out):
    """Live view: the status once, then every event line as it arrives."""
    r = link.wait_ready(link.timeout)
    out.write(fmt_status(r) + "\n" + "-" * 60 + "\n")
    out.flush()
    t0 = r.get("t")
    until = time.monotonic() + seconds if seconds else float("inf")
    try:
        for obj in link.lines(until):
            if obj is not None and "ev" in obj:
                out.write(fmt_event(obj, t0) + "\n")
                out.flush()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv=None, out=sys.stdout):
    ap = argparse.ArgumentParser(prog="python -m tools.evsectl", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", required=True, help="serial device, socket://host:port, or vboard")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    ap.add_argument("--json", action="store_true", help="print the reply as JSON")
    ap.add_argument("--seconds", type=float, default=0, help="watch: stop after this long (0: Ctrl-C)")
    ap.add_argument("--schema", action="store_true", help="settings: include the schema")
    ap.add_argument("command")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args(argv)
    try:
        link = Link(a.port, a.timeout)
    except LinkError as e:
        print("evsectl: %s" % e, file=sys.stderr)
        return 2
    try:
        if a.command == "watch":
            return watch(link, a.seconds, out)
        try:
            cmd, args = build_request(a)
        except ValueError as e:
            print("evsectl: %s" % e, file=sys.stderr)
            return 2
        r = link.request(cmd, **args)
        out.write(show(cmd, r, a.json) + "\n")
        return 0 if r.get("ok") else 1
    except LinkError as e:
        print("evsectl: %s" % e, file=sys.stderr)
        return 2
    finally:
        link.close()


if __name__ == "__main__":
    sys.exit(main())
