"""A flash image (.bin) to UF2, the format the RP2040's boot ROM takes on its USB drive.

    python -m tools.uf2 firmware.bin firmware.uf2 [--base 0x10000000] [--family 0xe48bff56]

Written from the UF2 specification (github.com/microsoft/uf2, README "File format"): 512-byte
blocks, each carrying one 256-byte payload (what the RP2040 boot ROM accepts: it writes whole
256-byte flash pages) at `base + offset`, with the family-ID flag set and the RP2040's family ID.
The last payload is padded with zeros. The rp2 port's .bin starts at flash offset 0 (boot2 first),
which is mapped at 0x10000000 (XIP). `make firmware` uses it because pico-sdk 2.x writes the UF2
with picotool, which it downloads at configure time (docs/flashing.md).
"""
import argparse
import struct
import sys

MAGIC_START0 = 0x0A324655          # "UF2\n"
MAGIC_START1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_FAMILY_ID = 0x00002000        # the file-size field holds a family ID instead
RP2040_FAMILY = 0xE48BFF56
RP2040_FLASH = 0x10000000          # XIP base: flash offset 0
PAYLOAD = 256
BLOCK = 512
DATA_FIELD = 476                   # bytes 32-507 of a block: the payload, then zeros


def blocks(data, base=RP2040_FLASH, family=RP2040_FAMILY):
    """The UF2 blocks of `data` placed at `base` (a list of 512-byte bytes objects)."""
    if not data:
        raise ValueError("empty image")
    count = (len(data) + PAYLOAD - 1) // PAYLOAD
    out = []
    for n in range(count):
        chunk = data[n * PAYLOAD:(n + 1) * PAYLOAD]
        head = struct.pack("<8I", MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID, base + n * PAYLOAD,
                           PAYLOAD, n, count, family)
        out.append(head + chunk.ljust(DATA_FIELD, b"\0") + struct.pack("<I", MAGIC_END))
    return out


def convert(bin_path, uf2_path, base=RP2040_FLASH, family=RP2040_FAMILY):
    """Writes `uf2_path` from `bin_path`; returns the number of blocks."""
    with open(bin_path, "rb") as f:
        data = f.read()
    out = blocks(data, base, family)
    with open(uf2_path, "wb") as f:
        f.write(b"".join(out))
    return len(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.uf2", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin")
    ap.add_argument("uf2")
    ap.add_argument("--base", type=lambda s: int(s, 0), default=RP2040_FLASH)
    ap.add_argument("--family", type=lambda s: int(s, 0), default=RP2040_FAMILY)
    a = ap.parse_args(argv)
    try:
        n = convert(a.bin, a.uf2, a.base, a.family)
    except (OSError, ValueError) as e:
        print("uf2: %s" % e, file=sys.stderr)
        return 1
    print("uf2: %s: %d blocks at 0x%08x, family 0x%08x" % (a.uf2, n, a.base, a.family))
    return 0


if __name__ == "__main__":
    sys.exit(main())
