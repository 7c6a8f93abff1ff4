"""The security extension's certificates and signatures (evse/ocpp/x509.py) against PyPI
`cryptography`: the hash data an OCSP request computes, and signatures it makes, valid or not."""
import pytest

import pki
from evse.ocpp import x509

KINDS = ("rsa", "rsa3072", "ec")


def run(steps, out):
    n = 0
    for _ in steps:
        n += 1
    return out["ok"], n


@pytest.fixture(scope="module", params=KINDS)
def root(request):
    k = pki.key(request.param)
    return k, pki.cert(k, "Manufacturer root " + request.param, ca=True)


def test_a_certificate_reads_as_cryptography_reads_it(root):
    k, c = root
    got = x509.parse(x509.pem_to_der(pki.pem(c)))
    assert got["serial"] == c.serial_number
    assert got["der"] == pki.der(c)
    assert got["not_before"] == int(c.not_valid_before_utc.timestamp())
    assert got["not_after"] == int(c.not_valid_after_utc.timestamp())
    assert got["issuer"] == got["subject"] == c.subject.public_bytes()
    assert got["tbs"] == c.tbs_certificate_bytes


def test_hash_data_is_the_ocsp_cert_id(root):
    _, c = root
    assert x509.hash_data(x509.parse(pki.der(c))) == pki.hash_data(c)


def test_hash_data_of_a_certificate_signed_by_another(root):
    rk, rc = root
    leaf = pki.cert(pki.key("ec"), "signer", rk, rc)
    mine = x509.hash_data(x509.parse(pki.der(leaf)), x509.parse(pki.der(rc)))
    assert mine == pki.hash_data(leaf, rc)
    other = dict(mine, serialNumber="000" + mine["serialNumber"].upper())
    assert x509.same_hash_data(mine, other)
    assert not x509.same_hash_data(mine, dict(mine, issuerKeyHash="00" * 32))


def test_a_signature_is_accepted_and_any_change_refused(root):
    k, c = root
    cert = x509.parse(pki.der(c))
    data = b"firmware bundle " * 100
    sig = pki.sign(k, data)
    out = {}
    ok, steps = run(x509.verify(cert, pki.sha256(data), sig, out), out)
    assert ok and steps > 1                      # in steps: the control tick runs between them
    assert not run(x509.verify(cert, pki.sha256(data + b"!"), sig, out), out)[0]
    bad = bytearray(sig)
    bad[len(bad) // 2] ^= 1
    assert not run(x509.verify(cert, pki.sha256(data), bytes(bad), out), out)[0]
    assert not run(x509.verify(cert, pki.sha256(data), sig[:-1], out), out)[0]


@pytest.mark.parametrize("kind", ["rsa", "rsa3072"])
@pytest.mark.parametrize("salt", ["digest", "max", "none"])
def test_an_rsa_pss_firmware_signature_by_cryptography_is_accepted_and_any_change_refused(kind, salt):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    k = pki.key(kind)
    c = pki.cert(k, "Firmware signing " + kind)
    length = {"digest": padding.PSS.DIGEST_LENGTH, "max": padding.PSS.MAX_LENGTH, "none": 0}[salt]
    data = b"firmware bundle " * 100
    sig = k.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=length), hashes.SHA256())
    cert, out = x509.parse(pki.der(c)), {}
    assert run(x509.verify(cert, pki.sha256(data), sig, out, pss=True), out)[0]
    assert not run(x509.verify(cert, pki.sha256(data), sig, out), out)[0]          # a certificate's: no
    assert not run(x509.verify(cert, pki.sha256(data + b"!"), sig, out, pss=True), out)[0]
    for i in (0, len(sig) // 2, len(sig) - 1):
        bad = bytearray(sig)
        bad[i] ^= 1
        assert not run(x509.verify(cert, pki.sha256(data), bytes(bad), out, pss=True), out)[0]


def test_a_certificate_signed_by_the_root_is_recognised(root):
    rk, rc = root
    for kind in ("rsa", "ec"):
        leaf = pki.cert(pki.key(kind), "firmware signer", rk, rc)
        out = {}
        assert run(x509.verify_signed_by(x509.parse(pki.der(leaf)), x509.parse(pki.der(rc)), out), out)[0]
    stranger_key = pki.key("ec")
    stranger = pki.cert(stranger_key, rc.subject.rfc4514_string(), ca=True)
    fake = pki.cert(pki.key("ec"), "firmware signer", stranger_key, stranger)
    out = {}
    assert not run(x509.verify_signed_by(x509.parse(pki.der(fake)), x509.parse(pki.der(rc)), out), out)[0]


def test_a_certificate_file_with_text_before_its_block_gives_its_der(root, tmp_path):
    """`openssl x509 -text` writes the decoded text first; a chain file: its first block."""
    from evse.shell import tls
    k, c = root
    text = "Certificate:\n    Data:\n        Version: 3 (0x2)\n" + pki.pem(c)
    assert x509.pem_to_der(text) == x509.pem_to_der(text.encode()) == pki.der(c)
    path = tmp_path / "ca.pem"
    path.write_text(text + pki.pem(c))
    with open(tls.der_file(str(path)), "rb") as f:
        assert f.read() == pki.der(c)
    assert x509.pem_to_der(pki.der(c)) == pki.der(c)          # DER is taken as it is


@pytest.mark.parametrize("bad", ["no block here", "-----BEGIN CERTIFICATE-----\nAAAA",
                                 b"-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----"])
def test_a_pem_block_not_there_or_not_closed_is_a_value_error(bad):
    with pytest.raises(ValueError):
        x509.pem_to_der(bad)


@pytest.mark.parametrize("junk", [b"", b"\x30", b"\x30\x03\x02\x01", b"\x30\x84\xff\xff\xff\xff",
                                  b"\x30\x03\x02\x01\x01", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"])
def test_junk_is_a_value_error(junk):
    with pytest.raises(ValueError):
        x509.parse(x509.pem_to_der(junk))


def test_the_micropython_vectors_still_verify_with_cryptography():
    import base64
    import sys
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "upy"))
    import x509_vectors as V
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    ec_signer = cx.load_pem_x509_certificate(V.EC_SIGNER.encode())
    rsa_signer = cx.load_pem_x509_certificate(V.RSA_SIGNER.encode())
    ec_signer.public_key().verify(base64.b64decode(V.SIG_EC), V.DATA, ec.ECDSA(hashes.SHA256()))
    rsa_signer.public_key().verify(base64.b64decode(V.SIG_RSA), V.DATA, padding.PKCS1v15(), hashes.SHA256())
    pss = cx.load_pem_x509_certificate(V.RSA_PSS_SIGNER.encode()).public_key()
    for sig in (V.SIG_RSA_PSS_32, V.SIG_RSA_PSS_MAX):
        pss.verify(base64.b64decode(sig), V.DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                              salt_length=padding.PSS.AUTO), hashes.SHA256())
    ec_signer.verify_directly_issued_by(cx.load_pem_x509_certificate(V.RSA_ROOT.encode()))
    rsa_signer.verify_directly_issued_by(cx.load_pem_x509_certificate(V.EC_ROOT.encode()))
    assert pki.hash_data(cx.load_pem_x509_certificate(V.RSA_ROOT.encode())) == V.RSA_ROOT_HASH
