"""Build the firmware for a board and copy it with mpremote; a second run copies only what changed.

    python -m tools.flash --board esp32_devkitc --port /dev/ttyUSB0 [--settings my.json]
    python -m tools.flash --board rpi_pico --port /dev/ttyACM0
    python -m tools.flash --board vboard [--port build/vboard/tty | socket://127.0.0.1:PORT]
    python -m tools.flash --board boards/my_esp32.py --port /dev/ttyUSB0    (a name or a path)
    (make flash BOARD=... PORT=... [SETTINGS=...])

0. Checks the board file (tools/boardcheck.py): a bad one is refused with the reasons, nothing built.
1. Compiles firmware/evse/**.py and the board file with mpy-cross for the board's ARCH into
   build/flash/BOARD/ (only sources newer than their .mpy); main.py and boot.py stay source.
   The web service's framework, PyPI's microdot (make microdot), goes to /lib/microdot as .mpy
   and the page gzipped to /www/index.html.gz (tools/webfiles.py).
   The virtual board (BOARD=vboard, the `sim` pin map) gets architecture-neutral bytecode.
2. Sends Ctrl-C until the board shows its REPL (one booting from a reset drops what it is sent;
   a running firmware is interrupted once and left to make its outputs safe). Asks the board for
   the SHA-256 of the files already on its flash (one `mpremote exec`), and compares: the board's
   own files are the reference, so a board flashed from elsewhere or wiped is still brought up to
   date. (No manifest is kept on the host.)
3. One `mpremote connect PORT resume ...` run copies the changed files, removes stale ones under
   /evse (a stale .py would shadow its .mpy), /board.py and /fw/boot.json (a bundle the page or
   OCPP installed would run instead of the files flashed), copies settings.json when the board
   has no settings or when --settings is given (validated here first: every value, and a
   max_current), and resets the board. The board imports settings.json at boot into its two
   sealed copies (settings.a, settings.b) and removes it (docs/flashing.md).
Without a board: one line saying so, exit status 1.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from tools import boardcheck, webfiles
from tools.toolchain import mpy_build
from tools.toolchain.whole import write_whole

ROOT = mpy_build.ROOT
VBOARD_PORT = os.path.join(ROOT, "build", "vboard", "tty")
SETTINGS_NAME = "settings.json"
SETTINGS_COPIES = ("settings.a", "settings.b")     # what the board keeps (evse.services.settings.copy_paths)
# A firmware bundle installed by the page or OCPP (evse/shell/bundle.py) runs instead of /evse while
# this names its slot: removed, so the firmware flashed is the one that runs.
BUNDLE_STATE = "fw/boot.json"
MPREMOTE_TIMEOUT_S = 180
HASH_TIMEOUT_S = 60          # reading the board's hashes: seconds on a board, never minutes
SILENT_TRIES = 2             # a board that reset mid-command (watchdog, power) is met once more

# Runs on the board: the SHA-256 of every file flash.py manages, one line per file ("-" for a
# directory), then an end line. A board stopped by Ctrl-C still holds the firmware's objects in its
# heap: the whole table as one JSON string (7.7 KB for 80 files) once failed there with MemoryError.
HASH_SCRIPT = """
import os, hashlib, binascii, gc
gc.collect()
def _h(p):
    d = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            d.update(b)
    return binascii.hexlify(d.digest()).decode()
def _o(p, h):
    print('FLASHHASH', p, h)
def _w(d):
    for e in os.ilistdir(d):
        p = d + '/' + e[0]
        if e[1] == 0x4000:
            _o(p + '/', '-')
            _w(p)
        else:
            _o(p, _h(p))
for _n in ('board.py', 'board.mpy', 'boot.py', 'main.py', 'settings.json', 'settings.json.tmp',
           'settings.a', 'settings.b', 'fw/boot.json'):
    try:
        _o(_n, _h(_n))
    except OSError:
        pass
for _d in ('evse', 'lib', 'www'):
    try:
        _w(_d)
        _o(_d + '/', '-')
    except OSError:
        pass
