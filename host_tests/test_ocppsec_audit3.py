"""Audit 3 of the OCPP 1.6 Security Whitepaper (edition 3) beyond L01: security profiles (A05),
certificate management (M03, M04), CertificateSigned (A02). Each case is a bench scenario against a
central system on PyPI `ocpp` (ocpp_cs); certificates and the hash data the central system expects
are made by PyPI `cryptography` (pki.py), not by the firmware's code."""
import ssl

import pytest

import pki
from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import Rig, run

CSR = "CentralSystemRootCertificate"
PASSWORD = "0123456789abcdefXYZ"


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    from evse.ocpp import connection
    monkeypatch.setattr(connection, "RECONNECT_MIN_MS", 100)
    monkeypatch.setattr(connection, "RECONNECT_MAX_MS", 400)
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 50)


def flash_dir(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    return flash


def tls_context(tmp_path, root_key, root, name="srv"):
    """A TLS server context whose certificate `root` signed."""
    srv, srv_key = pki.server_cert(root_key, root)
    (tmp_path / (name + ".pem")).write_text(pki.pem(srv))
    pki.write_key(srv_key, str(tmp_path / (name + "_key.pem")))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp_path / (name + ".pem")), str(tmp_path / (name + "_key.pem")))
    return ctx


async def change(cs, key, value):
    return (await cs.call("cp1", call.ChangeConfiguration(key=key, value=value))).status


# -- A05: Upgrade Charge Point Security Profile ----------------------------------------------------
def test_a_raised_security_profile_reconnects_at_once_with_basic_auth(tmp_path):
    """A05.FR.06/07 (and key 7.6): once SecurityProfile is Accepted the charge point disconnects and
    reconnects with the new profile, without waiting for a Reset. Profile 0 -> 1: the next
    WebSocket upgrade carries Basic auth cp1:<password>."""
    flash = flash_dir(tmp_path)

    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await Rig(cs, flash, ocpp_password=PASSWORD).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert cs.auth_headers == [None] and cs.connections == 1        # profile 0: no credentials
        assert await change(cs, "SecurityProfile", "1") == "Accepted"
        await cs.wait_for(lambda: cs.connections == 2, 5)               # no Reset was sent
        assert cs.auth_headers[-1].startswith("Basic ")
        assert cs.close_codes == [1000]                                 # a clean close, nothing lost
        await cs.wait_for(lambda: rig.svc.accepted)
        assert len(cs.actions("BootNotification")) == 1                 # a reconnection, not a reboot
        await rig.kill()
        await cs.stop()
    run(main())


def test_security_profile_2_needs_a_central_system_root(tmp_path):
    """A05.FR.03: SecurityProfile 2 (or 3) without a valid CentralSystemRootCertificate is Rejected
    and nothing changes; once the root is installed (M05) the same request is Accepted and the
    charge point reconnects, the server now checked against that root."""
    root_key = pki.key("ec")
    root = pki.cert(root_key, "CS root", ca=True)
    flash = flash_dir(tmp_path)

    async def main():
        cs = CentralSystem(ssl_context=tls_context(tmp_path, root_key, root), password=PASSWORD)
        await cs.start()
        # profile 1 over wss:// with no CA file: encrypted, the server not checked (docs/ocpp.md)
        rig = await Rig(cs, flash, ocpp_security_profile=1, ocpp_password=PASSWORD).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert await change(cs, "SecurityProfile", "2") == "Rejected"   # no root to check the server
        conf = await cs.call("cp1", call.GetConfiguration(key=["SecurityProfile"]))
        assert conf.configuration_key[0]["value"] == "1"
        res = await cs.call("cp1", call.InstallCertificate(certificate_type=CSR, certificate=pki.pem(root)))
        assert res.status == "Accepted"
        assert await change(cs, "SecurityProfile", "2") == "Accepted"
        await cs.wait_for(lambda: cs.connections == 2, 5)
        await cs.wait_for(lambda: rig.svc.accepted)
        await rig.kill()
        await cs.stop()
    run(main())


