"""What the web service needs on flash besides the firmware: PyPI's microdot (installed by
`make microdot`, or the first flash, into build/microdot, never copied into the repository) and the page, gzipped.
tools/flash.py copies both; the unix-port tests and the virtual board read them from here."""
import gzip
import io
import os
import shutil
import subprocess
import sys

from tools.toolchain.whole import write_whole

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICRODOT_DIR = os.path.join(ROOT, "build", "microdot")
MICRODOT_VERSION = "2.7.0"      # the Makefile reads it from here
MICRODOT_STAMP = os.path.join(MICRODOT_DIR, ".installed-" + MICRODOT_VERSION)   # make's target
# The modules the web service imports (microdot's others: ASGI, templates, sessions... stay off flash).
MICRODOT_FILES = ("__init__.py", "microdot.py", "helpers.py", "websocket.py")
PAGE_SRC = os.path.join(ROOT, "firmware", "www", "index.html")
PAGE_ON_FLASH = "www/index.html.gz"


class MissingMicrodot(Exception):
    pass


def install_microdot(log=print):
    """PyPI's microdot at MICRODOT_VERSION into build/microdot, as `make microdot` does (a fresh
    clone's first `evse flash` needs it)."""
    log("installing microdot %s from PyPI into build/microdot" % MICRODOT_VERSION)
    shutil.rmtree(MICRODOT_DIR, ignore_errors=True)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", MICRODOT_DIR,
                        "microdot==" + MICRODOT_VERSION], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode:
        raise MissingMicrodot("microdot %s could not be installed from PyPI: %s"
                              % (MICRODOT_VERSION, r.stdout.strip()[-300:]))
    open(MICRODOT_STAMP, "w").close()


def microdot_sources(install=False):
    """[(source, path on the board)] of the microdot modules, from the installed PyPI package
    (installed first when `install` and it is not there)."""
    if install and not os.path.exists(MICRODOT_STAMP):
        install_microdot()
    out = []
    for f in MICRODOT_FILES:
        src = os.path.join(MICRODOT_DIR, "microdot", f)
        if not os.path.exists(src):
            raise MissingMicrodot("microdot is not installed in build/microdot: run `make microdot`")
        out.append((src, "lib/microdot/" + f))
    return out


def page_gz(dst):
    """firmware/www/index.html gzipped into dst (mtime 0: the same bytes on every build)."""
    with open(PAGE_SRC, "rb") as f:
        data = f.read()
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as z:
        z.write(data)
    write_whole(dst, raw.getvalue())     # a flash at the same time never copies half a page
    return dst
