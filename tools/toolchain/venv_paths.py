"""Put the repository's import roots into the virtualenv as a .pth file, so that the installed `evse`
command and `python -m tools.X` need no PYTHONPATH and importing a tools module changes nothing:
firmware/ (the evse package the host tools run), the repository root (boards, tools), tools/hostlib
(CPython stand-ins for MicroPython-only modules) and build/microdot (PyPI's microdot, `make microdot`).

    .venv/bin/python tools/toolchain/venv_paths.py        (make venv runs it)
"""
import os
import site

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATHS = ("firmware", "", os.path.join("tools", "hostlib"), os.path.join("build", "microdot"))


def main():
    target = os.path.join(site.getsitepackages()[0], "evse-repository.pth")
    with open(target, "w") as f:
        f.write("".join(os.path.join(ROOT, p).rstrip(os.sep) + "\n" for p in PATHS))
    print("venv_paths: %s" % target)


if __name__ == "__main__":
    main()
