"""A ninth audit: the charger behind evcc (github evcc-io/evcc, charger/ocpp.go and charger/ocpp/*.go,
read at its August 2026 snapshot), replayed message by message on the virtual bench against the
schema-checking central system (octt_cs: every frame the charger sends meets the official OCPP 1.6
schemas). Nothing of evcc's code is here: the sequence below is what it sends, and the checks are
what it reads back and how.

evcc's setup once the BootNotification is in (cp_setup.go):
  ChangeAvailability(0, Operative); GetConfiguration of every key: ChargeProfileMaxStackLevel is
  the stackLevel of its profiles, MaxChargingProfilesInstalled their chargingProfileId,
  ChargingScheduleAllowedChargingRateUnit "Power" or "W" (exactly) switches it to W,
  MeterValuesSampledDataMaxLength caps its measurand list, SupportedFeatureProfiles must name
  SmartCharging and RemoteTrigger (else no TriggerMessage at all); then one ChangeConfiguration of
  MeterValuesSampledData per measurand it wants (Power.Active.Import, Energy.Active.Import.Register,
  Current.Import, Voltage, Current.Offered, Power.Offered, SoC: those Accepted are the ones it has),
  one with the first MaxLength of them, TriggerMessage(MeterValues) without a connectorId,
  MeterValueSampleInterval 10, WebSocketPingInterval 30; for its connector TriggerMessage
  (StatusNotification) without a connectorId, and every 2 s while its newest meter value is older
  than 10 s TriggerMessage(MeterValues, connectorId 1).
Charging: with `remoteStart` a Preparing connector without a transaction gets RemoteStartTransaction
(idTag "evcc", connectorId 1, no profile); the current is a TxDefaultProfile on its connector
(Absolute from a minute ago, or Relative; its limit in A, with numberPhases only once it switched
phases, or in W as 230 V x A x phases), 0 to pause; "enabled" is read from the status
(SuspendedEVSE: off; Charging, SuspendedEV: on), else Current.Offered, else GetCompositeSchedule
(connectorId, 60 s) period 0's limit. Its meter: Power.Active.Import (no phase), the energy
register (kWh from Wh), Current.Import.L1-L3, Voltage.L1-N (else .L1); a MeterValue older than the
newest it has, and a StatusNotification more than a minute old, are ignored."""
import math

import pytest

from evse.ocpp import connection
from octt_cs import call, run_case, status_is, last_status, statuses
from host_tests.test_octt_smart import iso, offers

EVCC_DESIRED = ("Power.Active.Import", "Energy.Active.Import.Register", "Current.Import", "Voltage",
                "Current.Offered", "Power.Offered", "SoC")

EVCC_CS = {"accepted_tags": ("evcc", "GOOD")}   # evcc accepts every idTag (cp_core.go)


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    """As in test_octt_core: the sender's real-time sleep slices must stay short on the bench."""
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)


