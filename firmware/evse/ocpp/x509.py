"""X.509 certificates and signatures for the OCPP 1.6 security extension, in plain Python that runs
on MicroPython (no `cryptography` there): read a certificate's DER, its OCSP-style hash data, and
verify RSA PKCS#1 v1.5 / ECDSA P-256 signatures over SHA-256 (certificates and firmware), and RSA-PSS
for firmware (the Security Whitepaper's L01.FR.04 names RSA-PSS or ECSchnorr; ECSchnorr has no
standard encoding, so not here). Imported only when a security message arrives.

The verifications are generators that yield between steps (one modular square or one bit of the
point multiplication): on a Pico a P-256 verification takes about a second of interpreter time, and
the control tick must run in between (security.run_steps)."""
import binascii
import hashlib
from .wallclock import parse_iso
from ..shell.tls import OID_RSA, pem_to_der     # one PEM reader for keys and certificates

OID_RSA_SHA256 = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"   # sha256WithRSAEncryption
OID_EC = b"\x2a\x86\x48\xce\x3d\x02\x01"                   # id-ecPublicKey
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"             # prime256v1
OID_ECDSA_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"     # ecdsa-with-SHA256
# EMSA-PKCS1-v1_5 DigestInfo of SHA-256 (RFC 8017 section 9.2, note 1)
SHA256_INFO = binascii.unhexlify("3031300d060960864801650304020105000420")

# NIST P-256 (FIPS 186-4 D.1.2.3)
P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296
GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5


# -- DER ---------------------------------------------------------------------------------------------
def tlv(b, i):
    """(tag, start, end) of the value of the DER element at b[i]; ValueError if it does not fit."""
    if i + 2 > len(b):
        raise ValueError("DER truncated")
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        if not 0 < k < 4 or i + k > len(b):
            raise ValueError("DER length")
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    if i + n > len(b):
        raise ValueError("DER truncated")
    return tag, i, i + n


def children(b, start, end):
    """The elements inside a constructed value: a list of (tag, start, end, element start)."""
    out = []
    while start < end:
        tag, s, e = tlv(b, start)
        out.append((tag, s, e, start))
        start = e
    return out


def pem_blocks(text):
    """Every PEM block of a chain, in order, as DER (a certificate chain is leaf first)."""
    out = []
    i = text.find("-----BEGIN")
    while i >= 0:
        j = text.find("-----END", i)
        k = text.find("-----", j + 8) if j >= 0 else -1
        if k < 0:
            raise ValueError("PEM block not closed")
        out.append(pem_to_der(text[i:k + 5]))
        i = text.find("-----BEGIN", k + 5)
    return out


