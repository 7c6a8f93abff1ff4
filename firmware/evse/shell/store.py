"""Small files on flash that survive a power cut.

write_json_atomic(path, obj)   write to PATH.tmp, then rename over PATH (littlefs renames atomically)
read_json(path, default)       never raises: a missing, corrupt or half-written file gives `default`
Ring(path, size, slot)         evse/shell/ring.py: a fixed-size ring of JSON records (session
                               records), loaded with the meter only, not at every boot
Copies(paths)                  one record as two alternating files, each sealed with a sequence
                               number and a CRC-32: the newest valid copy wins (settings)

Used for energy checkpoints, session records and the fault log. Paths are passed in: the app gives
'/' on the board, tests a temporary directory.
"""
import binascii
import json
import os

TMP_SUFFIX = ".tmp"


def join(dirpath, name):
    """dirpath + '/' + name without doubling the slash ('/' on the board, a temp dir on the host);
    '' or '.' (the current directory) gives the name alone."""
    if dirpath in ("", "."):
        return name
    return dirpath.rstrip("/") + "/" + name


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    """Remove a file if it is there."""
    try:
        os.remove(path)
    except OSError:
        pass


def write_json_atomic(path, obj):
    """Write obj as JSON so that PATH holds either the old or the new content, never a mix.

    Raises OSError when the flash write itself fails (full, read-only): the caller decides.
    """
    tmp = path + TMP_SUFFIX
    with open(tmp, "w") as f:
        f.write(json.dumps(obj))
        if hasattr(f, "flush"):
            f.flush()
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT (and some ports) refuse to rename over an existing file: remove, then rename.
        # read_json falls back to the .tmp file if the cut lands between the two.
        remove(path)
        os.rename(tmp, path)


def _load(path):
    with open(path) as f:
        return json.loads(f.read())


def read_json(path, default=None):
    """The object stored at path; else the one left in PATH.tmp; else default. Never raises."""
    for p in (path, path + TMP_SUFFIX):
        try:
            return _load(p)
        except Exception:  # missing, truncated, garbage, not UTF-8: all mean "not there"
            pass
    return default


def read_small(path, max_bytes):
    """The bytes of a small file, None when it is absent; ValueError when it is empty or larger
    than max_bytes (never read a runaway file into a small heap)."""
    try:
        size = os.stat(path)[6]
    except OSError:
        return None
    if size > max_bytes:
        raise ValueError("file too large (%d bytes > %d)" % (size, max_bytes))
    if size == 0:
        raise ValueError("empty file")
    with open(path, "rb") as f:
        return f.read(size)          # exactly the file: no 4 KiB buffer for a 300-byte file


def _trailer(seq, body):
    """The line after the body: '<seq> <crc32 hex>', the CRC over the body and '\n<seq> '."""
    tag = ("\n%d " % seq).encode()
    return tag[1:] + ("%08x\n" % binascii.crc32(tag, binascii.crc32(body))).encode()


def seal(seq, body):
    """body (bytes), then a last line '<seq> <crc32 hex>': the CRC covers the body and seq."""
    return body + b"\n" + _trailer(seq, body)


def unseal(data):
    """(seq, body) of a sealed record; ValueError when it is cut short, torn or corrupted."""
    if len(data) < 12 or not data.endswith(b"\n"):
        raise ValueError("cut short (no checksum line)")
    try:
        crc = int(data[-9:-1], 16)
    except ValueError:
        raise ValueError("no checksum (cut short or damaged)")
    if ("%08x" % crc).encode() != data[-9:-1]:          # int() would take 'A' for 'a', ' ', '+'
        raise ValueError("no checksum (damaged)")
    if binascii.crc32(memoryview(data)[:-9]) != crc:     # no copy of the data for the CRC
        raise ValueError("checksum mismatch (torn or corrupted write)")
    nl = data.rfind(b"\n", 0, len(data) - 10)
    try:
        return int(data[nl + 1:-10]), data[:nl]
    except ValueError:
        raise ValueError("no sequence number")


class Copies:
    """One record kept as two files written in turn, each sealed (seal()). A write goes to the
    file that does not hold the newest valid copy, so a write torn by a power cut, or a file
    corrupted on flash, never loses the last good record: read() gives the newest valid one."""

    def __init__(self, paths, max_bytes=4096):
        self.paths = paths
        self.max_bytes = max_bytes
        self.seq = -1                # sequence number of the newest valid copy
        self._newest = None          # its index in paths

    @property
    def newest(self):
        """Index in paths of the newest valid copy (None before any): the next write goes elsewhere."""
        return self._newest

    def read(self):
        """(body bytes or None, problems): the newest valid copy; each damaged file named."""
        best = None
        problems = []
        for i, p in enumerate(self.paths):
            try:
                data = read_small(p, self.max_bytes)
                if data is None:
                    continue
                seq, body = unseal(data)
            except Exception as e:   # ValueError, OSError mid-read, MemoryError
                problems.append("%s: %s" % (p, e))
                continue
            if best is None or seq > best[0]:
                best = (seq, i, body)
        if best is None:
            return None, problems
        self.seq, self._newest = best[0], best[1]
        return best[2], problems

    def write(self, body):
        """Seal body with the next sequence number into the other file; OSError if flash fails,
        ValueError (nothing written) if the sealed copy would be larger than read() takes."""
        i = 0 if self._newest is None else (self._newest + 1) % len(self.paths)
        seq = self.seq + 1
        tail = _trailer(seq, body)           # before the file is opened: a MemoryError spares it
        size = len(body) + 1 + len(tail)
        if size > self.max_bytes:            # read() would refuse it: the copy before it would come back
            raise ValueError("file too large (%d bytes > %d)" % (size, self.max_bytes))
        with open(self.paths[i], "wb") as f:
            f.write(body)
            f.write(b"\n")
            f.write(tail)
        self.seq, self._newest = seq, i
