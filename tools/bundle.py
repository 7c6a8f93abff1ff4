"""Make a firmware bundle (the format firmware/evse/shell/bundle.py installs, docs/ocpp.md
"Firmware update"): one line of JSON manifest, then the files' bytes in the manifest's order.

    python -m tools.bundle OUT.bin --version 0.2.0 --from build/esp32   every file under the
                                                                        directory, by its path there
The directory is what `python -m tools.toolchain.mpy_build --arch xtensawin --out build/esp32` writes; boot.py,
main.py and board files are left out (a bundle replaces the firmware's modules, not the unit's)."""
import argparse
import hashlib
import json
import os

FORMAT = "evse-bundle/1"
LEFT_OUT = ("boot.py", "main.py", "board.py", "board.mpy")


def make(files, version):
    """files: [(path on the board, bytes)] -> the bundle's bytes."""
    manifest = {"format": FORMAT, "version": version,
                "files": [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in files]}
    return json.dumps(manifest).encode() + b"\n" + b"".join(b for _, b in files)


def from_dir(top):
    out = []
    for d, dirs, names in os.walk(top):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for n in sorted(names):
            rel = os.path.relpath(os.path.join(d, n), top).replace(os.sep, "/")
            if rel in LEFT_OUT or rel.startswith("boards/"):
                continue
            with open(os.path.join(d, n), "rb") as f:
                out.append((rel, f.read()))
    return sorted(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--version", required=True)
    ap.add_argument("--from", dest="src", required=True)
    a = ap.parse_args(argv)
    data = make(from_dir(a.src), a.version)
    with open(a.out, "wb") as f:
        f.write(data)
    print("%s: %d bytes" % (a.out, len(data)))


if __name__ == "__main__":
    main()
