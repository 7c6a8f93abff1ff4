"""Capture readers: bench / standard VCD, sigrok session (.sr), sigrok CSV export, plain scope CSV.

Every reader returns a `Capture`; every problem with the file raises `CaptureError` with a one-line
reason. Parsing is vectorised (numpy over the whole file), never a Python loop per sample."""

import ctypes
import io
import mmap
import os
import re
import struct
import zlib

import numpy as np

from tools.analyzer.capture import Capture, Sampled, Steps, sampled_to_steps
from tools.analyzer.errors import CaptureError
from tools.analyzer.parallel import thread_map

FORMATS = ("vcd", "sr", "sigrok-csv", "csv")
PILOT_NAMES = ("cp", "pilot", "control_pilot", "ch1", "v dc")
LOGIC_PILOT_NAMES = ("cp_high", "cp", "pilot")
CONTACTOR_NAMES = ("ac_out", "contactor")
TIME_NAMES = ("time", "t", "s", "x", "second", "seconds", "sec", "time (s)", "time(s)", "time[s]",
              "milliseconds", "microseconds", "nanoseconds", "ms", "us", "ns", "time (ms)",
              "time (us)", "sequence")
UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
SNIFF_BYTES = 65536
UNIFORM_TOL = 0.01     # relative jitter of a time column still treated as uniform sampling


