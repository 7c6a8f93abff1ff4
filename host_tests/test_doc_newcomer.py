"""What the docs tell a newcomer that a command shows, held against the command (the newcomer's audit).

test_doc_commands.py runs every command for its exit status; these check figures the docs give
for what a command prints."""
import os
import re

from tools import flash as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(doc):
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        return f.read()


def test_flashing_md_counts_the_files_make_flash_copies_to_the_virtual_board():
    """`make flash BOARD=vboard` prints `84 firmware files; 85 copied` on an empty board (the
    settings given beside them); the doc said 36, the count before OCPP, metering and the web."""
    text = read("docs/flashing.md")
    n = len(F.build("vboard"))
    said = re.findall(r"full flash \((\d+) files\)", text) + re.findall(r"every file differs, (\d+) copied", text)
    assert len(said) == 2, said
    assert said == [str(n)] * 2, "docs/flashing.md says %s files, make flash BOARD=vboard copies %d" % (said, n)
