"""The firmware stays in small parts: no function in firmware/ (every package, searched recursively)
above cyclomatic complexity 15 or over 60 lines (radon), and no dead code (vulture at confidence 60,
with tools/toolchain/vulture_allow.py for the names used where vulture cannot see it)."""
import os
import subprocess
import sys

from radon.complexity import cc_visit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
ALLOW = os.path.join(ROOT, "tools", "toolchain", "vulture_allow.py")
MAX_COMPLEXITY = 15
MAX_LINES = 60

# Named by function (Class.method), not by file: the modules move between packages.
# Each exception has its own ceiling: it may not grow, and it goes once it fits the limits.
EXCEPTIONS = {
    # The pilot burst's sample loop, inline: moving the per-sample work into a helper made a burst
    # about 2x slower on the MicroPython unix port (see the comment at the loop in the shell).
    "Hardware._sample_burst": (32, 95),
    # The bench vehicle's firmware (a second board), as it came from tools/: the scenario parser's
    # argument and expect forms, and the runner's verb dispatch. To split into one parser per verb.
    "_args": (32, 71),
    "_expect": (17, 40),
    "Runner.execute": (17, 38),
}


def functions(top=FIRMWARE):
    """(path, 'Class.name', complexity, lines) of every function and method under top."""
    for d, _, files in os.walk(top):
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            path = os.path.join(d, f)
            with open(path) as src:
                blocks = cc_visit(src.read())
            todo = [b for b in blocks if not hasattr(b, "methods")]   # a class's methods come as functions too
            while todo:
                b = todo.pop()
                todo.extend(getattr(b, "closures", ()))
                yield (os.path.relpath(path, ROOT), b.fullname, b.complexity, b.endline - b.lineno + 1)


def oversized(top=FIRMWARE):
    """'path: name complexity N, L lines' for each function over its limits."""
    found = []
    for path, name, cc, lines in functions(top):
        max_cc, max_lines = EXCEPTIONS.get(name, (MAX_COMPLEXITY, MAX_LINES))
        if cc > max_cc or lines > max_lines:
            found.append("%s: %s complexity %d, %d lines (limit %d, %d)" % (path, name, cc, lines, max_cc, max_lines))
    return found


def test_no_function_over_complexity_15_or_60_lines():
    found = oversized()
    assert not found, "split these:\n" + "\n".join(found)


def test_each_exception_is_still_one():
    """An exception names a function that exists and still needs it."""
    seen = dict((name, (cc, lines)) for _, name, cc, lines in functions())
    for name in EXCEPTIONS:
        assert name in seen, "%s is gone: remove its exception" % name
        cc, lines = seen[name]
        assert cc > MAX_COMPLEXITY or lines > MAX_LINES, "%s fits the limits now: remove its exception" % name


def dead_code(top=FIRMWARE):
    r = subprocess.run([sys.executable, "-m", "vulture", top, ALLOW, "--min-confidence", "60"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode, r.stdout.strip()


def test_no_dead_code():
    """Vulture finds nothing: remove the code, or, for a name dispatched by string or read only by
    tests and tools, add it to tools/toolchain/vulture_allow.py with the reason."""
    rc, out = dead_code()
    assert rc == 0 and not out, out