# ---------------------------------------------------------------------------------------- entry
def _keep_freed_memory():
    """Let glibc keep freed blocks of up to 256 MB for reuse instead of returning them to the
    kernel: every temporary would otherwise be fresh pages, and first touch of fresh memory is
    what dominates array work on a virtual machine (3x on the CSV parser)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)        # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)        # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass                               # not glibc: only slower


def load(path, fmt=None, channel=None, contactor_channel=None, scale=1.0, rate=None):
    """Read a capture. fmt None: detect from extension and content. scale multiplies pilot volts."""
    _keep_freed_memory()
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise CaptureError("cannot read %s: %s" % (path, e.strerror or e))
    if size == 0:
        raise CaptureError("%s: empty file" % path)
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if fmt is None:
        fmt = detect_format(path, head)
    if fmt not in FORMATS:
        raise CaptureError("unknown format %r (known: %s)" % (fmt, ", ".join(FORMATS)))
    if fmt == "sr":
        cap = read_sr(path, channel, contactor_channel)
    elif fmt == "vcd":
        with open(path, "rb") as f:
            data = f.read()
        cap = read_vcd(data, path, channel, contactor_channel)
    else:
        with open(path, "rb") as f:                 # mapped, not copied: the page cache is the buffer
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        cap = read_csv(data, path, channel, contactor_channel, rate, sigrok=(fmt == "sigrok-csv"))
    if scale != 1.0 and not cap.pilot.logic:
        cap.pilot.values = cap.pilot.values * np.float32(scale) \
            if cap.pilot.values.dtype == np.float32 else cap.pilot.values * scale
    return cap


def detect_format(path, head):
    ext = os.path.splitext(path)[1].lower()
    if head.startswith(b"PK\x03\x04"):
        return "sr"
    if ext == ".sr":
        raise CaptureError("%s: not a sigrok session (not a zip file; truncated or corrupt?)" % path)
    text_like = b"\x00" not in head[:4096]
    if ext == ".vcd" or (text_like and re.search(rb"\$(timescale|enddefinitions|var)\b", head)):
        return "vcd"
    if not text_like:
        raise CaptureError("%s: unknown format (binary, not .sr or VCD); use --format" % path)
    if head.lstrip(b"\xef\xbb\xbf").startswith(b";") and b"libsigrok" in head[:200]:
        return "sigrok-csv"
    if ext in (".csv", ".txt", ".dat", ".tsv") or _looks_numeric(head):
        return "csv"
    raise CaptureError("%s: unknown format (expected .vcd, .sr or .csv); use --format" % path)


def _looks_numeric(head):
    lines = head.decode("latin-1").splitlines()[:50]
    return sum(1 for ln in lines if _numeric_fields(_split(ln, _guess_delim(ln)))) >= 2


def _pick(names, wanted, explicit, what):
    """Index in names of the explicit name (error when absent) or of the first preferred name."""
    low = [n.lower() for n in names]
    if explicit is not None:
        e = explicit.lower()
        for i, n in enumerate(low):
            if n == e or n.split(".")[-1] == e:
                return i
        if explicit.isdigit() and 1 <= int(explicit) <= len(names):
            return int(explicit) - 1
        raise CaptureError("no %s channel %r (channels: %s)" % (what, explicit, ", ".join(names) or "none"))
    for w in wanted:
        for i, n in enumerate(low):
            if n == w or n.split(".")[-1] == w:
                return i
    return None


# ------------------------------------------------------------------------------ decimal numbers
# Numbers are parsed eight bytes at a time (SWAR): one unaligned 64-bit load ending at the number's
# last byte, the dot squeezed out, the bytes before the number masked, then three multiply-shift
# steps turn 8 ASCII digits into an integer. No Python per number, no text decoding.
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_ZEROS = np.uint64(0x3030303030303030)
_TOP = np.array([0] + [((1 << (8 * k)) - 1) << (64 - 8 * k) for k in range(1, 9)], dtype=np.uint64)
_HI = np.concatenate((_TOP, [_ALL]))            # _HI[f]: the f fraction bytes; _HI[9]: no dot
_P10 = 10.0 ** np.arange(9)


def _windows(buf, i):
    """The 8 bytes buf[i:i + 8] of every i as a little-endian uint64, from two aligned loads
    (an unaligned gather is 4x slower). buf must extend 8 bytes past every i."""
    o = (-buf.ctypes.data) % 8
    n = (len(buf) - o) // 8
    if len(i) == 0 or i.min() < o or i.max() + 8 > o + 8 * n:      # the buffer's ragged ends
        return np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))[i]
    words = np.ndarray((n,), dtype="<u8", buffer=buf, offset=o)
    j = i - o
    q = j >> 3
    r = (j & 7).astype(np.uint64) << np.uint64(3)
    w = words[q] >> r
    w |= words[np.minimum(q + 1, n - 1)] << (np.uint64(64) - r)     # a shift of 64 gives 0
    return w


def _eight_digits(d):
    """Integer value of 8 digit values 0-9 (first byte most significant), in place."""
    d *= np.uint64(2561)
    d >>= np.uint64(8)
    d &= np.uint64(0x00FF00FF00FF00FF)
    d *= np.uint64(6553601)
    d >>= np.uint64(16)
    d &= np.uint64(0x0000FFFF0000FFFF)
    d *= np.uint64(42949672960001)
    d >>= np.uint64(32)
    return d


def _decimals(buf, s, e, dot):
    """float64 values of the numbers buf[s:e] ([+-]digits[.digits], dot = position of the '.' or
    e when none), or None when one is not such a number or has more than 8 characters after its
    sign. buf must hold 8 bytes before every e. Exact: at most 8 digits, one division by 10**k."""
    if len(s) == 0:
        return np.zeros(0)
    c0 = buf[s]
    neg = c0 == 45
    s = s + (neg | (c0 == 43))
    has = dot < e
    f = np.where(has, e - dot - 1, 0)
    nd = e - s - has
    if nd.min() < 1 or (e - s).max() > 8:
        return None
    w = _windows(buf, e - 8)
    hi = _HI[np.where(has, f, 9)]
    w = (w & hi) | ((w << np.uint64(8)) & ~hi)     # the integer digits move up over the dot
    w ^= _ZEROS
    w &= _TOP[nd]
    if np.any(((w + np.uint64(0x7676767676767676)) | w) & np.uint64(0x8080808080808080)):
        return None                                  # a byte that is not a digit
    v = _eight_digits(w).astype(np.float64)
    v /= _P10[f]
    np.negative(v, out=v, where=neg)
    return v


# ------------------------------------------------------------------------------------------ VCD
def read_vcd(data, path, channel=None, contactor_channel=None):
    m = re.search(rb"\$enddefinitions\s+\$end", data)
    if not m:
        raise CaptureError("%s: truncated or not a VCD (no $enddefinitions)" % path)
    header = data[:m.start()].decode("latin-1")
    body = data[m.end():]
    ts = re.search(r"\$timescale\s+(\d+)\s*([munpf]?s)\s+\$end", header)
    tscale = int(ts.group(1)) * UNIT_SECONDS[ts.group(2)] if ts else 1e-6
    variables = _vcd_vars(header)
    if not variables:
        raise CaptureError("%s: VCD declares no variables" % path)
    names = [v["name"] for v in variables]
    full = [v["full"] for v in variables]

    # pilot: a real var named cp (bench) unless told; else a logic copy
    pi = _pick_vcd(variables, channel, "pilot")
    if pi is None:
        raise CaptureError("%s: no pilot channel (found: %s); use --channel" % (path, ", ".join(full)))
    ci = _pick(names, CONTACTOR_NAMES, contactor_channel, "contactor")
    di = _pick(names, ("duty",), None, "duty") if channel is None or channel.lower() != "duty" else None
    ni = _pick(names, ("cp_neg",), None, "cp_neg") if pi is not None and names[pi].lower() == "cp" else None

    ppi = _pick(names, ("pp",), None, "pp")
    wanted = {variables[pi]["id"]}
    for i in (ci, di, ni, ppi):
        if i is not None:
            wanted.add(variables[i]["id"])
    changes, t_last = _vcd_changes(body, wanted, path)
    t_end = t_last * tscale

    def steps(i, logic):
        t, val = changes.get(variables[i]["id"], (np.zeros(0), np.zeros(0)))
        return Steps(t * tscale, val, max(t_end, t[-1] * tscale if len(t) else 0.0), logic=logic,
                     resolution=tscale)

    pv = variables[pi]
    pilot = steps(pi, logic=(pv["type"] != "real"))
    if len(pilot) == 0:
        raise CaptureError("%s: pilot channel %r has no values" % (path, pv["full"]))
    if pilot.t_end <= pilot.t0:
        raise CaptureError("%s: capture has no duration (truncated?)" % path)
    contactor = steps(ci, logic=True) if ci is not None else None
    if contactor is not None and len(contactor) == 0:
        contactor = None
    duty = steps(di, logic=False) if di is not None else None
    if duty is not None and len(duty) == 0:
        duty = None
    cap = Capture(path, "vcd", pilot, pv["full"], duty=duty, contactor=contactor,
                  contactor_name=variables[ci]["full"] if contactor is not None else None,
                  channels=full)
    if ni is not None:
        cap.cp_neg = steps(ni, logic=False)          # the bench's negative plateau (plateau-level VCD)
    if ppi is not None:
        pp = steps(ppi, logic=False)                 # the bench's proximity resistor (ohms)
        cap.pp = pp if len(pp) else None
    return cap


def _pick_vcd(variables, channel, what):
    names = [v["name"] for v in variables]
    if channel is not None:
        return _pick(names, (), channel, what)
    real = [v["type"] == "real" for v in variables]
    for w in PILOT_NAMES:
        for i, v in enumerate(variables):
            if real[i] and v["name"].lower() == w and v["scope"].lower() in ("bench", ""):
                return i
        for i, v in enumerate(variables):
            if real[i] and v["name"].lower() == w:
                return i
    for w in LOGIC_PILOT_NAMES:
        for i, v in enumerate(variables):
            if v["name"].lower() == w and v["size"] == 1:
                return i
    return None


def _vcd_vars(header):
    toks = header.split()
    out, scope, i = [], [], 0
    while i < len(toks):
        t = toks[i]
        if t == "$scope" and i + 2 < len(toks):
            scope.append(toks[i + 2])
            i += 3
        elif t == "$upscope":
            if scope:
                scope.pop()
            i += 1
        elif t == "$var" and i + 4 < len(toks):
            typ, size, ident, name = toks[i + 1], toks[i + 2], toks[i + 3], toks[i + 4]
            sc = scope[-1] if scope else ""
            out.append({"type": typ, "size": int(size) if size.isdigit() else 1, "id": ident,
                        "name": name, "scope": sc, "full": ".".join(scope + [name])})
            i += 5
        else:
            i += 1
    return out


def _vcd_changes(body, wanted, path):
    """Tokenise the VCD body with numpy and return {id: (times, values)} for the wanted ids and the
    last timestamp. Times are in timescale units."""
    b = np.frombuffer(body, dtype=np.uint8)
    if len(b) == 0:
        raise CaptureError("%s: VCD has no value changes (truncated?)" % path)
    tok = b > 32
    edge = np.diff(tok.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1)
    del edge, tok
    n = len(starts)
    if n == 0:
        raise CaptureError("%s: VCD has no value changes (truncated?)" % path)
    first = b[starts]
    lens = ends - starts
    # r/b values are followed by their id as a separate token: alternate within runs of such tokens
    cand = _byte_in(first, b"rRbB") & (lens > 1)
    run_start = np.flatnonzero(cand & ~np.concatenate(([False], cand[:-1])))
    rs = np.zeros(n, dtype=np.int64)
    rs[run_start] = run_start
    rs = np.maximum.accumulate(rs)
    is_val = cand & (((np.arange(n) - rs) & 1) == 0)
    is_id = np.zeros(n, dtype=bool)
    is_id[1:] = is_val[:-1]
    is_val &= ~is_id
    if is_val[-1]:                      # a real value cut before its id: the file was truncated
        raise CaptureError("%s: truncated VCD (last value has no identifier)" % path)
    is_ts = (first == ord("#")) & ~is_id
    is_scalar = _byte_in(first, b"01xXzZ") & ~is_id & ~is_val & (lens > 1)

    ts_idx = np.flatnonzero(is_ts)
    ts_val = _parse_uints(b, starts[ts_idx] + 1, lens[ts_idx] - 1, path)
    if len(ts_val) == 0:
        raise CaptureError("%s: VCD has no timestamps (truncated?)" % path)
    ts_count = np.cumsum(is_ts) - 1        # index of the timestamp in force at each token

    out = {}
    si_all = np.flatnonzero(is_scalar)          # scalar: value char + id in one token
    vi_all = np.flatnonzero(is_val)             # real / vector: the next token is the id
    dot_at, multi = _token_dots(b, starts, ends)
    s_keys = _token_keys(b, starts[si_all] + 1, ends[si_all])
    v_keys = _token_keys(b, starts[vi_all + 1], ends[vi_all + 1])
    for ident in wanted:
        if s_keys is not None and v_keys is not None and len(ident.encode("latin-1")) <= 8:
            key = _token_keys(np.frombuffer(b"\0" * 8 + ident.encode("latin-1"), np.uint8),
                              np.array([8]), np.array([8 + len(ident)]))[0]
            si = si_all[s_keys == key]
            vi = vi_all[v_keys == key]
        else:
            si, vi = _ident_tokens(b, starts, lens, si_all, vi_all, ident)
        sv = np.where(first[si] == ord("1"), 1.0, 0.0)
        rv = _parse_values(body, b, starts[vi], ends[vi], first[vi], dot_at[vi], multi[vi], path)
        idx = np.concatenate((si, vi))
        val = np.concatenate((sv, rv))
        order = np.argsort(idx, kind="stable")
        idx, val = idx[order], val[order]
        tsi = ts_count[idx]
        t = np.where(tsi >= 0, ts_val[np.maximum(tsi, 0)], 0).astype(np.float64)
        out[ident] = (t, val)
    return out, float(ts_val.max())


def _token_keys(b, starts, ends):
    """Each token b[starts:ends] of at most 8 bytes as one uint64 (its bytes in the high end, its
    length in the low byte: no two tokens share a key), or None when one is longer or too close to
    the start of b for a window."""
    lens = ends - starts
    if len(lens) and (lens.max() > 7 or ends.min() < 8):
        return None
    if len(lens) == 0:
        return np.zeros(0, dtype=np.uint64)
    w = _windows(b, ends - 8) & _TOP[lens]
    w |= lens.astype(np.uint64)                 # the length fills the low byte, free below 8 bytes
    return w


def _ident_tokens(b, starts, lens, si_all, vi_all, ident):
    """Scalar tokens (value + ident) and value tokens followed by ident, byte by byte."""
    idb = np.frombuffer(ident.encode("latin-1"), np.uint8)
    k = len(idb)
    m = lens[si_all] == k + 1
    for j in range(k):
        m[m] = b[starts[si_all[m]] + 1 + j] == idb[j]
    mi = lens[vi_all + 1] == k
    for j in range(k):
        mi[mi] = b[starts[vi_all[mi] + 1] + j] == idb[j]
    return si_all[m], vi_all[mi]


def _byte_in(x, chars):
    """x (uint8) is one of chars: one table look-up (np.isin compares once per char)."""
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(chars, np.uint8)] = True
    return table[x]


def _parse_uints(b, starts, lens, path):
    """Values of the unsigned decimal tokens b[starts:starts + lens] (VCD timestamps), eight digits
    at a time (SWAR, as _decimals); the first tokens of the body, with no room for a window before
    them, one digit at a time."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    if lens.min() < 1:
        raise CaptureError("%s: bad VCD timestamp (empty '#')" % path)
    chunks = -(-int(lens.max()) // 8)
    e = starts + lens
    room = e >= 8 * chunks
    if chunks > 2 or not room.any():
        return _parse_uints_slow(b, starts, lens, path)
    val = np.zeros(len(starts), dtype=np.int64)
    if not room.all():
        val[~room] = _parse_uints_slow(b, starts[~room], lens[~room], path)
    i = np.flatnonzero(room)
    for k in range(chunks):
        w = _windows(b, e[i] - 8 * (k + 1)) ^ _ZEROS
        w &= _TOP[np.clip(lens[i] - 8 * k, 0, 8)]
        if np.any(((w + np.uint64(0x7676767676767676)) | w) & np.uint64(0x8080808080808080)):
            raise CaptureError("%s: bad VCD timestamp (not a number)" % path)
        val[i] += _eight_digits(w).astype(np.int64) * 10 ** (8 * k)
    return val


def _parse_uints_slow(b, starts, lens, path):
    val = np.zeros(len(starts), dtype=np.int64)
    for j in range(int(lens.max())):
        m = j < lens
        d = b[starts[m] + j].astype(np.int64) - 48
        if np.any((d < 0) | (d > 9)):
            raise CaptureError("%s: bad VCD timestamp (not a number)" % path)
        val[m] = val[m] * 10 + d
    return val


def _token_dots(b, starts, ends):
    """Per token: the position of its '.' (its end when none), and whether it has more than one."""
    dots = np.flatnonzero(b == 46)
    tok = np.searchsorted(starts, dots, side="right") - 1
    inside = (tok >= 0) & (dots < ends[np.maximum(tok, 0)])
    dots, tok = dots[inside], tok[inside]
    dot_at = ends.copy()
    dot_at[tok] = dots
    multi = np.zeros(len(starts), dtype=bool)
    multi[tok[1:][tok[1:] == tok[:-1]]] = True          # dots ascend: a token's dots are adjacent
    return dot_at, multi


def _parse_values(body, b, starts, ends, first, dot, multi, path):
    """Real ('r9.0') and vector ('b101') values as floats; x/z bits read as 0. dot: position of
    each value's '.' (its end when none); multi: more than one '.'."""
    if len(starts) == 0:
        return np.zeros(0)
    isreal = (first == ord("r")) | (first == ord("R"))
    if isreal.all() and starts.min() >= 8 and not multi.any():
        v = _decimals(b, starts + 1, ends, dot)
        if v is not None:
            return v
    raw = [body[s + 1:e] for s, e in zip(starts.tolist(), ends.tolist())]
    out = np.empty(len(raw))
    try:
        if isreal.all():
            out[:] = np.array(raw).astype(np.float64)
        else:
            for i, r in enumerate(raw):
                out[i] = float(r) if isreal[i] else int(re.sub(rb"[xXzZ]", b"0", r) or b"0", 2)
    except ValueError:
        raise CaptureError("%s: bad VCD value (truncated or corrupt file)" % path)
    return out


# ------------------------------------------------------------------------------------ sigrok .sr
def _parse_rate(text):
    m = re.match(r"\s*([0-9.]+)\s*([kMG]?)Hz", text or "")
    if not m:
        return None
    return float(m.group(1)) * {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]


def read_sr(path, channel=None, contactor_channel=None):
    import configparser      # here, not at the top: only sigrok sessions need them (5 ms of start-up)
    import zipfile
    try:
        z = zipfile.ZipFile(path)
        names = z.namelist()
        if "metadata" not in names:
            raise CaptureError("%s: not a sigrok session (no metadata)" % path)
        meta = configparser.ConfigParser(interpolation=None)
        meta.read_string(z.read("metadata").decode("utf-8", "replace"))
        dev = meta["device 1"] if meta.has_section("device 1") else None
        if dev is None:
            raise CaptureError("%s: sigrok metadata has no [device 1]" % path)
        rate = _parse_rate(dev.get("samplerate"))
        if not rate:
            raise CaptureError("%s: sigrok metadata has no samplerate" % path)
        logic_names, analog = {}, {}
        for k, v in dev.items():
            if re.fullmatch(r"probe\d+", k):
                logic_names[int(k[5:])] = v
            elif re.fullmatch(r"analog\d+", k):
                analog[int(k[6:])] = v
        unitsize = int(dev.get("unitsize", "1"))
        capfile = dev.get("capturefile", "logic-1")

        def chunks(prefix, itemsize):
            pat = re.compile(re.escape(prefix) + r"(?:-(\d+))?$")
            found = sorted((int(mm.group(1) or 0), n) for n in names for mm in [pat.match(n)] if mm)
            return _read_members(path, z, [z.getinfo(n) for _, n in found], itemsize)

        all_names = [logic_names[i] for i in sorted(logic_names)] + [analog[i] for i in sorted(analog)]
        # pilot: analog channel (volts) first, else a logic copy
        a_idx = sorted(analog)
        a_names = [analog[i] for i in a_idx]
        pi = None
        if channel is not None:
            low = channel.lower()
            pi = next((i for i in a_idx if analog[i].lower() == low), None)
        elif a_idx:
            j = _pick(a_names, PILOT_NAMES, None, "pilot")
            pi = a_idx[j if j is not None else 0]
        logic = None
        if logic_names:
            raw = chunks(capfile, unitsize)
            if raw is None:
                raise CaptureError("%s: truncated logic data" % path)
            logic = raw.reshape(-1, unitsize)

        def logic_bit(num):
            byte, bit = divmod(num - 1, 8)
            return ((logic[:, byte] >> bit) & 1).astype(np.float32)

        if pi is not None:
            raw = chunks("analog-1-%d" % pi, 4)
            if raw is not None and len(raw) == 0:
                raise CaptureError("%s: analog channel %r has no data" % (path, analog[pi]))
            if raw is None:
                raise CaptureError("%s: truncated analog data" % path)
            pilot = Sampled(0.0, 1.0 / rate, raw.view("<f4"))
            pname = analog[pi]
        else:
            lnames = [logic_names[i] for i in sorted(logic_names)]
            j = _pick(lnames, LOGIC_PILOT_NAMES, channel, "pilot") if lnames else None
            if j is None or logic is None:
                raise CaptureError("%s: no pilot channel (channels: %s); use --channel"
                                   % (path, ", ".join(all_names) or "none"))
            num = sorted(logic_names)[j]
            pilot = Sampled(0.0, 1.0 / rate, logic_bit(num), logic=True)
            pname = logic_names[num]
        if len(pilot) < 2:
            raise CaptureError("%s: capture too short (%d samples)" % (path, len(pilot)))
        contactor, cname = None, None
        if logic is not None:
            lnames = [logic_names[i] for i in sorted(logic_names)]
            j = _pick(lnames, CONTACTOR_NAMES, contactor_channel, "contactor")
            if j is not None:
                num = sorted(logic_names)[j]
                contactor = _logic_steps(logic, num, 1.0 / rate)
                cname = logic_names[num]
        elif contactor_channel is not None:
            raise CaptureError("no contactor channel %r (channels: %s)" % (contactor_channel, ", ".join(all_names)))
        return Capture(path, "sr", pilot, pname, contactor=contactor, contactor_name=cname,
                       channels=all_names)
    except (zipfile.BadZipFile, EOFError, KeyError, configparser.Error, ValueError, OSError) as e:
        raise CaptureError("%s: truncated or corrupt sigrok session (%s)" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__))


