"""The host side: simulated world, bench, analyzer, CLIs, build and flash (`evse --help`, tools/cli.py).

Importing it changes nothing: the import roots (firmware/, tools/hostlib, the repository root,
build/microdot) come from the virtualenv's .pth file that `make venv` writes
(tools/toolchain/venv_paths.py), so neither the Makefile nor a user sets PYTHONPATH."""
