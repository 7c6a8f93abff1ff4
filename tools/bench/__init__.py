"""The virtual bench: `python -m tools.bench SCENARIO [--board sim] [--vcd OUT.vcd] [--log OUT.jsonl]
[--waveform]` runs a scenario (firmware/bench_vehicle/scenario.py, bench contract) against the unmodified firmware on
the virtual board (tools/sim/rig.py) and writes the VCD and JSON-lines traces. See docs/bench.md."""