SR_THREADS = 2                 # members inflated / copied in parallel (zlib and file reads release the GIL)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
SR_SLICE = 1 << 20             # inflate / copy in slices this long (no large temporaries, CRC in cache)


def _read_members(path, z, infos, itemsize):
    """The concatenated contents of zip members, read straight into one preallocated uint8 array
    (no per-member bytes and no join). Stored members are read from the file into their slice,
    deflated ones inflated slice by slice with zlib; members run in a thread pool. Each member's
    CRC is checked. Returns None when the total is not a multiple of itemsize."""
    import zipfile
    zl = zlib_module()
    total = sum(i.file_size for i in infos)
    if total % itemsize:
        return None
    out = np.empty(total, dtype=np.uint8)
    if not infos:
        return out
    size = os.path.getsize(path)
    offsets = np.cumsum([0] + [i.file_size for i in infos]).tolist()
    jobs = []
    with open(path, "rb") as f:
        for info, off in zip(infos, offsets):
            if info.flag_bits & 1:
                raise CaptureError("%s: encrypted sigrok session" % path)
            f.seek(info.header_offset)
            h = f.read(_LOCAL_HEADER.size)
            if len(h) < _LOCAL_HEADER.size or h[:4] != b"PK\x03\x04":
                raise CaptureError("%s: truncated or corrupt sigrok session (bad member header %s)"
                                   % (path, info.filename))
            fields = _LOCAL_HEADER.unpack(h)
            start = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
            if start + info.compress_size > size:
                raise CaptureError("%s: truncated sigrok session (member %s cut short)"
                                   % (path, info.filename))
            jobs.append((info, start, off))

    def one(job):
        info, start, off = job
        dst = memoryview(out)[off:off + info.file_size]
        with open(path, "rb", buffering=0) as fh:
            fh.seek(start)
            crc = 0                                 # checked slice by slice, while it is in cache
            if info.compress_type == zipfile.ZIP_STORED:
                got = 0
                while got < info.file_size:
                    k = fh.readinto(dst[got:min(got + SR_SLICE, info.file_size)])
                    if not k:
                        break
                    crc = zl.crc32(dst[got:got + k], crc)
                    got += k
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                d = zl.decompressobj(-15)
                left, got = info.compress_size, 0
                while left > 0 and got < info.file_size:
                    buf = fh.read(min(SR_SLICE, left))
                    if not buf:
                        break
                    left -= len(buf)
                    while buf and got < info.file_size:
                        piece = d.decompress(buf, min(SR_SLICE, info.file_size - got))
                        dst[got:got + len(piece)] = piece
                        crc = zl.crc32(piece, crc)
                        got += len(piece)
                        buf = d.unconsumed_tail
            else:                                   # bzip2 / lzma: zipfile's own reader
                data = z.read(info.filename)
                got = len(data)
                dst[:min(got, info.file_size)] = data[:info.file_size]
                crc = zl.crc32(dst)
        if got != info.file_size:
            raise CaptureError("%s: truncated or corrupt sigrok session (member %s: %d of %d bytes)"
                               % (path, info.filename, got, info.file_size))
        if crc != info.CRC:
            raise CaptureError("%s: corrupt sigrok session (bad CRC in member %s)" % (path, info.filename))

    thread_map(one, jobs, SR_THREADS)
    return out