class NoPasswordYet(CentralSystem):
    """A central system not yet told the charge point's password: it lets the charge point in
    without credentials (profile 0) and refuses any Basic auth (401), as a misconfigured one would."""

    refuse = True

    def _process_request(self, connection, request):
        from websockets.http11 import Response
        hdr = request.headers.get("Authorization")
        self.auth_headers.append(hdr)
        if hdr and self.refuse:
            self.rejected_logins += 1
            return Response(401, "Unauthorized", request.headers.__class__(), b"")
        return None


def test_a_raised_security_profile_that_cannot_connect_falls_back(tmp_path):
    """A05.FR.08 (error handling: "to prevent that the Charge Point will become unable to reconnect
    to the Central System on its own"): SecurityProfile 1 Accepted, but the central system refuses
    every connection made with it. After a few refused attempts the charge point goes back to its
    previous profile and is online again; SecurityProfile reads 0, the refusal and the fallback are
    security events. A raise that does connect is kept (A05.FR.09): nothing waits for a fallback."""
    flash = flash_dir(tmp_path)

    async def main():
        cs = NoPasswordYet()
        await cs.start()
        rig = await Rig(cs, flash, ocpp_password=PASSWORD).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert await change(cs, "SecurityProfile", "1") == "Accepted"
        await cs.wait_for(lambda: cs.rejected_logins >= 1, 5)
        await cs.wait_for(lambda: cs.connections == 2, 20)              # back at profile 0
        assert cs.auth_headers[-1] is None and cs.rejected_logins >= 2
        conf = await cs.call("cp1", call.GetConfiguration(key=["SecurityProfile"]))
        assert conf.configuration_key[0]["value"] == "0"
        kinds = lambda: [(p["type"], p.get("techInfo")) for a, p in cs.calls if a == "SecurityEventNotification"]
        await cs.wait_for(lambda: ("ReconfigurationOfSecurityParameters", "SecurityProfile 1 -> 0") in kinds())
        assert "FailedToAuthenticateAtCentralSystem" in [k for k, _ in kinds()]
        assert "sp" not in rig.svc.state
        cs.refuse = False                                               # the password is known now
        assert await change(cs, "SecurityProfile", "1") == "Accepted"
        await cs.wait_for(lambda: cs.connections == 3, 5)
        await cs.wait_for(lambda: rig.svc.accepted)
        assert cs.auth_headers[-1].startswith("Basic ") and "sp" not in rig.svc.state
        await rig.kill()
        await cs.stop()
    run(main())


# -- M03/M04: the hash data of a CA certificate that is not a root ------------------------------------
def test_the_hash_data_of_a_sub_ca_names_its_issuer_s_key(tmp_path):
    """CertificateHashData (whitepaper 6.1, RFC 6960): issuerKeyHash is the hash of the public key
    in the ISSUER's certificate. A sub-CA installed beside the root that signed it is listed with
    the root's key hash, as cryptography's OCSP builder computes it, and DeleteCertificate with that
    hash data deletes it (the root stays)."""
    root_key, sub_key = pki.key("ec"), pki.key("ec")
    root = pki.cert(root_key, "CPO root", ca=True)
    sub = pki.cert(sub_key, "CPO sub-CA", root_key, root, ca=True)
    flash = flash_dir(tmp_path)

    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await Rig(cs, flash).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        for c in (root, sub):
            res = await cs.call("cp1", call.InstallCertificate(certificate_type=CSR, certificate=pki.pem(c)))
            assert res.status == "Accepted"
        res = await cs.call("cp1", call.GetInstalledCertificateIds(certificate_type=CSR))
        got = sorted((h["serial_number"], h["issuer_name_hash"], h["issuer_key_hash"]) for h in res.certificate_hash_data)
        want = sorted((h["serialNumber"], h["issuerNameHash"], h["issuerKeyHash"])
                      for h in (pki.hash_data(root), pki.hash_data(sub, root)))
        assert got == want
        res = await cs.call("cp1", call.DeleteCertificate(certificate_hash_data=pki.hash_data(sub, root)))
        assert res.status == "Accepted"
        res = await cs.call("cp1", call.GetInstalledCertificateIds(certificate_type=CSR))
        assert [h["serial_number"] for h in res.certificate_hash_data] == [pki.hash_data(root)["serialNumber"]]
        await rig.kill()
        await cs.stop()
    run(main())


