"""python -m tools.analyzer CAPTURE [options]: measure and check a control-pilot capture.
Exit 0 when every check passes, 1 when one fails, 2 for bad input."""

import argparse
import sys

from tools.analyzer import checks, report
from tools.analyzer.core import analyze, Options
from tools.analyzer.errors import CaptureError
from tools.analyzer.readers import load, FORMATS


def build_parser():
    p = argparse.ArgumentParser(prog="python -m tools.analyzer",
                                description="Control-pilot analyzer: frequency, duty, advertised current, "
                                            "plateaus, states, timeline and conformance checks.")
    p.add_argument("capture", help="bench VCD, sigrok .sr, sigrok CSV export or scope CSV")
    p.add_argument("--format", choices=FORMATS, help="force the input format (default: detect)")
    p.add_argument("--channel", help="pilot channel / column name (default: cp, pilot, CH1, first analog)")
    p.add_argument("--contactor-channel", help="contactor or AC-present channel (default: ac_out, contactor)")
    p.add_argument("--scale", type=float, default=None, help="volts = raw * SCALE (probe divider)")
    p.add_argument("--divider", type=float, default=None, help="probe divider ratio N (N:1): volts = raw * N")
    p.add_argument("--rate", type=float, help="sample rate in Hz for CSV without a time column")
    p.add_argument("--expect-current", type=float, metavar="A", help="check the duty against this current")
    p.add_argument("--duty-tol", type=float, default=checks.DEFAULT_DUTY_TOL,
                   help="duty tolerance in percentage points (default %(default)s)")
    p.add_argument("--threshold", type=float, default=1.0, help="edge threshold in volts (default 1.0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="write a plot of the pilot with states and contactor")
    return p




def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) and 2
    scale = 1.0
    if args.scale is not None:
        scale *= args.scale
    if args.divider is not None:
        scale *= args.divider
    try:
        if scale <= 0:
            raise CaptureError("--scale / --divider must be positive")
        if args.expect_current is not None and not 6.0 <= args.expect_current <= 80.0:
            raise CaptureError("--expect-current %.1f A outside 6-80 A" % args.expect_current)
        cap = load(args.capture, fmt=args.format, channel=args.channel,
                   contactor_channel=args.contactor_channel, scale=scale, rate=args.rate)
        res = analyze(cap, Options(threshold=args.threshold))
        res["checks"] = checks.run(res, cap, expect_current=args.expect_current, duty_tol=args.duty_tol)
        res["ok"] = bool(res["checks"]) and all(c["ok"] for c in res["checks"])     # no check: no pass
    except CaptureError as e:
        print("analyzer: error: %s" % e, file=sys.stderr)
        return 2
    except MemoryError:
        print("analyzer: error: capture too large for memory", file=sys.stderr)
        return 2
    except Exception as e:  # never a traceback for a bad capture
        print("analyzer: error: cannot analyse %s: %s: %s" % (args.capture, type(e).__name__, e),
              file=sys.stderr)
        return 2
    print(report.to_json(res) if args.json else report.text(res))
    if args.plot:
        try:
            from tools.analyzer.plot import plot
            plot(res, cap, args.plot)
        except Exception as e:
            print("analyzer: error: cannot write plot %s: %s" % (args.plot, e), file=sys.stderr)
            return 2
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
