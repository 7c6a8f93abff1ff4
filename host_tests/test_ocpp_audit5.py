"""The fifth audit of OCPP 1.6J (edition 2, the Security Whitepaper edition 3): time, security
events and configuration keys, one bench scenario each. The OCPP service runs under CPython against
the PyPI `ocpp` central system (host_tests/ocpp_cs.py), which validates every frame against the
official OCPP 1.6 JSON schemas."""
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call_result

from ocpp_cs import CentralSystem, call
from host_tests.test_ocpp_cs import Rig, booted, run, fast_reconnect  # noqa: F401 (fixture)


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- 1. the AuthorizationKey is a known key, listed without its value ------------------------------

def test_get_configuration_lists_the_authorization_key_without_its_value(tmp_path):
    """The Security Whitepaper makes AuthorizationKey write-only "so that it cannot be accidentally
    stored in plaintext by the Central System when it reads out all configuration keys": the key
    is supported (ChangeConfiguration takes it), so GetConfiguration lists it as a recognized key
    (OCPP 1.6 6.25: only unrecognized keys go to unknownKey) with no value (KeyValue.value is
    optional). Answering unknownKey told the central system the charger had no such key."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await booted(cs, tmp_path)
        one = await cs.call("cp1", call.GetConfiguration(key=["AuthorizationKey"]))
        assert not one.unknown_key, one
        assert one.configuration_key == [{"key": "AuthorizationKey", "readonly": False}], one
        key = "4F43415F4F4354545F61646D696E5F74657374"
        assert (await cs.call("cp1", call.ChangeConfiguration(key="AuthorizationKey", value=key))).status == "Accepted"
        await cs.wait_for(lambda: rig.svc.accepted, 10)
        every = await cs.call("cp1", call.GetConfiguration())
        one = await cs.call("cp1", call.GetConfiguration(key=["authorizationkey"]))
        assert key not in str(every) and key not in str(one)
        assert {"key": "AuthorizationKey", "readonly": False} in every.configuration_key, every
        assert one.configuration_key == [{"key": "AuthorizationKey", "readonly": False}], one
        await rig.kill()
        await cs.stop()
    run(main())