def to_pem(der, label):
    b64 = binascii.b2a_base64(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def _time(b, tag, s, e):
    """UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) -> epoch seconds."""
    t = bytes(b[s:e]).decode()
    if tag == 0x17:
        t = ("19" if int(t[:2]) >= 50 else "20") + t   # RFC 5280 4.1.2.5.1
    v = parse_iso("%s-%s-%sT%s:%s:%sZ" % (t[:4], t[4:6], t[6:8], t[8:10], t[10:12], t[12:14]))
    if v is None or not t.endswith("Z"):
        raise ValueError("certificate time")
    return v


def parse(der):
    """A certificate -> dict: tbs (the signed bytes), sig_alg (OID), sig, serial (int), issuer and
    subject (their DER), not_before / not_after (epoch s), key_alg, key_param (OIDs) and key (the
    subjectPublicKey bits). ValueError if it is not an X.509 certificate."""
    der = bytes(der)
    tag, s, e = tlv(der, 0)
    if tag != 0x30 or e != len(der):
        raise ValueError("not a certificate")
    top = children(der, s, e)
    if len(top) != 3 or top[2][0] != 0x03:
        raise ValueError("not a certificate")
    f = children(der, top[0][1], top[0][2])
    if f and f[0][0] == 0xa0:                    # [0] version
        f = f[1:]
    if len(f) < 6 or f[0][0] != 0x02:
        raise ValueError("certificate fields")
    validity = children(der, f[3][1], f[3][2])
    spki = children(der, f[5][1], f[5][2])
    alg = children(der, spki[0][1], spki[0][2])
    sig_alg = children(der, top[1][1], top[1][2])
    return {"der": der, "tbs": der[top[0][3]:top[0][2]], "sig_alg": der[sig_alg[0][1]:sig_alg[0][2]],
            "sig": der[top[2][1] + 1:top[2][2]], "serial": int.from_bytes(der[f[0][1]:f[0][2]], "big"),
            "issuer": der[f[2][3]:f[2][2]], "subject": der[f[4][3]:f[4][2]],
            "not_before": _time(der, *validity[0][:3]), "not_after": _time(der, *validity[1][:3]),
            "key_alg": der[alg[0][1]:alg[0][2]],
            "key_param": der[alg[1][1]:alg[1][2]] if len(alg) > 1 and alg[1][0] == 0x06 else None,
            "key": der[spki[1][1] + 1:spki[1][2]]}


def _hex(data):
    return binascii.hexlify(data).decode()


def hash_data(cert, issuer=None):
    """OCPP CertificateHashData (SHA256; OCSP's CertID, RFC 6960 4.1.1): the hash of the issuer's
    name, of the issuer's public key and the serial number in hex. A root is its own issuer."""
    issuer = issuer or cert
    return {"hashAlgorithm": "SHA256", "issuerNameHash": _hex(hashlib.sha256(cert["issuer"]).digest()),
            "issuerKeyHash": _hex(hashlib.sha256(issuer["key"]).digest()),
            "serialNumber": "%x" % cert["serial"]}


def same_hash_data(a, b):
    """Two CertificateHashData name the same certificate (hex case and leading zeros ignored)."""
    def norm(h):
        return (h.get("hashAlgorithm"), h.get("issuerNameHash", "").lower(),
                h.get("issuerKeyHash", "").lower(), h.get("serialNumber", "").lower().lstrip("0"))
    return norm(a) == norm(b)


# -- signatures ------------------------------------------------------------------------------------
def verify(cert, digest, sig, out, pss=False):
    """Steps (a generator) checking `sig` over a SHA-256 `digest` with the certificate's key;
    out["ok"] is True or False at the end. ValueError for a key this module does not handle.
    pss: an RSA signature may be RSASSA-PSS too (a firmware's, not a certificate's: its algorithm
    is named in the certificate)."""
    if cert["key_alg"] == OID_RSA:
        return _rsa(cert["key"], digest, sig, out, pss)
    if cert["key_alg"] == OID_EC and cert["key_param"] == OID_P256:
        return _ecdsa(cert["key"], digest, sig, out)
    raise ValueError("key type not supported (RSA or EC P-256)")


def verify_signed_by(cert, issuer, out):
    """Steps checking that `issuer` signed `cert` (its name and its signature)."""
    if cert["issuer"] != issuer["subject"] or cert["sig_alg"] not in (OID_RSA_SHA256, OID_ECDSA_SHA256):
        out["ok"] = False
        return iter(())
    return verify(issuer, hashlib.sha256(cert["tbs"]).digest(), cert["sig"], out)


def _ints(b):
    """The INTEGERs of a DER SEQUENCE."""
    tag, s, e = tlv(b, 0)
    return [int.from_bytes(b[x[1]:x[2]], "big") for x in children(b, s, e) if x[0] == 0x02]


def _rsa(key, digest, sig, out, pss):
    tag, s0, e0 = tlv(key, 0)
    parts = children(key, s0, e0)
    if len(parts) < 2:
        raise ValueError("RSA key")
    mod = key[parts[0][1]:parts[0][2]]
    mod = mod[1:] if mod[:1] == b"\x00" else mod
    k = len(mod)                    # bytes of the modulus (formatting a 2048-bit int costs a tick)
    n, exp = int.from_bytes(mod, "big"), int.from_bytes(key[parts[1][1]:parts[1][2]], "big")
    out["ok"] = False
    s = int.from_bytes(sig, "big")
    if len(sig) != k or s >= n:
        return
    x = 1
    for bit in bin(exp)[2:]:        # square and multiply: one product or one reduction per step
        x = x * x
        yield
        x %= n
        yield
        if bit == "1":
            x = x * s % n
            yield
    em = x.to_bytes(k, "big")
    want = b"\x00\x01" + b"\xff" * (k - 3 - len(SHA256_INFO) - len(digest)) + b"\x00" + SHA256_INFO + digest
    out["ok"] = em == want or (pss and _pss_ok(em, digest, _bits(mod) - 1))


def _bits(b):
    """The bit length of the big-endian unsigned b (MicroPython's int has no bit_length)."""
    top, n = b[0], 0
    while top:
        top >>= 1
        n += 1
    return 8 * (len(b) - 1) + n


def _mgf1(seed, size):
    """MGF1 with SHA-256 (RFC 8017 B.2.1)."""
    t = b""
    i = 0
    while len(t) < size:
        t += hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
        i += 1
    return t[:size]


def _pss_ok(em, digest, em_bits):
    """EMSA-PSS-VERIFY (RFC 8017 9.1.2) of the k-byte em: SHA-256, MGF1-SHA-256, the salt of any
    length (read from the encoding, as OpenSSL's auto salt length does)."""
    em_len = (em_bits + 7) // 8
    if any(em[:len(em) - em_len]):
        return False
    em = em[len(em) - em_len:]
    if em_len < 34 or em[-1] != 0xbc:
        return False
    masked, h = em[:em_len - 33], em[em_len - 33:-1]
    top = 8 * em_len - em_bits          # leftmost bits of the encoding that must be zero
    if masked[0] >> (8 - top) if top else 0:
        return False
    db = bytearray(a ^ b for a, b in zip(masked, _mgf1(h, len(masked))))
    db[0] &= 0xff >> top
    i = 0
    while i < len(db) and db[i] == 0:
        i += 1
    if i == len(db) or db[i] != 1:
        return False
    return hashlib.sha256(b"\x00" * 8 + digest + bytes(db[i + 1:])).digest() == h


def _add(p1, x2, y2):
    """Jacobian point + affine point on P-256 (madd-2007-bl); None is the point at infinity."""
    if p1 is None:
        return (x2, y2, 1)
    x1, y1, z1 = p1
    zz = z1 * z1 % P
    h = (x2 * zz - x1) % P
    r = 2 * (y2 * z1 * zz - y1) % P
    if h == 0:
        return _double(p1) if r == 0 else None
    hh = h * h % P
    i = 4 * hh
    j = h * i
    v = x1 * i
    x3 = (r * r - j - 2 * v) % P
    return (x3, (r * (v - x3) - 2 * y1 * j) % P, ((z1 + h) ** 2 - zz - hh) % P)


def _double(p1):
    """2 * a Jacobian point on P-256 (dbl-2001-b, a = -3)."""
    if p1 is None:
        return None
    x1, y1, z1 = p1
    delta = z1 * z1 % P
    gamma = y1 * y1 % P
    beta = x1 * gamma % P
    alpha = 3 * (x1 - delta) * (x1 + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y1 + z1) ** 2 - gamma - delta) % P
    return (x3, (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P, z3)


def _affine(p1, out):
    """A Jacobian point in affine coordinates into out[0] (None: infinity), in steps."""
    out[0] = None
    if p1 is None or p1[2] == 0:
        return
    zi = [1]
    yield from _inverse(p1[2], P, zi)
    z2 = zi[0] * zi[0] % P
    out[0] = (p1[0] * z2 % P, p1[1] * z2 * zi[0] % P)


def _ecdsa(key, digest, sig, out):
    """ECDSA verification (FIPS 186-4 6.4.2)."""
    out["ok"] = False
    if len(key) != 65 or key[0] != 4:
        raise ValueError("EC key not an uncompressed P-256 point")
    qx, qy = int.from_bytes(key[1:33], "big"), int.from_bytes(key[33:], "big")
    if (qy * qy - qx ** 3 + 3 * qx - B) % P:
        return                      # not on the curve
    try:
        rs = _ints(sig)
    except ValueError:              # a torn signature is a wrong one
        return
    if len(rs) != 2 or not (0 < rs[0] < N and 0 < rs[1] < N):
        return
    r, s = rs
    w = [1]
    yield from _inverse(s, N, w)
    acc = [None]
    yield from _twice_mul(int.from_bytes(digest, "big") * w[0] % N, r * w[0] % N, qx, qy, acc)
    yield from _affine(acc[0], acc)
    out["ok"] = acc[0] is not None and acc[0][0] % N == r


def _inverse(a, m, out):
    """a^-1 mod a 256-bit prime m (Fermat: a^(m-2)) into out[0], one bit per step: pow() at once
    takes 72 ms on a Pico, seven control ticks."""
    x = 1
    e = m - 2
    for i in range(255, -1, -1):
        x = x * x % m
        if (e >> i) & 1:
            x = x * a % m
        yield
    out[0] = x


def _twice_mul(u1, u2, qx, qy, acc):
    """u1*G + u2*Q into acc[0], one bit per step (Shamir's trick)."""
    gq = [None]
    yield from _affine(_add((GX, GY, 1), qx, qy), gq)     # None when Q = -G
    pts = (None, (GX, GY), (qx, qy), gq[0])
    p1 = None
    for i in range(255, -1, -1):
        p1 = _double(p1)
        pt = pts[((u1 >> i) & 1) | (((u2 >> i) & 1) << 1)]
        if pt is not None:
            p1 = _add(p1, pt[0], pt[1])
        yield
    acc[0] = p1


# -- a key pair and a certificate signing request (SignCertificate) ----------------------------------
def _der(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    if n < 0x100:
        return bytes((tag, 0x81, n)) + body
    return bytes((tag, 0x82, n >> 8, n & 0xff)) + body


def _der_uint(v, size=32):
    b = v.to_bytes(size, "big")
    i = 0
    while i < size - 1 and b[i] == 0:
        i += 1
    b = b[i:]
    return _der(0x02, b"\x00" + b if b[0] & 0x80 else b)


def _random_scalar():
    import os
    while True:
        d = int.from_bytes(os.urandom(32), "big")
        if 0 < d < N:
            return d


def _point_bytes(q):
    return b"\x04" + q[0].to_bytes(32, "big") + q[1].to_bytes(32, "big")


def ec_keypair(out):
    """Steps making a P-256 key pair: out["d"] (int) and out["pub"] (the 65-byte point)."""
    d = _random_scalar()
    acc = [None]
    yield from _twice_mul(d, 0, GX, GY, acc)
    yield from _affine(acc[0], acc)
    out["d"], out["pub"] = d, _point_bytes(acc[0])


def ec_sign(d, digest, out):
    """Steps of an ECDSA P-256 signature of a SHA-256 digest: out["sig"], DER (r, s)."""
    e = int.from_bytes(digest, "big")
    while True:
        k = _random_scalar()
        acc = [None]
        yield from _twice_mul(k, 0, GX, GY, acc)
        yield from _affine(acc[0], acc)
        r = acc[0][0] % N
        kinv = [1]
        yield from _inverse(k, N, kinv)
        s = kinv[0] * (e + r * d) % N
        if r and s:
            out["sig"] = _der(0x30, _der_uint(r) + _der_uint(s))
            return


def _name(cn, org):
    def rdn(oid, v):
        return _der(0x31, _der(0x30, _der(0x06, oid) + _der(0x0c, v.encode())))
    return _der(0x30, (rdn(b"\x55\x04\x0a", org) if org else b"") + rdn(b"\x55\x04\x03", cn))


def _spki(pub):
    return _der(0x30, _der(0x30, _der(0x06, OID_EC) + _der(0x06, OID_P256)) + _der(0x03, b"\x00" + pub))


def csr(key, cn, org, out):
    """Steps of a PKCS#10 request (RFC 2986) for the key pair, subject O=org, CN=cn, signed with
    ECDSA-SHA256: out["csr"] (DER)."""
    info = _der(0x30, _der_uint(0, 1) + _name(cn, org) + _spki(key["pub"]) + b"\xa0\x00")
    sig = {}
    yield from ec_sign(key["d"], hashlib.sha256(info).digest(), sig)
    alg = _der(0x30, _der(0x06, OID_ECDSA_SHA256))
    out["csr"] = _der(0x30, info + alg + _der(0x03, b"\x00" + sig["sig"]))


def parse_ec_private(der):
    """The public point (65 bytes) of a SEC1 EC private key."""
    s, e = tlv(der, 0)[1:]
    for part in children(der, s, e):
        if part[0] == 0xa1:                         # [1] publicKey BIT STRING
            bs, be = tlv(der, part[1])[1:]
            return der[bs + 1:be]
    raise ValueError("EC private key without its public key")


def ec_private_der(key):
    """The key pair as SEC1 ECPrivateKey DER (RFC 5915), what TLS stacks read as EC PRIVATE KEY."""
    return _der(0x30, _der_uint(1, 1) + _der(0x04, key["d"].to_bytes(32, "big"))
                + _der(0xa0, _der(0x06, OID_P256)) + _der(0xa1, _der(0x03, b"\x00" + key["pub"])))
