"""evsectl: inspect and steer the charger controller over its console (docs/console.md).

    python -m tools.evsectl --port /dev/ttyUSB0 status
    python -m tools.evsectl --port socket://127.0.0.1:4000 limit 16
    python -m tools.evsectl --port vboard watch

Commands: status | limit AMPS|none | enable | disable | authorize ID | stop | unlock | clear | log [N] |
sessions [N] | history [N] | grid WATTS | settings [--schema] | set KEY=VALUE... | reboot | help |
watch [--seconds S] | raw JSON
PORT: a serial device, socket://HOST:PORT, or `vboard` (the virtual board, build/vboard/tty).
Exit status: 0 ok; 1 refused (an error reply, or an id tag not accepted); 2 bad command line;
3 no connection or no reply (a REPL open on the port, the firmware not running).
"""
import argparse
import errno
import json
import os
import re
import sys
import time

from tools.evsectl.link import Link, LinkError

EV_WIDTH = 10
EXIT_OK = 0
EXIT_REFUSED = 1          # the firmware answered no (or the central system refused the id tag)
EXIT_USAGE = 2            # the command line is wrong (argparse's own code for it)
EXIT_NO_REPLY = 3         # nothing answered: no device, no firmware, a REPL open, a time-out
WATCH_STATUS_S = 5.0      # watch: how often it asks for the status (OCPP, limit, energy lines)
# Errors the ESP32 port gives beyond errno (negative: lwIP / getaddrinfo).
OS_ERRORS = {-202: "host name not found (DNS)", -2: "host name not found (DNS)"}


TICKS_PERIOD = 1 << 30    # the board's ticks_ms (the lines' `t`) wraps at 2**30 ms (12.4 days up)


