"""Pilot-signal analyzer: reads a capture of the control pilot (bench VCD, sigrok .sr or CSV, scope
CSV), measures frequency, duty and plateaus, names the J1772 / IEC 61851-1 state of each segment and
checks the capture against the facts sheet. `python -m tools.analyzer --help`."""

from tools.analyzer.errors import CaptureError  # noqa: F401
from tools.analyzer.readers import load  # noqa: F401
from tools.analyzer.core import analyze, Options  # noqa: F401
