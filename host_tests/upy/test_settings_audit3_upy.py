# The third settings audit's board behaviour on both interpreters (host_tests/test_settings_audit3.py
# has the bench scenarios): a settings copy the next boot could not read (over MAX_FILE_BYTES) is
# never written, on the board's own json and flash store.
from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import new_flash_dir
from evse.services import settings as S

LONG = {"max_current": 32.0, "meter_map": "i1=4:0x0006:float32:1.0, " * 16,   # 400 characters
        "ocpp_url": "wss://" + "h" * 189 + "/ocpp", "ocpp_id": "c" * 48, "ocpp_password": "p" * 40,
        "ocpp_security_profile": 2, "vendor": "v" * 20, "model": "m" * 20, "serial": "s" * 25,
        "charge_windows": "; ".join(["Mon-Fri 22:00-06:30"] * 9),
        "offpeak_windows": "; ".join(["Mon-Fri 22:00-06:30"] * 9), "ntp_host": "n" * 64,
        "wifi_ssid": "w" * 32, "wifi_password": "p" * 63,
        "ocpp_ca_file": "/" + "c" * 63, "mqtt_ca_file": "/" + "c" * 63, "mqtt_prefix": "e" * 64,
        "mqtt_url": "mqtts://" + "h" * 186 + ":8883", "mqtt_user": "u" * 64, "mqtt_password": "p" * 64}
KEYS = (("CpoName", "C" * 100), ("ConnectorPhaseRotation", "0.RST,1.RST"), ("HeartbeatInterval", 300),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Current.Import,Power.Active.Import"),
        ("StopTxnSampledData", "Energy.Active.Import.Register,Current.Import,Power.Active.Import"),
        ("MeterValuesAlignedData", "Energy.Active.Import.Register,Current.Import,Power.Active.Import"),
        ("StopTxnAlignedData", "Energy.Active.Import.Register,Current.Import,Power.Active.Import"),
        ("LocalPreAuthorize", False), ("AuthorizeRemoteTxRequests", False),
        ("AllowOfflineTxForUnknownId", False), ("StopTransactionOnInvalidId", True),
        ("UnlockConnectorOnEVSideDisconnect", True), ("LocalAuthorizeOffline", True),
        ("ClockAlignedDataInterval", 900), ("ConnectionTimeOut", 60), ("MeterValueSampleInterval", 60),
        ("TransactionMessageRetryInterval", 20), ("TransactionMessageAttempts", 3))


def test_a_copy_the_next_boot_could_not_read_is_never_written():
    p = new_flash_dir() + "/settings.json"
    cfg, errs = S.validate(LONG)
    assert errs == [], errs
    S.save(p, cfg)
    keys = {}
    for k, v in KEYS:
        keys[k] = v
        new, errs = S.validate(dict(LONG, max_current=16.0, ocpp_config=dict(keys)))
        assert errs == [], errs
        try:
            S.save(p, new)
        except ValueError as e:                       # refused: said, and the last copy stands
            assert "too large" in str(e), e
            got, errs, _ = S.load(p)
            assert errs == [] and got == cfg, errs
            return
        got, errs, _ = S.load(p)                      # written: the next boot reads it back
        assert errs == [] and got == new, errs
        cfg = new
    raise AssertionError("never over the limit: make the texts longer")


def test_ocpp_config_values_are_checked_by_their_key_type_on_the_board_too():
    """MicroPython's isinstance(False, int) is False (CPython: True): a bool key's true/false
    must pass there too, a number must not pass for a bool, nor a bool for a number."""
    assert S.validate({"ocpp_config": {"LocalPreAuthorize": True, "AllowOfflineTxForUnknownId": False,
                                       "heartbeatinterval": 30}})[1] == []
    for bad in ({"LocalPreAuthorize": 1}, {"HeartbeatInterval": True}, {"HeartbeatInterval": "30"},
                {"HeartbeatInterval": 30.0}, {"CpoName": 5}, {"AuthorizationKey": "00" * 16}):
        cfg, errs = S.validate({"ocpp_config": bad})
        assert cfg["ocpp_config"] == {} and len(errs) == 1 and errs[0].startswith("ocpp_config: "), (bad, errs)


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
