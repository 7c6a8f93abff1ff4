"""Every command in README.md and docs/*.md runs exactly as written.

A command is a line of a code block (fenced, or indented four spaces after a blank line) whose first
word is a program a user types here (COMMAND_WORDS); a trailing `\\` joins the next line. Each
document's commands run in order with bash, in a copy of the repository (so their output files
and build/ land there), as a user with the venv active runs them: its bin/ first on PATH, no
PYTHONPATH. Commands that run until stopped (SERVERS) start first, in the background, and stop
after the document's last command. Commands that cannot run here are EXCLUDED, each with its
reason; one whose tool is missing here (sigrok-cli, the emulated Pico) is skipped and said so.
FIXTURES are files of the user's own that the commands use and a fresh clone lacks: each document
makes one (a command writing it) before a command uses it, so none is there when a document starts."""
import glob
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tools import rp2emu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
COMMAND_WORDS = ("make", "python", "python3", "evse", "mpremote", "sigrok-cli", "cd", "pip", "echo")
COMMAND_TIMEOUT_S = 600       # the emulated Pico's full flash takes 2-3 minutes on a busy host
SERVER_READY_S = 120

# (pattern searched in the command, why it is not run). Every pattern must match some command.
EXCLUDED = [
    (r"^make test$", "`make test` itself"),
    (r"^make test-rp2\b", "the long run: the whole scenario library on the emulated Pico"),
    (r"^make bench\b", "the long benchmarks"),
    (r"--target rp2", "minutes of emulation; test_bench_rp2.py runs scenarios on both targets"),
    (r"/dev/tty(USB|ACM)", "needs a board on a serial port"),
    (r"^mpremote ", "needs a board (mpremote finds one on USB)"),
    (r"^sigrok-cli -d ", "needs the instrument (a scope or logic analyzer)"),
    (r"\b(pilot\.sr|scope\.csv|pilot\.csv)\b", "a capture from a real instrument"),
    (r"^cd micropython|FROZEN_MANIFEST=", "needs a MicroPython source tree and the port's toolchain"),
    (r"IMAGE=build/firmware/|:4000 set max_current=32$",
     "boots (and sets up) a frozen image that `make firmware` built from a MicroPython source tree "
     "(test_firmware_image.py boots one when EVSE_FROZEN_IMAGE names it)"),
    (r"MICROPYTHON=/path/to/|^cd /path/to/|^make -C micropython/|^cd esp-idf|tools\.uf2 firmware\.bin",
     "the frozen image's build: a MicroPython source tree (and ESP-IDF), minutes of compiling; run in a "
     "session, figures in docs/flashing.md; make firmware's own checks are test_firmware_image.py's"),
    (r"\.\.\.|\[--", "a synopsis (placeholders, [options]), not a command"),
]
# Commands that run until stopped: (pattern, what they print once ready).
SERVERS = [
    (r"^make vboard\b", "vboard: ready"),
    (r"^make rp2emu-run\b", "rp2emu: ready"),
    (r"^evse cs\b", "central system at"),
]
# (pattern, why it cannot run here, or None when it can)
NEEDS = [
    (r"^sigrok-cli", lambda: None if shutil.which("sigrok-cli") else "sigrok-cli is not installed"),
    (r"rp2emu|BOARD=rpi_pico PORT=socket", lambda: rp2emu.missing()),
]
FIXTURES = ("my-settings.json",)          # the user's settings file: the circuit's rating
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "node_modules", "__pycache__", ".hypothesis",
                                ".pytest_cache", "*.pyc")


def code_lines(text):
    """(line number, text) of every code-block line: fenced, or indented 4 after a blank line."""
    out, fenced, in_block, prev_blank = [], False, False, True
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            out.append((n, line))
        elif line.startswith("    ") and (in_block or prev_blank):
            in_block = True
            out.append((n, line[4:]))
        elif line.strip():
            in_block = False
        prev_blank = not line.strip()
    return out


def commands(doc):
    """(line number, command as written) in document order; continuation lines joined."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        lines = code_lines(f.read())
    out, i = [], 0
    while i < len(lines):
        n, text = lines[i]
        text = text.strip()
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i][1].strip()
        word = text.split(" ")[0]
        if word in COMMAND_WORDS or word.startswith(".venv/bin/"):
            out.append((n, text))
        i += 1
    return out


def bare(cmd):
    """The command without its trailing comment."""
    return re.sub(r"\s+#\s.*$", "", cmd).strip()


def first_match(rules, cmd):
    for pattern, what in rules:
        if re.search(pattern, bare(cmd)):
            return what
    return None


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A copy of the repository with the venv (its parts linked, its stamp fresh: make never
    reinstalls it from here) and the npm packages of the emulated Pico."""
    repo = str(tmp_path_factory.mktemp("docs") / "repo")
    shutil.copytree(ROOT, repo, ignore=IGNORE, symlinks=True)
    venv = os.path.realpath(os.path.join(ROOT, ".venv"))
    os.makedirs(os.path.join(repo, ".venv", "bin"))
    for name in os.listdir(venv):
        if not name.startswith(".") and name != "bin":
            os.symlink(os.path.join(venv, name), os.path.join(repo, ".venv", name))
    for name in os.listdir(os.path.join(venv, "bin")):
        if name != "evse":
            os.symlink(os.path.join(venv, "bin", name), os.path.join(repo, ".venv", "bin", name))
    _install_evse(repo)
    open(os.path.join(repo, ".venv", ".installed"), "w").close()
    npm = os.path.join(ROOT, "tools", "rp2emu", "node_modules")
    if os.path.isdir(npm):
        os.symlink(os.path.realpath(npm), os.path.join(repo, "tools", "rp2emu", "node_modules"))
    return repo


