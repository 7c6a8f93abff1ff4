"""`make bench`: run every tools/benchmarks/bench_*.py and print its figures (no pass/fail).

    python -m tools.benchmarks            all of them
    python -m tools.benchmarks core sim   only bench_core.py and bench_sim.py
"""
import argparse
import glob
import importlib
import os
import sys
import time
import traceback


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    names = [os.path.basename(p)[6:-3] for p in sorted(glob.glob(os.path.join(here, "bench_*.py")))]
    ap = argparse.ArgumentParser(prog="python -m tools.benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("only", nargs="*", metavar="NAME", help="one of: " + ", ".join(names))
    only = ap.parse_args(argv).only
    for n in only:
        if n not in names:
            ap.error("unknown benchmark %r (one of: %s)" % (n, ", ".join(names)))
    if only:
        names = [n for n in names if n in only]
    failed = 0
    for name in names:
        print("== %s" % name, flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module("tools.benchmarks.bench_" + name).main()
        except Exception:
            failed += 1
            traceback.print_exc()
        print("(%s took %.1f s)\n" % (name, time.perf_counter() - t0), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