# -- A02: CertificateSigned must be of the CPO's hierarchy -----------------------------------------------
def _sign_csr(csr_pem, ca_key, ca):
    """The central system's CA signs the charge point's request: the chain leaf first, then its CA."""
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes
    csr = cx.load_pem_x509_csr(csr_pem.encode())
    leaf = (cx.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
            .public_key(csr.public_key()).serial_number(cx.random_serial_number())
            .not_valid_before(pki.NOW - pki.DAY).not_valid_after(pki.NOW + 90 * pki.DAY)
            .sign(ca_key, hashes.SHA256()))
    return pki.pem(leaf) + pki.pem(ca)


def test_a_charge_point_certificate_outside_the_cpo_hierarchy_is_rejected(tmp_path):
    """A02.FR.06/07: the signed certificate must be part of the CPO hierarchy, i.e. end in an
    installed CentralSystemRootCertificate. A chain for the right key that ends in a CA nobody
    installed (anyone can make one) is Rejected with InvalidChargePointCertificate and not taken
    into use; the same chain is Accepted once that CA is installed as the root."""
    ca_key = pki.key("ec")
    ca = pki.cert(ca_key, "Rogue CA", ca=True)
    flash = flash_dir(tmp_path)

    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await Rig(cs, flash).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"))
        assert res.status == "Accepted"
        req = await cs.wait_for(lambda: [p for a, p in cs.calls if a == "SignCertificate"], 30)
        chain = _sign_csr(req[0]["csr"], ca_key, ca)
        res = await cs.call("cp1", call.CertificateSigned(certificate_chain=chain))
        assert res.status == "Rejected"
        await cs.wait_for(lambda: any(a == "SecurityEventNotification" and p["type"] == "InvalidChargePointCertificate"
                                      for a, p in cs.calls))
        assert not (flash / "client_cert.pem").exists()
        res = await cs.call("cp1", call.InstallCertificate(certificate_type=CSR, certificate=pki.pem(ca)))
        assert res.status == "Accepted"
        res = await cs.call("cp1", call.CertificateSigned(certificate_chain=chain))
        assert res.status == "Accepted"
        assert (flash / "client_cert.pem").read_text() == chain
        await rig.kill()
        await cs.stop()
    run(main())