def since_s(t, t0):
    """Seconds from the board's ticks t0 to t, across a wrap (MicroPython's ticks_diff)."""
    d = (t - t0) % TICKS_PERIOD
    return (d - TICKS_PERIOD if d >= TICKS_PERIOD // 2 else d) / 1000.0


def fmt_event(e, t0=None):
    kind = e.get("ev")
    t = e.get("t")
    ts = "%10.3f s" % since_s(t, t0) if isinstance(t, int) and t0 is not None else "%12s" % (t,)
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


def explain(err):
    """An error text in words: 'connect: OSError(111,)' -> 'connect: connection refused (OSError 111)'."""
    def words(m):
        n = int(m.group(2))
        text = OS_ERRORS.get(n) or (os.strerror(n).lower() if n in errno.errorcode else None)
        return "%s (%s %d)" % (text, m.group(1), n) if text else m.group(0)
    return re.sub(r"\b(\w*Error)\((-?\d+)\b[^)]*\)", words, err)


def fmt_limit(r):
    by = r.get("limit_by")
    others = ", ".join("%s %g" % kv for kv in sorted((r.get("limits") or {}).items()))
    return "limit      %.1f A%s%s" % (r["limit"], " set by %s" % by if by else "",
                                      "  (%s)" % others if others else "")


def fmt_ocpp(o):
    """The OCPP lines: absent when the charger has no central system configured."""
    if o is None:
        return ["ocpp       not configured"]
    link = ("connected, boot %s" % o.get("boot")) if o.get("connected") else "offline"
    if o.get("error"):
        link += "  last error: %s" % explain(o["error"])
    out = ["ocpp       %s  queued %s" % (link, o.get("queued"))]
    tx = o.get("tx")
    out.append("transaction %s" % ("%s (tag %s)" % (tx.get("id") or "not yet numbered", tx.get("tag"))
                                    if tx else "none"))
    if o.get("auth"):
        out.append("id tag     %s %s" % tuple(o["auth"]))
    if o.get("limit") is not None:
        out.append("ocpp limit %s A" % o["limit"])
    return out


def fmt_energy(en):
    if not en:
        return "energy     no meter"
    s = "energy     session %s Wh  total %s Wh  power %s W  amps %s" % (
        en.get("wh_session"), en.get("wh_total"), en.get("power_w"), en.get("amps"))
    if not en.get("ok", True) or en.get("error"):
        s += "  meter error: %s" % en.get("error")
    return s


def fmt_status(r):
    out = ["state      %s%s" % (r["state"], "  fault %s" % r["fault"] if r.get("fault") else ""),
           "pilot      %s  duty %.2f %%  advertises %.1f A" % (r["pilot"], r["duty"], r["amps"]),
           fmt_limit(r),
           "contactor  %s" % ("closed" if r["contactor"] else "open"),
           "enabled    %s  authorized %s  session %s" % (r["enabled"], r["authorized"], r["session"]),
           "temp       %s" % ("-" if r.get("temp_c") is None else "%s C" % r["temp_c"])]
    if r.get("fault_reason"):
        out.append("why        %s" % r["fault_reason"])
    if r.get("latched"):
        out.append("latched    %s (clear with: evsectl clear)" % r["latched"])
    out.append(fmt_energy(r.get("energy")))
    out += fmt_ocpp(r.get("ocpp"))
    net = r.get("net") or {}
    if net.get("setup_ap"):             # Wi-Fi set-up open: the access point to join, and with what
        key = net.get("setup_key")
        out.append("wifi set-up join %s%s" % (net["setup_ap"], "  password %s" % key if key else
                                               "  password: wifi_ap_password"))
    return "\n".join(out)


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text                 # bare words are strings: connector=nacs


def _number(kind, text, usage):
    try:
        return kind(text)
    except ValueError:
        raise ValueError("%s, not %r" % (usage, text))


def build_request(a):
    """(cmd, args) for the parsed command line; ValueError for a bad one, a NaN or an infinity
    included: JSON has none, so the console could not read the line nor say which request it was."""
    cmd, args = _request(a)
    try:
        json.dumps(args, allow_nan=False)
    except ValueError:
        raise ValueError("%s: NaN and infinities are no JSON numbers (give a finite number)" % cmd)
    return cmd, args


def _request(a):
    c = a.command
    rest = a.args
    if c in ("status", "enable", "disable", "stop", "unlock", "clear", "reboot", "help"):
        return c, {}
    if c == "limit":
        if len(rest) != 1:
            raise ValueError("limit AMPS (or none)")
        return c, {"amps": None if rest[0].lower() in ("none", "null", "off") else
                   _number(float, rest[0], "limit AMPS (a number, or none)")}
    if c == "authorize":
        if len(rest) != 1:
            raise ValueError("authorize ID")
        return c, {"id_tag": rest[0]}
    if c in ("log", "sessions", "history"):
        return c, {"n": _number(int, rest[0], c + " [N] (a whole number)")} if rest else {}
    if c == "grid":
        if len(rest) != 1:
            raise ValueError("grid WATTS (imported; negative: exported)")
        return c, {"watts": _number(float, rest[0], "grid WATTS (a number)")}
    if c == "settings":
        return c, {"schema": True} if a.schema else {}
    if c == "set":
        if not rest or any("=" not in x for x in rest):
            raise ValueError("set KEY=VALUE [KEY=VALUE ...]")
        return c, {"values": dict((k, parse_value(v)) for k, v in (x.split("=", 1) for x in rest))}
    if c == "raw":
        try:
            obj = json.loads(" ".join(rest))
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or "cmd" not in obj:
            raise ValueError('raw {"cmd": ...}')
        rid = obj.get("id")
        if isinstance(rid, bool) or not isinstance(rid, (int, str, type(None))):
            raise ValueError('raw: "id" must be a number (whole) or a string: the reply is matched by it')
        return obj.pop("cmd"), obj
    raise ValueError("unknown command %r" % c)


def log_line(x):
    """A fault-log record: [t_ms, reason, state] (older firmware) or [t_ms, reason, state, UTC time
    in ISO 8601 or null, boot]: when (the clock's time, else the ticks since that boot's power-on)."""
    x = list(x) + [None, None]
    boot = "boot %s" % x[4] if x[4] is not None else "boot ?"
    return "%-20s %-8s %10s ms  %-16s %s" % (x[3] or "time unknown", boot, x[0], x[1], x[2])


def show(cmd, r, as_json):
    if as_json:
        return json.dumps(r)
    if not r.get("ok"):
        return "error: %s" % r.get("error")
    if cmd == "status":
        return fmt_status(r)
    if cmd == "log":
        lines = [log_line(x) for x in r["records"]]
        lines.append("counters: %s" % (", ".join("%s %d" % kv for kv in sorted(r["counters"].items())) or "-"))
        lines.append("latched:  %s" % (r["latched"] or "-"))
        return "\n".join(lines)
    if cmd == "settings":
        pend = r.get("pending") or {}
        lines = ["%-16s %s%s" % (k, json.dumps(v), "   (saved %s: applies after a reboot)" % json.dumps(pend[k])
                                 if k in pend else "") for k, v in sorted(r["settings"].items())]
        lines += ["! " + e for e in r.get("errors") or []]
        if r.get("schema"):
            lines.append("schema: " + json.dumps(r["schema"]))
        return "\n".join(lines)
    if cmd == "sessions":
        if not r.get("metered"):
            return "no meter: no session records"
        lines = ["%6s %8s %8s %8s %6s  %s" % ("sid", "dur s", "Wh", "max A", "seq", "reason")]
        lines += ["%6s %8s %8s %8s %6s  %s" % tuple(x.get(k) for k in ("sid", "dur_s", "wh", "max_a", "seq",
                                                                         "reason"))
                  for x in r["sessions"]]
        return "\n".join(lines)
    if cmd == "history":
        return "\n".join(r["csv"].splitlines())       # RFC 4180's CRLF as the terminal's lines
    if cmd == "set":
        s = "saved: " + ", ".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(r["saved"].items()))
        if r.get("reboot"):
            s += "\nreboot needed for: %s (evsectl reboot)" % ", ".join(r["reboot"])
        return s
    return "ok " + json.dumps({k: v for k, v in r.items() if k not in ("ok", "id")})


