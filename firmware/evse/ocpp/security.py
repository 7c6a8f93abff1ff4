"""OCPP 1.6 security extension (Security Whitepaper edition 3), the CALLs a central system sends:
certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate,
CertificateSigned), ExtendedTriggerMessage, GetLog and SignedUpdateFirmware. Imported at the first
of these (operations.HANDLERS); the certificate and signature code, x509.py, only when needed.

Certificates are kept as DER files under <ocpp dir>/certs/, named by type and a hash of their bytes.
Security profile 3's client certificate and key are client_cert.pem / client_key.pem in the OCPP
directory: put there at installation, or made here (ExtendedTriggerMessage SignChargePointCertificate:
a P-256 key pair and a request, SignCertificate; CertificateSigned brings the certificate)."""
import asyncio
import binascii
import hashlib
import os
from . import firmware, operations, secevents, store
from .connection import CERTS, CS_ROOT
from .wallclock import parse_iso

NAT = (0, None)
KINDS = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
PREFIX = {"CentralSystemRootCertificate": CS_ROOT, "ManufacturerRootCertificate": "mf-"}
HASH_DATA = (("hashAlgorithm", "s", True, ("SHA256", "SHA384", "SHA512")), ("issuerNameHash", "s", True, 128),
             ("issuerKeyHash", "s", True, 128), ("serialNumber", "s", True, 40))
TRIGGERS = ("BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat",
            "MeterValues", "SignChargePointCertificate", "StatusNotification")
INCOMING = {
    "CertificateSigned": (("certificateChain", "s", True, 10000),),
    "DeleteCertificate": (("certificateHashData", "o", True, HASH_DATA),),
    "ExtendedTriggerMessage": (("requestedMessage", "s", True, TRIGGERS), ("connectorId", "i", False, NAT)),
    "GetInstalledCertificateIds": (("certificateType", "s", True, KINDS),),
    "GetLog": (("log", "o", True, (("remoteLocation", "s", True, 512), ("oldestTimestamp", "t", False, 1),
                                   ("latestTimestamp", "t", False, 1))),
               ("logType", "s", True, ("DiagnosticsLog", "SecurityLog")), ("requestId", "i", True, None),
               ("retries", "i", False, NAT), ("retryInterval", "i", False, NAT)),
    "InstallCertificate": (("certificateType", "s", True, KINDS), ("certificate", "s", True, 5500)),
    "SignedUpdateFirmware": (("retries", "i", False, NAT), ("retryInterval", "i", False, NAT),
                             ("requestId", "i", True, None),
                             ("firmware", "o", True, (("location", "s", True, 512),
                                                      ("retrieveDateTime", "t", True, 1),
                                                      ("installDateTime", "t", False, 1),
                                                      ("signingCertificate", "s", True, 5500),
                                                      ("signature", "s", True, 800)))),
}
STORE_MAX = 4               # certificates kept per type (CertificateStoreMaxLength counts both)


# -- the certificate store ----------------------------------------------------------------------
def cert_dir(svc):
    return store.join(svc.flash_dir, CERTS)


def installed(svc, kind):
    """[(file path, parsed certificate)] of one type; a damaged file is skipped."""
    from . import x509
    d = cert_dir(svc)
    out = []
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return out
    for n in names:
        if n.startswith(PREFIX[kind]):
            path = store.join(d, n)
            try:
                with open(path, "rb") as f:
                    out.append((path, x509.parse(f.read())))
            except (OSError, ValueError):
                pass
    return out


def _valid_now(svc, cert):
    """Within its validity period, when the clock is known (else it cannot be told: accepted)."""
    now = svc.wall.now(svc.ticks())
    return now is None or cert["not_before"] <= now <= cert["not_after"]


def install_certificate(svc, p):
    """InstallCertificate: a readable certificate within its validity; Rejected when the type's
    store is full, Failed when flash refuses it. A bad central system root is a security event."""
    kind = p["certificateType"]
    cert = _readable(svc, p["certificate"])
    if cert is None:
        if kind == KINDS[0]:
            return {"status": "Rejected"}, lambda: secevents.report(svc, "InvalidCentralSystemCertificate")
        return {"status": "Rejected"}
    have = installed(svc, kind)
    if any(c["der"] == cert["der"] for _, c in have):
        return {"status": "Accepted"}
    if len(have) >= STORE_MAX:
        return {"status": "Rejected"}
    name = PREFIX[kind] + binascii.hexlify(hashlib.sha256(cert["der"]).digest()[:8]).decode() + ".der"
    try:
        store.ensure_dir(cert_dir(svc))
        with open(store.join(cert_dir(svc), name), "wb") as f:
            f.write(cert["der"])
    except OSError:
        return {"status": "Failed"}
    return {"status": "Accepted"}


