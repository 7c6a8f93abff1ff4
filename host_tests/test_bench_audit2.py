"""The virtual bench as an outsider uses it, from ../shared/reference/bench-contract.md alone (a second
audit): scenario files as other editors save them, and the JSON-lines log a trace reader follows."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")])
    return e


def bench(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tools.bench"] + list(args), cwd=ROOT, env=env(),
                          input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


SESSION = "config max_current=32\nwait 1\nplug\nexpect state B2 within 0.1\nexpect duty 53.3 \u00b10.1\n"


def test_a_scenario_saved_with_a_utf8_bom_runs(tmp_path):
    """Windows editors (Notepad, PowerShell's Out-File utf8) start a UTF-8 file with a byte-order mark:
    the first command read as '\\ufeffconfig' and the run ended with exit 2 (unknown command)."""
    scn = tmp_path / "bom.scn"
    scn.write_bytes(b"\xef\xbb\xbf" + SESSION.replace("\n", "\r\n").encode("utf-8"))
    r = bench(str(scn))
    assert r.returncode == 0, r.stdout + r.stderr
    r = bench("-", stdin=b"\xef\xbb\xbf" + SESSION.encode("utf-8"))
    assert r.returncode == 0, r.stdout + r.stderr
