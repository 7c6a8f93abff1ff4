"""TLS for the services (OCPP's wss://, MQTT's mqtts://, HTTPS downloads): a client context whose
certificate files live on flash, PEM or DER; and the web page's server context (HTTPS). The same
calls work on MicroPython (extmod ssl) and CPython."""
import binascii
import sys

# An RSA private key signs in one mbedtls call that nothing interrupts: 4.2 s (server) to 4.7 s
# (client) for RSA-2048 on the RP2040, which has no big-number hardware (the emulated chip,
# MicroPython v1.28 with its mbedtls, tools/rp2emu/tls_timing.py: a lower bound, its flash being
# zero-wait), past the watchdog's 2 s: every handshake would reset the board. EC P-256: 0.3-0.9 s.
SLOW_RSA_CPUS = ("RP2040",)
OID_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"        # rsaEncryption (PKCS#8; evse.ocpp.x509)


class SlowKey(ValueError):
    """A private key this CPU cannot sign with inside the watchdog's time."""


def pem_to_der(data):
    """The DER of the first PEM block in data (bytes or str), wherever it starts (openssl's pkcs12
    export puts "Bag Attributes" lines before a key, `openssl x509 -text` its text before a
    certificate); bytes holding no PEM block are DER already and returned as they are.
    ValueError: a block not closed, or a str with no block."""
    text = isinstance(data, str)
    if text:
        data = data.encode()
    i = data.find(b"-----BEGIN")
    if i < 0:
        if text:
            raise ValueError("no PEM block")
        return data
    j = data.find(b"-----END", i)
    k = data.find(b"\n", i)
    if j < 0 or not 0 <= k < j:
        raise ValueError("PEM block not closed")
    return binascii.a2b_base64(b"".join(data[k + 1:j].split()))


def is_rsa_key(der):
    """A private key's DER is RSA: PKCS#8 naming rsaEncryption, or PKCS#1 (version 0, then the
    modulus as an INTEGER; SEC1's EC key has version 1, PKCS#8's an algorithm SEQUENCE next)."""
    if OID_RSA in der[:40]:
        return True
    if len(der) < 12 or der[0] != 0x30:
        return False
    i = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    return der[i:i + 3] == b"\x02\x01\x00" and der[i + 3] == 0x02 and der[i + 4] > 0x80


def machine_name():
    """What MicroPython calls this machine ("Raspberry Pi Pico W with RP2040"); "" on CPython."""
    return getattr(sys.implementation, "_machine", "")


def check_key(path):
    """Refuses (SlowKey) an RSA private key on a CPU that signs with it slower than the watchdog
    allows: the web page or OCPP then says so instead of the board resetting at each handshake."""
    cpu = machine_name()
    if not any(c in cpu for c in SLOW_RSA_CPUS):
        return
    with open(path, "rb") as f:
        der = pem_to_der(f.read())
    if is_rsa_key(der):
        raise SlowKey("%s is an RSA key: one signature holds the %s for about 4 s, past the "
                      "watchdog's 2 s; use an EC P-256 key" % (path, cpu.split(" with ")[-1]))


def der_file(path):
    """The DER form of a certificate or key file: a PEM one is decoded once into PATH.der (its
    first BEGIN/END block); a DER one is used as it is. The unix port's TLS has no PEM parser; DER
    works on every port and on CPython as cadata."""
    with open(path, "rb") as f:
        data = f.read()
    der = pem_to_der(data)
    if der is data:
        return path
    out = path + ".der"
    try:
        with open(out, "rb") as f:
            if f.read() == der:
                return out  # converted before: no flash write
    except OSError:
        pass
    with open(out, "wb") as f:
        f.write(der)
    return out


def make_tls_context(ca_file, cert_file=None, key_file=None):
    """Client TLS context that checks the server certificate against `ca_file` (PEM or DER; a list
    of them: any one may have signed it), and
    presents a client certificate when given one (security profile 3).
    Without a CA file the connection is encrypted but the server is not authenticated.
    The same calls work on MicroPython (extmod ssl) and CPython."""
    if cert_file:
        check_key(key_file)
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cert_file:
        try:
            ctx.load_cert_chain(cert_file, key_file)
        except ValueError:  # a port without a PEM parser (unix): the DER form
            ctx.load_cert_chain(der_file(cert_file), der_file(key_file))
    if ca_file:
        for path in ca_file if isinstance(ca_file, list) else (ca_file,):
            _load_ca(ctx, path)
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx
    if hasattr(ctx, "check_hostname"):  # CPython refuses CERT_NONE while the name is checked
        # The MicroPython stubs have no check_hostname (the port has no such flag): CPython only.
        ctx.check_hostname = False  # pyright: ignore[reportAttributeAccessIssue]
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_ca(ctx, path):
    """One CA file into the trust anchors (each call adds to them). Its failure names the file: a
    port's OSError carries only its number ("connect: OSError(2,)" told an operator nothing of
    ocpp_ca_file), and mbedtls says "invalid cert" of any file."""
    try:
        with open(der_file(path), "rb") as f:
            ctx.load_verify_locations(cadata=f.read())
    except (OSError, ValueError) as e:
        raise ValueError("CA file %s: %s" % (path, e))


def make_server_context(cert_file, key_file):
    """Server TLS context (the web page's HTTPS) with its certificate and key files, PEM or DER.
    Raises (OSError: missing; ValueError or the port's own error: damaged) when they cannot serve."""
    check_key(key_file)
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ValueError:  # a port without a PEM parser (unix): the DER form
        ctx.load_cert_chain(der_file(cert_file), der_file(key_file))
    return ctx