def _readable(svc, pem):
    """The parsed certificate when it reads and is valid now, else None."""
    from . import x509
    try:
        cert = x509.parse(x509.pem_to_der(pem))
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return cert if _valid_now(svc, cert) else None


def _hash_ids(svc, kind):
    """[(file path, CertificateHashData)] of one type. issuerKeyHash is the hash of the issuer's
    key (whitepaper 6.1, RFC 6960): a root's own, a sub-CA's from its issuer's certificate when
    that is installed too."""
    from . import x509
    mine = installed(svc, kind)
    every = mine + installed(svc, KINDS[kind == KINDS[0]])
    out = []
    for path, c in mine:
        issuer = c
        for _, o in every:
            if c["issuer"] != c["subject"] and o["subject"] == c["issuer"]:
                issuer = o
        out.append((path, x509.hash_data(c, issuer)))
    return out


def get_installed_certificate_ids(svc, p):
    ids = [h for _, h in _hash_ids(svc, p["certificateType"])]
    return {"status": "Accepted", "certificateHashData": ids} if ids else {"status": "NotFound"}


def delete_certificate(svc, p):
    from . import x509
    want = p["certificateHashData"]
    for kind in KINDS:
        for path, h in _hash_ids(svc, kind):
            if x509.same_hash_data(h, want):
                try:
                    os.remove(path)
                except OSError:
                    return {"status": "Failed"}
                return {"status": "Accepted"}
    return {"status": "NotFound"}


# -- the charge point's own certificate (security profile 3) ------------------------------------------
PENDING_KEY = "pending_key.pem"     # in certs/: the key pair of the request sent, until its certificate


def renew(svc):
    """ExtendedTriggerMessage(SignChargePointCertificate): a new P-256 key pair and a request for
    it (CN the serial setting, else the charge point id; O the CpoName key) sent as SignCertificate, in a task."""
    task = getattr(svc, "renew_task", None)
    if task is None or task.done():                 # one request at a time
        svc.renew_task = asyncio.create_task(_renew(svc))


async def _renew(svc):
    from . import x509
    key, req = {}, {}
    await run_steps(x509.ec_keypair(key))
    cn = svc.settings.get("serial") or svc.settings.get("ocpp_id", "evse")    # the unit's serial number (TC_087)
    await run_steps(x509.csr(key, cn, svc.config.get("CpoName"), req))
    store.ensure_dir(cert_dir(svc))
    with open(store.join(cert_dir(svc), PENDING_KEY), "w") as f:
        f.write(x509.to_pem(x509.ec_private_der(key), "EC PRIVATE KEY"))
    svc.queue_call("SignCertificate", {"csr": x509.to_pem(req["csr"], "CERTIFICATE REQUEST")})


async def certificate_signed(svc, p):
    """CertificateSigned: the chain (leaf first) is for the key pair of the request sent, within
    its validity, each certificate signed by the next, the last one a root of the CPO's hierarchy
    or signed by one (A02.FR.06); then it and the key become the security
    profile 3 client certificate, and a profile 3 connection is made again with them. Otherwise
    Rejected and the security event InvalidChargePointCertificate."""
    from . import connection, x509
    pending = store.join(cert_dir(svc), PENDING_KEY)
    try:
        chain = [x509.parse(d) for d in x509.pem_blocks(p["certificateChain"])]
        with open(pending) as f:
            key = x509.parse_ec_private(x509.pem_to_der(f.read()))
        ok = chain and chain[0]["key"] == key and all(_valid_now(svc, c) for c in chain)
        for cert, issuer in zip(chain, chain[1:]):
            out = {"ok": False}
            if ok:
                await run_steps(x509.verify_signed_by(cert, issuer, out))
            ok = ok and out["ok"]
        ok = ok and await of_cpo(svc, chain[-1])
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        ok = False
    if not ok:
        secevents.report(svc, "InvalidChargePointCertificate")
        return {"status": "Rejected"}
    files = connection.client_cert(svc, 3)
    with open(files["cert_file"], "w") as f:
        f.write(p["certificateChain"])
    os.rename(pending, files["key_file"])
    return {"status": "Accepted"}, lambda: _reconnect(svc)


async def of_cpo(svc, top):
    """The chain's last certificate is, or was signed by, a root of the CPO's hierarchy (A02.FR.06):
    an installed CentralSystemRootCertificate or the ocpp_ca_file's certificates."""
    from . import x509
    roots = [c for _, c in installed(svc, KINDS[0])]
    ca = svc.settings.get("ocpp_ca_file")
    if ca:
        roots += _cert_file(ca)
    for root in roots:
        out = {"ok": root["der"] == top["der"]}
        try:
            if not out["ok"]:
                await run_steps(x509.verify_signed_by(top, root, out))
        except ValueError:          # a root key this code cannot use
            continue
        if out["ok"]:
            return True
    return False


