"""The hardware shell and the app on the virtual board: watchdog, exceptions, contactor outputs,
feedback, the fault log on flash."""
import pytest

from evse.services import journal
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive


@pytest.fixture
def bench(tmp_path):
    return Drive(config={"max_current": 32}, flash_dir=str(tmp_path))


def test_exception_in_the_control_tick_leaves_outputs_safe_and_starves_the_watchdog(bench):
    bench.run(0.5).charge()
    boom = {"n": 0}

    def broken_step(m, now):
        boom["n"] += 1
        raise RuntimeError("bug in the core")
    bench.charger.step = broken_step
    t = bench.now_us
    bench.run(0.05)
    assert not bench.coil and bench.duty == 0            # contactor open, pilot F at once
    assert any("bug in the core" in msg for _, msg in bench.app.errors)
    bench.run(2.5)                                       # the loop never fed the watchdog again
    assert mm.reset_cause() == mm.WDT_RESET              # the board was reset ...
    assert bench.charger.step is not broken_step         # ... with a fresh firmware
    bench.run(1)
    assert bench.state in ("C1", "C2") and bench.fault is None
    log = journal.read(bench.rig.flash_dir + "/faults.json")
    assert log["counters"].get("watchdog_reset") == 1


def test_one_exception_in_the_tick_is_journalled_as_internal_not_blamed_on_the_car(bench):
    """The shell's safe outputs hold the pilot at F: the core must know, or the next tick reads F
    while it still offers and records state_f, a vehicle fault, for a firmware error."""
    bench.run(0.5).charge()
    step = bench.charger.step
    calls = {"n": 0}

    def once_broken(m, now):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("bug in the core")
        return step(m, now)
    bench.charger.step = once_broken
    bench.run(0.5)
    assert not bench.coil and bench.fault == "internal"
    log = journal.read(bench.rig.flash_dir + "/faults.json")
    assert [r[1] for r in log["records"]] == ["internal"], log


def test_exception_in_a_service_never_stops_the_tick(bench):
    class Flaky:
        calls = 0

        def poll(self, now):
            self.calls += 1
            raise ValueError("service bug")

        def on_event(self, ev, now):
            raise KeyError("listener bug")
    f = Flaky()
    bench.app.services.append(f)
    bench.app.listeners.append(f)
    bench.run(0.5).charge()
    bench.run(3)
    assert f.calls > 300 and bench.coil and bench.state == "C2"
    assert mm.reset_cause() != mm.WDT_RESET


def test_three_phase_closes_both_poles(tmp_path):
    b = Drive(config={"connector": "type2-tethered", "phases": 3}, flash_dir=str(tmp_path))
    b.run(0.5).charge()
    pins = b.rig.board.CONTACTOR_PINS
    assert mm.output(pins[0]) == 1 and mm.output(pins[1]) == 1
    b.ev("B")
    b.run(0.05)
    assert mm.output(pins[0]) == 0 and mm.output(pins[1]) == 0


def test_single_phase_leaves_the_second_pole_open(bench):
    bench.run(0.5).charge()
    assert mm.output(bench.rig.board.CONTACTOR_PINS[1]) == 0


def test_economiser_pulls_in_then_holds(tmp_path):
    b = Drive(config={"economiser": True}, flash_dir=str(tmp_path))
    b.run(0.5).charge()
    b.run(0.5)
    pwm = mm.pwms.get(b.rig.board.CONTACTOR_PINS[0])
    assert pwm is not None and 0 < pwm.duty_u16() < 65535 and b.coil
    t = b.ev("B")
    b.run(0.05)
    assert not b.coil and b.rig.board.CONTACTOR_PINS[0] not in mm.pwms


def test_economiser_switched_off_during_the_pull_in_keeps_the_coil_fully_on(tmp_path):
    b = Drive(config={"economiser": True}, flash_dir=str(tmp_path))
    b.run(0.5).plug()
    b.run(0.5)
    b.ev("C")
    for _ in range(200):                      # (virtual time: 2 s at most)
        if b.coil:
            break
        b.run(0.01)
    assert b.coil
    b.app.cfg["economiser"] = False           # a live setting, as the console applies it
    b.run(1)
    assert b.coil and b.rig.board.CONTACTOR_PINS[0] not in mm.pwms
    assert mm.output(b.rig.board.CONTACTOR_PINS[0]) == 1


def test_rcd_trip_stops_the_economiser_pwm_from_the_interrupt(tmp_path):
    b = Drive(config={"economiser": True}, flash_dir=str(tmp_path))
    b.run(0.5).charge()
    b.run(3)
    b.set(rcd_ma=100.0)
    b.run(0.2)
    assert not b.coil and b.fault == "rcd"