def _install_evse(repo):
    """The copy's own `evse` (what `pip install -e .` makes there: its tools/ first on the path)."""
    path = os.path.join(repo, ".venv", "bin", "evse")
    with open(path, "w") as f:
        f.write("#!%s\nimport sys\nsys.path.insert(0, %r)\nfrom tools.cli import main\nsys.exit(main())\n"
                % (os.path.join(repo, ".venv", "bin", "python"), repo))
    os.chmod(path, 0o755)


def user_env(repo):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    bindir = os.path.join(repo, ".venv", "bin")
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = os.path.join(repo, ".venv")
    env["EVSE_RP2_DIR"] = rp2emu.SHARED          # ../shared/rp2 is beside the clone, not the copy
    return env


class Server:
    def __init__(self, cmd, ready, repo, env):
        self.cmd = cmd
        self.p = subprocess.Popen(["bash", "-c", bare(cmd)], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.text = ""
        end = time.monotonic() + SERVER_READY_S
        while ready not in self.text:
            if time.monotonic() > end or self.p.poll() is not None:
                self.stop()
                raise AssertionError("%r did not start:\n%s" % (cmd, self.text[-2000:]))
            if select.select([self.p.stdout], [], [], 0.2)[0]:
                self.text += os.read(self.p.stdout.fileno(), 65536).decode(errors="replace")

    def stop(self):
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


def test_every_exclusion_matches_a_command_and_commands_are_found():
    every = [c for d in DOCS for _, c in commands(d)]
    assert len(every) > 20
    for pattern, why in EXCLUDED + SERVERS:
        assert any(re.search(pattern, bare(c)) for c in every), "stale exclusion %r (%s)" % (pattern, why)


def missing(cmd):
    """Why cmd cannot run on this host (a tool not installed), or None."""
    check = first_match(NEEDS, cmd)
    return check() if check else None


def makes(cmd, name):
    return re.search(r">\s*%s(\s|$)" % re.escape(name), bare(cmd)) is not None


def test_every_document_makes_the_files_of_the_user_it_uses():
    """A fresh clone has no my-settings.json: a document whose command takes one (run here or not:
    a board's flash too) says how to make it first, as a command."""
    missing = []
    for doc in DOCS:
        cmds = commands(doc)
        for i, (n, c) in enumerate(cmds):
            for name in FIXTURES:
                if name in bare(c) and not makes(c, name) and not any(makes(c2, name) for _, c2 in cmds[:i]):
                    missing.append("%s:%d: %s (no command before it makes %s)" % (doc, n, c, name))
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("doc", DOCS)
def test_the_commands_of(doc, sandbox):
    env = user_env(sandbox)
    for name in FIXTURES:                          # as in a fresh clone: the document makes it
        if os.path.exists(os.path.join(sandbox, name)):
            os.remove(os.path.join(sandbox, name))
    cmds = [(n, c) for n, c in commands(doc) if first_match(EXCLUDED, c) is None]
    skipped = ["%s:%d: %s (%s)" % (doc, n, c, missing(c)) for n, c in cmds if missing(c)]
    cmds = [(n, c) for n, c in cmds if not missing(c)]
    servers, failed = [], []
    try:
        for n, c in cmds:
            ready = first_match(SERVERS, c)
            if ready is not None:
                servers.append(Server(c, ready, sandbox, env))
        for n, c in cmds:
            if first_match(SERVERS, c) is None:
                r = subprocess.run(["bash", "-c", c], cwd=sandbox, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=COMMAND_TIMEOUT_S)
                if r.returncode != 0:
                    failed.append("%s:%d: %s\n  exit %d: %s" % (doc, n, c, r.returncode, r.stdout[-1500:]))
                elif "Traceback (most recent call last)" in r.stdout:     # a tool's own error, not a result
                    failed.append("%s:%d: %s\n  a traceback: %s" % (doc, n, c, r.stdout[-1500:]))
    finally:
        for s in reversed(servers):
            s.stop()
    for s in skipped:
        print("skipped: " + s)
    assert not failed, "\n".join(failed)
