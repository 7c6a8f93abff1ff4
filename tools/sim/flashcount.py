"""What the firmware writes to its flash on the virtual bench, file by file (CPython only).

    with FlashCount(rig.flash_dir) as fc:
        rig.run(3600)
    fc.files["energy/energy.a"]  # {"rewrites": n, "appends": n, "bytes": n, "renames": n, "removes": n}
    fc.ops                   # [(kind, name, bytes)] in order: the trace tools/benchmarks replays on
                             # littlefs (kind "w" a whole file written, "a" an append, "p" bytes
                             written in place (r+), "r" a rename
                             # over the name, "x" a remove)

A file opened for writing ("w", "wb", "x") is one rewrite of the whole file, one opened to append
("a") or to patch in place ("r+", the session ring's slot) is one append; bytes are what the
firmware handed to write(). A write to a .tmp then a rename counts as a rewrite of the .tmp name
and a rename onto the real one (littlefs: the .tmp's blocks plus a metadata commit).
Only paths under the flash directory are counted."""
import builtins
import os


def _name(root, path):
    p = os.path.abspath(str(path))
    if not p.startswith(root + os.sep):
        return None
    return p[len(root) + 1:]


class _Counted:
    def __init__(self, f, rec, op):
        self._f, self._rec, self._op = f, rec, op

    def write(self, data):
        n = self._f.write(data)
        k = len(data) if n is None else n
        self._rec["bytes"] += k
        self._op[2] += k
        return n

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        self._f.__enter__()
        return self

    def __exit__(self, *a):
        return self._f.__exit__(*a)

    def __iter__(self):
        return iter(self._f)


class FlashCount:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.files = {}
        self.ops = []

    def rec(self, name):
        r = self.files.get(name)
        if r is None:
            r = self.files[name] = {"rewrites": 0, "appends": 0, "bytes": 0, "renames": 0, "removes": 0}
        return r

    def __enter__(self):
        self._open, self._rename, self._remove = builtins.open, os.rename, os.remove
        real_open, real_rename, real_remove = self._open, self._rename, self._remove

        def open_(path, mode="r", *a, **kw):
            f = real_open(path, mode, *a, **kw)
            name = _name(self.root, path) if isinstance(path, (str, bytes, os.PathLike)) else None
            if name is None or not any(c in mode for c in "wax+"):
                return f
            r = self.rec(name)
            kind = "a" if "a" in mode else "p" if "r" in mode else "w"
            r["rewrites" if kind == "w" else "appends"] += 1
            op = [kind, name, 0]
            self.ops.append(op)
            return _Counted(f, r, op)

        def rename_(src, dst):
            real_rename(src, dst)
            name = _name(self.root, dst)
            if name is not None:
                self.rec(name)["renames"] += 1
                self.ops.append(["r", name, 0, _name(self.root, src)])

        def remove_(path):
            real_remove(path)
            name = _name(self.root, path)
            if name is not None:
                self.rec(name)["removes"] += 1
                self.ops.append(["x", name, 0])

        builtins.open, os.rename, os.remove = open_, rename_, remove_
        return self

    def __exit__(self, *a):
        builtins.open, os.rename, os.remove = self._open, self._rename, self._remove

    def total(self, key="bytes"):
        return sum(r[key] for r in self.files.values())