def _cert_file(path):
    """The certificates of a file on flash, PEM (one or more blocks) or DER; OSError, ValueError."""
    from . import x509
    with open(path, "rb") as f:
        data = f.read()
    return [x509.parse(d) for d in (x509.pem_blocks(data.decode()) if b"-----BEGIN" in data else [data])]


def _reconnect(svc):
    """With the new certificate now, when the connection uses it (security profile 3)."""
    from . import connection
    if connection.security_profile(svc) == 3:
        _drop(svc)


def _drop(svc):
    """End the connection, the next one made with the new credentials: once a CALL of ours that is
    on the wire has its answer, with a Close frame (connection.py), so that neither side loses an
    answer already sent (the central system may still be answering our SignCertificate)."""
    svc.redial = True
    svc.wake.set()


# -- the security keys -------------------------------------------------------------------------------
def change_key(svc, key, value):
    """ChangeConfiguration of SecurityProfile (only raised, and only to a profile the URL, the
    password, a central system root and the client certificate on flash can meet, A05.FR.01-04;
    the connection is then made again with it at once, A05.FR.06/07) or AuthorizationKey (hex; a
    Basic auth connection is made again with it at once, TC_073); an accepted change is a
    ReconfigurationOfSecurityParameters event."""
    from . import connection
    if key == "SecurityProfile":
        try:
            new = int(value)
        except ValueError:
            return {"status": "Rejected"}
        if new <= connection.security_profile(svc) or not _profile_met(svc, new):
            return {"status": "Rejected"}
    was = svc.config.get("SecurityProfile") or 0
    st = svc.config.change(key, value)
    if st != "Accepted":
        return {"status": st}
    if key == "SecurityProfile":
        svc.state["sp"] = [was, 0]      # until a connection with it is made (profile_tried)
        svc.save()
    secevents.report(svc, "ReconfigurationOfSecurityParameters", key)
    if key == "SecurityProfile" or connection.security_profile(svc) in (1, 2):
        return {"status": st}, lambda: _drop(svc)
    return {"status": st}


FALLBACK_TRIES = 3      # connections refused at a raised SecurityProfile before the previous one is back


def profile_tried(svc, ok):
    """A connection made (ok) or refused at a SecurityProfile the central system raised: one made
    keeps it (A05.FR.09); after FALLBACK_TRIES refused ones the previous profile is used again
    (A05.FR.08), so that the charge point does not stay out of reach. state["sp"]: [the key's
    previous value, refusals so far], kept over a reboot."""
    sp = svc.state["sp"]
    sp[1] += 1
    if not ok and sp[1] < FALLBACK_TRIES:
        return svc.save()
    del svc.state["sp"]
    if not ok:
        from . import connection
        tried = connection.security_profile(svc)
        svc.config.change("SecurityProfile", str(sp[0]), True)
        secevents.report(svc, "ReconfigurationOfSecurityParameters",
                         "SecurityProfile %d -> %d" % (tried, connection.security_profile(svc)))
    svc.save()


def _profile_met(svc, profile):
    from ..core.credentials import security_profile_error
    from . import connection
    password = svc.config.get("AuthorizationKey") or svc.settings.get("ocpp_password")
    if security_profile_error(svc.settings.get("ocpp_url", ""), profile, password):
        return False
    ca = svc.settings.get("ocpp_ca_file")      # TLS: a root to check the server with (A05.FR.03)
    if profile > 1 and not (store.exists(ca) if ca else any(_valid_now(svc, c) for _, c in installed(svc, KINDS[0]))):
        return False
    if profile != 3:
        return True
    files = connection.client_cert(svc, 3)      # a valid ChargePointCertificate and its key (A05.FR.04)
    try:
        return store.exists(files["key_file"]) and _valid_now(svc, _cert_file(files["cert_file"])[0])
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        return False


# -- ExtendedTriggerMessage -------------------------------------------------------------------------
def extended_trigger_message(svc, p):
    what = p["requestedMessage"]
    if what == "SignChargePointCertificate":
        return {"status": "Accepted"}, lambda: renew(svc)
    if what == "FirmwareStatusNotification":
        return {"status": "Accepted"}, lambda: firmware.notify_signed_status(svc)
    if what == "LogStatusNotification":
        return {"status": "Accepted"}, lambda: _trigger_log_status(svc)
    # BootNotification, Heartbeat, MeterValues, StatusNotification: as TriggerMessage does them
    return operations.trigger_message(svc, p)


