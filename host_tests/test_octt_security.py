"""OCPP 1.6 security extension (Security Whitepaper edition 3) cases of the OCTT list, Charge Point
side: certificate management (TC_075, TC_076, TC_078), the security log (TC_079), secure firmware
update (TC_080, TC_081), ExtendedTriggerMessage and security events. The unmodified firmware on the
virtual bench, the central system on PyPI `ocpp` checking every frame against the official schemas
(octt_cs); certificates, keys and signatures made by PyPI `cryptography` (pki.py), and the hash data
the central system expects computed by cryptography's OCSP builder, not by the firmware's code."""
import base64

import pytest

import pki
from octt_cs import call, change_config, run_case
from test_firmware_bundle import version_bundle
from test_octt_firmware import files_case, reboot
from evse.ocpp import connection
from evse.ocpp.wallclock import format_iso
from evse.shell import bundle

MF, CSR = "ManufacturerRootCertificate", "CentralSystemRootCertificate"


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)   # as test_octt_core: virtual time runs fast


@pytest.fixture(scope="module")
def pkis():
    """A manufacturer root (RSA) with a firmware signing certificate (EC P-256), and a stranger."""
    root_key = pki.key("rsa")
    root = pki.cert(root_key, "Manufacturer root", ca=True)
    signer_key = pki.key("ec")
    signer = pki.cert(signer_key, "Firmware signing", root_key, root)
    cs_key = pki.key("ec")
    return {"root": root, "root_key": root_key, "signer_key": signer_key, "signer": signer,
            "cs_root": pki.cert(cs_key, "Central system root", ca=True),
            "stranger": pki.cert(pki.key("ec"), "Firmware signing", pki.key("ec"), root)}


def events(cs):
    return [p["type"] for p in cs.actions("SecurityEventNotification")]


def snake(h):
    return {"hashAlgorithm": h["hash_algorithm"], "issuerNameHash": h["issuer_name_hash"],
            "issuerKeyHash": h["issuer_key_hash"], "serialNumber": h["serial_number"]}


async def installed_ids(cs, kind):
    res = await cs.call("cp1", call.GetInstalledCertificateIds(certificate_type=kind))
    return res.status, [snake(h) for h in (res.certificate_hash_data or [])]


def test_TC_075_1_CS_install_a_manufacturer_root_certificate(tmp_path, pkis):
    async def case(cs, power_on):
        await power_on()
        assert await installed_ids(cs, MF) == ("NotFound", [])
        res = await cs.call("cp1", call.InstallCertificate(certificate_type=MF, certificate=pki.pem(pkis["root"])))
        assert res.status == "Accepted"
        assert await installed_ids(cs, MF) == ("Accepted", [pki.hash_data(pkis["root"])])
        assert await installed_ids(cs, CSR) == ("NotFound", [])    # each type its own
    run_case(tmp_path, case)


def test_TC_075_2_CS_install_a_central_system_root_certificate_kept_over_a_reboot(tmp_path, pkis):
    async def case(cs, power_on):
        await power_on()
        res = await cs.call("cp1", call.InstallCertificate(certificate_type=CSR, certificate=pki.pem(pkis["cs_root"])))
        assert res.status == "Accepted"
        await power_on()
        assert await installed_ids(cs, CSR) == ("Accepted", [pki.hash_data(pkis["cs_root"])])
    run_case(tmp_path, case)


def test_TC_076_CS_delete_a_specific_certificate(tmp_path, pkis):
    async def case(cs, power_on):
        await power_on()
        for c in (pkis["root"], pkis["cs_root"]):
            kind = MF if c is pkis["root"] else CSR
            await cs.call("cp1", call.InstallCertificate(certificate_type=kind, certificate=pki.pem(c)))
        _, ids = await installed_ids(cs, CSR)
        res = await cs.call("cp1", call.DeleteCertificate(certificate_hash_data=ids[0]))
        assert res.status == "Accepted"
        assert await installed_ids(cs, CSR) == ("NotFound", [])
        assert (await installed_ids(cs, MF))[0] == "Accepted"          # the other one stays
        res = await cs.call("cp1", call.DeleteCertificate(certificate_hash_data=ids[0]))
        assert res.status == "NotFound"
    run_case(tmp_path, case)


