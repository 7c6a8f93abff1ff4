"""A small PKI for the OCPP security tests, made with PyPI `cryptography` (the independent
reference): a manufacturer root, a firmware signing certificate it signs, signatures of a file."""
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def key(kind):
    """'rsa' (2048 bits), 'rsa3072' or 'ec' (P-256)."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072 if kind == "rsa3072" else 2048)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "evse tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject_key, cn, issuer_key=None, issuer_cert=None, serial=None, not_before=NOW - DAY,
         not_after=NOW + 365 * DAY, ca=False):
    """A certificate for subject_key, signed by issuer_key (self-signed when None)."""
    b = (x509.CertificateBuilder().subject_name(name(cn))
         .issuer_name(issuer_cert.subject if issuer_cert else name(cn))
         .public_key(subject_key.public_key())
         .serial_number(serial or x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(issuer_key or subject_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM).decode()


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def sign(k, data):
    """The signature of `data` with SHA-256: PKCS#1 v1.5 for RSA, DER (r, s) for EC."""
    if isinstance(k, ec.EllipticCurvePrivateKey):
        return k.sign(data, ec.ECDSA(hashes.SHA256()))
    return k.sign(data, padding.PKCS1v15(), hashes.SHA256())


def hash_data(c, issuer=None):
    """CertificateHashData as an OCSP request computes it (cryptography's OCSP builder)."""
    from cryptography.x509 import ocsp
    req = ocsp.OCSPRequestBuilder().add_certificate(c, issuer or c, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": "%x" % req.serial_number}


def sha256(data):
    return hashlib.sha256(data).digest()


def server_cert(issuer_key, issuer_cert, ip="127.0.0.1"):
    """(certificate, key) of a TLS server at `ip`, signed by the issuer."""
    import ipaddress
    k = key("ec")
    c = (x509.CertificateBuilder().subject_name(name(ip)).issuer_name(issuer_cert.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
         .sign(issuer_key, hashes.SHA256()))
    return c, k


def write_key(k, path):
    with open(path, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