def status_lines(r):
    """What watch repeats when it changes: the limit and why, OCPP, energy."""
    return [fmt_limit(r), fmt_energy(r.get("energy"))] + fmt_ocpp(r.get("ocpp"))


def watch(link, seconds, out, every=WATCH_STATUS_S):
    """Live view: the status once, then every event line as it arrives, and every `every` s the
    status lines that changed (the limit and why, OCPP, energy: no event tells them)."""
    r = link.wait_ready(link.timeout)
    out.write(fmt_status(r) + "\n" + "-" * 60 + "\n")
    out.flush()
    t0 = r.get("t")
    shown = status_lines(r)

    def event(obj):
        out.write(fmt_event(obj, t0) + "\n")
        out.flush()
    link.on_event = event
    until = time.monotonic() + seconds if seconds else float("inf")
    try:
        while time.monotonic() < until:
            for obj in link.lines(min(until, time.monotonic() + every)):
                if obj is not None and "ev" in obj:
                    event(obj)
            if time.monotonic() >= until:
                break
            try:
                r = link.request("status")
            except LinkError:          # rebooting: its event lines resume when it is back
                continue
            now = status_lines(r)
            for line in now:
                if line not in shown:
                    t = r.get("t")
                    ts = "%10.3f s" % since_s(t, t0) if isinstance(t, int) and t0 is not None else ""
                    out.write("%s  %s\n" % (ts, line))
            out.flush()
            shown = now
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def authorize(link, tag, r, timeout):
    """With OCPP the central system decides: wait for its answer to a 'pending' id tag."""
    until = time.monotonic() + timeout
    while r.get("ok") and r.get("ocpp") == "pending" and time.monotonic() < until:
        time.sleep(0.2)
        st = link.request("status")
        auth = (st.get("ocpp") or {}).get("auth") or []
        if len(auth) == 2 and auth[0] == tag and auth[1] != "pending":
            r = dict(r, ocpp=auth[1], authorized=auth[1] == "Accepted")
    return r


def refused(cmd, r):
    """A reply that says no: an error, or an id tag the charger (or its central system) did not accept."""
    return not r.get("ok") or (cmd == "authorize" and not r.get("authorized"))


def main(argv=None, out=sys.stdout, stream=None):
    ap = argparse.ArgumentParser(prog="python -m tools.evsectl", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", required=True, help="serial device, socket://host:port, or vboard")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="seconds to wait for the firmware to answer (a board booting after a reset)")
    ap.add_argument("--json", action="store_true", help="print the reply as JSON")
    ap.add_argument("--seconds", type=float, default=0, help="watch: stop after this long (0: Ctrl-C)")
    ap.add_argument("--schema", action="store_true", help="settings: include the schema")
    ap.add_argument("command")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args(argv)                   # a bad one exits EXIT_USAGE (2)
    if a.command != "watch":
        try:
            cmd, args = build_request(a)
        except ValueError as e:
            print("evsectl: %s" % e, file=sys.stderr)
            return EXIT_USAGE
    try:
        link = Link(a.port, a.timeout, stream=stream)
    except LinkError as e:
        print("evsectl: %s" % e, file=sys.stderr)
        return EXIT_NO_REPLY
    try:
        if a.command == "watch":
            return watch(link, a.seconds, out)
        r = link.wait_ready(a.timeout)          # the board may still be booting (after a flash)
        if cmd != "status" or args:
            r = link.request(cmd, **args)
        if cmd == "authorize":
            r = authorize(link, args["id_tag"], r, a.timeout)
        out.write(show(cmd, r, a.json or a.command == "raw") + "\n")
        if r.get("ok") and refused(cmd, r):
            why = r.get("ocpp") or "refused"
            if why == "pending":
                why = "no answer from the central system within %g s" % a.timeout
            print("evsectl: id tag %s not accepted: %s" % (args["id_tag"], why), file=sys.stderr)
        return EXIT_REFUSED if refused(cmd, r) else EXIT_OK
    except LinkError as e:
        print("evsectl: %s" % e, file=sys.stderr)
        return EXIT_NO_REPLY
    finally:
        link.close()


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
