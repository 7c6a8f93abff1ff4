"""`make sim`: the firmware on the virtual `sim` board with a default vehicle that plugs in, charges
and unplugs; prints the timeline of states, duty and contactor a bench technician would watch."""
import argparse
import sys

from evse.core import vocab as V
from tools.sim.rig import Rig


class Timeline:
    def __init__(self, rig, out=sys.stdout):
        self.rig = rig
        self.out = out

    def on_event(self, ev, now_ms):
        kind = ev[0]
        if kind == V.EV_STATE:
            text = "state      %s" % ev[1]
        elif kind == V.EV_PWM:
            text = "pilot      duty %.2f %%  advertises %.1f A" % (ev[1], ev[2])
        elif kind == V.EV_CONTACTOR:
            text = "contactor  %s" % ("closed" if ev[1] else "open")
        elif kind == V.EV_FAULT:
            text = "fault      %s %s" % (ev[1], "set" if ev[2] else "cleared")
        elif kind == V.EV_SESSION:
            text = "session    %s%s" % (ev[1], " (%s)" % ev[2] if ev[2] else "")
        else:
            text = " ".join(str(x) for x in ev)
        self.out.write("%9.3f s  %s\n" % (self.rig.now_s, text))

    def note(self, text):
        self.out.write("%9.3f s  -- %s\n" % (self.rig.now_s, text))


def default_session(rig, log):
    w = rig.world
    rig.run(1.0)
    log.note("vehicle plugs in (B: 2.74 kOhm + diode)")
    w.plugged, w.ev_ohms, w.pp_ohms = True, 2740, 150
    w.recompute()
    rig.run(2.0)
    log.note("vehicle asks for power (C: 882 Ohm) and follows the advertised current")
    w.ev_ohms, w.follow_max = 882, 32.0
    w.recompute()
    rig.run(8.0)
    log.note("operator lowers the limit to 16 A")
    rig.app.charger.set_limit("console", 16)
    rig.run(8.0)
    log.note("vehicle is full and stops (B)")
    w.ev_ohms = 2740
    w.recompute()
    rig.run(1.0)
    log.note("vehicle unplugs")
    w.plugged, w.pp_ohms = False, None
    w.recompute()
    rig.run(1.0)


def main(argv=None):
    argparse.ArgumentParser(prog="python -m tools.sim", description=__doc__).parse_args(argv)
    rig = Rig(board="sim", config={"max_current": 32})
    log = Timeline(rig)
    rig.app.listeners.append(log)
    rig.listeners.append(log)
    print("Virtual bench, board 'sim': default vehicle (J1772, 32 A max)")
    default_session(rig, log)
    ch = rig.app.charger
    print("end: state %s, contactor %s, fault %s" % (ch.state, "closed" if ch.out.contactor else "open", ch.fault))
    return 0 if ch.state == V.ST_A1 and ch.fault is None else 1


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