def test_an_invalid_central_system_certificate_is_not_installed_and_reported(tmp_path, pkis):
    expired = pki.cert(pki.key("ec"), "old root", not_before=pki.NOW - 400 * pki.DAY,
                       not_after=pki.NOW - pki.DAY, ca=True)

    async def case(cs, power_on):
        b = await power_on()
        for bad in (pki.pem(expired), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "junk"):
            res = await cs.call("cp1", call.InstallCertificate(certificate_type=CSR, certificate=bad))
            assert res.status == "Rejected"
        await b.until(lambda: events(cs).count("InvalidCentralSystemCertificate") == 3, what="3 events")
        assert await installed_ids(cs, CSR) == ("NotFound", [])
    run_case(tmp_path, case)


def test_the_charge_point_reports_its_start_and_a_reset_as_security_events(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        await b.until(lambda: "StartupOfTheDevice" in events(cs), what="StartupOfTheDevice")
        assert (await cs.call("cp1", call.Reset(type="Soft"))).status == "Accepted"
        await b.until(lambda: any("ResetRequested" in e[1] for e in b.app.errors), 20, "reboot")
        b = await power_on()
        await b.until(lambda: events(cs).count("StartupOfTheDevice") == 2, what="second start")
        assert "ResetOrReboot" in events(cs)
        await b.until(lambda: b.svc.state.get("sec") == [], what="every event answered: none waits")
    run_case(tmp_path, case)


def test_TC_079_CS_get_security_log(tmp_path):
    async def case(cs, power_on, srv):
        b = await power_on()
        await b.until(lambda: "StartupOfTheDevice" in events(cs), what="StartupOfTheDevice")
        res = await cs.call("cp1", call.GetLog(log={"remoteLocation": srv.url("/logs/")}, log_type="SecurityLog",
                                               request_id=42))
        assert res.status == "Accepted" and res.filename
        await b.until(lambda: [p["status"] for p in cs.actions("LogStatusNotification")] == ["Uploading", "Uploaded"],
                      20, "Uploaded")
        assert all(p["requestId"] == 42 for p in cs.actions("LogStatusNotification"))
        body = srv.received["/logs/" + res.filename].decode()
        assert "StartupOfTheDevice" in body
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="LogStatusNotification"))
        assert res.status == "Accepted"
        await b.until(lambda: cs.actions("LogStatusNotification")[-1]["status"] == "Idle", what="Idle")
    files_case(tmp_path, case)


def test_get_diagnostics_log_and_an_upload_that_fails(tmp_path):
    async def case(cs, power_on, srv):
        b = await power_on()
        res = await cs.call("cp1", call.GetLog(log={"remoteLocation": srv.url("/logs/")}, log_type="DiagnosticsLog",
                                               request_id=1))
        assert res.status == "Accepted"
        await b.until(lambda: srv.received.get("/logs/" + res.filename), 20, "diagnostics uploaded")
        res = await cs.call("cp1", call.GetLog(log={"remoteLocation": "http://127.0.0.1:9/"}, log_type="SecurityLog",
                                               request_id=2, retries=1))
        # the first upload's statuses may still be on their way (the charger queues Uploading and
        # uploads at once, over another connection): none received yet is not a failure
        await b.until(lambda: (cs.actions("LogStatusNotification") or [{}])[-1].get("status") == "UploadFailure",
                      20, "failure")
        assert cs.actions("LogStatusNotification")[-1]["requestId"] == 2
    files_case(tmp_path, case)


def signed_statuses(cs):
    return [p["status"] for p in cs.actions("SignedFirmwareStatusNotification")]


async def signed_update(b, cs, url, signer, signature, request_id=7):
    fw = {"location": url, "retrieveDateTime": format_iso(b.svc.wall.now(b.svc.ticks())),
          "signingCertificate": pki.pem(signer), "signature": base64.b64encode(signature).decode()}
    return await cs.call("cp1", call.SignedUpdateFirmware(request_id=request_id, firmware=fw))


async def trust(cs, root):
    res = await cs.call("cp1", call.InstallCertificate(certificate_type=MF, certificate=pki.pem(root)))
    assert res.status == "Accepted"


