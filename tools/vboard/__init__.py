"""The virtual board: see __main__.py (python -m tools.vboard)."""
