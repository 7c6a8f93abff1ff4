"""Audit 13: every OCPP 1.6 configuration key against chapter 9 (9.1 Core to 9.5 Smart Charging,
the Security Whitepaper's keys), the OCA's configuration cases (TC_019 GetConfiguration, TC_021 and
TC_040 ChangeConfiguration) and EVerest libocpp's v16 key checks. A central system asks, the charger
answers; every frame is checked against the official 1.6 JSON schemas (octt_cs).

The charger is the unmodified firmware on the virtual bench; its OCPP files are on the bench's flash
under ocpp/ (config.json: the keys a central system changed)."""
import json

import pytest

from evse.ocpp import connection, websocket

from octt_cs import call, change_config, charging, run_case, virtual_s


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)   # as test_octt_core: virtual time runs fast


async def get(cs, *keys):
    """GetConfiguration of these keys (none: all): {key: value} of the known ones."""
    res = await cs.call("cp1", call.GetConfiguration(key=list(keys)) if keys else call.GetConfiguration())
    return {k["key"]: k.get("value") for k in res.configuration_key}


def key_file(tmp_path, text):
    """What a damaged flash left in the key file before the charger powers on."""
    (tmp_path / "ocpp").mkdir(exist_ok=True)
    (tmp_path / "ocpp" / "config.json").write_text(text)


# -- the key file on flash: a damaged one reads as defaults, and the charger still comes online ---

def test_a_key_file_that_holds_no_object_reads_as_defaults_and_the_charger_comes_online(tmp_path):
    """A bit flip turned config.json's object into a list (valid JSON, no keys): the charger boots,
    reaches its central system and answers with the defaults (and the `ocpp_config` setting's
    first values); a change is kept again. (Before: the service did not start, no OCPP at all.)"""
    key_file(tmp_path, "[300, 60]")

    async def case(cs, power_on):
        await power_on()
        assert await get(cs, "HeartbeatInterval", "MeterValueSampleInterval") == {
            "HeartbeatInterval": "300", "MeterValueSampleInterval": "1"}     # the bench's ocpp_config
        assert await change_config(cs, "ConnectionTimeOut", "90") == "Accepted"
        assert json.loads((tmp_path / "ocpp" / "config.json").read_text()) == {"ConnectionTimeOut": 90}
    run_case(tmp_path, case)


def test_a_key_file_value_of_the_wrong_type_or_range_reads_as_that_keys_default(tmp_path):
    """Each value read back from flash passes the ChangeConfiguration rule it once passed: text
    where a number belongs, a negative interval, a measurand nobody knows, a null, a bool as text
    all read as the key's first value (default or setting); a good one next to them is kept. The
    charger heartbeats at its interval, not in a loop or never. (Before: loaded as they were; the
    heartbeat's `"300" * 1000` stopped the connection.)"""
    key_file(tmp_path, json.dumps({
        "HeartbeatInterval": "300", "MeterValueSampleInterval": -5, "LocalAuthListEnabled": "yes",
        "MeterValuesSampledData": "Voltage,Nope", "TransactionMessageAttempts": None,
        "ConnectionTimeOut": 10 ** 12, "StopTransactionOnInvalidId": 0, "ClockAlignedDataInterval": 900}))

    async def case(cs, power_on):
        b = await power_on()
        got = await get(cs, "HeartbeatInterval", "MeterValueSampleInterval", "LocalAuthListEnabled",
                        "MeterValuesSampledData", "TransactionMessageAttempts", "ConnectionTimeOut",
                        "StopTransactionOnInvalidId", "ClockAlignedDataInterval")
        assert got == {"HeartbeatInterval": "300", "MeterValueSampleInterval": "1", "LocalAuthListEnabled": "true",
                       "MeterValuesSampledData": "Energy.Active.Import.Register,Current.Import,Power.Active.Import",
                       "TransactionMessageAttempts": "3", "ConnectionTimeOut": "60",
                       "StopTransactionOnInvalidId": "true", "ClockAlignedDataInterval": "900"}
        assert b.svc.config.get("HeartbeatInterval") == 300
    run_case(tmp_path, case, cs_kw={"heartbeat": 300})


