"""The security extension on the connection itself: the central system's root installed over OCPP
(InstallCertificate) is the trust anchor of wss:// when the settings name no CA file, and a
refused Basic auth is a security event (FailedToAuthenticateAtCentralSystem) delivered once the
charge point gets in. Central system on PyPI `ocpp` (ocpp_cs), certificates from PyPI `cryptography`."""
import asyncio
import ssl

import pytest

import pki
from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import Rig, run


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    from evse.ocpp import connection
    monkeypatch.setattr(connection, "RECONNECT_MIN_MS", 100)
    monkeypatch.setattr(connection, "RECONNECT_MAX_MS", 400)
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 50)


def tls_cs(tmp_path, root_key, root):
    srv, srv_key = pki.server_cert(root_key, root)
    (tmp_path / "srv.pem").write_text(pki.pem(srv))
    pki.write_key(srv_key, str(tmp_path / "srv_key.pem"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp_path / "srv.pem"), str(tmp_path / "srv_key.pem"))
    return CentralSystem(ssl_context=ctx, password="0123456789abcdefXYZ")


def test_an_installed_central_system_root_authenticates_the_server(tmp_path):
    root_key = pki.key("ec")
    root = pki.cert(root_key, "CS root", ca=True)
    other = pki.cert(pki.key("ec"), "Other CS root", ca=True)
    flash = tmp_path / "flash"
    flash.mkdir()
    (tmp_path / "root.pem").write_text(pki.pem(root))
    kw = dict(ocpp_security_profile=2, ocpp_password="0123456789abcdefXYZ")

    async def main():
        cs = tls_cs(tmp_path, root_key, root)
        await cs.start()
        rig = await Rig(cs, flash, ocpp_ca_file=str(tmp_path / "root.pem"), **kw).start()   # set-up
        await cs.wait_for(lambda: rig.svc.accepted)
        for c in (other, root):
            res = await cs.call("cp1", call.InstallCertificate(certificate_type="CentralSystemRootCertificate",
                                                               certificate=pki.pem(c)))
            assert res.status == "Accepted"
        await rig.kill()
        rig = await Rig(cs, flash, **kw).start()               # no CA file in the settings now
        await cs.wait_for(lambda: rig.svc.accepted)            # one of the installed roots signed it
        res = await cs.call("cp1", call.DeleteCertificate(certificate_hash_data=pki.hash_data(root)))
        assert res.status == "Accepted"
        await rig.kill()
        rig = await Rig(cs, flash, **kw).start()               # only the other root is left
        await cs.wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in (rig.svc.last_error or ""))
        assert not rig.svc.accepted
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_refused_login_is_a_security_event_sent_once_in(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()

    async def main():
        cs = CentralSystem(password="0123456789abcdefXYZ")
        await cs.start()
        rig = await Rig(cs, flash, ocpp_security_profile=1, ocpp_password="wrongwrongwrong123").start()
        await cs.wait_for(lambda: cs.rejected_logins >= 2)
        assert not rig.svc.accepted
        await rig.kill()
        rig = await Rig(cs, flash, ocpp_security_profile=1, ocpp_password="0123456789abcdefXYZ").start()
        await cs.wait_for(lambda: any(a == "SecurityEventNotification" and p["type"] == "FailedToAuthenticateAtCentralSystem"
                                      for a, p in cs.calls))
        kinds = [p["type"] for a, p in cs.calls if a == "SecurityEventNotification"]
        assert kinds.count("FailedToAuthenticateAtCentralSystem") == 1     # once, not per attempt
        await rig.kill()
        await cs.stop()
    run(main())


def profile3_flash(tmp_path, signer_key, signer):
    """A charge point's flash with a client certificate `signer` issued, and the central system's
    root in root.pem beside it: (flash, root key, root)."""
    root_key = pki.key("ec")
    root = pki.cert(root_key, "CS root", ca=True)
    flash = tmp_path / "flash"
    flash.mkdir()
    cp_key = pki.key("ec")
    (flash / "client_cert.pem").write_text(pki.pem(pki.cert(cp_key, "cp1", signer_key, signer)))
    pki.write_key(cp_key, str(flash / "client_key.pem"))
    (tmp_path / "root.pem").write_text(pki.pem(root))
    return flash, root_key, root


@pytest.mark.parametrize("signed_first", [False, True], ids=["answer_then_certificate", "certificate_first"])
def test_TC_074_CS_a_renewed_client_certificate_is_used_at_once(tmp_path, signed_first):
    """Security profile 3 with a certificate of an old CA: the central system has a new key pair
    made and signs it with a new CA; the charge point reconnects with it at once (its answers and the
    central system's all delivered, then a Close frame), and later a central system that trusts
    only the new CA lets it in. certificate_first: the central system sends CertificateSigned
    before it answers the SignCertificate (OCPP-J lets each side call while the other's call is
    open); under load a central system on the `ocpp` library did that by itself, and the charge
    point's answer was lost in a connection dropped at once."""
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes
    old_key, new_key = pki.key("ec"), pki.key("ec")
    old_ca, new_ca = pki.cert(old_key, "Old CPO CA", ca=True), pki.cert(new_key, "New CPO CA", ca=True)
    flash, root_key, root = profile3_flash(tmp_path, old_key, old_ca)
    (tmp_path / "old.pem").write_text(pki.pem(old_ca))
    (tmp_path / "new.pem").write_text(pki.pem(new_ca))
    kw = dict(ocpp_security_profile=3, ocpp_ca_file=str(tmp_path / "root.pem"))

    def mutual_cs(*trusted):
        srv, srv_key = pki.server_cert(root_key, root)
        (tmp_path / "srv.pem").write_text(pki.pem(srv))
        pki.write_key(srv_key, str(tmp_path / "srv_key.pem"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tmp_path / "srv.pem"), str(tmp_path / "srv_key.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        for t in trusted:
            ctx.load_verify_locations(cafile=str(tmp_path / t))
        return CentralSystem(ssl_context=ctx)

    async def main():
        cs = mutual_cs("old.pem", "new.pem")
        await cs.start()
        rig = await Rig(cs, flash, **kw).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        res = await cs.call("cp1", call.InstallCertificate(certificate_type="CentralSystemRootCertificate",
                                                           certificate=pki.pem(new_ca)))
        assert res.status == "Accepted"           # the new CA is of the CPO's hierarchy (A02.FR.06)
        if signed_first:
            cs.holds["SignCertificate"] = asyncio.Event()
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"))
        assert res.status == "Accepted"
        await cs.wait_for(lambda: any(a == "SignCertificate" for a, _ in cs.calls), 30)
        csr = cx.load_pem_x509_csr([p for a, p in cs.calls if a == "SignCertificate"][0]["csr"].encode())
        leaf = (cx.CertificateBuilder().subject_name(csr.subject).issuer_name(new_ca.subject)
                .public_key(csr.public_key()).serial_number(cx.random_serial_number())
                .not_valid_before(pki.NOW - pki.DAY).not_valid_after(pki.NOW + 90 * pki.DAY)
                .sign(new_key, hashes.SHA256()))
        links = cs.connections
        chain = pki.pem(leaf) + pki.pem(new_ca)
        signed = asyncio.create_task(cs.call("cp1", call.CertificateSigned(certificate_chain=chain)))
        if signed_first:
            cert_file = flash / "client_cert.pem"
            await cs.wait_for(lambda: cert_file.exists() and cert_file.read_text() == chain)
            cs.holds["SignCertificate"].set()
        res = await signed
        assert res.status == "Accepted"
        await cs.wait_for(lambda: cs.connections > links)                                   # reconnected
        assert cs.close_codes == [1000]
        await rig.kill()
        await cs.stop()
        cs = mutual_cs("new.pem")                                   # the old certificate no longer works
        await cs.start()
        rig = await Rig(cs, flash, **kw).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        await rig.kill()
        await cs.stop()
    run(main())


def test_TC_078_CS_an_untrusted_server_certificate_is_refused_and_reported(tmp_path):
    """The central system comes back with a server certificate no trusted root signed: the charge
    point does not connect; once the valid one is back it connects and reports
    InvalidCentralSystemCertificate (once, however many attempts failed)."""
    root_key = pki.key("ec")
    root = pki.cert(root_key, "CS root", ca=True)
    rogue_key = pki.key("ec")
    rogue = pki.cert(rogue_key, "Rogue root", ca=True)
    flash = tmp_path / "flash"
    flash.mkdir()
    (tmp_path / "root.pem").write_text(pki.pem(root))
    kw = dict(ocpp_security_profile=2, ocpp_password="0123456789abcdefXYZ", ocpp_ca_file=str(tmp_path / "root.pem"))

    async def main():
        cs = tls_cs(tmp_path, root_key, root)
        good = cs.ssl_context
        await cs.start()
        rig = await Rig(cs, flash, **kw).start()
        await cs.wait_for(lambda: rig.svc.accepted)
        await cs.stop()
        cs.ssl_context = tls_cs(tmp_path, rogue_key, rogue).ssl_context
        await cs.start()
        await cs.wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in (rig.svc.last_error or ""))
        await asyncio.sleep(1.0)                       # more refused attempts
        assert not rig.svc.accepted
        await cs.stop()
        cs.ssl_context = good
        await cs.start()
        await cs.wait_for(lambda: any(a == "SecurityEventNotification" and p["type"] == "InvalidCentralSystemCertificate"
                                      for a, p in cs.calls))
        assert [p["type"] for a, p in cs.calls if a == "SecurityEventNotification"].count(
            "InvalidCentralSystemCertificate") == 1
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_refused_client_certificate_is_a_failed_authentication_not_a_bad_server(tmp_path):
    """Security profile 3 and a central system that does not trust the charge point's certificate:
    the TLS alert is about the charge point's credentials, so once in it reports
    FailedToAuthenticateAtCentralSystem (once), never InvalidCentralSystemCertificate."""
    cpo_key, other_key = pki.key("ec"), pki.key("ec")
    cpo_ca, other_ca = pki.cert(cpo_key, "CPO CA", ca=True), pki.cert(other_key, "Other CA", ca=True)
    flash, root_key, root = profile3_flash(tmp_path, cpo_key, cpo_ca)
    for name, ca in (("cpo.pem", cpo_ca), ("other.pem", other_ca)):
        (tmp_path / name).write_text(pki.pem(ca))
    srv, srv_key = pki.server_cert(root_key, root)
    (tmp_path / "srv.pem").write_text(pki.pem(srv))
    pki.write_key(srv_key, str(tmp_path / "srv_key.pem"))

    def trusting(ca_file):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tmp_path / "srv.pem"), str(tmp_path / "srv_key.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(tmp_path / ca_file))
        return ctx

    async def main():
        cs = CentralSystem(ssl_context=trusting("other.pem"))
        await cs.start()
        rig = await Rig(cs, flash, ocpp_security_profile=3, ocpp_ca_file=str(tmp_path / "root.pem")).start()
        await cs.wait_for(lambda: rig.svc.last_error)
        await asyncio.sleep(1.0)                       # more refused attempts
        assert not rig.svc.accepted, rig.svc.last_error
        await cs.stop()
        cs.ssl_context = trusting("cpo.pem")
        await cs.start()
        refused = rig.svc.last_error
        await cs.wait_for(lambda: rig.svc.accepted, 30)
        await cs.wait_for(lambda: any(a == "SecurityEventNotification" and p["type"] == "FailedToAuthenticateAtCentralSystem"
                                      for a, p in cs.calls), 30)
        kinds = [p["type"] for a, p in cs.calls if a == "SecurityEventNotification"]
        assert kinds.count("FailedToAuthenticateAtCentralSystem") == 1, (kinds, refused)
        assert "InvalidCentralSystemCertificate" not in kinds, kinds
        await rig.kill()
        await cs.stop()
    run(main())


@pytest.mark.parametrize("text, profile, kind", [
    # CPython (OpenSSL), as measured in the tests above
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate",
     2, "InvalidCentralSystemCertificate"),
    ("upgrade refused: HTTP/1.1 401 Unauthorized", 2, "FailedToAuthenticateAtCentralSystem"),
    ("upgrade refused: ", 3, "FailedToAuthenticateAtCentralSystem"),        # TLS 1.3: closed after
    ("upgrade refused: ", 2, None),                                          # no client certificate
    ("[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate", 3, "FailedToAuthenticateAtCentralSystem"),
    ("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca", 3, "FailedToAuthenticateAtCentralSystem"),
    # MicroPython: mbedtls's verify info (a ValueError), its error names, or bare numbers
    ("The certificate is not correctly signed by the trusted CA", 2, "InvalidCentralSystemCertificate"),
    ("\nThe certificate validity has expired", 3, "InvalidCentralSystemCertificate"),
    ("(-9984, 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED')", 2, "InvalidCentralSystemCertificate"),
    ("(-30592, 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE')", 3, "FailedToAuthenticateAtCentralSystem"),
    ("-30592", 3, "FailedToAuthenticateAtCentralSystem"),
    ("-30592", 2, None),                 # without a client certificate an alert says nothing of it
    ("[Errno 111] ECONNREFUSED", 3, None),
])
def test_each_tls_stack_s_words_for_a_refusal_name_the_right_security_event(text, profile, kind):
    from evse.ocpp.connection import refusal
    assert refusal(text, profile) == kind
