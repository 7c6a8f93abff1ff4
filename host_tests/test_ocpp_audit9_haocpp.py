"""A ninth audit: the charger behind Home Assistant's OCPP integration (github lbbrhzn/ocpp,
custom_components/ocpp/chargepoint.py and ocppv16.py, read at its August 2026 snapshot), replayed
on the virtual bench against the schema-checking central system (octt_cs). Nothing of its code is
here: the sequence is what it sends, the checks what it reads back.

Its post_connect (defaults: every measurand it knows wanted, autodetect on, meter interval 60 s,
idle interval 900 s, 32 A):
  GetConfiguration([SupportedFeatureProfiles]) (the value split at commas: Core, FirmwareManagement,
  SmartCharging, Reservation, RemoteTrigger, LocalAuthListManagement), GetConfiguration
  ([NumberOfConnectors]), GetConfiguration([HeartbeatInterval]); ChangeConfiguration
  (MeterValuesSampledData, its 22 measurands at once): Accepted or RebootRequired keeps them, else
  GetConfiguration([MeterValuesSampledData]) and the charger's list is what it shows; then
  "configure" (GetConfiguration of the key, ChangeConfiguration only when the value differs;
  Rejected or NotSupported is a warning in Home Assistant) of that list, MeterValueSampleInterval
  60 and ClockAlignedDataInterval 900; ChangeAvailability(0, Operative) (Rejected: again on
  connector 1); with RemoteTrigger TriggerMessage(StatusNotification, connectorId 1).
Its "charge control" switch: on = RemoteStartTransaction(connectorId 1, a random 16-character
idTag, no profile; StartTransaction of that tag Accepted, transactionId = its Unix time), shown on
while the connector is Charging, SuspendedEVSE or SuspendedEV; off = RemoteStopTransaction(the id).
Its current limit (number entity, set_charge_rate): GetConfiguration of
ChargingScheduleAllowedChargingRateUnit (A unless only Power/W is listed) and of
ChargeProfileMaxStackLevel, then SetChargingProfile(connector 0, ChargePointMaxProfile, id 1000,
that stack level, Relative, one period from 0); only when that is refused a TxProfile (id 3001, with
the transactionId) and a TxDefaultProfile (id 2001, one level lower) on connector 1. Its
clear_profile: ClearChargingProfile without fields (Accepted or Unknown). Readings: the energy
register in kWh from Wh (Transaction.Begin ignored), Current.* the mean of the non-zero L1-L3,
Voltage the mean of L1-N..L3-N, Power.* the sum (kW from W); session energy = meterStop - meterStart
(a meterStart of 0 makes it take the register as the session's energy)."""
import pytest

from evse.ocpp import connection
from octt_cs import call, run_case, status_is, last_status, statuses
from host_tests.test_octt_smart import offers

HA_TAG = "Xk3P9qLm2VbN7tRw"       # the integration's remote idTag: 16 random letters and digits
HA_MEASURANDS = ("Current.Export,Current.Import,Current.Offered,Energy.Active.Export.Interval,"
                 "Energy.Active.Export.Register,Energy.Active.Import.Interval,Energy.Active.Import.Register,"
                 "Energy.Reactive.Export.Interval,Energy.Reactive.Export.Register,"
                 "Energy.Reactive.Import.Interval,Energy.Reactive.Import.Register,Frequency,"
                 "Power.Active.Export,Power.Active.Import,Power.Factor,Power.Offered,Power.Reactive.Export,"
                 "Power.Reactive.Import,RPM,SoC,Temperature,Voltage")
FEATURES = ("Core", "FirmwareManagement", "SmartCharging", "Reservation", "RemoteTrigger",
            "LocalAuthListManagement")


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