# -- ChangeConfiguration's values: what a key of each type takes ----------------------------------

def test_an_integer_key_takes_decimal_digits_only(tmp_path):
    """An integer value is decimal digits ("01" and " 5" are 1 and 5); "1_0" (a Python literal
    MicroPython's int() also reads as 10), "5.0", "0x10", "+5", "", "1e3" and "½" are Rejected and the
    value kept (section 5.3). (Before: "1_0" was Accepted as 10.)"""
    async def case(cs, power_on):
        await power_on()
        for bad in ("1_0", "5.0", "0x10", "+5", "", "1e3", "\u00bd", "\u0665", "-1", "99999999999999999999"):
            assert await change_config(cs, "HeartbeatInterval", bad) == "Rejected", bad
        assert await get(cs, "HeartbeatInterval") == {"HeartbeatInterval": "300"}
        for good, now in (("01", "1"), (" 5", "5"), ("86400", "86400")):
            assert await change_config(cs, "HeartbeatInterval", good) == "Accepted", good
            assert await get(cs, "HeartbeatInterval") == {"HeartbeatInterval": now}
    run_case(tmp_path, case)


def test_a_boolean_key_takes_true_or_false_in_any_letter_case(tmp_path):
    """A boolean is "true" or "false" (libocpp compares them without letter case, as OCPP's
    CiString): "TRUE", "True", "false" Accepted and reported lower case; "1", "yes", "" Rejected."""
    async def case(cs, power_on):
        await power_on()
        for v, now in (("TRUE", "true"), ("False", "false"), ("True", "true")):
            assert await change_config(cs, "LocalPreAuthorize", v) == "Accepted", v
            assert await get(cs, "LocalPreAuthorize") == {"LocalPreAuthorize": now}
        for bad in ("1", "yes", "", "truex"):
            assert await change_config(cs, "LocalPreAuthorize", bad) == "Rejected", bad
    run_case(tmp_path, case)


def test_a_measurand_list_naming_one_twice_is_rejected(tmp_path):
    """A measurand list names each measurand once: "Voltage,Voltage" would send Voltage twice in
    each MeterValues and spend two of its MaxLength (4) places; Rejected, the list kept. Unknown
    ones, and more than MeterValuesSampledDataMaxLength, are Rejected too; the empty list is
    Accepted (no sampled values). (Before: the repeated one was Accepted.)"""
    async def case(cs, power_on):
        await power_on()
        was = await get(cs, "MeterValuesSampledData")
        for bad in ("Voltage,Voltage", "Voltage, Current.Import,Voltage", "Voltage,Nope", "voltage",
                    "Energy.Active.Import.Register,Current.Import,Power.Active.Import,Voltage,Current.Offered"):
            assert await change_config(cs, "MeterValuesSampledData", bad) == "Rejected", bad
        assert await get(cs, "MeterValuesSampledData") == was
        assert await change_config(cs, "StopTxnSampledData", "Voltage,Voltage") == "Rejected"
        assert await change_config(cs, "MeterValuesSampledData", "Voltage, Current.Import") == "Accepted"
        assert await get(cs, "MeterValuesSampledData") == {"MeterValuesSampledData": "Voltage,Current.Import"}
        assert await change_config(cs, "MeterValuesSampledData", "") == "Accepted"
    run_case(tmp_path, case)


