"""The host side: simulated world, bench, analyzer, CLIs, build and flash (`evse --help`, tools/cli.py).

Importing it under CPython puts firmware/ (the `evse` package the host tools run), tools/hostlib
(CPython stand-ins for MicroPython-only modules), the repository root (`boards`) and build/microdot
(PyPI's microdot as `make microdot` installs it for the web service) on sys.path, so the installed `evse` command and
`python -m tools.X` from the repository root need no PYTHONPATH. Under MicroPython (the virtual
board, host_tests/upy) the caller sets the path itself."""
import sys

if sys.implementation.name != "micropython":
    import os

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for _p in (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "tools", "hostlib"), ROOT,
               os.path.join(ROOT, "build", "microdot")):
        if _p not in sys.path:
            sys.path.append(_p)