print('FLASHHASH-END')
"""


class FlashError(Exception):
    pass


class BoardSilent(FlashError):
    """mpremote got no answer in time: the board may have reset in the middle of a command."""


def board_info(board):
    """(board file, mpy-cross arch, or None: this host's, for the virtual board) of a board name
    (boards/NAME.py, `vboard`) or a path to a board file, once it passes the board check."""
    path = boardcheck.resolve(board)
    if not os.path.exists(path):
        raise FlashError("unknown board %r (boards: %s, or a path to a board file)" % (
            board, ", ".join(boardcheck.names())))
    problems = boardcheck.check(path)
    if problems:
        raise FlashError("board file %s refused:\n  %s" % (path, "\n  ".join(problems)))
    return path, boardcheck.load(path).get("ARCH")


def build_name(board):
    """The build directory's name: the board's name, or a board file's own name without .py."""
    return os.path.basename(board)[:-3] if board.endswith(".py") else board


def _compile(src, dst, arch, name, always=False):
    if not always and os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return
    rc, msg = mpy_build.compile_one(src, dst, arch, name)
    if rc:
        raise FlashError("mpy-cross %s: %s" % (os.path.relpath(src, ROOT), msg.strip()))


def build(board):
    """[(local path, path on the board)] of the firmware, compiled into build/flash/BOARD."""
    board_file, arch = board_info(board)
    out = os.path.join(ROOT, "build", "flash", build_name(board))
    files = []
    for src, rel in mpy_build.sources():
        if rel.startswith("boards" + os.sep):
            continue
        rel = rel.replace(os.sep, "/")
        if os.path.basename(rel) in mpy_build.KEEP_SOURCE:
            files.append((src, rel))
            continue
        dst = os.path.join(out, rel[:-3] + ".mpy")
        _compile(src, dst, arch, rel)
        files.append((dst, rel[:-3] + ".mpy"))
    try:                             # the web service's framework (PyPI) and page
        for src, rel in webfiles.microdot_sources(install=True):
            dst = os.path.join(out, rel[:-3] + ".mpy")
            _compile(src, dst, arch, rel)
            files.append((dst, rel[:-3] + ".mpy"))
    except webfiles.MissingMicrodot as e:
        raise FlashError(str(e))
    files.append((webfiles.page_gz(os.path.join(out, webfiles.PAGE_ON_FLASH)), webfiles.PAGE_ON_FLASH))
    dst = os.path.join(out, "board.mpy")
    src = os.path.join(out, "board.py")            # with its BASE board's lines (the Pico W's)
    os.makedirs(out, exist_ok=True)
    write_whole(src, boardcheck.source(board_file))     # never half of it for a flash at the same time
    _compile(src, dst, arch, "board.py", always=True)   # another file may share the name
    files.append((dst, "board.mpy"))
    return files


def settings_file(board, path):
    """The settings file to copy: the given one (validated as strictly as the board reads it, and
    with the installer's max_current), else the defaults (no max_current: the board offers nothing
    until it is set)."""
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    sys.path.insert(1, os.path.join(ROOT, "tools", "hostlib"))
    from evse.services import settings
    from evse.shell import store
    if path:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise FlashError("settings %s: %s" % (path, e.strerror or e))
        try:
            cfg, errors = settings.parse(data.decode("utf-8"))
        except UnicodeError:
            cfg, errors = None, ["settings: not UTF-8 text"]
        if not errors and cfg["max_current"] is None:
            errors = ["max_current: not set (the circuit's rating, 6-80 A)"]
        if errors:
            from evse.services.console import refused
            raise FlashError("settings %s refused: %s" % (path, refused(errors)))
    else:
        cfg = settings.defaults()
    out = os.path.join(ROOT, "build", "flash", build_name(board))
    os.makedirs(out, exist_ok=True)
    # This flash's own file (removed after it): two boards flashed at once from one checkout, each
    # with its own settings, never get each other's max_current.
    sealed = store.seal(0, json.dumps(dict((k, v) for k, v in cfg.items() if v is not None)).encode())
    if len(sealed) > settings.MAX_FILE_BYTES:      # the board would refuse it and offer nothing
        raise FlashError("settings %s refused: %d bytes once sealed, more than the board reads (%d): "
                         "shorten a text" % (path, len(sealed), settings.MAX_FILE_BYTES))
    fd, dst = tempfile.mkstemp(prefix="settings-", suffix=".json", dir=out)
    with os.fdopen(fd, "wb") as f:   # sealed: the board refuses it if damaged on the way or on flash
        f.write(sealed)
    return dst


def rating_warning(board, path):
    """What the console's `set` warns of, for a settings file already checked: a max_current above
    the board's own rating (MAX_CURRENT_A), which caps the current. None: nothing to warn of."""
    if not path:
        return None
    with open(path, "rb") as f:
        amps = json.loads(f.read().decode("utf-8")).get("max_current")
    rating = boardcheck.load(boardcheck.resolve(board)).get("MAX_CURRENT_A")
    if isinstance(amps, (int, float)) and isinstance(rating, (int, float)) and amps > rating:
        return "max_current: this board's rating caps the current at %g A" % rating
    return None


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


RAW_REPL_TRIES = 3           # a board still booting (or busy printing) can miss the first Ctrl-A
RAW_REPL_PAUSE_S = 1.0


def mpremote(port, args, timeout=MPREMOTE_TIMEOUT_S):
    """mpremote's output; a board that would not enter the raw REPL is asked again, then reported."""
    for attempt in range(RAW_REPL_TRIES):
        try:
            return _mpremote_once(port, args, timeout)
        except FlashError as e:
            if "could not enter raw repl" not in str(e) or attempt == RAW_REPL_TRIES - 1:
                raise
            time.sleep(RAW_REPL_PAUSE_S)


BOARD_READY_S = 30.0         # a board just reset (by the last flash, a watchdog) is at its REPL by then
PROBE_ROUND_S = 0.5          # a silent board is sent Ctrl-C this often
ANSWERED_QUIET_S = 3.0       # a board that answered is asked again only after this long quiet
PROMPTS = (b">>> ", b"raw REPL; CTRL-B to exit")


def wait_for_repl(port, timeout=BOARD_READY_S):
    """Ctrl-C until the board shows a REPL prompt. A board still booting (the last flash's reset)
    drops what it is sent, and mpremote would then wait 10 s for a raw REPL before trying again.
    Once the board answers at all, it is asked again only after a long quiet: a second Ctrl-C must
    not cut into the firmware making its outputs safe. A board in the raw REPL shows nothing on
    Ctrl-C, so a silent board is also sent Ctrl-B (back to the friendly REPL).
    True when a prompt was seen; False leaves the reporting to mpremote."""
    from tools.evsectl.link import LinkError, open_port
    try:
        s = open_port(port, timeout=PROBE_ROUND_S / 5)
    except LinkError:
        return False
    seen, sent, heard = b"", None, None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            now = time.monotonic()
            pause = PROBE_ROUND_S if heard is None else ANSWERED_QUIET_S
            if sent is None or now - max(sent, heard or sent) >= pause:
                s.write(b"\r\x03\x02" if heard is None else b"\r\x03")
                sent = now
            chunk = s.read(4096)
            if chunk:
                heard = time.monotonic()
                seen = (seen + chunk)[-256:]
                if any(p in seen for p in PROMPTS):
                    return True
    except Exception:                  # serial.SerialException: the port went away (a USB reset)
        return False
    finally:
        s.close()
    return False


def _mpremote_once(port, args, timeout):
    cmd = [sys.executable, "-m", "mpremote", "connect", port or "auto", "resume"] + args
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BoardSilent("no answer from the board at %s within %d s (mpremote)" % (port, timeout))
    if r.returncode:
        last = [x for x in r.stdout.strip().splitlines() if x.strip()]
        msg = last[-1] if last else "mpremote exit %d" % r.returncode
        if "no device found" in msg or "failed to access" in msg or "could not enter raw repl" in msg:
            raise FlashError("no board at %s (%s)" % (port or "any USB serial port", msg))
        raise FlashError("mpremote: " + msg)
    return r.stdout


def board_hashes(port):
    """{path on the board: its sha256 ('' for a directory, path ending in /)}."""
    out = mpremote(port, ["exec", HASH_SCRIPT], HASH_TIMEOUT_S)
    hashes = {}
    for line in out.splitlines():
        line = line.rstrip("\r")
        if line == "FLASHHASH-END":
            return hashes
        if line.startswith("FLASHHASH ") and line.count(" ") >= 2:
            path, h = line[len("FLASHHASH "):].rsplit(" ", 1)
            hashes[path] = "" if h == "-" else h
    raise FlashError("unexpected answer from the board: %r" % out[-200:])


def plan(files, remote, settings_local, force_settings):
    """mpremote arguments (chained with '+') that bring the board to `files`."""
    want = dict((dst, src) for src, dst in files)
    # settings.json.tmp alone: an older firmware's save was cut short; the board imports it at boot
    has = any(n in remote for n in (SETTINGS_NAME, SETTINGS_NAME + ".tmp") + SETTINGS_COPIES)
    if settings_local and (force_settings or not has):
        want[SETTINGS_NAME] = settings_local
    steps, copied, removed = [], [], []
    dirs = set()
    for dst in sorted(want):
        parts = dst.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d + "/" not in remote and d not in dirs:
                dirs.add(d)
                steps.append(["fs", "mkdir", ":" + d])
    for dst in sorted(want):
        if remote.get(dst) != sha256(want[dst]):
            steps.append(["fs", "cp", want[dst], ":" + dst])
            copied.append(dst)
    for path in sorted(remote):
        stale = (path.startswith("evse/") and not path.endswith("/") and path not in want) or path in (
            "board.py", BUNDLE_STATE)
        if stale:
            steps.append(["fs", "rm", ":" + path])
            removed.append(path)
    return steps, copied, removed


def flash(board, port, settings_path=None, reset=True, log=print):
    board_info(board)                # a bad board file is refused before the port is even looked at
    if board == "vboard" and not port:
        port = VBOARD_PORT
    if port and "://" not in port and not os.path.exists(port):
        raise FlashError("no board at %s (mpremote: no device found)" % port)
    files = build(board)
    settings_local = settings_file(board, settings_path)
    warning = rating_warning(board, settings_path)
    if warning:
        log("flash: warning: " + warning)
    copied, removed = [], []
    try:
        for attempt in range(SILENT_TRIES):
            try:
                _sync(port, files, settings_local, bool(settings_path), reset, copied, removed)
                break
            except BoardSilent as e:
                if attempt == SILENT_TRIES - 1:
                    raise
                log("flash: %s; once more" % e)
    finally:
        os.remove(settings_local)
    log("flash %s at %s: %d firmware files; %d copied, %d removed%s" % (
        board, port or "auto", len(files), len(copied), len(removed),
        "; reset" if reset else "; not reset: in maintenance at the REPL until reset (docs/flashing.md)"))
    return copied, removed


def _sync(port, files, settings_local, force_settings, reset, copied, removed):
    """The board brought up to the build: its hashes read, what differs copied (added to copied
    and removed), then reset. Run again after a silence, it copies only what is still different."""
    if port:                         # "auto": mpremote finds the board
        wait_for_repl(port)
    remote = board_hashes(port)
    steps, new_copied, new_removed = plan(files, remote, settings_local, force_settings)
    copied += [c for c in new_copied if c not in copied]
    removed += [r for r in new_removed if r not in removed]
    args = []
    for s in steps:
        args += s + ["+"]
    if reset:
        args += ["reset"]
    elif args:
        args.pop()
    if args:
        mpremote(port, args)


def package_json():
    """package.json for `mpremote mip install --target / github:OWNER/REPO` (the firmware without
    a board file: copy boards/BOARD.py to :board.py as well). URLs are relative to package.json."""
    urls = []
    for src, rel in mpy_build.sources():
        if rel.startswith("boards" + os.sep):
            continue
        urls.append([rel.replace(os.sep, "/"), "firmware/" + rel.replace(os.sep, "/")])
    return {"urls": urls, "deps": [], "version": firmware_version()}


def firmware_version():
    """VERSION of firmware/evse/core/version.py, the project's one definition of it."""
    with open(os.path.join(ROOT, "firmware", "evse", "core", "version.py")) as f:
        return re.search(r'^VERSION = "([^"]+)"', f.read(), re.M).group(1)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.flash", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", help="a name (%s) or a path to a board file" % ", ".join(boardcheck.names()))
    ap.add_argument("--package-json", action="store_true", help="rewrite package.json from firmware/")
    ap.add_argument("--port", default=None, help="serial port, socket://host:port, or the vboard tty")
    ap.add_argument("--settings", default=None, help="settings JSON to install (replaces the board's)")
    ap.add_argument("--no-reset", action="store_true")
    ap.add_argument("--build-only", action="store_true", help="compile, do not touch a board")
    a = ap.parse_args(argv)
    if a.package_json:
        with open(os.path.join(ROOT, "package.json"), "w") as f:
            f.write(json.dumps(package_json(), indent=1) + "\n")
        return 0
    if not a.board:
        ap.error("--board is required")
    try:
        if a.build_only:
            files = build(a.board)
            print("built %d files for %s in build/flash/%s" % (len(files), a.board, build_name(a.board)))
            return 0
        flash(a.board, a.port, a.settings, not a.no_reset)
    except FlashError as e:
        print("flash: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