def test_a_phase_rotation_gives_each_connector_one_rotation(tmp_path):
    """ConnectorPhaseRotation (9.1.7) is a list "0.RST, 1.RST": one rotation per connector (0 the
    grid meter, 1 the connector), or one value alone. A connector named twice ("1.RST,1.RTS",
    "1.RST,RST") contradicts itself, an empty value says nothing: Rejected (libocpp too).
    (Before: all three Accepted.)"""
    async def case(cs, power_on):
        await power_on()
        for bad in ("1.RST,1.RTS", "0.RST,0.TSR", "1.RST,RST", "RST,RTS", "", " , "):
            assert await change_config(cs, "ConnectorPhaseRotation", bad) == "Rejected", bad
        assert await get(cs, "ConnectorPhaseRotation") == {"ConnectorPhaseRotation": "NotApplicable"}
        assert await change_config(cs, "ConnectorPhaseRotation", "0.RST, 1.RST") == "Accepted"
        assert await get(cs, "ConnectorPhaseRotation") == {"ConnectorPhaseRotation": "0.RST,1.RST"}
    run_case(tmp_path, case)


def test_values_and_keys_too_long_for_change_configuration_are_a_call_error(tmp_path):
    """ChangeConfiguration's key is CiString50 and its value CiString500: longer is no valid CALL
    (a CALLERROR, the value kept); a text key's own limit (CpoName 100) is a Rejected; read-only keys
    are Rejected, unknown ones NotSupported (TC_040_1), in any letter case."""
    async def case(cs, power_on):
        await power_on()
        res = await cs.ask("cp1", call.ChangeConfiguration(key="CpoName", value="x" * 501))
        assert type(res).__name__.endswith("Error"), res
        res = await cs.ask("cp1", call.ChangeConfiguration(key="K" * 51, value="1"))
        assert type(res).__name__.endswith("Error"), res
        assert await change_config(cs, "CpoName", "x" * 101) == "Rejected"
        assert await change_config(cs, "CpoName", "x" * 100) == "Accepted"
        for ro in ("NumberOfConnectors", "GetConfigurationMaxKeys", "supportedfeatureprofiles",
                   "MeterValuesSampledDataMaxLength", "ChargeProfileMaxStackLevel"):
            assert await change_config(cs, ro, "2") == "Rejected", ro
        assert await change_config(cs, "MinimumStatusDuration", "0") == "NotSupported"
    run_case(tmp_path, case)


def test_an_unknown_key_is_not_supported_on_a_charger_without_a_meter(tmp_path):
    """A key the charger does not know is NotSupported (5.3), whatever its name: "VendorData" is no
    measurand list even where a charger without a meter refuses measurands it cannot give.
    (Before: Rejected, the name ending in "Data" taken for a measurand list.)"""
    async def case(cs, power_on):
        b = await power_on()
        b.svc.meter = None
        assert await change_config(cs, "VendorData", "Voltage") == "NotSupported"
        assert await change_config(cs, "MeterValuesSampledData", "Voltage") == "Rejected"
    run_case(tmp_path, case)


# -- GetConfiguration (TC_019) ----------------------------------------------------------------------

def test_get_configuration_with_no_keys_an_empty_list_unknown_keys_and_too_many(tmp_path):
    """No key and an empty list both give every key (5.8); an unknown key comes back in
    unknownKey as it was asked; more keys than GetConfigurationMaxKeys (64) is refused as a whole
    (OccurrenceConstraintViolation), exactly 64 answered."""
    async def case(cs, power_on):
        await power_on()
        every = await get(cs)
        empty = await cs.call("cp1", call.GetConfiguration(key=[]))
        assert {k["key"] for k in empty.configuration_key} == set(every) and len(every) >= 40
        some = await cs.call("cp1", call.GetConfiguration(key=["heartbeatinterval", "NoSuchKey"]))
        assert [k["key"] for k in some.configuration_key] == ["HeartbeatInterval"]
        assert some.unknown_key == ["NoSuchKey"]
        res = await cs.ask("cp1", call.GetConfiguration(key=["HeartbeatInterval"] * 65))
        assert type(res).__name__ == "OccurenceConstraintViolationError", res
        res = await cs.call("cp1", call.GetConfiguration(key=["K%d" % i for i in range(64)]))
        assert len(res.unknown_key) == 64
    run_case(tmp_path, case)