class Evcc:
    """What evcc knows of the charger after its setup, and its reading of the charger's messages."""

    def __init__(self, cs, b, connector=1):
        self.cs, self.b, self.connector = cs, b, connector
        self.unit = "A"
        self.stack = self.pid = self.max_len = self.n_connectors = 0
        self.remote_trigger = True
        self.measurands = ""

    async def ask(self, payload):
        return await self.cs.call("cp1", payload)

    async def setup(self):
        """cp_setup.go's Setup, in its order; returns {request: answer status} for the checks."""
        seen = {}
        r = await self.ask(call.ChangeAvailability(connector_id=0, type="Operative"))
        seen["ChangeAvailability"] = r.status
        cfg = await self.ask(call.GetConfiguration())
        keys = {k["key"].lower(): k for k in cfg.configuration_key if k.get("value") is not None}
        self.keys = keys
        self.stack = int(keys["chargeprofilemaxstacklevel"]["value"])
        self.pid = int(keys["maxchargingprofilesinstalled"]["value"])
        if keys["chargingscheduleallowedchargingrateunit"]["value"] in ("Power", "W"):
            self.unit = "W"
        self.max_len = len(EVCC_DESIRED)
        if keys["metervaluessampleddata"]["readonly"]:
            self.max_len = 0
        self.max_len = int(keys["metervaluessampleddatamaxlength"]["value"])
        self.n_connectors = int(keys["numberofconnectors"]["value"])
        feats = [f.replace(" ", "") for f in keys["supportedfeatureprofiles"]["value"].split(",")]
        self.smart = any(f.startswith("SmartCharging") for f in feats)
        if any(f.startswith("Core") for f in feats):
            self.remote_trigger = any(f.startswith("RemoteTrigger") for f in feats)
        accepted = []
        for m in EVCC_DESIRED:       # tryMeasurands: one at a time, Accepted only
            r = await self.ask(call.ChangeConfiguration(key="MeterValuesSampledData", value=m))
            seen["MeterValuesSampledData=" + m] = r.status
            if r.status == "Accepted":
                accepted.append(m)
        self.measurands = ",".join(accepted[:self.max_len])
        r = await self.ask(call.ChangeConfiguration(key="MeterValuesSampledData", value=self.measurands))
        seen["MeterValuesSampledData"] = r.status
        n = len(self.cs.actions("MeterValues"))
        r = await self.ask(call.TriggerMessage(requested_message="MeterValues"))
        seen["TriggerMessage MeterValues"] = r.status
        await self.b.until(lambda: len(self.cs.actions("MeterValues")) > n, 5, "triggered MeterValues")
        for key, value in (("MeterValueSampleInterval", "10"), ("WebSocketPingInterval", "30")):
            seen[key] = (await self.ask(call.ChangeConfiguration(key=key, value=value))).status
        # NewConnector: its first status, triggered for all connectors
        n = len(statuses(self.cs, self.connector))
        r = await self.ask(call.TriggerMessage(requested_message="StatusNotification"))
        seen["TriggerMessage StatusNotification"] = r.status
        await self.b.until(lambda: len(statuses(self.cs, self.connector)) > n, 5, "connector status")
        return seen

    # -- its meter (connector.go: measurements keyed measurand[.phase], the newest timestamp wins) ----
    def measurements(self):
        got, newest = {}, ""
        for p in self.cs.actions("MeterValues"):
            if p["connectorId"] != self.connector:
                continue
            for mv in p["meterValue"]:
                if mv["timestamp"] < newest:      # "ignore old meter value requests"
                    continue
                newest = mv["timestamp"]
                for s in mv["sampledValue"]:
                    key = s.get("measurand", "") + ("." + s["phase"] if s.get("phase") else "")
                    got[key] = s
        return got

    @staticmethod
    def _scaled(s):
        f = float(s["value"].strip())
        u = s.get("unit", "")
        return f * 1e3 if u.startswith("k") else f / 1e3 if u.startswith("m") else f

    def _phases(self, got, name, suffixes):
        for suffix in suffixes:
            keys = ["%s.L%d%s" % (name, i, suffix) for i in (1, 2, 3)]
            if any(k in got for k in keys):
                return [self._scaled(got[k]) if k in got else 0.0 for k in keys]
        return None

    def power(self):
        got = self.measurements()
        if "Power.Active.Import" in got:
            return self._scaled(got["Power.Active.Import"])
        ph = self._phases(got, "Power.Active.Import", ("", "-N"))
        return sum(ph) if ph else None

    def energy_kwh(self):
        got = self.measurements()
        return self._scaled(got["Energy.Active.Import.Register"]) / 1e3

    def currents(self):
        return self._phases(self.measurements(), "Current.Import", ("", "-N"))

    def voltages(self):
        return self._phases(self.measurements(), "Voltage", ("-N", ""))

    # -- its commands ---------------------------------------------------------------------------
    def profile(self, amps, phases=0, relative=False, stack_zero=False):
        """createTxDefaultChargingProfile (charger/ocpp.go)."""
        period = {"startPeriod": 0, "limit": math.trunc(10 * amps) / 10}
        if self.unit == "W":
            period["limit"] = math.trunc(230.0 * amps * (phases or 3))
        elif phases:
            period["numberPhases"] = phases
        sched = {"chargingRateUnit": self.unit, "chargingSchedulePeriod": [period]}
        prof = {"chargingProfileId": self.pid, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingSchedule": sched, "stackLevel": 0 if stack_zero else self.stack}
        if relative:
            prof["chargingProfileKind"] = "Relative"
        else:
            prof["chargingProfileKind"] = "Absolute"
            sched["startSchedule"] = iso(self.b, -60)
        return prof

    async def set_current(self, amps, **kw):
        r = await self.ask(call.SetChargingProfile(connector_id=self.connector,
                                                   cs_charging_profiles=self.profile(amps, **kw)))
        return r.status

    async def enabled(self):
        """OCPP.Enabled: the status first, then (no Current.Offered measured) the composite schedule."""
        s = last_status(self.cs, self.connector)
        if s == "SuspendedEVSE":
            return False
        if s in ("Charging", "SuspendedEV"):
            return True
        r = await self.ask(call.GetCompositeSchedule(connector_id=self.connector, duration=60))
        assert r.status == "Accepted"
        return r.charging_schedule["charging_schedule_period"][0]["limit"] > 0

    def status(self):
        """OCPP.Status: A, B or C (an errorCode other than NoError is an error there)."""
        p = [x for x in self.cs.actions("StatusNotification") if x["connectorId"] == self.connector][-1]
        assert p["errorCode"] == "NoError", p
        return {"Available": "A", "Unavailable": "A", "Preparing": "B", "SuspendedEVSE": "B",
                "SuspendedEV": "B", "Finishing": "B", "Charging": "C"}[p["status"]]

    async def watchdog(self):
        """WatchDog: a meter value older than 10 s: TriggerMessage(MeterValues) for its connector."""
        n = len(self.cs.actions("MeterValues"))
        r = await self.ask(call.TriggerMessage(requested_message="MeterValues", connector_id=self.connector))
        assert r.status == "Accepted"
        await self.b.until(lambda: len(self.cs.actions("MeterValues")) > n, 5, "watchdog MeterValues")
        return self.cs.actions("MeterValues")[-1]


def test_evcc_setup_is_answered_as_evcc_needs(tmp_path):
    """Every request of evcc's setup Accepted; it finds stack level 8, profile id 8, amps, one
    connector, SmartCharging and RemoteTrigger; the measurands it asks one by one: the six the
    charger measures Accepted, SoC Rejected; the first four as its list (MaxLength 4)."""
    async def case(cs, power_on):
        b = await power_on()
        ev = Evcc(cs, b)
        seen = await ev.setup()
        assert (ev.stack, ev.pid, ev.unit, ev.n_connectors, ev.max_len) == (8, 8, "A", 1, 4)
        assert ev.smart and ev.remote_trigger
        for m in EVCC_DESIRED:
            assert seen["MeterValuesSampledData=" + m] == ("Rejected" if m == "SoC" else "Accepted"), m
        assert ev.measurands == "Power.Active.Import,Energy.Active.Import.Register,Current.Import,Voltage"
        del seen["MeterValuesSampledData=SoC"]
        assert set(seen.values()) == {"Accepted"}, seen
        assert b.svc.config.get("MeterValueSampleInterval") == 10
        assert b.svc.config.get("WebSocketPingInterval") == 30
        # the triggered MeterValues: connector 1 (evcc waits for any), every measurand it set
        mv = cs.actions("MeterValues")[-1]
        assert mv["connectorId"] == 1 and "transactionId" not in mv
        names = {s["measurand"] for s in mv["meterValue"][0]["sampledValue"]}
        assert names == set(ev.measurands.split(","))
        assert ev.status() == "A" and ev.power() == 0 and ev.currents() is not None
    run_case(tmp_path, case, EVCC_CS)


def test_evcc_remote_start_current_pause_and_meter_on_the_bench(tmp_path):
    """evcc with remoteStart: paused (0 A) before the car comes, RemoteStartTransaction on
    Preparing, the car waits (SuspendedEVSE, "disabled"), 16 A: Charging and what evcc reads of the
    meter matches the bench; 1 phase; 0 A again: the car stops, no StopTransaction; unplugged:
    the transaction ends with its meterStop, Available."""
    async def case(cs, power_on):
        b = await power_on(connector="type2-tethered", phases=3, meter="ct", meter_phases=3)   # 3-phase CT meter
        d = b.d
        ev = Evcc(cs, b)
        await ev.setup()
        assert await ev.set_current(0) == "Accepted"              # no vehicle: disabled
        assert await ev.enabled() is False
        d.plug()
        await status_is(b, "Preparing")
        assert ev.status() == "B"
        r = await ev.ask(call.RemoteStartTransaction(id_tag="evcc", connector_id=1))
        assert r.status == "Accepted"
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        assert start["idTag"] == "evcc" and start["connectorId"] == 1
        d.ev("C")
        await status_is(b, "SuspendedEVSE")
        assert ev.status() == "B" and await ev.enabled() is False and not d.coil and d.duty == 100.0
        assert await ev.set_current(16) == "Accepted"              # loadpoint enabled at 16 A
        await offers(b, 16)
        await b.until(lambda: d.coil, 3, "contactor closed")
        await status_is(b, "Charging")
        assert ev.status() == "C" and await ev.enabled() is True
        await b.wait(4.0)                                          # the car follows (2 s late)
        mv = await ev.watchdog()
        assert mv["transactionId"] == b.svc.tx["txid"]
        amps = ev.currents()
        assert abs(amps[0] - 16) < 0.6, amps
        assert ev.power() > 3000 and 200 < ev.voltages()[0] < 260
        e0 = ev.energy_kwh()
        assert abs(e0 * 1000 - b.svc.meter_wh()) < 50
        # the composite schedule evcc falls back to reads the 16 A back
        r = await ev.ask(call.GetCompositeSchedule(connector_id=1, duration=60))
        assert r.charging_schedule["charging_schedule_period"][0]["limit"] == 16
        # phase switch: numberPhases 1 is accepted and the current stays
        assert await ev.set_current(10, phases=1) == "Accepted"
        await offers(b, 10)
        # paused: limit 0, the car stops drawing, the transaction stays
        assert await ev.set_current(0) == "Accepted"
        await b.until(lambda: d.duty == 100.0, 2, "PWM off")
        d.ev("B")
        await b.until(lambda: not d.coil, 2, "contactor open")
        await status_is(b, "SuspendedEVSE")
        assert await ev.enabled() is False and not cs.actions("StopTransaction")
        d.unplug()
        stop = (await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction"))[0]
        assert stop["reason"] == "EVDisconnected" and stop["meterStop"] >= start["meterStart"]
        await status_is(b, "Available")
        assert ev.status() == "A"
    run_case(tmp_path, case, EVCC_CS)


def test_evcc_power_control_in_watts_on_three_phases(tmp_path):
    """evcc's forcePowerCtrl: 230 V x 16 A x 3 phases = 11040 W as a TxDefaultProfile; the charger
    set to 3 phases at 230 V offers 16 A."""
    async def case(cs, power_on):
        b = await power_on(connector="type2-tethered", phases=3)
        ev = Evcc(cs, b)
        await ev.setup()
        ev.unit = "W"
        await car_charging_remote(cs, b)
        assert await ev.set_current(16, phases=3) == "Accepted"
        await offers(b, 16)
        assert await ev.set_current(6, phases=3) == "Accepted"    # 4140 W
        await offers(b, 6)
    run_case(tmp_path, case, EVCC_CS)


@pytest.mark.parametrize("connector,relative,stack_zero", [(1, True, False), (0, False, True), (0, True, True)])
def test_evcc_profile_variants(tmp_path, connector, relative, stack_zero):
    """evcc's profileKindRelative and stackLevelZero options, and its profile on connector 0 (a
    charger configured `connector: 0` never is in evcc, but a TxDefaultProfile there is the
    charge point's default for its connectors, section 3.13.2): the pilot follows each."""
    async def case(cs, power_on):
        b = await power_on()
        ev = Evcc(cs, b)
        await ev.setup()
        await car_charging_remote(cs, b)
        r = await ev.ask(call.SetChargingProfile(connector_id=connector, cs_charging_profiles=ev.profile(
            12, relative=relative, stack_zero=stack_zero)))
        assert r.status == "Accepted"
        await offers(b, 12)
    run_case(tmp_path, case, EVCC_CS)


async def car_charging_remote(cs, b, tag="evcc"):
    b.d.plug()
    await status_is(b, "Preparing")
    r = await cs.call("cp1", call.RemoteStartTransaction(id_tag=tag, connector_id=1))
    assert r.status == "Accepted"
    await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
    b.d.ev("C")
    await status_is(b, "Charging")


def test_evcc_restarted_mid_transaction_is_not_asked_to_authorize(tmp_path):
    """evcc (re)started while a transaction runs and the car waits in B (its timer): evcc knows no
    transaction (txnId 0) and takes a Preparing connector as one waiting for authorization
    (connector.go isWaitingForAuth): it would show "waiting for authorization" and send a
    RemoteStartTransaction the charger must reject. The triggered status is SuspendedEV (section
    4.9: Preparing is "no ongoing Transaction (yet)")."""
    async def case(cs, power_on):
        b = await power_on()
        b.d.plug()
        await status_is(b, "Preparing")
        r = await cs.call("cp1", call.RemoteStartTransaction(id_tag="evcc", connector_id=1))
        assert r.status == "Accepted"
        await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction")
        await b.until(lambda: b.d.duty < 100.0, 5, "PWM on")
        ev = Evcc(cs, b)                   # evcc starts now
        await ev.setup()
        assert last_status(cs) == "SuspendedEV" and ev.status() == "B" and await ev.enabled() is True
        r = await cs.call("cp1", call.RemoteStartTransaction(id_tag="evcc", connector_id=1))
        assert r.status == "Rejected"      # what evcc would have been told on a Preparing
    run_case(tmp_path, case, EVCC_CS)


def test_evcc_reads_a_composite_schedule_with_a_period_before_any_profile(tmp_path):
    """evcc's OCPP library (ocpp-go) refuses a chargingSchedule without a period (min=1): before
    any profile, and with one that ended, GetCompositeSchedule(1, 60) still has period 0, the
    charger's own limit."""
    async def case(cs, power_on):
        b = await power_on()
        r = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=60))
        assert r.status == "Accepted"
        periods = r.charging_schedule["charging_schedule_period"]
        assert len(periods) >= 1 and periods[0]["limit"] == 32, periods
        ev = Evcc(cs, b)
        await ev.setup()
        assert await ev.set_current(0) == "Accepted"
        assert (await cs.call("cp1", call.ClearChargingProfile())).status == "Accepted"
        r = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=60))
        assert r.charging_schedule["charging_schedule_period"][0]["limit"] == 32
    run_case(tmp_path, case, EVCC_CS)


