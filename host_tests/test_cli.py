"""One installed command, `evse`, as a user meets it after `make venv`: no PYTHONPATH, any directory,
--help and --version on every subcommand, a completion script, and the version is the firmware's."""
import os
import subprocess
import sys
from importlib import metadata

import pytest

from evse.core.version import VERSION
from tools import cli
from tools.sim.bench import runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVSE = os.path.join(os.path.dirname(sys.executable), "evse")
SCENARIO = os.path.join(ROOT, "host_tests", "scenarios", "normal_session.scn")
RUN_TIMEOUT_S = 120


def bare_env():
    """The environment of a user who only installed: no PYTHONPATH, no venv activated."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, env=bare_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)


def test_the_evse_command_is_installed_with_the_firmware_version():
    assert os.path.exists(EVSE), "no %s: `make venv` installs it (pip install -e .)" % EVSE
    assert metadata.version("evse-tools") == VERSION


def test_help_and_a_bench_run_from_any_directory_without_pythonpath(tmp_path):
    r = run([EVSE, "--help"], str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name in cli.COMMANDS:
        assert "\n  %s " % name in r.stdout
    r = run([EVSE, "--version"], str(tmp_path))
    assert r.returncode == 0 and r.stdout.strip() == "evse " + VERSION
    r = run([EVSE, "bench", SCENARIO], str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith(SCENARIO + ": ok: 12 expect(s), 0 failed")


def test_python_m_tools_bench_from_the_root_with_only_the_venv():
    r = run([sys.executable, "-m", "tools.bench", os.path.relpath(SCENARIO, ROOT)], ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ": ok: " in r.stdout


@pytest.mark.parametrize("name", sorted(cli.COMMANDS) + ["completion"])
def test_every_subcommand_has_help_and_version(name, capsys):
    assert cli.main([name, "--version"]) == 0
    assert capsys.readouterr().out.strip().endswith(VERSION)
    try:
        code = cli.main([name, "--help"])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr().out
    assert code in (0, None), out
    assert out.strip()
    if name in cli.COMMANDS and cli.subcommand_parser(name) is not None:
        assert out.startswith("usage: evse %s " % name), out[:200]


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_python_m_runs_each_tool_as_evse_does_version_included(name):
    """README: `python -m tools.X` is the same tools, each with --help and --version (it asked for a
    scenario, or refused the option)."""
    module = cli.COMMANDS[name][0].replace(".__main__", "")
    r = run([sys.executable, "-m", module, "--version"], ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "python -m %s %s" % (module, VERSION), r.stdout + r.stderr
    r = run([sys.executable, "-m", module, "--help"], ROOT)
    assert r.returncode == 0 and r.stdout.strip(), r.stdout + r.stderr


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert cli.main(["fly"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bash_completion_completes_subcommands_and_their_options(tmp_path):
    script = tmp_path / "evse.bash"
    r = run([EVSE, "completion", "bash"], str(tmp_path))
    assert r.returncode == 0, r.stderr
    script.write_text(r.stdout)

    def complete(*words):
        prog = 'source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _evse; echo "${COMPREPLY[@]}"' % (
            script, " ".join("'%s'" % w for w in words), len(words) - 1)
        return subprocess.run(["bash", "-c", prog], stdout=subprocess.PIPE, text=True, timeout=30).stdout.split()
    assert complete("evse", "be") == ["bench", "bench-vehicle", "benchmarks"]
    assert complete("evse", "bench", "--wa") == ["--waveform"]
    assert complete("evse", "car", "un") == ["unplug"]
    assert "--accept" in complete("evse", "cs", "--")


def test_a_long_bench_run_shows_progress_and_ends_with_one_summary_line(monkeypatch, capsys):
    from bench_vehicle.scenario import parse
    monkeypatch.setattr(runner, "PROGRESS_S", 0.0)
    bench = runner.Bench(parse("wait 1\nplug\nwait 3\nexpect state B2\n"), name="long.scn")
    assert bench.run() == 0
    out, err = capsys.readouterr()
    assert out == "long.scn: ok: 1 expect(s), 0 failed, virtual time %.3f s, %.1f s wall\n" % (
        bench.seconds(bench.rig.now_s * 1e6), float(out.split(", ")[-1].split()[0]))   # from time 0
    assert "long.scn: line 3 of 4, virtual time" in err
