"""The bench's time 0, as the contract says: "Time starts at 0 with the firmware freshly booted,
nothing plugged in" (../shared/reference/bench-contract.md). Scenarios written from the contract
only, as an outsider (a conformance suite, a bench technician, a bug report) writes them.

Before, time 0 was the firmware's start: its power-on check (state `boot`, the pilot at F for
0.3 s) came first, and a `plug` at 0 was a car present at boot, held at X1 for 3 s. `plug` then
`expect state B2 within 1` failed on both targets; so did `expect state A1` at 0 and `expect duty
100` at 0. The bench now boots the firmware with nothing plugged in until it is idle (A1), and
starts the scenario's clock there. The power-on check and the X1 rule for a car present at boot
still happen at a `power on` (the last tests here; the library's boot_in_c and power_cut).

The emulated Pico's runs (`--target rp2`) are slow: a few scenarios in one test, skipped without
the emulator, as the library's rp2 tests are.
"""
import json
import shutil
import subprocess

import pytest

from rp2_bench import WHY
from tools.bench.__main__ import main as bench_main

# Each: (name, scenario). Written from the contract's text, nothing of the project's.
AT_ZERO = """expect state A1
expect duty 100
expect contactor open
expect no fault
"""
PLUG_OFFERS = """plug
expect state B2 within 1
expect duty 53.3 within 1
"""
PLUG_CHARGES = """plug
ev C
expect contactor closed within 1.5
expect state C2
"""
CONFIG_THEN_PLUG = """config max_current=16
plug
expect current 16 within 1
expect duty 26.7 within 1
"""
CONTRACT = (("at_zero", AT_ZERO), ("plug_offers", PLUG_OFFERS), ("plug_charges", PLUG_CHARGES),
            ("config_then_plug", CONFIG_THEN_PLUG))


def run(tmp_path, name, text, target="host", waveform=False):
    scn = tmp_path / (name + ".scn")
    scn.write_text(text)
    vcd, log = tmp_path / (name + "." + target + ".vcd"), tmp_path / (name + "." + target + ".jsonl")
    args = [str(scn), "--target", target, "--vcd", str(vcd), "--log", str(log)]
    rc = bench_main(args + (["--waveform"] if waveform else []))
    with open(log) as f:
        lines = [json.loads(x) for x in f]
    return rc, lines, vcd.read_text()


def initial(vcd, var):
    """A variable's value in the VCD's $dumpvars at #0."""
    head, body = vcd.split("$enddefinitions $end", 1)
    ident = [ln.split()[3] for ln in head.splitlines() if ln.startswith("$var") and ln.split()[4] == var][0]
    dump = body.split("$dumpvars", 1)[1].split("$end", 1)[0]
    assert body.lstrip().startswith("#0")
    for tok in dump.split("\n"):
        tok = tok.strip()
        if tok.startswith("r") and tok.split()[1] == ident:
            return float(tok.split()[0][1:])
        if tok[1:] == ident:
            return int(tok[0])
    raise AssertionError("%s not in $dumpvars" % var)


def check_time0(rc, lines, vcd):
    assert rc == 0, "an expect of a scenario written from the contract failed"
    assert all(x["t"] >= 0 for x in lines)
    assert [x["t"] for x in lines] == sorted(x["t"] for x in lines)
    states = [x["state"] for x in lines if x["kind"] == "state"]
    assert states[0] == "A1" and "boot" not in states        # the boot is before time 0
    first = [x for x in lines if x["kind"] in ("state", "pwm")][:2]
    assert all(x["t"] == 0.0 for x in first)                 # the charger as it stands at 0
    assert initial(vcd, "cp") == pytest.approx(12.0, abs=0.1)   # A: +12 V (evse-facts)
    assert initial(vcd, "duty") == 100.0
    assert initial(vcd, "contactor") == 0


@pytest.mark.parametrize("name,text", CONTRACT, ids=[c[0] for c in CONTRACT])
def test_a_contract_scenario_holds_from_time_0_on_the_host(name, text, tmp_path):
    check_time0(*run(tmp_path, name, text))