class HomeAssistantOcpp:
    """The integration's requests and its reading of the answers (ocppv16.py)."""

    def __init__(self, cs, b):
        self.cs, self.b = cs, b
        self.warnings = []     # what would be a warning / notification in Home Assistant
        self.tx = 0

    async def ask(self, payload):
        return await self.cs.call("cp1", payload)

    async def get(self, key):
        r = await self.ask(call.GetConfiguration(key=[key]))
        if r.configuration_key:
            return r.configuration_key[0]["value"]
        assert r.unknown_key
        self.warnings.append("%s unknown" % key)
        return "Unknown"

    async def configure(self, key, value):
        r = await self.ask(call.GetConfiguration(key=[key]))
        for kv in r.configuration_key or []:
            if kv["key"] == key and kv["value"] == value:
                return "unchanged"
            if kv.get("readonly"):
                self.warnings.append(key + " read-only")
        st = (await self.ask(call.ChangeConfiguration(key=key, value=value))).status
        if st != "Accepted":
            self.warnings.append("%s %s" % (key, st))
        return st

    async def post_connect(self):
        feats = [f.strip() for f in (await self.get("SupportedFeatureProfiles")).split(",")]
        self.features = [f for f in feats if f in FEATURES]
        self.warnings += ["unknown feature " + f for f in feats if f not in FEATURES]
        self.n = int(await self.get("NumberOfConnectors"))
        self.heartbeat = await self.get("HeartbeatInterval")
        st = self.measurands_status = (await self.ask(call.ChangeConfiguration(
            key="MeterValuesSampledData", value=HA_MEASURANDS))).status
        if st in ("Accepted", "RebootRequired"):
            self.measurands = HA_MEASURANDS
        else:
            have = await self.get("MeterValuesSampledData")
            self.measurands = ",".join(m for m in have.split(",") if m.strip() in HA_MEASURANDS.split(","))
        await self.configure("MeterValuesSampledData", self.measurands)
        await self.configure("MeterValueSampleInterval", "60")
        await self.configure("ClockAlignedDataInterval", "900")
        r = await self.ask(call.ChangeAvailability(connector_id=0, type="Operative"))
        if r.status not in ("Accepted", "Scheduled"):
            self.warnings.append("availability " + r.status)
        if "RemoteTrigger" in self.features:
            n = len(statuses(self.cs))
            r = await self.ask(call.TriggerMessage(requested_message="StatusNotification", connector_id=1))
            assert r.status == "Accepted"
            await self.b.until(lambda: len(statuses(self.cs)) > n, 5, "triggered status")

    def charge_control(self):
        return last_status(self.cs) in ("Charging", "SuspendedEVSE", "SuspendedEV")

    async def start(self):
        r = await self.ask(call.RemoteStartTransaction(connector_id=1, id_tag=HA_TAG))
        return r.status

    async def stop(self):
        r = await self.ask(call.RemoteStopTransaction(transaction_id=self.tx))
        return r.status

    async def set_charge_rate(self, amps=None, watts=None):
        units = await self.get("ChargingScheduleAllowedChargingRateUnit")
        toks = {t.strip().lower() for t in units.replace(";", ",").split(",")}
        a, w = bool(toks & {"current", "a"}), bool(toks & {"power", "w"})
        use_amps = True if a and not w else False if w and not a else (amps is not None or watts is None)
        unit, limit = ("A", float(amps)) if use_amps else ("W", float(watts))
        level = int(await self.get("ChargeProfileMaxStackLevel"))
        sched = {"chargingRateUnit": unit, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
        r = await self.ask(call.SetChargingProfile(connector_id=0, cs_charging_profiles={
            "chargingProfileId": 1000, "stackLevel": level, "chargingProfileKind": "Relative",
            "chargingProfilePurpose": "ChargePointMaxProfile", "chargingSchedule": sched}))
        return r.status

    async def clear_profile(self):
        r = await self.ask(call.ClearChargingProfile())
        return r.status

    # -- readings ---------------------------------------------------------------------------------
    def readings(self):
        out = {}
        for p in self.cs.actions("MeterValues"):
            for mv in p["meterValue"]:
                by = {}
                for s in mv["sampledValue"]:
                    m = s.get("measurand", "Energy.Active.Import.Register")
                    if m == "Energy.Active.Import.Register" and s.get("context") == "Transaction.Begin":
                        continue
                    v = float(s["value"])
                    if s.get("unit", "Wh" if m.startswith("Energy") else None) in ("Wh", "W"):
                        v /= 1000
                    by.setdefault(m, {})[s.get("phase")] = v
                for m, ph in by.items():
                    if None in ph:
                        out[m] = ph[None]
                    elif m == "Voltage":
                        vals = [ph.get(k, 0) for k in ("L1-N", "L2-N", "L3-N") if ph.get(k)]
                        out[m] = sum(vals) / len(vals) if vals else 0.0
                    elif m.startswith("Current"):
                        vals = [ph.get(k, 0) for k in ("L1", "L2", "L3") if ph.get(k)]
                        out[m] = sum(vals) / len(vals) if vals else 0.0
                    else:
                        out[m] = sum(ph.get(k, 0) for k in ("L1", "L2", "L3"))
        return out


HA_CS = {"accepted_tags": (HA_TAG, "GOOD")}


def test_home_assistant_post_connect_without_a_warning(tmp_path):
    """The whole post-connect sequence: no warning; its 22 measurands are Rejected (more than
    four, and ones the charger cannot measure: section 9.1), so it shows the charger's three."""
    async def case(cs, power_on):
        b = await power_on()
        ha = HomeAssistantOcpp(cs, b)
        await ha.post_connect()
        assert ha.warnings == [] and ha.measurands_status == "Rejected"
        assert set(ha.features) == set(FEATURES) and ha.n == 1
        assert ha.measurands == "Energy.Active.Import.Register,Current.Import,Power.Active.Import"
        assert b.svc.config.get("MeterValueSampleInterval") == 60
        assert b.svc.config.get("ClockAlignedDataInterval") == 900
        assert last_status(cs) == "Available"
    run_case(tmp_path, case, HA_CS)


def test_home_assistant_charge_control_limit_and_session_energy(tmp_path):
    """Charge control on with the car plugged: the switch shows on from the transaction's start
    (the car not yet asking: SuspendedEV, section 4.9: Preparing is 'no ongoing transaction');
    the car charges; its limit of 10 A (ChargePointMaxProfile, Relative, connector 0) reaches the
    pilot; its readings match the bench; 2300 W on one phase is 10 A; clear_profile lifts the
    limit; off: RemoteStopTransaction, and the session energy is the meter's."""
    async def case(cs, power_on):
        b = await power_on(meter="ct", meter_phases=1)
        d = b.d
        ha = HomeAssistantOcpp(cs, b)
        await ha.post_connect()
        d.plug()
        await status_is(b, "Preparing")
        assert not ha.charge_control()
        assert await ha.start() == "Accepted"
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == HA_TAG
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
        ha.tx = b.svc.tx["txid"]
        await b.until(lambda: d.duty < 100.0, 5, "PWM on")
        await status_is(b, "SuspendedEV")               # a transaction, the car not yet asking
        assert ha.charge_control()
        d.ev("C")
        await status_is(b, "Charging")
        assert ha.charge_control()
        assert await ha.set_charge_rate(amps=10) == "Accepted"
        await offers(b, 10)
        await b.wait(12.0)                               # the car follows; a periodic MeterValues (60 s)
        r = await ha.ask(call.TriggerMessage(requested_message="MeterValues", connector_id=1))
        assert r.status == "Accepted"
        await b.wait(1.0)
        got = ha.readings()
        assert abs(got["Current.Import"] - 10) < 0.6, got
        assert 2.0 < got["Power.Active.Import"] < 2.6, got
        assert abs(got["Energy.Active.Import.Register"] - b.svc.meter_wh() / 1000) < 0.05
        assert await ha.set_charge_rate(watts=2300 * 0.8) == "Accepted"     # 1840 W / 230 V: 8 A
        await offers(b, 8)
        assert await ha.clear_profile() == "Accepted"
        await offers(b, 32)
        assert await ha.clear_profile() == "Unknown"                     # nothing left: not a failure
        assert await ha.stop() == "Accepted"
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        d.ev("B")
        await status_is(b, "Finishing")
        assert not ha.charge_control()
        session_kwh = stop["meterStop"] / 1000 - start["meterStart"] / 1000
        assert session_kwh > 0
    run_case(tmp_path, case, HA_CS)


def test_home_assistant_limit_zero_in_a_transaction_shows_suspended_evse(tmp_path):
    """Its limit at 0 A before the car asks: the transaction runs, the pilot offers nothing, so
    the connector is SuspendedEVSE (section 4.9), the switch on; raised to 16 A the car charges."""
    async def case(cs, power_on):
        b = await power_on()
        d = b.d
        ha = HomeAssistantOcpp(cs, b)
        await ha.post_connect()
        assert await ha.set_charge_rate(amps=0) == "Accepted"
        d.plug()
        await status_is(b, "Preparing")
        assert await ha.start() == "Accepted"
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
        await status_is(b, "SuspendedEVSE")
        assert ha.charge_control() and d.duty == 100.0
        assert await ha.set_charge_rate(amps=16) == "Accepted"
        await offers(b, 16)
        d.ev("C")
        await status_is(b, "Charging")
    run_case(tmp_path, case, HA_CS)


def test_home_assistant_optional_requests_answered_by_the_spec(tmp_path):
    """Its buttons and services the charger does not support: UnlockConnector NotSupported (no
    lock actuator; Home Assistant notifies 'Unlock failed'), DataTransfer UnknownVendorId (no
    vendor extension), a custom TriggerMessage of each kind Accepted."""
    async def case(cs, power_on):
        b = await power_on()
        ha = HomeAssistantOcpp(cs, b)
        assert (await ha.ask(call.UnlockConnector(connector_id=1))).status == "NotSupported"
        assert (await ha.ask(call.DataTransfer(vendor_id="HA", message_id="x", data=""))).status == "UnknownVendorId"
        for what in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification",
                     "DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            assert (await ha.ask(call.TriggerMessage(requested_message=what))).status == "Accepted", what
        await b.wait(2.0)
    run_case(tmp_path, case, HA_CS)


def test_home_assistant_fallback_tx_profile_and_tx_default_profile(tmp_path):
    """Its fallback when a charger refuses the ChargePointMaxProfile: a Relative TxProfile (id 3001,
    the stack level, its transactionId) and a TxDefaultProfile (id 2001, one level lower) on
    connector 1. Both Accepted; the TxProfile is the limit of the running transaction (section
    3.13.2) and the TxDefaultProfile of the next."""
    async def case(cs, power_on):
        b = await power_on()
        ha = HomeAssistantOcpp(cs, b)
        b.d.plug()
        await status_is(b, "Preparing")
        assert await ha.start() == "Accepted"
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
        b.d.ev("C")
        await status_is(b, "Charging")
        ha.tx = b.svc.tx["txid"]

        def prof(pid, purpose, level, amps, **extra):
            return dict({"chargingProfileId": pid, "stackLevel": level, "chargingProfileKind": "Relative",
                         "chargingProfilePurpose": purpose,
                         "chargingSchedule": {"chargingRateUnit": "A",
                                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}},
                        **extra)
        r = await ha.ask(call.SetChargingProfile(connector_id=1, cs_charging_profiles=prof(
            3001, "TxProfile", 8, 12.0, transactionId=ha.tx)))
        assert r.status == "Accepted"
        r = await ha.ask(call.SetChargingProfile(connector_id=1, cs_charging_profiles=prof(
            2001, "TxDefaultProfile", 7, 20.0)))
        assert r.status == "Accepted"
        await offers(b, 12)
        assert await ha.stop() == "Accepted"
        b.d.ev("B")
        await status_is(b, "Finishing")
        assert await ha.start() == "Accepted"                 # the next transaction: the default
        await b.until(lambda: len(cs.actions("StartTransaction")) == 2, 5, "second StartTransaction")
        b.d.ev("C")
        await status_is(b, "Charging")
        await offers(b, 20)
    run_case(tmp_path, case, HA_CS)
