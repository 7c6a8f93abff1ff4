"""Virtual bench speed: an hour of charging through `tools.bench` (plateau VCD and JSON log
written), and the real-time factor of a --waveform run (every PWM edge in the VCD).

Prints `sim_hour_seconds: X s` (wall time for 3600 s of virtual charging; goal < 30 s on CPython)
and `sim_waveform_realtime_factor: X` (virtual seconds per wall second; goal >= 1)."""
import os
import shutil
import sys
import tempfile
import time

from bench_vehicle.scenario import parse

HOUR = """config max_current=32
wait 1
plug
wait 0.5
ev C
draw follow
expect contactor closed within 1
wait %s
expect contactor closed
expect no fault
"""
WAVEFORM_S = 120


def run(seconds, waveform, tmp):
    from tools.sim.bench.runner import Bench
    from tools.sim import mock_machine as mm
    cmds = parse(HOUR % seconds)
    vcd = open(os.path.join(tmp, "w.vcd" if waveform else "p.vcd"), "w")
    log = open(os.path.join(tmp, "w.jsonl" if waveform else "p.jsonl"), "w")
    t0 = time.perf_counter()
    b = Bench(cmds, vcd=vcd, log=log, waveform=waveform, out=sys.stderr)
    rc = b.run()
    wall = time.perf_counter() - t0
    virtual = (b.seconds(mm.clock.us), b.boot_virtual_s)    # the scenario's, the boot to its 0 (in the wall)
    size = vcd.tell()
    vcd.close()
    log.close()
    return rc, wall, size, virtual


def main():
    tmp = tempfile.mkdtemp(prefix="bench_sim_")
    try:
        rc, wall, size, _ = run(3600, False, tmp)
        print("sim_hour_seconds: %.1f s" % wall)
        print("sim_hour_vcd_size: %.1f kB" % (size / 1e3))
        if rc:
            print("sim_hour_expects_failed: %d" % rc)
        rc, wall, size, (virtual, boot) = run(WAVEFORM_S, True, tmp)
        print("sim_waveform_realtime_factor: %.1f" % ((virtual + boot) / wall))
        print("sim_waveform_vcd_rate: %.2f MB/virtual-s" % (size / 1e6 / virtual))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
