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
