# upy-heap: 240k
"""The third OCPP metering audit's fixes under the MicroPython unix port (and CPython), on the
functions themselves: a lost meter's placeholders left out, each day's clock-aligned intervals
from midnight, a sample taken before the clock was known stamped from its ticks, a meterless
charger's TriggerMessage(MeterValues) and measurand lists. The scenarios against a central system
are host_tests/test_ocppmeter_audit3.py."""
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from evse.core.calendar import days_from_civil
from evse.ocpp import metering, operations
from evse.ocpp.config import Config
from evse.ocpp.wallclock import WallClock


class Meter:
    def __init__(self, ok):
        self.ok = ok
        self.amps = [16.0] if ok else [-1.0]
        self.volts = [230.0] if ok else [-1.0]
        self.power_w = 3680 if ok else 0.0
        self.wh_total = 1800


class Svc:
    def __init__(self, meter, config=None):
        self.meter = meter
        self.charger = None
        self.settings = {}
        self.config = Config(None, config)
        self.tx = None
        self.tx_data = []
        self.accepted = True
        self.sent = []
        self.wall = WallClock(lambda a, b: a - b)
        self.state = {"boot": 1}
        self._aligned_slot = None
        self.aligned_due = None
        self.next_sample_ms = None
        self.ticks_diff = lambda a, b: a - b
        self.ticks_add = lambda a, b: a + b

    def meter_wh(self):
        return int(self.meter.wh_total)

    def meta(self, now_ms=None):
        t = self.wall.now(now_ms)
        return {"b": 1, "tk": now_ms, "ts": None if t is None else int(t)}

    def queue_call(self, action, payload, cb=None, now_ms=None):
        self.sent.append((action, payload, self.meta(now_ms)))

    def ticks(self):
        return 0


ALL = "Energy.Active.Import.Register,Current.Import,Power.Active.Import,Voltage"


def test_a_lost_meter_gives_only_its_energy_register():
    good = [(s["measurand"], s["value"]) for s in metering.sample(Svc(Meter(True)), ALL, "Trigger")]
    assert ("Current.Import", "16.0") in good and ("Power.Active.Import", "3680") in good
    lost = [(s["measurand"], s["value"]) for s in metering.sample(Svc(Meter(False)), ALL, "Trigger")]
    assert lost == [("Energy.Active.Import.Register", "1800")]


def test_clock_aligned_values_at_midnight_for_an_interval_that_does_not_divide_the_day():
    svc = Svc(Meter(True), {"ClockAlignedDataInterval": 25200, "MeterValuesAlignedData": "Energy.Active.Import.Register"})
    midnight = days_from_civil(2026, 3, 2) * 86400
    svc.wall.set(midnight - 2, 0)
    for now in (0, 1000, 1900, 2100, 3000):
        metering.poll(svc, now)
    assert [m[1]["meterValue"][0]["sampledValue"][0]["context"] for m in svc.sent] == ["Sample.Clock"]
    assert svc.sent[0][2]["ts"] == midnight


def test_the_clock_aligned_check_reads_the_epoch_near_a_boundary_only():
    """Epoch seconds are over 2**30, a long int on the 32-bit boards: the check read the wall time
    (and divided it) at every 10 ms poll, also with ClockAlignedDataInterval 0, an allocation a
    tick. It reads it once a minute, and at every poll only in the second before a boundary."""
    svc = Svc(Meter(True), {"ClockAlignedDataInterval": 900, "MeterValuesAlignedData": "Energy.Active.Import.Register"})
    t0 = days_from_civil(2026, 3, 2) * 86400 + 12 * 3600 + 7     # 12:00:07
    svc.wall.set(t0, 0)
    reads = [0]
    now = svc.wall.now

    def counted(ms):
        reads[0] += 1
        return now(ms)
    svc.wall.now = counted
    for ms in range(0, 1800000, 10):                                # 30 min of 10 ms polls
        metering.poll(svc, ms)
    stamps = [m[2]["ts"] - t0 + 7 for m in svc.sent]
    assert stamps == [900, 1800], stamps                            # 12:15:00 and 12:30:00, on time
    polled = [m[2]["tk"] for m in svc.sent]
    assert polled == [(900 - 7) * 1000, (1800 - 7) * 1000], polled  # detected at the first poll
    assert reads[0] < 300, reads                                    # (was 180,000)
    svc = Svc(Meter(True))                                          # no interval: never read
    svc.wall.set(t0, 0)
    svc.wall.now = counted
    reads[0] = 0
    for ms in range(0, 10000, 10):
        metering.poll(svc, ms)
    assert reads == [0], reads


def test_a_sample_before_the_clock_keeps_its_time():
    svc = Svc(Meter(True))
    svc.tx = {"ref": 1}
    metering.keep_tx_data(svc, "Energy.Active.Import.Register", "Transaction.Begin", 5000)
    svc.wall.set(1767225600, 8000)                    # the clock comes 3 s later
    metering.keep_tx_data(svc, "Energy.Active.Import.Register", "Transaction.End", 9000)
    data = metering.tx_data(svc)
    assert [d["timestamp"] for d in data] == ["2025-12-31T23:59:57Z", "2026-01-01T00:00:01Z"]
    assert svc.tx_data == []


def test_a_charger_without_a_meter_rejects_what_it_cannot_give():
    svc = Svc(None)
    assert operations.trigger_message(svc, {"requestedMessage": "MeterValues"}) == {"status": "Rejected"}
    res = operations.change_configuration(svc, {"key": "MeterValuesSampledData", "value": "Voltage"})
    assert res == {"status": "Rejected"}
    res = operations.change_configuration(svc, {"key": "MeterValuesSampledData", "value": "Current.Offered"})
    assert res == {"status": "Accepted"}
    res, after = operations.trigger_message(svc, {"requestedMessage": "MeterValues"})
    after()
    assert res == {"status": "Accepted"} and svc.sent[0][1]["meterValue"][0]["sampledValue"][0]["value"] == "0.0"


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