def test_TC_080_CS_secure_firmware_update(tmp_path, pkis):
    image = version_bundle("9.1.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await trust(cs, pkis["root"])
        res = await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), pkis["signer"], pki.sign(pkis["signer_key"], image))
        assert res.status == "Accepted"
        await b.until(lambda: "InstallRebooting" in signed_statuses(cs), 30, "InstallRebooting")
        assert signed_statuses(cs) == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                       "InstallRebooting"]
        assert not cs.actions("FirmwareStatusNotification")        # the signed update's own messages
        b = await reboot(b, power_on, tmp_path)
        await b.until(lambda: "Installed" in signed_statuses(cs), 10, "Installed")
        assert all(p["requestId"] == 7 for p in cs.actions("SignedFirmwareStatusNotification"))
        await b.until(lambda: "FirmwareUpdated" in events(cs), what="FirmwareUpdated")
        assert bundle.state(str(tmp_path / "fw"))["active"] == "a"
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="FirmwareStatusNotification"))
        assert res.status == "Accepted"
        await b.until(lambda: signed_statuses(cs)[-1] == "Idle", what="Idle after Installed")
    files_case(tmp_path, case, {"/fw/9.1.0.bin": image})


def test_TC_081_CS_secure_firmware_update_invalid_signature(tmp_path, pkis):
    image = version_bundle("9.1.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await trust(cs, pkis["root"])
        res = await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), pkis["signer"],
                                  pki.sign(pkis["signer_key"], image + b"tampered"))
        assert res.status == "Accepted"
        await b.until(lambda: "InvalidSignature" in signed_statuses(cs), 30, "InvalidSignature")
        assert signed_statuses(cs) == ["Downloading", "Downloaded", "InvalidSignature"]
        await b.until(lambda: "InvalidFirmwareSignature" in events(cs), what="security event")
        await b.wait(2.0)
        assert not any("ResetRequested" in e[1] for e in b.app.errors)
        assert bundle.state(str(tmp_path / "fw"))["active"] is None and b.svc.state["fw"] is None
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="FirmwareStatusNotification"))
        await b.until(lambda: len(signed_statuses(cs)) == 4, what="triggered status")
        assert cs.actions("SignedFirmwareStatusNotification")[-1] == {"status": "InvalidSignature", "requestId": 7}
    files_case(tmp_path, case, {"/fw/9.1.0.bin": image})


@pytest.mark.parametrize("who", ["stranger", "no root installed"])
def test_a_signing_certificate_no_installed_root_signed_is_refused(tmp_path, pkis, who):
    async def case(cs, power_on, srv):
        b = await power_on()
        if who == "stranger":
            await trust(cs, pkis["root"])
        signer = pkis["stranger"] if who == "stranger" else pkis["signer"]
        res = await signed_update(b, cs, srv.url("/fw/x.bin"), signer, b"\x30\x06\x02\x01\x01\x02\x01\x01")
        assert res.status == "InvalidCertificate"
        await b.until(lambda: "InvalidFirmwareSigningCertificate" in events(cs), what="security event")
        assert signed_statuses(cs) == [] and not b.svc.state.get("fw")
    files_case(tmp_path, case)


def test_extended_trigger_message(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        n = len(cs.actions("BootNotification"))
        for what in ("BootNotification", "Heartbeat", "StatusNotification"):
            res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message=what))
            assert res.status == "Accepted"
        await b.until(lambda: len(cs.actions("BootNotification")) == n + 1 and cs.actions("Heartbeat"),
                      what="triggered messages")
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="StatusNotification",
                                                               connector_id=2))
        assert res.status == "Rejected"
        res = await cs.call("cp1", call.CertificateSigned(certificate_chain="-----BEGIN CERTIFICATE-----"))
        assert res.status == "Rejected"                # none asked for, and not a certificate
        await b.until(lambda: "InvalidChargePointCertificate" in events(cs), what="security event")
    run_case(tmp_path, case)


