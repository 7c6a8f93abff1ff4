"""Flash helpers for the OCPP files: the atomic JSON files of evse.shell.store, plus what the
append-only transaction log needs. MicroPython has no os.path; paths are joined with '/'."""
import os

from ..shell.store import exists, join, read_json, remove, write_json_atomic  # noqa: F401 (re-exported)

error = None   # the last flash write refused (an OSError: full, failing), said by the service's poll


def write_json(path, obj):
    """write_json_atomic that never raises for the flash: a full or failing one gives False, the
    object stays in RAM with its owner (the transaction goes on) and `error` holds the OSError.
    No path (a store kept in RAM only): True, nothing written."""
    global error
    if not path:
        return True
    try:
        write_json_atomic(path, obj)
        return True
    except OSError as e:
        error = e
        return False


def ensure_dir(d):
    try:
        os.mkdir(d)
    except OSError:
        pass  # exists


def recover_tmp(path):
    """If power failed between remove and rename, the temp file is the good copy."""
    if not exists(path) and exists(path + ".tmp"):
        os.rename(path + ".tmp", path)
