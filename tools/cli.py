"""evse: the project's host tools behind one command (installed by `make venv`: .venv/bin/evse).

    evse --help                 the subcommands
    evse SUBCOMMAND --help      one subcommand's options
    evse --version              the firmware's version (firmware/evse/core/version.py)
    evse completion bash        a bash completion script: source <(evse completion bash)

Each subcommand is a tool under tools/ that also runs as `python -m MODULE` from the repository
root; COMMANDS below is the one table that maps the two."""
import argparse
import contextlib
import importlib
import io
import os
import re
import sys

# name: (module whose main(argv) runs it, one line of help). The one place a module path is spelled.
COMMANDS = {
    "sim": ("tools.sim.__main__", "the firmware on the virtual bench: a default car plugs in, charges, unplugs"),
    "bench": ("tools.bench.__main__", "run a bench scenario against the firmware (docs/bench.md)"),
    "analyze": ("tools.analyzer.__main__", "measure and check a control-pilot capture (docs/analyzer.md)"),
    "flash": ("tools.flash", "build the firmware and copy it to a board (docs/flashing.md)"),
    "boardcheck": ("tools.boardcheck", "validate board files (pins, roles, reset states)"),
    "ctl": ("tools.evsectl.__main__", "talk to a running charger over its console (docs/console.md)"),
    "vboard": ("tools.vboard.__main__", "the virtual board: the firmware on the MicroPython unix port"),
    "car": ("tools.vboard.car", "the virtual board's car: plug, ask for power, stop, unplug"),
    "cs": ("tools.cs", "a local OCPP 1.6J central system for trying a charger (docs/ocpp.md)"),
    "rp2emu": ("tools.rp2emu.__main__", "the emulated Raspberry Pi Pico (docs/rp2emu.md)"),
    "bench-vehicle": ("tools.bench_vehicle.host", "run a scenario on the bench vehicle (docs/bench-vehicle.md)"),
    "benchmarks": ("tools.benchmarks.__main__", "figures: latencies, CPU, heap, speed (long)"),
}
EXIT_USAGE = 2


def version():
    from evse.core.version import VERSION
    return VERSION


class _Captured(BaseException):
    """Raised from parse_args to take a tool's parser without running the tool."""

    def __init__(self, parser):
        BaseException.__init__(self)
        self.parser = parser


@contextlib.contextmanager
def _as_subcommand(prog, capture=False):
    """The tool's own parser, shown as prog (`evse NAME`) and with --version; with capture,
    parse_args raises _Captured(parser) instead of parsing (for the completion script)."""
    cls = argparse.ArgumentParser
    init, parse = cls.__init__, cls.parse_known_args
    top = []

    def patched_init(self, *args, **kw):
        first = not top
        if first:
            kw["prog"] = prog
            top.append(self)
        init(self, *args, **kw)
        if first and "--version" not in self._option_string_actions:
            self.add_argument("--version", action="version", version="%(prog)s " + version())

    def patched_parse(self, args=None, namespace=None):
        if capture and self is top[0]:
            raise _Captured(self)
        return parse(self, args, namespace)
    cls.__init__, cls.parse_known_args = patched_init, patched_parse
    try:
        yield
    finally:
        cls.__init__, cls.parse_known_args = init, parse


def run(name, argv):
    return _run_as("evse " + name, importlib.import_module(COMMANDS[name][0]).main, argv)


def module_main(spec_name, main):
    """`python -m MODULE` (a tool's `if __name__ == "__main__"`): the tool as `evse NAME` runs it,
    --version included, named as it was typed."""
    return _run_as("python -m " + spec_name.replace(".__main__", ""), main, sys.argv[1:])


def _run_as(prog, main, argv):
    if argv == ["--version"]:                 # also for tools without argparse (boardcheck)
        print("%s %s" % (prog, version()))
        return 0
    with _as_subcommand(prog):
        try:
            return main(argv) or 0
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:               # `evse analyze x.vcd --json | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no error at exit's flush
            return 141                        # what a shell reports for a tool ended by SIGPIPE


def subcommand_parser(name):
    """The tool's argparse parser (None if it has none), built by its main() and not run."""
    module = importlib.import_module(COMMANDS[name][0])
    with _as_subcommand("evse " + name, capture=True), contextlib.redirect_stdout(io.StringIO()):
        try:
            module.main(["--help"])
        except _Captured as c:
            return c.parser
        except SystemExit:
            pass
    return None


def _words(parser):
    """Option strings, and subparser names or positional choices, of one parser."""
    words = []
    for act in parser._actions:
        words.extend(act.option_strings)
        if not act.option_strings and act.choices:
            words.extend(str(c) for c in act.choices)
    return words


def _doc_options(name):
    """The options a tool without argparse (boardcheck) names in its usage text: `--source`."""
    doc = importlib.import_module(COMMANDS[name][0]).__doc__ or ""
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", doc)) - {"--help", "--version"})


def bash_completion():
    """A bash completion script from every subcommand's parser: the first word after `evse` is a
    subcommand, later ones its options (and its choices); anything else completes file names."""
    cases = []
    for name in list(COMMANDS) + ["completion"]:
        p = subcommand_parser(name) if name in COMMANDS else None
        words = _words(p) if p is not None else (["bash"] if name == "completion" else
                                                 ["--help", "--version"] + _doc_options(name))
        cases.append("        %s) opts=%s ;;" % (name, _quote(" ".join(words))))
    top = " ".join(list(COMMANDS) + ["completion", "--help", "--version"])
    return "\n".join([
        "# bash completion for evse (generated by `evse completion bash`)",
        "_evse() {",
        "    local cur=${COMP_WORDS[COMP_CWORD]} opts",
        "    if [ \"$COMP_CWORD\" -eq 1 ]; then",
        "        COMPREPLY=($(compgen -W %s -- \"$cur\")); return",
        "    fi",
        "    case ${COMP_WORDS[1]} in",
    ] + cases + [
        "        *) opts= ;;",
        "    esac",
        "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))",
        "}",
        "complete -o default -o bashdefault -F _evse evse",
    ]) % _quote(top) + "\n"


def _quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def build_parser():
    ap = argparse.ArgumentParser(
        prog="evse", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The EV charger controller's host tools (one command, no PYTHONPATH needed).",
        epilog="subcommands:\n" + "\n".join("  %-14s %s" % (n, h) for n, (_, h) in COMMANDS.items())
        + "\n  %-14s %s" % ("completion", "print a shell completion script: completion bash")
        + "\n\n`evse SUBCOMMAND --help` for one of them; each also runs as `python -m MODULE`.")
    ap.add_argument("--version", action="version", version="evse " + version())
    ap.add_argument("subcommand", metavar="SUBCOMMAND", choices=list(COMMANDS) + ["completion"])
    ap.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return ap


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = build_parser()
    try:
        a = ap.parse_args(argv[:1])
    except SystemExit as e:
        return e.code
    rest = argv[1:]
    if a.subcommand == "completion":
        if rest in (["--help"], ["-h"], ["--version"]):
            print("evse completion bash    print a bash completion script (source <(evse completion bash))"
                  if rest != ["--version"] else "evse completion " + version())
            return 0
        if rest != ["bash"]:
            print("evse completion: only `bash` is supported", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.write(bash_completion())
        return 0
    return run(a.subcommand, rest)

if __name__ == "__main__":
    sys.exit(main())