def test_TC_083_CS_the_security_profile_is_only_raised_and_only_to_one_that_can_be_met(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        conf = await cs.call("cp1", call.GetConfiguration(key=["SecurityProfile", "CertificateStoreMaxLength",
                                                               "AdditionalRootCertificateCheck"]))
        assert {k["key"]: k["value"] for k in conf.configuration_key} == {
            "SecurityProfile": "0", "CertificateStoreMaxLength": "8", "AdditionalRootCertificateCheck": "false"}
        for value in ("2", "3", "x"):    # ws:// cannot carry 2 or 3; not a number
            assert (await cs.call("cp1", call.ChangeConfiguration(key="SecurityProfile", value=value))).status == "Rejected"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="SecurityProfile", value="1"))).status == "Accepted"
        await b.until(lambda: len(cs.auth_headers) == 2 and cs.auth_headers[-1], 60,
                      "a new connection with Basic auth at once (A05.FR.06/07)")
        await b.until(lambda: "ReconfigurationOfSecurityParameters" in events(cs), what="security event")
        assert (await cs.call("cp1", call.ChangeConfiguration(key="SecurityProfile", value="0"))).status == "Rejected"
        b = await power_on()                              # the next connection uses Basic auth
        await b.until(lambda: cs.auth_headers and cs.auth_headers[-1], what="Basic auth on reconnect")
    run_case(tmp_path, case, ocpp_password="0123456789abcdefXYZ")


def test_the_signature_is_checked_once_no_session_runs(tmp_path, pkis):
    image = version_bundle("9.1.0")

    async def case(cs, power_on, srv):
        from octt_cs import charging
        b = await power_on()
        await trust(cs, pkis["root"])
        await charging(b)
        await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), pkis["signer"], pki.sign(pkis["signer_key"], image))
        await b.until(lambda: "Downloaded" in signed_statuses(cs), 30, "Downloaded")
        await b.wait(3.0)
        assert signed_statuses(cs) == ["Downloading", "Downloaded"] and b.d.coil    # still charging
        b.d.ev("B")
        b.d.unplug()
        await b.until(lambda: "Installing" in signed_statuses(cs), 30, "Installing")
        assert signed_statuses(cs)[2:4] == ["SignatureVerified", "Installing"]
    files_case(tmp_path, case, {"/fw/9.1.0.bin": image})


