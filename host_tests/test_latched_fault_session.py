"""A fault that holds the pilot at F for good (a welded contactor, a residual-current trip within 2 s
of closing, a failed self-test) ends the charging session when it is raised. Its F hides the
unplug (no +V plateau to read), so the session, its record and the OCPP transaction would
otherwise stay open until the operator cleared the fault, billed at the clear's time."""
from host_tests.test_ocpp_bench import Bench, run, statuses
from ocpp_cs import CentralSystem
from evse.core import vocab as V
from tools.sim.drive import Drive


def session_ends(d):
    return [e[2] for _, e in d.events if e[0] == V.EV_SESSION and e[1] == V.SESSION_END]


def test_a_weld_seen_when_the_car_stops_ends_the_session_at_once(tmp_path):
    d = Drive(config={"max_current": 32}, flash_dir=str(tmp_path))
    d.run(0.5)
    d.charge(16)
    d.set(weld=True)
    d.ev("B")                          # the core opens; the mirror contact stays closed
    d.run(1.0)
    assert d.fault == "weld" and d.state == "fault"
    assert session_ends(d) == ["weld"]
    d.unplug()                         # unseen under F: nothing more ends
    d.run(5.0)
    assert d.fault == "weld" and session_ends(d) == ["weld"]


def test_a_residual_current_trip_just_after_closing_ends_the_session(tmp_path):
    d = Drive(config={"max_current": 32}, flash_dir=str(tmp_path))
    d.run(0.5)
    d.charge(16)
    d.set(rcd_ma=40.0)
    d.run(0.5)
    assert d.fault == "rcd_early" and not d.coil
    assert session_ends(d) == ["rcd_early"]


def test_a_fault_the_unplug_clears_still_ends_the_session_at_the_unplug(tmp_path):
    d = Drive(config={"max_current": 32}, flash_dir=str(tmp_path))
    d.run(0.5)
    d.charge(16)
    d.set(diode_ok=False)
    d.run(1.0)
    assert d.fault == "diode" and session_ends(d) == []
    d.unplug()
    d.run(5.0)
    assert d.fault is None and session_ends(d) == ["unplugged"]


def test_ocpp_a_weld_stops_the_transaction_when_it_is_found_not_at_the_operators_clear(tmp_path):
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await Bench(cs, tmp_path, ocpp_free_id_tag="GOOD").start()
        d = b.d
        await b.until(lambda: b.svc.accepted, what="boot")
        d.plug()
        await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction")
        await b.until(lambda: d.state == "B2", what="B2")
        d.ev("C")
        await b.until(lambda: d.coil, 3, "contactor closed")
        d.set(weld=True)
        d.ev("B")
        await b.until(lambda: d.fault == "weld", 2, "weld")
        stop = (await b.until(lambda: cs.actions("StopTransaction"), 5, "StopTransaction"))[0]
        assert stop["reason"] == "Other"
        await b.until(lambda: statuses(cs)[-1:] == ["Faulted"], 5, "Faulted")
        assert len(cs.actions("StartTransaction")) == 1
        await b.stop()
        await cs.stop()
    run(main())

