"""TLS for the services (OCPP's wss://, MQTT's mqtts://, HTTPS downloads): a client context whose
certificate files live on flash, PEM or DER; and the web page's server context (HTTPS). The same
calls work on MicroPython (extmod ssl) and CPython."""
import binascii


def der_file(path):
    """The DER form of a certificate or key file: a PEM one is decoded once into PATH.der (its
    first BEGIN/END block); a DER one is used as it is. The unix port's TLS has no PEM parser; DER
    works on every port and on CPython as cadata."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.lstrip().startswith(b"-----BEGIN"):
        return path
    body = []
    for line in data.split(b"\n")[1:]:
        line = line.strip()
        if line.startswith(b"-----END"):
            break
        body.append(line)
    der = binascii.a2b_base64(b"".join(body))
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
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cert_file:
        try:
            ctx.load_cert_chain(cert_file, key_file)
        except ValueError:  # a port without a PEM parser (unix): the DER form
            ctx.load_cert_chain(der_file(cert_file), der_file(key_file))
    if ca_file:
        for path in ca_file if isinstance(ca_file, list) else (ca_file,):
            with open(der_file(path), "rb") as f:
                ctx.load_verify_locations(cadata=f.read())     # each call adds to the anchors
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx
    if hasattr(ctx, "check_hostname"):  # CPython refuses CERT_NONE while the name is checked
        # The MicroPython stubs have no check_hostname (the port has no such flag): CPython only.
        ctx.check_hostname = False  # pyright: ignore[reportAttributeAccessIssue]
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_server_context(cert_file, key_file):
    """Server TLS context (the web page's HTTPS) with its certificate and key files, PEM or DER.
    Raises (OSError: missing; ValueError or the port's own error: damaged) when they cannot serve."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ValueError:  # a port without a PEM parser (unix): the DER form
        ctx.load_cert_chain(der_file(cert_file), der_file(key_file))
    return ctx
