"""OCPP handlers cost heap only once their messages arrive (issue 10, the 3 % budget).

The service starts without the CALL handlers and their schemas (evse.ocpp.operations, schemas:
about 20 KB of heap on the 64-bit unix port); the first CALL imports them. A group of handlers in
its own module is registered in operations.HANDLERS as "module.function" and imported when its
first message arrives: that is how a new, rarely used group (reservations, firmware management)
is added without costing every charger its heap."""
import json
import os
import subprocess
import sys
import types

from evse.ocpp import operations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules_after(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.join(ROOT, p) for p in ("firmware", "tools/hostlib")))
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                         env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    return out.split()


def test_the_service_starts_without_the_call_handlers_and_their_schemas():
    loaded = _modules_after("import evse.ocpp.chargepoint")
    assert "evse.ocpp.connection" in loaded
    assert "evse.ocpp.operations" not in loaded and "evse.ocpp.schemas" not in loaded


def test_the_first_call_loads_the_handlers():
    code = ("import asyncio\nfrom evse.ocpp import connection\n"
            "class Ws:\n    async def send_text(self, t): print(t)\n"
            "class Svc:\n    boot_status = 'Accepted'\n    _pending = None\n"
            "asyncio.run(connection.handle_frame(Svc(), Ws(), '[2, \"u1\", \"FooBar\", {}]'))")
    loaded = _modules_after(code)
    assert "evse.ocpp.operations" in loaded and "evse.ocpp.schemas" in loaded


def test_a_handler_group_in_its_own_module_is_imported_at_its_first_message(monkeypatch):
    seen = []
    group = types.ModuleType("evse.ocpp.dummy_group")
    group.reserve_now = lambda svc, p: seen.append(p) or {"status": "Accepted"}
    group.INCOMING = {"ReserveNow": (("reservationId", "i", True, None),)}
    monkeypatch.setitem(sys.modules, "evse.ocpp.dummy_group", group)
    monkeypatch.setitem(operations.HANDLERS, "ReserveNow", "dummy_group.reserve_now")
    reply, after = operations.dispatch(None, "u1", "ReserveNow", {"reservationId": 7})
    assert json.loads(reply) == [3, "u1", {"status": "Accepted"}] and after is None
    assert seen == [{"reservationId": 7}]
    bad = json.loads(operations.dispatch(None, "u2", "ReserveNow", {})[0])
    assert bad[:2] == [4, "u2"] and seen == [{"reservationId": 7}]     # checked before it runs