def test_contactor_that_does_not_close_is_a_fault(bench):
    bench.run(0.5)
    bench.world.ac_out = lambda: False        # coil energised, contacts never close
    bench.plug()
    bench.run(0.1)
    bench.ev("C")
    bench.run(1.5)
    assert bench.fault == "no_close" and not bench.coil
    bench.unplug()
    bench.run(1)
    assert bench.fault is None                # not latched: a new plug-in may try again


def test_welded_contactor_is_latched_on_flash(bench):
    bench.run(0.5).charge()
    bench.set(weld=True)
    bench.ev("B")
    bench.run(1)
    assert bench.fault == "weld" and bench.duty == 0
    bench.unplug()
    bench.run(2)
    assert bench.fault == "weld" and bench.duty == 0          # unplugging does not clear it
    bench.set(weld=False)
    bench.rig.power_off()
    bench.rig.power_on()
    bench.run(1)
    assert bench.fault == "weld" and bench.duty == 0          # nor does a reboot
    bench.charger.clear_fault()                               # the service technician does
    bench.run(1)
    assert bench.fault is None and bench.state == "A1"
    bench.rig.power_off()
    bench.rig.power_on()
    bench.run(1)
    assert bench.fault is None


def test_fault_log_ring_with_counters(bench):
    bench.run(0.5)
    for _ in range(3):
        bench.plug()
        bench.run(0.1)
        bench.ev("D")                         # no ventilation: a fault each time
        bench.run(0.5)
        bench.unplug()
        bench.run(1)
    log = journal.read(bench.rig.flash_dir + "/faults.json")
    assert log["counters"]["ventilation"] == 3
    assert [r[1] for r in log["records"]] == ["ventilation"] * 3
    assert all(r[2] for r in log["records"])  # each with the state it happened in


def test_corrupt_fault_log_does_not_stop_the_boot(tmp_path):
    (tmp_path / "faults.json").write_bytes(b"\x00\xffnot json")
    b = Drive(flash_dir=str(tmp_path))
    b.run(0.5)
    assert b.state == "A1"


def test_temperature_derating(bench):
    bench.run(0.5).charge(amps=32)
    bench.set(temp_c=66.0)
    bench.run(0.1)
    assert bench.charger.out.amps_x10 == 160
    bench.set(temp_c=69.0)
    bench.run(0.1)
    assert bench.charger.out.amps_x10 == 80
    bench.set(temp_c=72.0)
    bench.run(0.1)
    assert bench.duty == 100                  # stop: PWM off, then open when the EV goes to B
    bench.ev("B")
    bench.run(0.1)
    assert not bench.coil and bench.state == "paused"
    bench.set(temp_c=63.0)
    bench.run(5)
    assert bench.state == "paused"            # restored only below 62 C
    bench.set(temp_c=60.0)
    bench.run(4)
    assert bench.state == "B2" and bench.charger.out.amps_x10 == 320


def test_rcd_retry_after_15_minutes_then_lockout(bench):
    bench.run(0.5).charge()
    for trip in range(1, 6):
        bench.run(3)                          # past the early-trip window
        bench.set(rcd_ma=100.0)
        bench.run(0.3)
        bench.set(rcd_ma=0.0)
        assert not bench.coil
        if trip < 5:
            assert bench.fault == "rcd"
            bench.run(899)
            assert not bench.coil             # not before 15 min (UL 2231-2 14.4)
            bench.run(3)
            assert bench.coil and bench.fault is None, trip
    assert bench.fault == "rcd_lockout"
    bench.run(600)
    assert not bench.coil and bench.fault == "rcd_lockout"
    bench.unplug()
    bench.run(1)
    assert bench.fault is None                # until unplug


def test_rcd_trip_right_after_closing_is_a_hard_fault(bench):
    bench.run(0.5)
    bench.set(rcd_ma=100.0)                   # the leak flows as soon as power is on
    bench.plug()
    bench.run(0.1)
    bench.ev("C")
    bench.run(2)
    assert bench.fault == "rcd_early"
    bench.unplug()
    bench.run(2)
    assert bench.fault == "rcd_early"         # latched: needs service


def test_rcd_self_test_that_never_trips_refuses_to_close(bench):
    bench.run(0.5)
    bench.world.rcd_broken = True            # the monitor's test winding is dead: never trips
    bench.plug()
    bench.run(0.1)
    bench.ev("C")
    bench.run(2)
    assert bench.fault == "rcd_selftest" and not bench.coil


def test_a_nan_current_reaching_the_core_is_blind_not_zero(bench):
    """Whatever a meter sends, NaN in the core's current is 'lost': the over-current check is
    blind and says so, never a silent 0 A."""
    bench.run(0.5).charge()
    bench.app.meter = None                  # the core's input, as any meter service sets it
    bench.app.m.current_ma = float("nan")
    bench.charger.step(bench.app.m, bench.now_us // 1000)
    assert bench.charger.oc_blind
    assert ("warning", "overcurrent_blind", True) in bench.charger.events
