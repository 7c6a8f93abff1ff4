"""Audit 13's OCPP configuration keys on the MicroPython unix port (where int() also reads "1_0"):
the values ChangeConfiguration takes, and a damaged key file read back as defaults. Runs under
CPython too (python -m tools.toolchain.upy_tests host_tests/upy/test_ocpp_config_audit13_upy.py)."""
from evse.ocpp.config import Config
from ocpp_fakes import tmpdir


def test_values_a_central_system_sends_are_taken_as_the_spec_types_them():
    c = Config(None)
    for bad in ("1_0", "5.0", "+5", "", "0x10"):
        assert c.change("HeartbeatInterval", bad) == "Rejected", bad
    assert c.change("HeartbeatInterval", " 05") == "Accepted" and c.get("HeartbeatInterval") == 5
    assert c.change("LocalPreAuthorize", "TRUE") == "Accepted" and c.get("LocalPreAuthorize") is True
    assert c.change("MeterValuesSampledData", "Voltage,Voltage") == "Rejected"
    assert c.change("MeterValuesSampledData", "Voltage, Current.Import") == "Accepted"
    assert c.get("MeterValuesSampledData") == "Voltage,Current.Import"
    for bad in ("1.RST,1.RTS", "1.RST,RST", ""):
        assert c.change("ConnectorPhaseRotation", bad) == "Rejected", bad
    assert c.change("ConnectorPhaseRotation", "0.RST, 1.RST") == "Accepted"


def test_a_damaged_key_file_reads_as_the_first_values():
    d = tmpdir("cfg13")
    with open(d + "/cfg.json", "w") as f:
        f.write("[1, 2]")
    c = Config(d + "/cfg.json", {"MeterValueSampleInterval": 10})
    assert c.get("MeterValueSampleInterval") == 10 and c.change("HeartbeatInterval", "60") == "Accepted"
    with open(d + "/cfg.json", "w") as f:
        f.write('{"HeartbeatInterval": "60", "ConnectionTimeOut": null, "LocalAuthListEnabled": "no",'
                ' "MeterValueSampleInterval": -1, "ClockAlignedDataInterval": 900}')
    c = Config(d + "/cfg.json", {"MeterValueSampleInterval": 10, "MeterValuesSampledData": "Voltage, Current.Import"})
    assert (c.get("HeartbeatInterval"), c.get("ConnectionTimeOut"), c.get("LocalAuthListEnabled")) == (300, 60, True)
    assert c.get("MeterValueSampleInterval") == 10 and c.get("ClockAlignedDataInterval") == 900
    assert c.get("MeterValuesSampledData") == "Voltage,Current.Import"


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