# -- an Accepted change takes effect at once, and survives a reboot -------------------------------

def test_a_new_heartbeat_interval_applies_at_once(tmp_path):
    """HeartbeatInterval from 300 s to 5 s: the next Heartbeats come every 5 s (virtual time),
    without a reboot."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "HeartbeatInterval", "5") == "Accepted"
        n = len(cs.actions("Heartbeat"))
        await b.until(lambda: len(cs.actions("Heartbeat")) >= n + 3, 30, "three heartbeats")
        beats = [t for t, a in cs.timeline if a == "Heartbeat"][-2:]
        assert abs((beats[1] - beats[0]) / 1e6 - 5) <= 1.0
    run_case(tmp_path, case)


def test_a_new_sample_interval_applies_to_the_running_transaction(tmp_path):
    """MeterValueSampleInterval 1 s to 4 s during a transaction: the next MeterValues come 4 s apart."""
    async def case(cs, power_on):
        b = await power_on()
        await charging(b)
        assert await change_config(cs, "MeterValueSampleInterval", "4") == "Accepted"
        n = len(cs.actions("MeterValues"))
        await b.until(lambda: len(cs.actions("MeterValues")) >= n + 3, 30, "three MeterValues")
        at = [t for t, a in cs.timeline if a == "MeterValues"][-2:]
        assert abs((at[1] - at[0]) / 1e6 - 4) <= 1.0
    run_case(tmp_path, case)


def test_changed_keys_survive_a_reboot_and_win_over_the_setting(tmp_path):
    """Keys the central system changed are kept on flash: after a Hard Reset they are still its
    values, also MeterValueSampleInterval, which the setting `ocpp_config` starts at 1 (the central
    system's word wins over the first value, docs/ocpp.md); the untouched keys keep the setting's."""
    async def case(cs, power_on):
        await power_on()
        for k, v in (("MeterValueSampleInterval", "30"), ("LocalPreAuthorize", "TRUE"),
                     ("MeterValuesSampledData", "Voltage"), ("ConnectorPhaseRotation", "1.RTS")):
            assert await change_config(cs, k, v) == "Accepted", k
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        b = await power_on()
        assert b.svc.config.get("MeterValueSampleInterval") == 30
        assert await get(cs, "MeterValueSampleInterval", "LocalPreAuthorize", "MeterValuesSampledData",
                         "ConnectorPhaseRotation", "HeartbeatInterval") == {
            "MeterValueSampleInterval": "30", "LocalPreAuthorize": "true", "MeterValuesSampledData": "Voltage",
            "ConnectorPhaseRotation": "1.RTS", "HeartbeatInterval": "300"}
    run_case(tmp_path, case)


def test_a_measurand_list_from_the_setting_is_used_as_a_central_system_would_have_set_it(tmp_path):
    """`ocpp_config` {"MeterValuesSampledData": "Energy.Active.Import.Register, Voltage"} passes the
    setting's check (the same rule as ChangeConfiguration, spaces around items allowed): the charger
    reports it as "Energy.Active.Import.Register,Voltage" and its MeterValues carry Voltage. (Before:
    kept with the space, " Voltage" named no measurand and was never sent.)"""
    async def case(cs, power_on):
        b = await power_on()
        assert await get(cs, "MeterValuesSampledData") == {
            "MeterValuesSampledData": "Energy.Active.Import.Register,Voltage"}
        await charging(b)
        await b.until(lambda: any(s.get("measurand") == "Voltage" for p in cs.actions("MeterValues")
                                  for mv in p["meterValue"] for s in mv["sampledValue"]), 10, "a Voltage sample")
    run_case(tmp_path, case, ocpp_config={"MeterValueSampleInterval": 1,
                                          "MeterValuesSampledData": "Energy.Active.Import.Register, Voltage"})


def test_a_new_connection_timeout_applies_to_the_next_authorization(tmp_path):
    """ConnectionTimeOut from 60 s to 5 s: a card taken with no car plugged in lapses 5 s later
    (section 9.1.9), without a reboot; a value never needs one (5.3's RebootRequired is not used:
    every key is read where it is used)."""
    async def case(cs, power_on):
        b = await power_on()
        assert await change_config(cs, "ConnectionTimeOut", "5") == "Accepted"
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        await b.until(lambda: b.svc.auth_tag, 5, "card taken")
        t0 = virtual_s()
        await b.until(lambda: not b.svc.auth_tag, 10, "authorization lapsed")
        assert 4.5 <= virtual_s() - t0 <= 6.5
    run_case(tmp_path, case)


def test_a_websocket_ping_interval_set_on_line_starts_the_pings_at_once(tmp_path, monkeypatch):
    """WebSocketPingInterval from 0 (none) to 5 s: Pings every 5 s on the open connection, no
    reconnection and no reboot needed; back to 0, they stop."""
    pings = []
    real = websocket.WebSocket.ping

    async def ping(self, data=b""):
        pings.append(virtual_s())
        return await real(self, data)
    monkeypatch.setattr(websocket.WebSocket, "ping", ping)

    async def case(cs, power_on):
        b = await power_on()
        await b.wait(12)
        assert pings == []
        connections = cs.connections
        assert await change_config(cs, "WebSocketPingInterval", "5") == "Accepted"
        await b.until(lambda: len(pings) >= 3, 20, "three pings")
        assert all(4.5 <= y - x <= 5.5 for x, y in zip(pings, pings[1:])), pings
        assert await change_config(cs, "WebSocketPingInterval", "0") == "Accepted"
        n = len(pings)
        await b.wait(12)
        assert len(pings) == n and cs.connections == connections
    run_case(tmp_path, case)


# -- docs/ocpp.md's key table is the firmware's ------------------------------------------------------

def test_the_key_table_in_the_docs_is_the_firmwares():
    """docs/ocpp.md, "Configuration keys": one row per key of evse/core/ocpp_keys.py, with its
    access (R, RW, W) and default as GetConfiguration reports them, and its range."""
    import os
    from evse.core.ocpp_keys import KEYS
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "ocpp.md")) as f:
        text = f.read().split("## Configuration keys")[1].split("\n## ")[0]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 6:
            rows[cells[0].strip("`")] = cells[2:5]
    assert sorted(rows) == sorted(KEYS)
    for name, (typ, ro, default, rule) in KEYS.items():
        access, doc_default, doc_range = rows[name]
        assert access == ("W" if typ == "w" else "R" if ro else "RW"), name
        if typ == "bool":
            assert doc_default == ("true" if default else "false"), name
            assert doc_range == ("" if ro else "true, false"), name
        elif typ == "int" and rule:
            assert doc_range == "%d-%d" % rule or doc_range == "%d-%d s" % rule, name
        if name != "SecurityProfile" and typ != "bool":
            assert doc_default == (str(default) if default != "" else "(empty)") or typ == "w", name


def test_a_setting_edited_later_moves_only_the_keys_the_central_system_never_set(tmp_path):
    """The site operator edits `ocpp_config` after the central system changed one of its keys:
    after the reboot that applies the setting, the central system's value stands (it owns the
    key now, docs/ocpp.md) and the keys it never set take the setting's new values."""
    async def case(cs, power_on):
        await power_on()
        assert await change_config(cs, "MeterValueSampleInterval", "30") == "Accepted"
        assert (await cs.call("cp1", call.Reset(type="Hard"))).status == "Accepted"
        await power_on(ocpp_config={"MeterValueSampleInterval": 5, "ClockAlignedDataInterval": 900})
        assert await get(cs, "MeterValueSampleInterval", "ClockAlignedDataInterval") == {
            "MeterValueSampleInterval": "30", "ClockAlignedDataInterval": "900"}
    run_case(tmp_path, case)
