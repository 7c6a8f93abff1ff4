"""Flash helpers for the OCPP files: the atomic JSON files of evse.shell.store, plus what the
append-only transaction log needs. MicroPython has no os.path; paths are joined with '/'."""
import os

from ..shell.store import exists, join, read_json, remove, write_json_atomic as write_json  # noqa: F401 (re-exported)


def ensure_dir(d):
    try:
        os.mkdir(d)
    except OSError:
        pass  # exists


def recover_tmp(path):
    """If power failed between remove and rename, the temp file is the good copy."""
    if not exists(path) and exists(path + ".tmp"):
        os.rename(path + ".tmp", path)