# -- GetLog ---------------------------------------------------------------------------------------
def get_log(svc, p):
    """GetLog: the log and fault history (DiagnosticsLog, what GetDiagnostics uploads) or the
    security log, uploaded to remoteLocation/<filename>; one upload at a time (a new request
    cancels the running one: AcceptedCanceled). The time filters are not applied: the files are
    small and uploaded whole (their newest DIAG_MAX bytes)."""
    status = "Accepted"
    task = getattr(svc, "log_task", None)
    if task is not None:
        task.cancel()
        status = "AcceptedCanceled"
    kind = "security" if p["logType"] == "SecurityLog" else "diagnostics"
    name = "%s-%s-%d.log" % (kind, svc.settings.get("ocpp_id", "evse"), p["requestId"])
    return {"status": status, "filename": name}, lambda: _start_log(svc, p, name)


def _start_log(svc, p, name):
    svc.log_req = p["requestId"]
    svc.log_task = asyncio.create_task(_upload_log(svc, p, name))


def _log_parts(svc, kind):
    if kind == "SecurityLog":
        data = firmware.tail(store.join(svc.flash_dir, secevents.LOG), firmware.DIAG_MAX)
        return [b"== security.log ==\n" + (data or b"")]
    return firmware.diagnostics_parts(svc) or [b"(no log)\n"]


def _log_status(svc, status, req=None):
    p = {"status": status}
    if req is not None:
        p["requestId"] = req
    svc.queue_call("LogStatusNotification", p)


def _trigger_log_status(svc):
    """Uploading while an upload runs, else Idle (the status of no upload going on)."""
    if getattr(svc, "log_task", None) is not None:
        return _log_status(svc, "Uploading", svc.log_req)
    _log_status(svc, "Idle")


async def _upload_log(svc, p, name):
    req = p["requestId"]
    notify = lambda st: _log_status(svc, st, req)
    try:
        ok = await firmware.upload(svc, p["log"]["remoteLocation"].rstrip("/") + "/" + name,
                                   lambda: _log_parts(svc, p["logType"]), p, notify, "log")
        notify("Uploaded" if ok else "UploadFailure")
    finally:
        if svc.log_task is asyncio.current_task():   # a cancelled upload leaves the new one's in place
            svc.log_task = None


# -- SignedUpdateFirmware ---------------------------------------------------------------------------
async def run_steps(steps):
    """Run a verification's steps, the control loop taking its turn after each (x509.py)."""
    for _ in steps:
        await asyncio.sleep(0)


async def signing_cert_ok(svc, pem):
    """The signing certificate reads, is within its validity and one of the installed
    ManufacturerRootCertificates signed it."""
    from . import x509
    cert = _readable(svc, pem)
    if cert is None:
        return False
    for _, root in installed(svc, "ManufacturerRootCertificate"):
        out = {}
        try:
            await run_steps(x509.verify_signed_by(cert, root, out))
        except ValueError:          # a root key this code cannot use
            continue
        if out["ok"]:
            return True
    return False


async def signed_update_firmware(svc, p):
    """SignedUpdateFirmware: the signing certificate is checked now (InvalidCertificate and a
    security event if it fails); the update then runs as UpdateFirmware's does, with the
    signature checked once downloaded (firmware.py). One under way is cancelled for it
    (AcceptedCanceled, the whitepaper's SHOULD) unless it is installing or rebooting: Rejected."""
    fw = p["firmware"]
    if svc.state.get("fw") and not firmware.cancellable(svc):
        return {"status": "Rejected"}           # the flash is being written: too late
    if not await signing_cert_ok(svc, fw["signingCertificate"]):
        secevents.report(svc, "InvalidFirmwareSigningCertificate")
        return {"status": "InvalidCertificate"}  # (the update under way goes on)
    status = "Accepted"
    if svc.state.get("fw"):
        if not firmware.cancellable(svc):       # it began installing while the certificate was checked
            return {"status": "Rejected"}
        firmware.cancel(svc)
        status = "AcceptedCanceled"
    with open(store.join(firmware.fw_dir(svc), firmware.SIGNED), "w") as f:
        f.write(fw["signingCertificate"] + "\n" + fw["signature"])
    svc.state["fw"] = {"loc": fw["location"], "at": parse_iso(fw["retrieveDateTime"]),
                       "inst": parse_iso(fw["installDateTime"]) if fw.get("installDateTime") else None,
                       "n": max(1, p.get("retries", 1)), "iv": p.get("retryInterval", firmware.RETRY_S),
                       "phase": "download", "req": p["requestId"]}
    svc.save()
    return {"status": status}, lambda: firmware.start(svc)
