"""The host bench-vehicle link: `python -m tools.bench_vehicle.host` (the board's firmware is
firmware/bench_vehicle/)."""
