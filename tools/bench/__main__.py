"""python -m tools.bench SCENARIO [--board sim] [--target host|rp2] [--vcd OUT.vcd] [--log OUT.jsonl] [--waveform]

Exit status: 0 every expect held, 1 an expect failed, 2 the scenario is unreadable (nothing run)."""
import argparse
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_BAD = 0, 1, 2


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    ap.add_argument("scenario", help="scenario file (bench contract language); - for stdin")
    ap.add_argument("--board", default="sim", help="board module in boards/ (default: sim)")
    ap.add_argument("--target", choices=("host", "rp2"), default="host",
                    help="host: the firmware in this process (default); rp2: on the emulated Pico "
                         "(board rpi_pico, docs/rp2emu.md)")
    ap.add_argument("--vcd", metavar="OUT.vcd", help="write the VCD trace here")
    ap.add_argument("--log", metavar="OUT.jsonl", help="write the JSON-lines log here")
    ap.add_argument("--waveform", action="store_true", help="VCD: every PWM edge (default: plateau levels)")
    ap.add_argument("--seed", type=int, default=1, help="noise generator seed (default 1)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every expect as it holds")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return EXIT_BAD if e.code else EXIT_OK
    name = a.scenario
    try:
        if name == "-":                    # as a file: UTF-8, a BOM (Windows editors) left out
            raw = getattr(sys.stdin, "buffer", None)
            text = raw.read().decode("utf-8-sig") if raw is not None else sys.stdin.read()
            text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        else:
            with open(name, encoding="utf-8-sig") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print("%s: cannot read: %s" % (name, e), file=sys.stderr)
        return EXIT_BAD
    from bench_vehicle.scenario import parse, ScenarioError
    try:
        cmds = parse(text)
        if not os.path.exists(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))), "boards", a.board + ".py")):
            raise ScenarioError(0, "unknown board %r" % a.board)
        from tools.sim.bench.runner import Bench, check_config
        check_config(cmds)
        if a.target == "rp2":
            from tools import rp2emu
            from tools.sim.bench.rp2 import BOARD, PicoBench as Bench   # noqa: F811
            if a.board not in ("sim", BOARD):   # the emulated chip runs the Pico's board file
                raise ScenarioError(0, "--target rp2 runs board %s, not %r" % (BOARD, a.board))
            why = rp2emu.missing()
            if why:
                print("%s: emulated Pico: %s" % (name, why), file=sys.stderr)
                return EXIT_BAD
    except ScenarioError as e:
        print("%s:%d: %s" % (name, e.line, e.reason), file=sys.stderr)
        return EXIT_BAD
    files = []
    try:
        vcd = open(a.vcd, "w") if a.vcd else None
        files.append(vcd)
        log = open(a.log, "w") if a.log else None
        files.append(log)
        bench = Bench(cmds, board=a.board, vcd=vcd, log=log, waveform=a.waveform, name=name,
                      seed=a.seed, verbose=a.verbose)
        return bench.run()
    except OSError as e:
        print("%s: %s" % (name, e), file=sys.stderr)
        return EXIT_BAD
    finally:
        for f in files:
            if f is not None:
                f.close()


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
