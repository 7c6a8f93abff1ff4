"""The scenario library on the emulated Raspberry Pi Pico, second half (test_bench_rp2.py: the
first). A file of its own so that make test's two workers (pytest-xdist, whole files) share the
library."""
import os

import pytest

from rp2_bench import HERE, WHY, check_both, params

pytestmark = pytest.mark.skipif(WHY is not None, reason="emulated Pico: %s" % WHY)


@pytest.mark.parametrize("path", list(params(1, 2)))
def test_scenario_on_both_targets(path, tmp_path):
    check_both(path, tmp_path)


def test_c_to_b_without_ct_same_trace_on_both(tmp_path):
    """C->B and back, the meter off: every expect holds on the Pico, and the trace is the host's
    (states, duties, the contactor's moments within 2 ticks, 3 for a close)."""
    with open(os.path.join(HERE, "scenarios", "c_to_b.scn")) as f:
        text = f.read().replace("config max_current=32", "config max_current=32 meter=none")
    path = tmp_path / "c_to_b_no_ct.scn"
    path.write_text(text)
    check_both(str(path), tmp_path)
