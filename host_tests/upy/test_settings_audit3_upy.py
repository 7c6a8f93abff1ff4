# The third settings audit's board behaviour on both interpreters (host_tests/test_settings_audit3.py
# has the bench scenarios).
from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.rig import new_flash_dir
from evse.services import settings as S

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