def zlib_module():
    """ISA-L's zlib-compatible module when installed (the `isal` package: a sigrok session's members
    inflate 1.5x and CRC-check 3x faster than with zlib), else zlib."""
    try:
        from isal import isal_zlib
        return isal_zlib
    except ImportError:
        return zlib


def _logic_steps(logic, num, dt):
    """Steps of one logic bit (probe num, 1-based) of the srzip logic array (samples x unitsize),
    without a per-sample float copy; slices of the capture on SR_THREADS threads."""
    byte, bit = divmod(num - 1, 8)
    col = logic[:, byte]
    mask = np.uint8(1 << bit)
    n = len(col)
    step = 1 << 22

    def changes(a):
        x = col[a:min(n, a + step + 1)] & mask
        return np.flatnonzero(x[1:] != x[:-1]) + (a + 1)

    idx = np.concatenate([np.zeros(1, dtype=np.int64)]
                         + thread_map(changes, range(0, n - 1, step), SR_THREADS))
    vals = ((col[idx] & mask) != 0).astype(np.float64)
    return Steps(idx * dt, vals, n * dt, logic=True)


# ------------------------------------------------------------------------------------------ CSV
def _guess_delim(line):
    for d in (",", ";", "\t"):
        if d in line:
            return d
    return None


def _split(line, delim):
    return [f.strip().strip('"') for f in (line.split(delim) if delim else line.split())]