def test_a_plug_at_0_is_offered_within_a_tick_or_two(tmp_path):
    """Plugged into an idle charger: B2 comes in the firmware's next ticks (the detector's B, two
    bursts), not after the 3 s of X1 a car present at boot gets."""
    rc, lines, _ = run(tmp_path, "plug", PLUG_OFFERS)
    b2 = [x["t"] for x in lines if x["kind"] == "state" and x["state"] == "B2"]
    assert rc == 0 and b2 and b2[0] <= 0.05


def test_every_command_is_echoed_with_its_line(tmp_path):
    text = "# from the contract\nconfig max_current=32\n\nplug\nexpect state B2 within 1\n"
    rc, lines, _ = run(tmp_path, "echo", text)
    inputs = [(x["line"], x["text"]) for x in lines if x["kind"] == "input"]
    assert rc == 0 and inputs == [(2, "config max_current=32"), (4, "plug"), (5, "expect state B2 within 1")]


def test_a_config_after_the_first_wait_is_still_refused(tmp_path, capsys):
    scn = tmp_path / "late.scn"
    scn.write_text("wait 1\nconfig max_current=16\n")
    assert bench_main([str(scn)]) == 2
    assert "late.scn:2:" in capsys.readouterr().err


POWER_CYCLE_IN_C = """plug
ev C
expect contactor closed within 1.5
power off
wait 1
power on
expect state boot
expect duty 0
expect state C1 within 1
expect contactor open
wait 2.5
expect contactor open
expect contactor closed within 2
"""


def test_the_power_on_check_and_the_x1_rule_still_happen_at_a_power_on(tmp_path):
    """A boot with a car in C: the firmware's power-on check (state boot, the pilot at F, 0 %) and
    then X1 for 3 s before it offers (a car present at boot: no blind close)."""
    rc, lines, _ = run(tmp_path, "cycle", POWER_CYCLE_IN_C)
    assert rc == 0
    states = [(x["t"], x["state"]) for x in lines if x["kind"] == "state"]
    boot = [t for t, s in states if s == "boot"]
    assert len(boot) == 1 and boot[0] >= 1.0
    closed = [x["t"] for x in lines if x["kind"] == "contactor" and x["closed"]]
    assert closed[-1] - boot[0] >= 3.0


def test_the_waveform_vcd_loads_in_sigrok_and_its_pwm_decoder_reads_the_duty(tmp_path):
    if shutil.which("sigrok-cli") is None:
        pytest.skip("sigrok-cli not installed")
    rc, _, vcd = run(tmp_path, "wave", "plug\nexpect state B2 within 1\nwait 0.05\n", waveform=True)
    assert rc == 0
    path = tmp_path / "wave.host.vcd"
    out = subprocess.run(["sigrok-cli", "-I", "vcd", "-i", str(path), "-P", "pwm:data=cp_high",
                          "-A", "pwm"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    duties = [ln.split()[-1] for ln in out.stdout.splitlines() if ln.startswith("pwm-1:")]
    assert "53.300000%" in duties, out.stdout[-500:]


@pytest.mark.parametrize("name,text", CONTRACT[:3], ids=[c[0] for c in CONTRACT[:3]])
def test_a_contract_scenario_holds_from_time_0_through_the_virtual_bench_vehicle(name, text, tmp_path):
    """The bench vehicle's virtual pair (`python -m tools.bench_vehicle.host S --virtual`) reads the
    pilot from the car's side: the charger it drives is booted too (F at 0 before: A1 and duty 100
    failed, a plug at 0 was held at X1)."""
    from tools.bench_vehicle import host
    scn = tmp_path / (name + ".scn")
    scn.write_text(text)
    assert host.main([str(scn), "--virtual"]) == 0


@pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)
def test_contract_scenarios_hold_from_time_0_on_the_emulated_pico(tmp_path):
    """The same scenarios on `--target rp2` (one flash: the same settings, bar the last)."""
    for name, text in CONTRACT:
        check_time0(*run(tmp_path, name, text, target="rp2"))
    rc, lines, _ = run(tmp_path, "plug", PLUG_OFFERS, target="rp2")
    b2 = [x["t"] for x in lines if x["kind"] == "state" and x["state"] == "B2"]
    assert rc == 0 and b2[0] <= 0.05
