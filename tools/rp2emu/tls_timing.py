"""A TLS handshake's longest call on the emulated Pico: what one mbedtls call holds the chip for.

    python -m tools.rp2emu.tls_timing --image IMAGE.uf2 [--mutual] [ec|rsa ...]

The stock image has no `ssl` (the Pico has no network); IMAGE is an rp2 build with it
(MICROPY_PY_SSL on and micropython-lib's `ssl` frozen: docs/rp2emu.md says how). A client and a
server run in the one interpreter over an in-memory pipe, each call timed with `ticks_us` on the
emulated clock: the client is the charger (OCPP wss://, MQTT mqtts://; with --mutual it presents a
client certificate, OCPP security profile 3), the server is the charger's web page over HTTPS.
Each KIND is a self-signed certificate with that key (EC P-256 or RSA-2048), the trust anchor
itself. Prints per kind the longest calls and the GC heap the TLS state holds once up:

    tls_longest_call_ec: client 751.0 ms, server 284.2 ms (3 calls each)
    tls_heap_ec: contexts 6368 B, the client's connection 23040 B, both connections 47040 B
"""
import argparse
import datetime
import subprocess
import sys

from tools.rp2emu import Pico, load_board

DEVICE = """
import io, time, machine, ssl, gc
gc.collect()
M0 = gc.mem_free()
machine.RTC().datetime(%r)
CERT = bytes.fromhex(%r)
KEY = bytes.fromhex(%r)
MUTUAL = %r

class Pipe(io.IOBase):
    def __init__(self, rx, tx):
        self.rx = rx
        self.tx = tx
    def readinto(self, buf):
        if not self.rx:
            return None
        d = self.rx[0]
        n = min(len(buf), len(d))
        buf[:n] = d[:n]
        if n < len(d):
            self.rx[0] = d[n:]
        else:
            self.rx.pop(0)
        return n
    def write(self, b):
        self.tx.append(bytes(b))
        return len(b)
    def ioctl(self, req, arg):
        return 0

cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.verify_mode = ssl.CERT_REQUIRED
cctx.load_verify_locations(cadata=CERT)
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(CERT, KEY)
if MUTUAL:
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.load_verify_locations(cadata=CERT)
    cctx.load_cert_chain(CERT, KEY)
gc.collect()
M1 = gc.mem_free()
a2b, b2a = [], []
c = cctx.wrap_socket(Pipe(b2a, a2b), server_hostname="csms.example", do_handshake_on_connect=False)
s = sctx.wrap_socket(Pipe(a2b, b2a), server_side=True, do_handshake_on_connect=False)
worst, calls, done = [0, 0], [0, 0], [False, False]
buf = bytearray(16)
for _ in range(40):
    for i, (sock, msg) in enumerate(((c, b"hello"), (s, b"world"))):
        t0 = time.ticks_us()
        try:
            if not done[i]:
                done[i] = bool(sock.write(msg))
            else:
                sock.readinto(buf)
        except OSError as e:
            if e.args[0] != 11:
                raise
        d = time.ticks_diff(time.ticks_us(), t0)
        calls[i] += 1
        worst[i] = max(worst[i], d)
    if done[0] and done[1]:
        break
gc.collect()
M2 = gc.mem_free()
c.close()
gc.collect()
print("TLS", int(done[0] and done[1]), worst[0], worst[1], calls[0], M0 - M1, gc.mem_free() - M2, M1 - M2)
"""


def self_signed(kind):
    """(certificate DER, key DER) of a self-signed certificate for csms.example."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization as S
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
    key = (ec.generate_private_key(ec.SECP256R1()) if kind == "ec"
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csms.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("csms.example")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(S.Encoding.DER),
            key.private_bytes(S.Encoding.DER, S.PrivateFormat.TraditionalOpenSSL, S.NoEncryption()))


def measure(image, kind, mutual):
    """(client's longest call us, server's, calls each, heap bytes: both contexts, the client's
    connection once up, both connections) on the emulated Pico."""
    cert, key = self_signed(kind)
    now = datetime.datetime.now(datetime.timezone.utc)   # the certificate's validity is checked
    rtc = (now.year, now.month, now.day, now.weekday(), now.hour, now.minute, now.second, 0)
    script = DEVICE % (rtc, cert.hex(), key.hex(), mutual)
    with Pico(load_board("rpi_pico"), image=image) as pico:
        pico.pump(emu_s=1.0, wall_s=120)
        proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", pico.port, "exec", script],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pico.pump(until=lambda: proc.poll() is not None, wall_s=1800)
        out = proc.stdout.read().decode()
    for line in out.splitlines():
        p = line.split()
        if p[:2] == ["TLS", "1"]:
            return tuple(int(x) for x in p[2:8])
    raise RuntimeError("no handshake on the emulated Pico: " + out.strip()[-400:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", required=True, help="an rp2 image with ssl (docs/rp2emu.md)")
    ap.add_argument("--mutual", action="store_true", help="with a client certificate (OCPP profile 3)")
    ap.add_argument("kinds", nargs="*", default=["ec", "rsa"], choices=["ec", "rsa"])
    a = ap.parse_args(argv)
    for kind in a.kinds:
        client, server, calls, ctx, one, both = measure(a.image, kind, a.mutual)
        name = kind + ("_mutual" if a.mutual else "")
        print("tls_longest_call_%s: client %.1f ms, server %.1f ms (%d calls each)"
              % (name, client / 1000, server / 1000, calls), flush=True)
        print("tls_heap_%s: contexts %d B, the client's connection %d B, both connections %d B"
              % (name, ctx, one, both), flush=True)


if __name__ == "__main__":
    main()