def test_evcc_starting_after_the_charger_pending_then_triggered_boot(tmp_path):
    """evcc answers a BootNotification Pending (interval 60 s) while it has not yet registered the
    charger (cs_core.go), then, 5 s after it has, triggers a BootNotification (TriggerMessage
    without connectorId): it goes out at once, not after the 60 s, is Accepted, the connector's
    status follows and evcc's setup runs."""
    async def case(cs, power_on):
        b = await power_on(wait_accepted=False)
        await b.until(lambda: cs.actions("BootNotification"), what="first BootNotification")
        await b.wait(5.0)
        assert not b.svc.accepted and not cs.actions("StatusNotification")
        r = await cs.call("cp1", call.TriggerMessage(requested_message="BootNotification"))
        assert r.status == "Accepted"
        await b.until(lambda: len(cs.actions("BootNotification")) == 2, 2, "the triggered BootNotification")
        await b.until(lambda: b.svc.accepted and statuses(cs), 5, "accepted, status")
        seen = await Evcc(cs, b).setup()
        assert seen["TriggerMessage MeterValues"] == "Accepted"
    run_case(tmp_path, case, dict(EVCC_CS, boot_status=("Pending", "Accepted"), boot_interval=60))


def test_evcc_trigger_without_connector_gets_meter_values_for_every_connector(tmp_path):
    """evcc's setup asks TriggerMessage(MeterValues) without a connectorId. Section 5.17: a
    connectorId that is relevant but absent means "for all allowed connectorId values" (as a
    StatusNotification without one is the charge point's and each connector's): MeterValues for
    connector 0 (the charge point's meter, no transactionId) and for connector 1 (with the
    running transaction's id); evcc reads connector 1's and ignores connector 0's."""
    async def case(cs, power_on):
        b = await power_on(meter="ct", meter_phases=3)
        await car_charging_remote(cs, b)
        txid = b.svc.tx["txid"]
        n = len(cs.actions("MeterValues"))
        r = await cs.call("cp1", call.TriggerMessage(requested_message="MeterValues"))
        assert r.status == "Accepted"
        await b.until(lambda: len([m for m in cs.actions("MeterValues")[n:]
                                   if m["meterValue"][0]["sampledValue"][0].get("context") == "Trigger"]) >= 2,
                      3, "MeterValues for connectors 0 and 1")
        trig = [m for m in cs.actions("MeterValues")[n:] if m["meterValue"][0]["sampledValue"][0].get("context") == "Trigger"]
        assert [(m["connectorId"], m.get("transactionId")) for m in trig] == [(0, None), (1, txid)]
        ev = Evcc(cs, b)
        assert ev.power() is not None and ev.energy_kwh() >= 0
    run_case(tmp_path, case, EVCC_CS)