def test_TC_074_CS_the_charge_point_certificate_renewed_on_request(tmp_path):
    """The central system acts as the certificate authority: the charge point makes a key pair and
    a request (checked by cryptography), the certificate it gets back for that key is accepted, one
    for another key is not."""
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes, serialization
    ca_key = pki.key("ec")
    ca = pki.cert(ca_key, "CPO sub-CA", ca=True)

    def signed(csr, key=None):
        b = (cx.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
             .public_key(key.public_key() if key else csr.public_key()).serial_number(cx.random_serial_number())
             .not_valid_before(pki.NOW - pki.DAY).not_valid_after(pki.NOW + 90 * pki.DAY))
        return pki.pem(b.sign(ca_key, hashes.SHA256())) + pki.pem(ca)

    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "CpoName", "Garage CPO") == "Accepted"
        res = await cs.call("cp1", call.InstallCertificate(certificate_type=CSR, certificate=pki.pem(ca)))
        assert res.status == "Accepted"                       # the CPO's root (A02.FR.06: its hierarchy)
        res = await cs.call("cp1", call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"))
        assert res.status == "Accepted"
        (req,) = await b.until(lambda: cs.actions("SignCertificate"), 60, "SignCertificate")
        csr = cx.load_pem_x509_csr(req["csr"].encode())
        assert csr.is_signature_valid
        assert csr.subject.rfc4514_string() == "CN=cp1,O=Garage CPO"
        res = await cs.call("cp1", call.CertificateSigned(certificate_chain=signed(csr, pki.key("ec"))))
        assert res.status == "Rejected"                       # a certificate for another key
        await b.until(lambda: "InvalidChargePointCertificate" in events(cs), what="security event")
        res = await cs.call("cp1", call.CertificateSigned(certificate_chain=signed(csr)))
        assert res.status == "Accepted"
        flash = b.svc.flash_dir
        with open(flash + "/client_key.pem", "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        with open(flash + "/client_cert.pem", "rb") as f:
            leaf = cx.load_pem_x509_certificates(f.read())[0]
        assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    run_case(tmp_path, case)


def test_a_new_signed_update_cancels_the_one_under_way(tmp_path, pkis):
    """Security Whitepaper, SignedUpdateFirmware: a new request while an update is under way
    SHOULD cancel it (AcceptedCanceled); the new one runs to Installed, the old one says nothing
    more. One whose certificate fails leaves the update under way alone."""
    image = version_bundle("9.1.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await trust(cs, pkis["root"])
        sig = base64.b64encode(pki.sign(pkis["signer_key"], image)).decode()
        later = format_iso(b.svc.wall.now(b.svc.ticks()) + 86400)       # tomorrow: it waits
        fw = {"location": srv.url("/fw/9.1.0.bin"), "retrieveDateTime": later,
              "signingCertificate": pki.pem(pkis["signer"]), "signature": sig}
        res = await cs.call("cp1", call.SignedUpdateFirmware(request_id=5, firmware=fw))
        assert res.status == "Accepted"
        res = await signed_update(b, cs, srv.url("/fw/x.bin"), pkis["stranger"], b"\x30\x06\x02\x01\x01\x02\x01\x01", 6)
        assert res.status == "InvalidCertificate" and b.svc.state["fw"]["req"] == 5
        res = await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), pkis["signer"], pki.sign(pkis["signer_key"], image))
        assert res.status == "AcceptedCanceled"
        await b.until(lambda: "InstallRebooting" in signed_statuses(cs), 30, "InstallRebooting")
        # the first one said it waited for tomorrow (L01.FR.13), then nothing more
        assert cs.actions("SignedFirmwareStatusNotification")[0] == {"status": "DownloadScheduled", "requestId": 5}
        assert signed_statuses(cs)[1:] == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                           "InstallRebooting"]
        assert all(p["requestId"] == 7 for p in cs.actions("SignedFirmwareStatusNotification")[1:])
        res = await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), pkis["signer"], pki.sign(pkis["signer_key"], image), 8)
        assert res.status == "Rejected"                 # installed, rebooting: too late to cancel
        b = await reboot(b, power_on, tmp_path)
        await b.until(lambda: "Installed" in signed_statuses(cs), 10, "Installed")
        assert bundle.state(str(tmp_path / "fw"))["active"] == "a"
    files_case(tmp_path, case, {"/fw/9.1.0.bin": image})


def test_an_rsa_pss_signed_firmware_is_verified(tmp_path, pkis):
    """L01.FR.04: the signature over the whole file by RSA-PSS (SHA-256, MGF1; here by
    `cryptography` with the largest salt), the signing certificate an RSA key under the root."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    image = version_bundle("9.1.0")
    key = pki.key("rsa")
    signer = pki.cert(key, "Firmware signing RSA", pkis["root_key"], pkis["root"])
    sig = key.sign(image, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
                   hashes.SHA256())

    async def case(cs, power_on, srv):
        b = await power_on()
        await trust(cs, pkis["root"])
        assert (await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), signer, sig)).status == "Accepted"
        await b.until(lambda: "Installing" in signed_statuses(cs), 30, "Installing")
        assert signed_statuses(cs)[:3] == ["Downloading", "Downloaded", "SignatureVerified"]
    files_case(tmp_path, case, {"/fw/9.1.0.bin": image})


def test_with_a_manufacturer_root_installed_an_unsigned_update_is_not_supported(tmp_path, pkis):
    """L01.FR.20: UpdateFirmware (1.6's own, unsigned) is a CALLERROR NotSupported and starts
    nothing once firmware can be checked (a ManufacturerRootCertificate installed): no unsigned
    update goes around the signature check. Before that it is 1.6's UpdateFirmware (TC_044)."""
    image = version_bundle("9.1.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await trust(cs, pkis["root"])
        at = format_iso(b.svc.wall.now(b.svc.ticks()))
        with pytest.raises(Exception) as e:
            await cs.call("cp1", call.UpdateFirmware(location=srv.url("/fw/9.1.0.bin"), retrieve_date=at))
        assert "NotSupported" in repr(e.value) or "NotSupported" in type(e.value).__name__, repr(e.value)
        await b.wait(2.0)
        assert not b.svc.state.get("fw") and not cs.actions("FirmwareStatusNotification")
    files_case(tmp_path, case, {"/fw/9.1.0.bin": image})
