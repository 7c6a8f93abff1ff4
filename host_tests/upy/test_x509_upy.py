"""The security extension's certificate reading and signature checks (evse/ocpp/x509.py) on the
MicroPython unix port, where no `cryptography` exists: vectors made by it (x509_vectors.py).
(python -m tools.toolchain.upy_tests host_tests/upy/test_x509_upy.py)"""
import binascii
import hashlib

import x509_vectors as V
from evse.ocpp import x509


def _cert(pem):
    return x509.parse(x509.pem_to_der(pem))


def _ok(steps, out):
    n = 0
    for _ in steps:
        n += 1
    return out["ok"] and n > 1


def test_the_hash_data_is_cryptographys():
    assert x509.hash_data(_cert(V.RSA_ROOT)) == V.RSA_ROOT_HASH


def test_an_rsa_root_signed_an_ec_signer_and_an_ec_root_an_rsa_signer():
    out = {}
    assert _ok(x509.verify_signed_by(_cert(V.EC_SIGNER), _cert(V.RSA_ROOT), out), out)
    assert _ok(x509.verify_signed_by(_cert(V.RSA_SIGNER), _cert(V.EC_ROOT), out), out)
    for _ in x509.verify_signed_by(_cert(V.RSA_SIGNER), _cert(V.RSA_ROOT), out):
        pass
    assert not out["ok"]


def test_signatures_of_the_data_and_of_other_data():
    digest = hashlib.sha256(V.DATA).digest()
    other = hashlib.sha256(V.DATA + b"!").digest()
    for signer, sig in ((V.EC_SIGNER, V.SIG_EC), (V.RSA_SIGNER, V.SIG_RSA)):
        out = {}
        assert _ok(x509.verify(_cert(signer), digest, binascii.a2b_base64(sig), out), out)
        for _ in x509.verify(_cert(signer), other, binascii.a2b_base64(sig), out):
            pass
        assert not out["ok"]


def test_a_firmware_signature_may_be_rsa_pss_a_certificate_s_may_not():
    """L01.FR.04: RSA-PSS, a salt of 32 bytes or of the most the key allows; pss=False (a
    certificate's signature, whose algorithm the certificate names) refuses it."""
    cert = _cert(V.RSA_PSS_SIGNER)
    digest = hashlib.sha256(V.DATA).digest()
    for sig in (V.SIG_RSA_PSS_32, V.SIG_RSA_PSS_MAX):
        out = {}
        assert _ok(x509.verify(cert, digest, binascii.a2b_base64(sig), out, pss=True), out)
        for _ in x509.verify(cert, digest, binascii.a2b_base64(sig), out):
            pass
        assert not out["ok"]
        for _ in x509.verify(cert, hashlib.sha256(V.DATA + b"!").digest(), binascii.a2b_base64(sig), out, pss=True):
            pass
        assert not out["ok"]


def test_a_key_pair_signs_what_its_public_key_verifies():
    key, req, sig = {}, {}, {}
    for _ in x509.ec_keypair(key):
        pass
    assert x509.parse_ec_private(x509.ec_private_der(key)) == key["pub"]
    digest = hashlib.sha256(V.DATA).digest()
    for _ in x509.ec_sign(key["d"], digest, sig):
        pass
    cert = {"key_alg": x509.OID_EC, "key_param": x509.OID_P256, "key": key["pub"]}
    out = {}
    assert _ok(x509.verify(cert, digest, sig["sig"], out), out)
    for _ in x509.csr(key, "cp1", "CPO", req):
        pass
    pem = x509.to_pem(req["csr"], "CERTIFICATE REQUEST")
    assert pem.startswith("-----BEGIN CERTIFICATE REQUEST-----") and x509.pem_blocks(pem) == [req["csr"]]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
