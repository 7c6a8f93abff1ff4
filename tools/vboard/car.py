"""The virtual board's car: plug it in, make it ask for power, stop, unplug (a running `evse vboard`).

    evse car plug [--pp OHMS]      plugged in, state B (2.74 kOhm + diode); PP 150 Ohm (J1772 latched)
    evse car ask [AMPS]            asks for power (C, 882 Ohm), draws what the pilot advertises, at
                                   most AMPS (default 32) once the contactor closes
    evse car stop                  stops asking (B): full, or the driver ended it
    evse car unplug                cable out (A)
    evse car status                the car's state

Talks to the vboard's car socket (default build/vboard/car.sock); the vboard keeps the car's state and
hands it to the firmware's world, also after a reboot. Watch what the charger does with
`evse ctl --port vboard watch`. Exit status: 0 done; 1 refused (ask while unplugged); 2 bad command
line; 3 no virtual board running.
"""
import argparse
import json
import os
import socket
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOCKET = os.path.join(ROOT, "build", "vboard", "car.sock")
EV_B_OHMS, EV_C_OHMS = 2740, 882          # the vehicle's pilot resistors (J1772, IEC 61851-1 Annex A)
PP_LATCHED = 150                          # J1772 / NACS plug latched
ASK_AMPS = 32                             # what the car draws at most when it asks without AMPS
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_NO_BOARD = 0, 1, 2, 3
UNPLUGGED = {"plugged": 0, "ev": "-", "pp": "-", "follow": "-"}


def command(state, words):
    """The car's next state after one command (words: e.g. ["ask", "16"]); ValueError if refused."""
    s = dict(state)
    verb, args = (words[0], words[1:]) if words else ("", [])
    if verb == "plug":
        s.update(plugged=1, ev=EV_B_OHMS, pp=int(args[0]) if args else PP_LATCHED)
    elif verb == "unplug":
        s = dict(UNPLUGGED)
    elif verb == "ask":
        if not s["plugged"]:
            raise ValueError("the car is not plugged in (evse car plug)")
        s.update(ev=EV_C_OHMS, follow=float(args[0]) if args else ASK_AMPS)
    elif verb == "stop":
        if s["plugged"]:
            s.update(ev=EV_B_OHMS)
    elif verb != "status":
        raise ValueError("unknown car command %r" % verb)
    return s


def amps(text):
    """AMPS on the command line: a finite current the car may draw, 0 or more (a NaN, an infinity or
    a negative current is no car's)."""
    a = float(text)
    if not 0 <= a < float("inf"):
        raise ValueError(text)
    return a


def state_line(state):
    """What the board's side (vboot.Car) reads."""
    return " ".join("%s=%s" % (k, state[k]) for k in ("plugged", "ev", "pp", "follow")) + "\n"


def describe(state):
    if not state["plugged"]:
        return "unplugged (A)"
    asking = state["ev"] == EV_C_OHMS
    return "plugged, PP %s Ohm, %s" % (state["pp"], "asking for power (C), draws up to %s A" % state["follow"]
                                      if asking else "not asking (B)")


def request(words, path=SOCKET, timeout=5.0):
    """Send one command to the vboard's car socket: its reply {"ok": ..., "car": state | "error": why}."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((" ".join(words) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return json.loads(data.decode())


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.vboard.car", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", default=SOCKET, help="the vboard's car socket (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print the car's state as JSON")
    sub = ap.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    p = sub.add_parser("plug", help="plug the car in (B)")
    p.add_argument("--pp", type=int, default=PP_LATCHED, help="PP resistor in Ohm (default %(default)s)")
    p = sub.add_parser("ask", help="ask for power (C) and draw up to AMPS")
    p.add_argument("amps", nargs="?", type=amps, default=ASK_AMPS,
                   help="the most the car draws, A: a number, 0 or more (default %(default)s)")
    sub.add_parser("stop", help="stop asking (B)")
    sub.add_parser("unplug", help="unplug (A)")
    sub.add_parser("status", help="the car's state")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code else EXIT_OK
    words = [a.verb] + (["%d" % a.pp] if a.verb == "plug" else ["%g" % a.amps] if a.verb == "ask" else [])
    try:
        r = request(words, a.socket)
    except (OSError, ValueError) as e:
        print("car: no virtual board at %s (start one: evse vboard): %s" % (a.socket, e), file=sys.stderr)
        return EXIT_NO_BOARD
    if not r.get("ok"):
        print("car: %s" % r.get("error"), file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(r["car"]) if a.json else "car: " + describe(r["car"]))
    return EXIT_OK


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