_NUM = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_COMMA_NUM = re.compile(r"^[-+]?\d*,\d+([eE][-+]?\d+)?$")
OVERFLOW_V = 1e37              # a scope's mark for a sample beyond its screen (Rigol, Keysight: 9.9E37)
OVERFLOW_MAX = 0.01            # more of the pilot than this off the screen: its levels cannot be read
MILLIVOLT = re.compile(r"(?:^|[^a-z])(mv|millivolts?)(?:$|[^a-z])")
UNIT_WORD = re.compile(r"^[(\[]?(v|volts?|mv|millivolts?|s|secs?|seconds?|ms|us|ns|ps|sequence)[)\]]?$")


def _units_line(fields):
    """A header line of units under the channel names (`Sequence,VOLT,...`, `(ms),(V)`,
    `second,Volt`): every field a unit or a number (Rigol puts Start and Increment there), and one
    a unit."""
    units = [UNIT_WORD.match(_unit_name(f)) for f in fields if f != ""]
    return any(units) and all(u or _NUM.match(f) for u, f in zip(units, [f for f in fields if f != ""]))


def _decode(raw):
    """Text of a CSV: UTF-8, else Latin-1 (a Windows scope's `\xb5s` is a micro sign, not an error)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _unit_name(name):
    """A caption lower-cased, its micro sign (U+00B5 or the Greek U+03BC) written `u`."""
    return name.lower().replace("\u00b5", "u").replace("\u03bc", "u")


def _decimal_commas(data):
    """True when the first row of numbers uses decimal commas, fields split by ';' or a tab (a scope
    or spreadsheet in a German or French locale: `0,000001;8,9973`)."""
    for size in (SNIFF_BYTES, CSV_HEAD_BYTES):          # a long header: look further (rare)
        head = bytes(data[:size])
        for ln in _decode(head).splitlines()[:CSV_HEAD_LINES]:
            s = ln.strip()
            if not s or s[0] in ";#":
                continue
            delim = "\t" if "\t" in s else ";" if ";" in s else None
            fields = [f for f in _split(s, delim or _guess_delim(s)) if f != ""]
            if fields and all(_NUM.match(f) or _COMMA_NUM.match(f) for f in fields):
                return delim is not None and any(_COMMA_NUM.match(f) for f in fields)
        if len(head) < size:
            break
    return False


def _fill_overflow(v, over, path):
    """Overflow marks (9.9E37) in the pilot: each takes the next sample on the screen (an edge's
    overshoot then stays on the edge's new side). Refused when more than OVERFLOW_MAX of the
    samples are off the screen: the plateaus themselves were clipped."""
    n = int(np.count_nonzero(over))
    if n > OVERFLOW_MAX * len(v):
        raise CaptureError("%s: pilot beyond the scope's range in %.1f %% of the samples (9.9E37 overflow "
                           "values): set the vertical scale so that +-12 V fits the screen"
                           % (path, 100.0 * n / len(v)))
    idx = np.where(over, len(v), np.arange(len(v)))
    idx = np.minimum.accumulate(idx[::-1])[::-1]        # the next sample on the screen
    last = np.flatnonzero(~over)[-1]
    v = v[np.where(idx < len(v), idx, last)]
    return v, "%d sample(s) beyond the scope's range (9.9E37) replaced by the next sample" % n


def _numeric_fields(fields):
    """True when every non-empty field is a number and at least one is."""
    nonempty = [f for f in fields if f != ""]
    return bool(nonempty) and all(_NUM.match(f) for f in nonempty)


CSV_HEAD_BYTES = 1 << 20       # the header (comments, captions) is looked for in this much of the file
CSV_HEAD_LINES = 2000


def _csv_header(lines):
    """Scan the first lines: comments, scope metadata, column captions, up to the first numeric row.
    Returns (index of the first numeric row or None, caption, meta, sigrok names, sigrok rate)."""
    sig_names, sig_rate = None, None
    first_data, caption, meta = None, None, {}
    for i, ln in enumerate(lines[:CSV_HEAD_LINES]):
        s = ln.strip()
        if not s:
            continue
        if s.startswith(";") or s.startswith("#"):
            m = re.search(r"Channels \(\d+/\d+\):\s*(.*)$", s)
            if m:
                sig_names = [x.strip() for x in m.group(1).split(",")]
            m = re.search(r"Samplerate:\s*(.*)$", s)
            if m:
                sig_rate = _parse_rate(m.group(1))
            continue
        delim = _guess_delim(s)
        fields = _split(s, delim)
        if _numeric_fields(fields):
            first_data = i
            break
        if caption is not None:                        # Rigol: names on one line, values below
            for name, val in zip(caption[1], fields):
                if name.lower() in ("start", "increment") and _float(val) is not None:
                    meta[name.lower()] = val
            if _units_line(fields):                    # names above their units (Rigol `CH1` over
                meta["units"] = fields                 # `VOLT`, PicoScope `Time` over `(ms)`)
                continue
        caption = (i, fields, delim)
    return first_data, caption, meta, sig_names, sig_rate


def _csv_columns(first_line, caption):
    delim = _guess_delim(first_line.strip())
    row = _split(first_line.strip(), delim)
    cols = [j for j, f in enumerate(row) if f != ""]
    names = None
    if caption is not None and len(caption[1]) >= len(row):
        names = [caption[1][j] or ("col%d" % (j + 1)) for j in cols]
    if names is None:
        names = ["col%d" % (j + 1) for j in cols]
    return delim, row, cols, names


def _csv_table_fast(data, wanted):
    """Fast path for the plain layout (header, then only numeric rows with the same delimiter and no
    empty field): the header is found in the first CSV_HEAD_BYTES, the rows are parsed by
    _csv_rows, only the columns wanted(names) lists (None: all). Returns None whenever the file is
    not that simple; read_csv then takes the general path. data: bytes or a read-only mmap."""
    start = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    head = data[start:start + CSV_HEAD_BYTES]
    if start + len(head) < len(data):
        head = head[:head.rfind(b"\n") + 1]
    raw = head.splitlines(keepends=True)[:CSV_HEAD_LINES]
    lines = [_decode(ln) for ln in raw]
    hdr = _csv_header(lines)
    first_data, caption = hdr[0], hdr[1]
    if first_data is None:
        return None
    delim, row, cols, names = _csv_columns(lines[first_data], caption)
    if len(cols) != len(row):                          # empty fields (trailing delimiter): general path
        return None
    off = start + sum(len(ln) for ln in raw[:first_data])
    end, notes = _csv_last_row(data, off, len(data), delim, len(row))
    if end is None:
        return None
    want = wanted(names)
    cols = _csv_rows(data, off, end, delim, len(row), list(range(len(row))) if want is None else want)
    if cols is None:
        return None
    return (cols, names, delim) + hdr[2:] + (notes,)


def _trim(data, off, end):
    while end > off and data[end - 1:end] in (b" ", b"\t", b"\r", b"\n"):
        end -= 1
    return end


def _csv_last_row(data, off, end, delim, ncols):
    """The end of the rows and the notes: a torn last row (a capture cut while writing) is left out
    and noted as csv_table_general does. (None, None) when the last line is one the general path
    would judge otherwise (a comment, odd line breaks)."""
    end = _trim(data, off, end)
    nl = data.rfind(b"\n", off, end)
    line = data[nl + 1:end].decode("utf-8", "replace")
    if not line.strip() or line.lstrip().startswith(";") or len(line.splitlines()) != 1:
        return None, None
    fields = _split(line.strip(), delim)
    if len([f for f in fields if f != ""]) >= ncols and _numeric_fields(fields):
        return end, []
    if nl < off:
        return None, None
    return _trim(data, off, nl), ["last row torn, ignored: %r" % line.strip()[:40]]


CSV_BLOCK = 4 << 20            # bytes of rows per block: pyarrow parses blocks on all cores


def _csv_rows(data, off, end, delim, ncols, want):
    """Columns `want` of the rows of data[off:end], {column: float64 array}, or None when a row is
    not `ncols` numbers (a torn or blank field, text, quotes): read_csv then takes the general path.
    Parsed by pyarrow's multithreaded CSV reader straight from the mapped file, only the wanted
    columns converted (correctly rounded, as numpy's own parser: the same floats)."""
    import pyarrow as pa
    from pyarrow import csv as pcsv
    if end <= off:
        return None
    names = ["c%d" % j for j in range(ncols)]
    take = [names[j] for j in want]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(off, end - off)),
            read_options=pcsv.ReadOptions(column_names=names, block_size=CSV_BLOCK),
            parse_options=pcsv.ParseOptions(delimiter=delim or " ", quote_char=False),
            convert_options=pcsv.ConvertOptions(include_columns=take, null_values=[],
                                                column_types=dict.fromkeys(take, pa.float64())),
            memory_pool=pa.system_memory_pool())   # malloc, which keeps freed blocks (see load)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows == 0:
        return None
    return {j: np.concatenate([c.to_numpy() for c in table.column(n).chunks]) for j, n in zip(want, take)}