# -- A00.FR.315/419: a central system that offers only an old TLS ----------------------------------------
class OldTlsServer:
    """A TLS server on `port` that speaks only TLS 1.0/1.1 (OpenSSL at security level 0): the
    handshake of a charge point that asks for TLS 1.2 or above fails with a protocol_version alert."""

    def __init__(self, tmp_path, port, root_key, root):
        import socket
        import threading
        ctx = tls_context(tmp_path, root_key, root, "old")
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        self.ctx, self.handshakes = ctx, 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return                                   # closed
            self.handshakes += 1
            try:
                self.ctx.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                pass
            conn.close()

    def close(self):
        import socket
        self.sock.shutdown(socket.SHUT_RDWR)             # wakes the accept() (Linux), then frees the port
        self.thread.join(2)
        self.sock.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_central_system_offering_only_tls_1_1_is_an_invalid_tls_version_event(tmp_path):
    """A00.FR.315 (profile 2) / A00.FR.419 (profile 3): the charge point detects that the central
    system only allows an older TLS: it SHALL trigger InvalidTLSVersion and terminate. It does not
    connect (TLS 1.2 is its minimum), and once the central system speaks TLS 1.2 again the event
    reaches it (queued while offline, once a boot as the other refusals)."""
    root_key = pki.key("rsa")
    root = pki.cert(root_key, "CS root", ca=True)
    (tmp_path / "root.pem").write_text(pki.pem(root))
    flash = flash_dir(tmp_path)

    async def main():
        import asyncio
        cs = CentralSystem(ssl_context=tls_context(tmp_path, root_key, root), password=PASSWORD)
        port = await cs.start()
        await cs.stop()
        old = OldTlsServer(tmp_path, port, root_key, root)
        rig = await Rig(cs, flash, ocpp_security_profile=2, ocpp_password=PASSWORD,
                        ocpp_ca_file=str(tmp_path / "root.pem")).start()
        for _ in range(100):
            if "PROTOCOL_VERSION" in (rig.svc.last_error or "") and old.handshakes >= 2:
                break
            await asyncio.sleep(0.05)
        assert "PROTOCOL_VERSION" in rig.svc.last_error and not rig.svc.connected
        old.close()
        await cs.start(port)                                              # TLS 1.2+ again
        await cs.wait_for(lambda: rig.svc.accepted)
        kinds = lambda: [p["type"] for a, p in cs.calls if a == "SecurityEventNotification"]
        await cs.wait_for(lambda: "InvalidTLSVersion" in kinds())
        assert kinds().count("InvalidTLSVersion") == 1 and "InvalidCentralSystemCertificate" not in kinds()
        await rig.kill()
        await cs.stop()
    run(main())


@pytest.mark.parametrize("text, profile, kind", [
    ("[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)", 2, "InvalidTLSVersion"),
    ("[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol (_ssl.c:1006)", 3, "InvalidTLSVersion"),
    ("(-28288, 'MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION')", 2, "InvalidTLSVersion"),
    ("-28288", 3, "InvalidTLSVersion"),
    ("[SSL: WRONG_VERSION_NUMBER] wrong version number", 2, None),   # a plain HTTP server, not an old TLS
])
def test_each_tls_stack_s_words_for_an_old_tls_name_invalid_tls_version(text, profile, kind):
    from evse.ocpp.connection import refusal
    assert refusal(text, profile) == kind


def test_security_profile_3_needs_a_valid_charge_point_certificate(tmp_path):
    """A05.FR.04: SecurityProfile 3 with no VALID ChargePointCertificate is Rejected. A client
    certificate on flash that expired yesterday is not one: Rejected, nothing changes; a current one
    (same key) is."""
    root_key = pki.key("ec")
    root = pki.cert(root_key, "CS root", ca=True)
    (tmp_path / "root.pem").write_text(pki.pem(root))
    cp_key = pki.key("ec")
    flash = flash_dir(tmp_path)
    expired = pki.cert(cp_key, "cp1", root_key, root, not_before=pki.NOW - 400 * pki.DAY,
                       not_after=pki.NOW - pki.DAY)
    (flash / "client_cert.pem").write_text(pki.pem(expired))
    pki.write_key(cp_key, str(flash / "client_key.pem"))

    async def main():
        cs = CentralSystem(ssl_context=tls_context(tmp_path, root_key, root), password=PASSWORD)
        await cs.start()
        rig = await Rig(cs, flash, ocpp_security_profile=2, ocpp_password=PASSWORD,
                        ocpp_ca_file=str(tmp_path / "root.pem")).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        assert await change(cs, "SecurityProfile", "3") == "Rejected"
        assert cs.connections == 1
        (flash / "client_cert.pem").write_text(pki.pem(pki.cert(cp_key, "cp1", root_key, root)))
        assert await change(cs, "SecurityProfile", "3") == "Accepted"
        await rig.kill()
        await cs.stop()
    run(main())
