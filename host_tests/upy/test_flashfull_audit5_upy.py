"""A full flash under the OCPP service on the MicroPython unix port (and CPython): the port's own
OSError (errno 28, ENOSPC) from every file opened for writing. A card accepted offline starts its
transaction with the flash full: nothing raises into the loop, the StartTransaction waits in RAM,
MemoryExhaustion is kept to be sent, the status says it; once there is room again the queue is
written whole and a power cut after that still gets its StopTransaction. The scenarios against a
central system are host_tests/test_flashfull_audit5.py."""
import os

import upytest
from ocpp_fakes import Meter, TickClock
from upytest import CoreLink
from evse.ocpp import txqueue
from evse.shell import store as shell_store

_real_open = open


def _full(path, mode="r", *a):
    if "w" in mode or "a" in mode or "+" in mode:
        raise OSError(28)                       # ENOSPC, as littlefs and the unix port give it
    return _real_open(path, mode, *a)


def _flash(full):
    for m in (shell_store, txqueue):
        m.open = _full if full else _real_open


def _service(d):
    import gc
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    return OcppService(CoreLink(), Meter(16.0), {"ocpp_url": "", "ocpp_config": {"AllowOfflineTxForUnknownId": True}},
                       d, TickClock())


def test_a_card_on_a_full_flash_starts_its_transaction_in_ram():
    d = "/tmp/flashfull_upy_%d" % int.from_bytes(os.urandom(3), "big")
    os.mkdir(d)
    svc = _service(d)
    _flash(True)
    try:
        assert svc.present_id("CARD1", 0) == "accepted" and ("authorize", True) in svc.charger.calls
        svc.on_event(("state", "B2"))
        svc.poll(100)                             # the old code: OSError raised here, no StartTransaction
        svc.on_event(("state", "C2"))
        svc.on_event(("contactor", True))
        svc.poll(200)
        assert svc.tx is not None and [r[1] for r in svc.txq.records] == ["StartTransaction"]
        assert "flash" in svc.status()["error"], svc.status()
        assert [r[0] for r in svc.state["sec"]] == ["MemoryExhaustion"], svc.state.get("sec")
        assert svc.immediate[-1][1]["status"] == "Charging"
    finally:
        _flash(False)
    svc.poll(300)
    svc.on_event(("session", "end", "local"))    # room again: the queue on flash, whole
    svc2 = _service(d)                           # a power cut after it
    assert [r[1] for r in svc2.txq.records] == ["StartTransaction", "StopTransaction"], svc2.txq.records
    assert [r[0] for r in svc2.state["sec"]] == ["MemoryExhaustion"]


def test_a_weld_latched_on_a_full_flash_survives_the_next_boot():
    """The fault log's latched weld, set while the flash is full: the App's save() calls write the
    whole journal once there is room (the old code dropped its line: a reboot forgot the lockout)."""
    from evse.services import journal
    d = "/tmp/flashfull_j_%d" % int.from_bytes(os.urandom(3), "big")
    os.mkdir(d)
    path = d + "/faults.json"
    j = journal.Journal(path)
    j.add(1000, "overcurrent", "C2")
    journal.open = _full
    shell_store.open = _full
    try:
        j.add(2000, "weld", "C2", True)
        for _ in range(1500):
            if j.pending:
                j.save()
        assert j.latched == "weld" and "not saved" in j.error and j.pending
    finally:
        journal.open = _real_open
        shell_store.open = _real_open
    for _ in range(1100):
        if j.pending:
            j.save()
    assert journal.Journal(path).latched == "weld" and j.pending == []


if __name__ == "__main__":
    upytest.run(globals())
