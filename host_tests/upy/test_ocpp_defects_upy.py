# upy-heap: 240k
# (200k until issue 11: the core's quiet tick and the journal's lines hold 5 KB more after boot)
"""Issue 12's firmware fixes under the MicroPython unix port (and CPython): the core keeps an
authorization given before the plug, the connector status while a tag waits, the settings' OCPP
checks, the offered measurands, and a PEM CA file stored as DER that the port's TLS then loads."""
import gc
import os

from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.drive import Drive
from evse.shell import tls
from evse.services import settings
from evse.ocpp import metering
from evse.ocpp.config import Config
from evse.ocpp.status import connector_status


def test_core_authorization_waits_in_a_for_the_car():
    mm.reset_world()
    gc.collect()
    d = Drive(config={"max_current": 32, "require_auth": True})
    d.run(0.5)
    d.charger.authorize(True)
    d.run(2.0)
    assert d.state == "A1" and d.charger.authorized
    d.plug()
    d.run(0.5)
    d.ev("C")
    d.run(1.5)
    assert d.coil
    d.ev("B")
    d.run(0.1)
    d.unplug()
    d.run(0.1)
    assert not d.charger.authorized


def test_preparing_while_an_accepted_tag_waits():
    assert connector_status("A1", None, False, False, False, False, True, True)[0] == "Preparing"
    assert connector_status("A1", None, False, False, False, False, True, False)[0] == "Available"


def test_ocpp_settings_checks():
    def errs(**kw):
        kw["max_current"] = 16
        return settings.check(kw)[1]
    assert errs(ocpp_url="notaurl") and errs(ocpp_url="ws://")
    assert errs(ocpp_url="ws://cs.example.net/ocpp", ocpp_security_profile=2, ocpp_password="A" * 16)
    assert errs(ocpp_url="wss://cs.example.net/ocpp", ocpp_security_profile=2, ocpp_password="short")
    assert errs(ocpp_url="wss://cs.example.net/ocpp", ocpp_security_profile=2, ocpp_password="Abc-123_=:+|@.*xyZ") == []
    assert errs(ocpp_url="wss://cs.example.net:443/ocpp", ocpp_security_profile=3) == []


def test_offered_measurands_and_ev_side_keys():
    class Out:
        amps_x10 = 160

    class Ch:
        out = Out()

    class Svc:
        charger = Ch()
        meter = None
        settings = {"connector": "type2-tethered", "nominal_volts": 230, "phases": 3}
    sv = metering.sample(Svc(), "Current.Offered,Power.Offered,Voltage", "Trigger")
    assert [(s["measurand"], s["value"]) for s in sv] == [("Current.Offered", "16.0"), ("Power.Offered", "11040")]
    c = Config(None)
    assert c.change("MeterValuesSampledData", "Current.Offered,Power.Offered") == "Accepted"
    assert c.change("UnlockConnectorOnEVSideDisconnect", "false") == "Accepted"
    assert c.change("StopTransactionOnEVSideDisconnect", "false") == "Accepted"  # suspends (TC_005_3_CS)


# A self-signed certificate made for this test (openssl req -x509 -newkey ec, P-256, CN=evse-test,
# valid 100 years); its key was thrown away: only the CA side is needed.
TEST_CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUe9S32iY1gtscOZk+QV6uZS0sqZAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJZXZzZS10ZXN0MCAXDTI2MTIwMjAwMDIzNFoYDzIxMjYxMTA4
MDAwMjM0WjAUMRIwEAYDVQQDDAlldnNlLXRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQZ/5yW+dCM1TCa3NBWzVas79DiZMVoNm/X9xGPrmu7Dak6MK3/h8kq
i3ZFrAX2LYgxcWDg5b3PHmzg6eeeJ86zo1MwUTAdBgNVHQ4EFgQUQ6G7OkApgr0/
3TP9Zsna0mvGq7EwHwYDVR0jBBgwFoAUQ6G7OkApgr0/3TP9Zsna0mvGq7EwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA961owPOv//DyXM2jB3p7
oY7opVFa4rsEqGiIHYlzul4CICVgslujHRgBRm8AHaU51oFCqdQQL4+Oza62IsPR
+1Jm
-----END CERTIFICATE-----
"""


def test_a_pem_ca_file_becomes_der_on_flash_and_the_port_loads_it():
    d = "/tmp/ocpp_defects_upy_%d" % int.from_bytes(os.urandom(3), "big")
    os.mkdir(d)
    with open(d + "/ca.pem", "w") as f:
        f.write(TEST_CA_PEM.replace("\n", "\r\n"))   # as a Windows editor saves it
    out = tls.der_file(d + "/ca.pem")
    with open(out, "rb") as f:
        der = f.read()
    assert out == d + "/ca.pem.der" and der[0] == 0x30   # an ASN.1 SEQUENCE: DER
    assert tls.der_file(out) == out                 # DER is used as it is
    tls.make_tls_context(d + "/ca.pem")            # the unix port has no PEM parser: DER loads


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
