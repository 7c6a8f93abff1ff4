"""Audit 3 of the OCPP Security Whitepaper on the MicroPython unix port: the board-side code of
the certificate store and the security profile (evse/ocpp/security.py) with the certificates made
by `cryptography` once (x509_vectors.py). The same behaviour is tested under CPython against a
central system in host_tests/test_ocppsec_audit3.py.
(python -m tools.toolchain.upy_tests host_tests/upy/test_ocppsec_audit3_upy.py)"""
import asyncio
import os

import x509_vectors as V
from evse.ocpp import security, store, x509
from evse.ocpp.config import Config


class Wall:
    def now(self, ticks):
        return None          # the time is not known yet: validity cannot be told (accepted)


class Svc:
    """What security.py reads of the service."""

    def __init__(self):
        self.flash_dir = "/tmp/ocppsec_upy_%d" % int.from_bytes(os.urandom(3), "big")
        os.mkdir(self.flash_dir)
        self.settings = {"ocpp_url": "ws://cs.example/ocpp", "ocpp_id": "cp1", "ocpp_password": "0123456789abcdefXYZ"}
        self.config = Config(None)
        self.state = {"boot": 1}
        self.wall = Wall()
        self.started = False
        self.saved = 0
        self.calls = []

    def ticks(self):
        return 0

    def save(self):
        self.saved += 1

    def queue_call(self, action, payload, cb=None):
        self.calls.append((action, payload))


def _install(svc, name, pem):
    store.ensure_dir(security.cert_dir(svc))
    with open(store.join(security.cert_dir(svc), name), "wb") as f:
        f.write(x509.pem_to_der(pem))


def _ids(svc):
    p = {"certificateType": "CentralSystemRootCertificate"}
    return security.get_installed_certificate_ids(svc, p)["certificateHashData"]


def test_a_sub_ca_s_hash_data_names_its_issuer_s_key():
    """RFC 6960 / whitepaper 6.1: EC_SIGNER (signed by RSA_ROOT) installed beside its root is listed
    with the root's name and key hashes; the root with its own."""
    svc = Svc()
    _install(svc, "cs-root.der", V.RSA_ROOT)
    _install(svc, "cs-sub.der", V.EC_SIGNER)
    ids = _ids(svc)
    root = V.RSA_ROOT_HASH
    assert root in ids
    (sub,) = [h for h in ids if h != root]
    assert sub["issuerNameHash"] == root["issuerNameHash"] and sub["issuerKeyHash"] == root["issuerKeyHash"]
    assert security.delete_certificate(svc, {"certificateHashData": sub}) == {"status": "Accepted"}
    assert _ids(svc) == [root]


def test_a_chain_must_end_in_an_installed_central_system_root():
    """A02.FR.06: EC_SIGNER is of the hierarchy only once RSA_ROOT (its issuer) is installed."""
    svc = Svc()
    top = x509.parse(x509.pem_to_der(V.EC_SIGNER))
    assert not asyncio.run(security.of_cpo(svc, top))
    _install(svc, "cs-other.der", V.EC_ROOT)
    assert not asyncio.run(security.of_cpo(svc, top))
    _install(svc, "cs-root.der", V.RSA_ROOT)
    assert asyncio.run(security.of_cpo(svc, top))


def test_a_raised_profile_refused_three_times_falls_back():
    """A05.FR.08/09: 0 -> 1 Accepted (a reconnection asked); refused twice it is kept, the third
    time the previous profile is back with a security event; a raise that connects is kept."""
    svc = Svc()
    reply = security.change_key(svc, "SecurityProfile", "1")
    assert reply[0] == {"status": "Accepted"} and svc.state["sp"] == [0, 0]
    security.profile_tried(svc, False)
    security.profile_tried(svc, False)
    assert svc.config.get("SecurityProfile") == 1 and svc.state["sp"] == [0, 2]
    security.profile_tried(svc, False)
    assert svc.config.get("SecurityProfile") == 0 and "sp" not in svc.state
    assert ["ReconfigurationOfSecurityParameters", None, "SecurityProfile 1 -> 0"] in svc.state["sec"]
    security.change_key(svc, "SecurityProfile", "1")
    security.profile_tried(svc, True)
    assert svc.config.get("SecurityProfile") == 1 and "sp" not in svc.state


def _met(svc, profile):
    """ChangeConfiguration SecurityProfile from 0 to `profile`: Accepted only when it can be met."""
    svc.config.values["SecurityProfile"] = 0
    reply = security.change_key(svc, "SecurityProfile", str(profile))
    return (reply[0] if isinstance(reply, tuple) else reply) == {"status": "Accepted"}


def test_profile_2_needs_a_root_and_3_a_valid_client_certificate():
    """A05.FR.03/04 over wss:// with a password: 2 only with a root, 3 only with a readable client
    certificate and its key."""
    svc = Svc()
    svc.settings["ocpp_url"] = "wss://cs.example/ocpp"
    assert not _met(svc, 2)
    _install(svc, "cs-root.der", V.RSA_ROOT)
    assert _met(svc, 2)
    assert not _met(svc, 3)
    with open(svc.flash_dir + "/client_cert.pem", "w") as f:
        f.write(V.EC_SIGNER)
    assert not _met(svc, 3)                  # no key
    with open(svc.flash_dir + "/client_key.pem", "w") as f:
        f.write("key")
    assert _met(svc, 3)
    with open(svc.flash_dir + "/client_cert.pem", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert not _met(svc, 3)                  # not a certificate


def test_a_full_event_queue_offline_keeps_the_critical_events():
    """A04.FR.02: critical security events are delivered. Offline, ten events wait; the eleventh
    dropped the oldest whatever it was, a StartupOfTheDevice before nine failed logins (a central
    system refusing the password) too. The oldest not critical goes now."""
    from evse.ocpp import secevents
    svc = Svc()
    secevents.report(svc, "StartupOfTheDevice")
    for _ in range(12):
        secevents.report(svc, "FailedToAuthenticateAtCentralSystem")
    kinds = [r[0] for r in svc.state["sec"]]
    assert len(kinds) == secevents.PENDING_MAX and kinds[0] == "StartupOfTheDevice", kinds
    for _ in range(12):
        secevents.report(svc, "ResetOrReboot")
    kinds = [r[0] for r in svc.state["sec"]]
    assert kinds == ["ResetOrReboot"] * secevents.PENDING_MAX, kinds   # all critical: the oldest go


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
