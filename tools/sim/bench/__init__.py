"""The virtual bench's runtime: runner (scenario commands on a Rig), vcd and jsonlog (the traces),
rp2 (the same on the emulated Pico). Its command line is tools/bench (`python -m tools.bench`)."""
