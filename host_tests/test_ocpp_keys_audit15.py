"""Stop 50: a key file damaged on flash is said, not only read as defaults (OCPP 1.6 chapter 9's keys
on the virtual bench; every frame checked against the official schemas by octt_cs)."""
import pytest

from evse.ocpp import connection

from octt_cs import run_case
from host_tests.test_ocpp_config_audit13 import get, key_file


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


@pytest.mark.parametrize("damage", ['{"HeartbeatInterval": 9', "[300, 60]", "\x00\x00\x00"])
def test_a_damaged_key_file_reads_as_defaults_and_the_status_says_so(tmp_path, damage):
    """Before, the keys a central system had set (a SecurityProfile, the AuthorizationKey, the
    intervals) went back to their defaults without a word: the status's OCPP error and the
    console's log said nothing. Now the status's OCPP error names the file for that boot."""
    key_file(tmp_path, damage)

    async def case(cs, power_on):
        b = await power_on()
        assert (await get(cs, "HeartbeatInterval"))["HeartbeatInterval"] == "300"   # the bench's setting
        err = (await b.reply({"cmd": "status"}))["ocpp"]["error"]
        assert err and "config.json" in err and "default" in err, err
    run_case(tmp_path, case)


def test_a_missing_key_file_is_no_error(tmp_path):
    async def case(cs, power_on):
        b = await power_on()
        assert (await b.reply({"cmd": "status"}))["ocpp"]["error"] is None
    run_case(tmp_path, case)
