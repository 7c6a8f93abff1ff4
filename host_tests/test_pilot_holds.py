"""The pilot's minimum holds, read from the bench's VCD as an analyzer would (facts 4): F for at least
300 ms after a fault, the wake-up's F for at least 4 s (T_step_EF), X1 for at least 3 s when
pausing; and the wake-up only for a car that never asked this plug-in. The holds start at the tick's
clock but the pin changes when the tick applies its outputs, after its burst: at 96 % the burst
took 3.2 ms longer than at F, and the holds came out 296.8 ms, 3.9968 s and 2.999 s."""
import re

import pytest

from host_tests.test_bench import bench


def duty_runs(vcd_text):
    """[(duty, start_us, end_us)] of the VCD's `duty` variable, the last run left open (end None)."""
    ident = re.search(r"\$var\s+real\s+\d+\s+(\S+)\s+duty\s+\$end", vcd_text).group(1)
    runs, t = [], 0
    for line in vcd_text.split("$enddefinitions", 1)[1].splitlines():
        if line.startswith("#"):
            t = int(line[1:])
        elif line.startswith("r") and line.split()[1] == ident:
            v = float(line.split()[0][1:])
            if runs and runs[-1][0] == v:
                continue
            if runs:
                runs[-1][2] = t
            runs.append([v, t, None])
    return [tuple(r) for r in runs]


def run(tmp_path, text):
    scn = tmp_path / "s.scn"
    scn.write_text(text)
    vcd = tmp_path / "s.vcd"
    r = bench(str(scn), "--vcd", str(vcd))
    assert r.returncode == 0, r.stdout + r.stderr
    return duty_runs(vcd.read_text())


def closed_runs(runs, duty):
    """The lengths (s) of the runs at `duty` that began and ended in the scenario (not the boot's F)."""
    return [(e - s) / 1e6 for v, s, e in runs if v == duty and s > 0 and e is not None]


CHARGE_AT = """config max_current=%d
wait 0.5
plug
ev C
expect contactor closed within 1.5
draw %d
wait 5
"""


@pytest.mark.parametrize("amps", [6, 32, 80])
def test_f_after_a_fault_lasts_at_least_300_ms_whatever_the_duty_was(tmp_path, amps):
    runs = run(tmp_path, CHARGE_AT % (amps, amps) + """rcd 25
wait 1
rcd 0
unplug
wait 0.5
plug
ev C
expect contactor closed within 1.5
wait 3
pp 20
wait 1
expect fault pp
""")
    f = closed_runs(runs, 0.0)
    assert len(f) >= 2, runs               # the residual-current fault's F, then the PP fault's
    assert min(f) >= 0.300, f


def test_the_wake_up_holds_f_at_least_4_s(tmp_path):
    runs = run(tmp_path, """config max_current=80
wait 0.5
plug
expect state B2 within 0.1
wait 40
expect state B2
""")
    f = closed_runs(runs, 0.0)
    assert len(f) == 1 and f[0] >= 4.0, runs


def test_a_pause_holds_x1_at_least_3_s(tmp_path):
    runs = run(tmp_path, """config max_current=80
wait 0.5
plug
expect state B2 within 1
limit 5
wait 1
limit 80
wait 5
expect duty 96.0
""")
    x1 = [(e - s) / 1e6 for (v0, _, _), (v, s, e) in zip(runs, runs[1:])
          if v == 100.0 and 0.0 < v0 < 100.0 and e is not None]    # X1 after the PWM: the pause
    assert len(x1) == 1 and x1[0] >= 3.0, runs


def test_no_wake_up_for_a_car_that_has_charged_this_plug_in(tmp_path):
    """Facts 4: the wake-up is for a car in B2 a long time that never asked (C): one that charged
    and stopped is awake and done, and F would only make it report a charger fault."""
    runs = run(tmp_path, """config max_current=32
wait 0.5
plug
ev C
expect contactor closed within 1.5
wait 5
ev B
expect contactor open within 0.1
wait 40
expect state B2
""")
    assert closed_runs(runs, 0.0) == [], runs
