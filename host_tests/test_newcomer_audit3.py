"""A newcomer's audit of the docs (third round): what a user types, as docs/console.md and the
README write it, against what the tools do."""
import io
import json

import pytest

from host_tests.test_evsectl import RigPort
from tools.evsectl import __main__ as ctl
from tools.sim.rig import Rig


def _no_constant(name):
    raise ValueError(name)


class BoardPort(RigPort):
    """The board's console, counting what evsectl sends. MicroPython's `json` reads strict JSON: a
    line with NaN or Infinity is `not JSON` there, answered without the request's id (measured on the
    virtual board: `{"error": "not JSON", "ok": false}`); CPython's would take it."""

    def __init__(self, rig):
        RigPort.__init__(self, rig)
        self.sent = []

    def write(self, data):
        self.sent.append(data)
        try:
            json.loads(data, parse_constant=_no_constant)
        except ValueError:
            self.con.tx += b'{"error": "not JSON", "ok": false}\n'
            return len(data)
        return RigPort.write(self, data)


@pytest.fixture
def rig(tmp_path):
    r = Rig(config={"max_current": 20}, flash_dir=str(tmp_path))
    r.run(1.0)
    return r


@pytest.mark.parametrize("args", [["limit", "nan"], ["limit", "inf"], ["limit", "1e999"],
                                  ["set", "max_current=NaN"], ["set", "max_current=1e999"],
                                  ["raw", '{"cmd": "limit", "amps": Infinity}']])
def test_evsectl_refuses_a_non_finite_number_as_a_bad_command_line_not_as_a_dead_board(rig, args, capsys):
    """docs/console.md: exit 2 is a bad argument, 3 "no connection or no reply". `limit nan` was sent
    as `"amps": NaN`, which is no JSON: the console answered `not JSON` without the request's id, and
    evsectl waited its whole --timeout, then said the firmware was not running (exit 3)."""
    port = BoardPort(rig)
    out = io.StringIO()
    rc = ctl.main(["--port", "test", "--timeout", "1"] + args, out=out, stream=port)
    err = capsys.readouterr().err
    assert rc == ctl.EXIT_USAGE, (rc, err)
    assert "finite" in err and "not running" not in err
    assert port.sent == []                                 # nothing reached the charger
    assert rig.app.charger.limits.get("console") is None
    assert ctl.main(["--port", "test", "--timeout", "1", "limit", "16"], out=out, stream=port) == 0


@pytest.mark.parametrize("amps", ["nan", "inf", "1e999", "-5"])
def test_the_virtual_boards_car_refuses_a_current_no_car_draws(tmp_path, amps, capsys):
    """docs/ocpp.md's `evse car ask 16`: the car draws what the pilot advertises, at most AMPS; exit 2
    is a bad command line. `evse car ask nan` (or inf, -5) was taken, exit 0, and the running virtual
    board's car printed `asking for power (C), draws up to nan A`. Refused before any board is asked."""
    from tools.vboard import car
    assert car.main(["--socket", str(tmp_path / "car.sock"), "ask", "--", amps]) == car.EXIT_USAGE
    assert "invalid amps value" in capsys.readouterr().err
    assert car.main(["--socket", str(tmp_path / "car.sock"), "ask", "16"]) == car.EXIT_NO_BOARD


def test_docs_web_md_gives_the_size_of_the_page_make_flash_writes(tmp_path):
    """docs/web.md: "`make flash` writes it gzipped to `/www/index.html.gz`, N KB". It said 4.3 KB, the
    page of c7f27e9 (4,352 B); the page has grown since, to 4,509 B (4.4 KB) at 82a508a."""
    import os
    import re
    from tools import webfiles
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "web.md"), encoding="utf-8") as f:
        said = float(re.search(r"`/www/index\.html\.gz`, ([0-9.]+) KB", f.read()).group(1))
    size = os.path.getsize(webfiles.page_gz(str(tmp_path / "index.html.gz")))
    assert abs(size / 1024.0 - said) <= 0.05, "docs/web.md says %.1f KB, the page is %d B" % (said, size)


def test_docs_flashing_md_names_the_micropython_release_the_board_image_was(tmp_path):
    """docs/flashing.md tells a firmware engineer which MicroPython to put on the board first. It said
    1.29, a release no board image here was: the emulated Pico boots the stock v1.28.0 RPI_PICO image
    (tools/rp2emu.IMAGE) and the frozen images are built from v1.28.0 (1.29 is the unix port's and
    mpy-cross's preview)."""
    import os
    import re
    from tools import rp2emu
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "flashing.md"), encoding="utf-8") as f:
        said = re.search(r"The board must already run MicroPython \(v?([0-9.]+) was used here", f.read()).group(1)
    image = re.search(r"micropython-v([0-9.]+)-RPI_PICO\.uf2$", rp2emu.IMAGE).group(1)
    assert said == image


def test_bash_completion_offers_the_options_boardcheck_documents():
    """README: `source <(.venv/bin/evse completion bash)` completes the subcommands' options. docs/
    flashing.md runs `python -m tools.boardcheck --source rpi_pico_w`; boardcheck has no argparse
    parser, so its completion offered only --help and --version."""
    import re
    from tools import cli
    script = cli.bash_completion()
    opts = re.search(r"^\s*boardcheck\) opts='([^']*)'", script, re.M).group(1).split()
    assert "--source" in opts and "--help" in opts


def test_a_tools_output_piped_into_a_reader_that_leaves_ends_without_a_traceback(tmp_path):
    """`evse analyze out.vcd --json | head`, as anyone looks at a long report: when the reader had gone
    before the report was written, the analyzer died with a BrokenPipeError traceback (exit 1). It
    now ends quietly with 141, as a shell reports a tool ended by SIGPIPE."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    vcd = str(tmp_path / "s.vcd")
    subprocess.run([sys.executable, "-m", "tools.bench", "host_tests/scenarios/normal_session.scn", "--vcd", vcd],
                   cwd=root, check=True, stdout=subprocess.DEVNULL)
    p = subprocess.Popen([sys.executable, "-m", "tools.analyzer", vcd, "--json"], cwd=root,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()                           # the reader leaves before the report comes
    err = p.stderr.read().decode()
    assert p.wait(60) == 141, err
    assert "Traceback" not in err and err == ""
