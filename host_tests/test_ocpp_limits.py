"""Issue 9, item 5: OCPP limits that are not numbers, against a real central system (PyPI `ocpp`)
and the real core. A profile with `limit: 1e999` (read as infinity) or NaN is Rejected, a poll
never raises, and no profile lifts another's cap: the core stays at the lowest of every source."""
import asyncio
import json

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ocpp_cs import CentralSystem, HostClock, call, new_uid
from test_ocpp_cs import FakeMeter, Rig, run, _profile
from evse.services import settings as S
from evse.core.charger import Charger
from evse.ocpp.chargepoint import OcppService
from evse.ocpp.schedule import Profiles


class CoreRig(Rig):
    """The OCPP service steering the real core (32 A installed, an 80 A board)."""

    def __init__(self, cs, flash, max_current=32):
        self.charger = Charger(dict(S.defaults(), max_current=max_current))
        self.meter = FakeMeter()
        self.resets = []
        self.errors = []
        s = {"ocpp_url": cs.url(), "ocpp_id": "cp1", "nominal_volts": 230, "phases": 1,
             "max_current": max_current, "ocpp_config": {"MeterValueSampleInterval": 0}}
        self.svc = OcppService(self.charger, self.meter, s, str(flash), HostClock(), on_reset=self.resets.append)
        self.tasks = []

    async def _poll(self):
        while True:
            try:
                self.svc.poll(self.svc.ticks())
            except Exception as e:     # what App.poll_services would report every second
                self.errors.append(repr(e))
            await asyncio.sleep(0.02)


def raw_profile(connector, pid, purpose, limit_text, level=0):
    """A SetChargingProfile frame with the limit written as given (1e999, NaN): the library would
    not send it, a central system with a bug might."""
    uid = new_uid()
    prof = json.dumps(_profile(pid, purpose, level, [(0, 12345)])).replace("12345", limit_text)
    return uid, '[2, "%s", "SetChargingProfile", {"connectorId": %d, "csChargingProfiles": %s}]' % (
        uid, connector, prof)


async def _booted(cs, tmp_path):
    rig = await CoreRig(cs, tmp_path).start()
    await cs.wait_for(lambda: rig.svc.accepted)
    return rig


def test_infinite_and_nan_limits_are_rejected_and_never_raise(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await _booted(cs, tmp_path)
        for pid, text in ((1, "1e999"), (2, "NaN"), (3, "Infinity"), (4, "1e7")):
            uid, frame = raw_profile(1, pid, "TxDefaultProfile", text)
            ans = await cs.send_raw("cp1", frame, uid)
            assert ans is not None and ans[2] == {"status": "Rejected"}, (text, ans)
        for pid, text in ((5, "-Infinity"), (6, "-1")):      # below the schema's minimum: a CALLERROR
            uid, frame = raw_profile(1, pid, "TxDefaultProfile", text)
            ans = await cs.send_raw("cp1", frame, uid)
            assert ans[0] == 4 and ans[2] == "PropertyConstraintViolation", (text, ans)
        await asyncio.sleep(1.3)                        # more than one profile evaluation
        assert rig.errors == [] and rig.svc.limit_sent is None
        assert rig.charger.limit_x10() == 320
        res = await cs.call("cp1", call.GetCompositeSchedule(connector_id=1, duration=600))
        assert res.status == "Accepted"
        assert [p["limit"] for p in res.charging_schedule["charging_schedule_period"]] == [32.0]
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_nan_default_profile_never_lifts_the_charge_point_cap(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        rig = await _booted(cs, tmp_path)
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=0, cs_charging_profiles=_profile(
            1, "ChargePointMaxProfile", 0, [(0, 10)])))
        assert res.status == "Accepted"
        uid, frame = raw_profile(1, 2, "TxDefaultProfile", "NaN", level=1)
        assert (await cs.send_raw("cp1", frame, uid))[2] == {"status": "Rejected"}
        await cs.wait_for(lambda: rig.charger.limit_x10() == 100)
        await asyncio.sleep(1.3)
        assert rig.charger.limit_x10() <= 100 and rig.errors == []
        # a higher default beside the cap: still 10 A
        res = await cs.call("cp1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile(
            3, "TxDefaultProfile", 1, [(0, 40)])))
        assert res.status == "Accepted"
        await asyncio.sleep(1.3)
        assert rig.charger.limit_x10() == 100
        await rig.kill()
        await cs.stop()
    run(main())


def test_a_saved_profile_with_an_infinite_limit_is_dropped_at_boot(tmp_path):
    """profiles.json written by an older firmware that accepted 1e999 (json writes Infinity)."""
    bad = _profile(7, "TxDefaultProfile", 0, [(0, float("inf"))])
    (tmp_path / "profiles.json").write_text(json.dumps([[1, bad]]))
    pr = Profiles(str(tmp_path / "profiles.json"))
    assert pr.items == [] and pr.limit_at(0) is None


# --- the core and the schedule, as properties --------------------------------------------------

NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 30, 10 ** 30),
                    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 80.0001]),
                    st.text(max_size=3), st.booleans(), st.none())


@hsettings(max_examples=300, deadline=None)
@given(limits=st.lists(st.tuples(st.sampled_from(["console", "ocpp", "web", "mqtt"]), NUMBERS),
                       max_size=8))
def test_no_limit_from_any_source_lifts_the_lowest(limits):
    """Every source's value passes one check or is refused (ValueError, nothing changed): the core
    offers the lowest valid limit, never more than the installer's 16 A or the board's 20 A."""
    ch = Charger(dict(S.defaults(), max_current=16), max_amps=20)
    valid = {"settings": 160}
    for source, amps in limits:
        try:
            ch.set_limit(source, amps)
        except ValueError:
            continue
        assert amps is None or (not isinstance(amps, bool) and 0 <= amps <= 80), amps
        if amps is None:
            valid.pop(source, None)
        else:
            valid[source] = int(amps * 10)
        assert ch.limit_x10() == min(list(valid.values()) + [200])
    assert 0 <= ch.limit_x10() <= 160


@hsettings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(cap=st.one_of(st.none(), st.floats(0, 100)), limits=st.lists(NUMBERS, min_size=1, max_size=3),
       unit=st.sampled_from(["A", "W"]), t=st.integers(0, 7200))
def test_non_finite_profile_limits_never_raise_nor_lift_a_cap(tmp_path_factory, cap, limits, unit, t):
    pr = Profiles(None)
    if cap is not None:
        assert pr.add(0, _profile(1, "ChargePointMaxProfile", 0, [(0, cap)]), None) == "Accepted"
    periods = [(i * 600, v) for i, v in enumerate(limits)]
    st_ = pr.add(1, _profile(2, "TxDefaultProfile", 1, periods, unit=unit), None)
    finite = all(not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= 1e7 for v in limits)
    assert st_ == ("Accepted" if finite and (unit == "W" or all(v <= 1e4 for v in limits)) else "Rejected")
    lim = pr.limit_at(t)
    assert lim is None or lim == lim                                       # never NaN
    if cap is not None:
        assert lim is not None and lim <= cap
    pr.composite(0, 7200, default_amps=16.0)
