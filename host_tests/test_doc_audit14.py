"""The newcomer's audit of stop 49: what README.md and docs/ tell a user to write or run, held
against what the firmware and the tools do (test_doc_commands.py runs the commands for their exit
status, test_doc_newcomer.py checks figures; these check advice)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(doc):
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        return re.sub(r"\s+", " ", f.read())


def _bench(scenario):
    r = subprocess.run([sys.executable, "-m", "tools.bench", "-", "-v"], input=scenario, cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return r.returncode, r.stdout


def test_the_opening_docs_bench_md_gives_for_a_plug_in_to_a_ready_charger_gets_b2_at_once():
    """docs/bench.md: "A scenario that means a plug-in to a ready charger starts with `expect state
    A1 within 1` (or `wait 0.5`)". A technician who wrote that, then `plug` and `expect state B2
    within 0.5`, saw it fail (got B1): the expect holds in the tick the power-on check ends, before
    the pilot's first reading, so the plug is a car that was there at boot, held at X1 for 3 s. Each
    opening the sentence offers, followed by a plug, gives B2 within 0.1 s."""
    text = read("docs/bench.md")
    m = re.search(r"A scenario that means a plug-in to a ready charger starts with (.*?), as the library's do",
                  text)
    assert m, "docs/bench.md no longer gives the opening"
    openings = []
    for alt in re.split(r"\(or |\)", m.group(1)):
        lines = re.findall(r"`([^`]+)`", alt)
        if lines:
            openings.append(lines)
    assert len(openings) >= 2, openings
    for lines in openings:
        rc, out = _bench("\n".join(lines + ["plug", "expect state B2 within 0.1", ""]))
        assert rc == 0, (lines, out)
