"""Small flash helpers: atomic JSON files (write a temp file, then rename) and append-only logs.

MicroPython has no os.path; paths are joined with '/'."""
import json
import os


def join(d, name):
    return d + name if d.endswith("/") else d + "/" + name


def ensure_dir(d):
    try:
        os.mkdir(d)
    except OSError:
        pass  # exists


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def read_json(path, default=None):
    """The file's JSON, or `default` when missing or corrupt (a torn write is never half-read:
    writes go through a rename)."""
    recover_tmp(path)
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return default


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(obj))
    remove(path)  # rename over an existing file fails on some ports
    os.rename(tmp, path)


def recover_tmp(path):
    """If power failed between remove and rename, the temp file is the good copy."""
    if not exists(path) and exists(path + ".tmp"):
        os.rename(path + ".tmp", path)
