"""What the web service needs on flash besides the firmware: PyPI's microdot (installed by
`make microdot` into build/microdot, never copied into the repository) and the page, gzipped.
tools/flash.py copies both; the unix-port tests and the virtual board read them from here."""
import gzip
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICRODOT_DIR = os.path.join(ROOT, "build", "microdot")
# The modules the web service imports (microdot's others: ASGI, templates, sessions... stay off flash).
MICRODOT_FILES = ("__init__.py", "microdot.py", "helpers.py", "websocket.py")
PAGE_SRC = os.path.join(ROOT, "firmware", "www", "index.html")
PAGE_ON_FLASH = "www/index.html.gz"


class MissingMicrodot(Exception):
    pass


def microdot_sources():
    """[(source, path on the board)] of the microdot modules, from the installed PyPI package."""
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
    with open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as z:
            z.write(data)
    return dst