def csv_table_general(data, path):
    """General path: every line decoded, comment lines and blank lines dropped, np.loadtxt."""
    text = _decode(bytes(data)).lstrip("\ufeff")
    lines = text.splitlines()
    first_data, caption, meta, sig_names, sig_rate = _csv_header(lines)
    if first_data is None:
        raise CaptureError("%s: no numeric data rows (not a capture?)" % path)
    delim, row, cols, names = _csv_columns(lines[first_data], caption)
    # the data rows (the last line may be cut: a truncated capture)
    rows = [ln for ln in lines[first_data:] if ln.strip() and not ln.lstrip().startswith(";")]
    torn = None
    if rows:
        last = _split(rows[-1].strip(), delim)
        if len([f for f in last if f != ""]) < len(cols) or not _numeric_fields(last):
            torn = rows.pop()              # a capture cut while writing: the rows before it stand
    body = "\n".join(rows)
    try:
        arr = np.loadtxt(io.StringIO(body), delimiter=delim, usecols=cols, ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise CaptureError("%s: malformed CSV (%s)" % (path, str(e).splitlines()[0]))
    notes = ["last row torn, ignored: %r" % torn.strip()[:40]] if torn is not None else []
    return dict(enumerate(arr.T)), names, delim, meta, sig_names, sig_rate, notes


def csv_wanted(channel, contactor_channel, sigrok):
    """The columns read_csv reads, from the captions: the first, the time, the pilot, the contactor
    (a fast parser converts no other; not a logic copy of a pilot found by name). None (all) when
    the pilot is found by its values, not its name, or when sigrok's own channel names replace the
    captions."""
    def wanted(names):
        low = [n.lower() for n in names]
        named = [w for w in (channel, contactor_channel) if w is not None]
        keys = set(TIME_NAMES + PILOT_NAMES + CONTACTOR_NAMES) | \
            set(w.lower() for w in named)
        if sigrok or (channel is None and not any(_matches(n, PILOT_NAMES) for n in low)) \
                or any(w.isdigit() for w in named):
            return None
        return [j for j, n in enumerate(low) if j == 0 or n in keys or n.split(".")[-1] in keys]
    return wanted


def _matches(name, wanted):
    return any(name == w or name.split(".")[-1] == w for w in wanted)


def read_csv(data, path, channel=None, contactor_channel=None, rate=None, sigrok=False):
    if not sigrok and _decimal_commas(data):
        data = bytes(data).replace(b",", b".")          # then ';' or a tab is the only delimiter
    table = _csv_table_fast(data, csv_wanted(channel, contactor_channel, sigrok)) or \
        csv_table_general(data, path)
    cols, names, delim, meta, sig_names, sig_rate, notes = table
    nrows = len(next(iter(cols.values())))
    if nrows < 2:
        raise CaptureError("%s: capture too short (%d rows)" % (path, nrows))

    # time column: by name, or Rigol's Sequence + Start/Increment, or a first column that increases
    low = [_unit_name(n) for n in names]
    ti = next((j for j, n in enumerate(low) if n in TIME_NAMES), None)
    if ti is None and len(names) > 1 and channel != names[0]:
        c0 = cols[0]
        if np.all(np.diff(c0[:1000]) > 0) and not np.all(np.isin(c0[:100], (0.0, 1.0))):
            ti = 0
    if sigrok and sig_names and len(sig_names) == len(names) - (ti is not None):
        if not meta.get("units"):          # sigrok's caption line is its units (`logic`, `mV DC`)
            meta["units"] = list(names)
        k = 0
        for j in range(len(names)):
            if j != ti:
                names[j] = sig_names[k]
                k += 1
        low = [_unit_name(n) for n in names]
    data_cols = [j for j in range(len(names)) if j != ti]
    if not data_cols:
        raise CaptureError("%s: only a time column, no signal" % path)

    units = [_unit_name(u) for u in meta.get("units", [])]
    unit_of = [units[j] if j < len(units) else "" for j in range(len(names))]
    t_unit = 1.0
    if ti is not None:
        tn = (low[ti] + " " + unit_of[ti]).strip()
        for key, u in (("milli", 1e-3), ("micro", 1e-6), ("nano", 1e-9), ("(ms)", 1e-3), ("(us)", 1e-6),
                       ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
            if tn == key or key in tn:
                t_unit = u
                break
    start = _float(meta.get("start")) if "increment" in meta else None
    inc = _float(meta.get("increment")) if "increment" in meta else None
    dt, t0, times = None, 0.0, None
    if rate:
        dt = 1.0 / rate
    elif sigrok and sig_rate:
        dt = 1.0 / sig_rate
    elif inc:
        dt, t0 = inc, (start or 0.0)
        if ti is not None:                       # Rigol: first column is a sample number
            t0 += cols[ti][0] * inc
    elif ti is not None:
        times = cols[ti] * t_unit if t_unit != 1.0 else cols[ti]
        dmin, dmax = _diff_range(times)
        if dmin <= 0:
            raise CaptureError("%s: time column is not increasing" % path)
        dt = (times[-1] - times[0]) / (len(times) - 1)
        t0 = times[0]
        if max(dmax - dt, dt - dmin) <= UNIFORM_TOL * dt:
            times = None
        else:
            times = np.ascontiguousarray(times)
    else:
        raise CaptureError("%s: no time column and no sample rate; give --rate HZ" % path)

    def values_of(j):
        return np.ascontiguousarray(cols[j])

    def is_logic(v):
        return bool(np.all((v == 0) | (v == 1)))

    dnames = [names[j] for j in data_cols]
    if channel is not None:
        pj = data_cols[_pick(dnames, (), channel, "pilot")]
    else:
        k = _pick(dnames, PILOT_NAMES, None, "pilot")
        pj = data_cols[k] if k is not None else None
        if pj is None:
            for j in data_cols:
                if low[j] not in CONTACTOR_NAMES and not is_logic(values_of(j)):
                    pj = j
                    break
        if pj is None:
            k = _pick(dnames, LOGIC_PILOT_NAMES, None, "pilot")
            pj = data_cols[k] if k is not None else None
        if pj is None:
            raise CaptureError("%s: no pilot column (columns: %s); use --channel" % (path, ", ".join(names)))
    pv = values_of(pj)
    if not np.all(np.isfinite(pv)):
        raise CaptureError("%s: pilot column %r has non-numeric values" % (path, names[pj]))
    if len(pv) and (pv.max() >= OVERFLOW_V or pv.min() <= -OVERFLOW_V):    # no temporaries when none
        pv, note = _fill_overflow(pv, np.abs(pv) >= OVERFLOW_V, path)
        notes = notes + [note]
    if MILLIVOLT.search(low[pj] + " " + unit_of[pj]):      # PicoScope's `(mV)`: the analysis is in volts
        pv = pv * 1e-3
    logic = low[pj] in LOGIC_PILOT_NAMES + ("cp_high",) and low[pj] != "cp" and is_logic(pv)
    pilot = Sampled(t0, dt, pv, logic=logic) if times is None else \
        Steps(times, pv, times[-1] + dt, logic=logic)
    cj = None
    k = _pick(dnames, CONTACTOR_NAMES, contactor_channel, "contactor")
    if k is not None:
        cj = data_cols[k]
    contactor = None
    if cj is not None and cj != pj:
        cv = values_of(cj)
        if times is None:
            contactor = sampled_to_steps(Sampled(t0, dt, cv))
        else:
            thr = 0.5 if cv.max() <= 1.5 else (cv.min() + cv.max()) / 2
            b = (cv > thr).astype(np.float64)
            i = np.concatenate(([0], np.flatnonzero(b[1:] != b[:-1]) + 1))
            contactor = Steps(times[i], b[i], times[-1] + dt, logic=True)
    cap = Capture(path, "sigrok-csv" if sigrok else "csv", pilot, names[pj], contactor=contactor,
                  contactor_name=names[cj] if contactor is not None else None, channels=names)
    cap.notes = notes
    return cap


def _diff_range(x, block=1 << 20):
    """min and max of np.diff(x), a block at a time (no capture-long temporary)."""
    lo, hi = np.inf, -np.inf
    for a in range(0, len(x) - 1, block):
        d = np.diff(x[a:a + block + 1])
        lo, hi = min(lo, float(d.min())), max(hi, float(d.max()))
    return lo, hi


def _float(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None
