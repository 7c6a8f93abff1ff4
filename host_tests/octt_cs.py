"""The OCTT-style harness: a central system on the PyPI `ocpp` library (ocpp_cs.CentralSystem) that
checks EVERY frame the charger sends against the official OCPP 1.6 JSON schemas shipped in that
package (ocpp/v16/schemas): the payload of each CALL against <Action>.json and the payload of each
CALLRESULT against <Action>Response.json of the CALL it answers. A violation is recorded, not
raised (the library's own check would drop the frame and hide what came next); `run_case` fails
the test on any violation once the scenario is over.

The charger is the unmodified firmware on the virtual bench (test_ocpp_bench.Bench: App, core,
hal on the mock machine) with a scripted car: plug-in, the car's pilot states and unplug happen on
the simulated wires. Wall time stays small: virtual time runs up to SPEED times faster than real
time, and every wait is on a condition."""
import decimal
import json
import os

import jsonschema
import ocpp

from ocpp_cs import _CP, CentralSystem, call
from host_tests.test_ocpp_bench import Bench, run
from tools.sim import mock_machine as mm

SCHEMA_DIR = os.path.join(os.path.dirname(ocpp.__file__), "v16", "schemas")
_validators = {}


def validator(name):
    """The official schema `name` (e.g. "StartTransaction", "ResetResponse"), floats read as
    Decimal so that multipleOf 0.1 (charging limits) is checked exactly."""
    v = _validators.get(name)
    if v is None:
        with open(os.path.join(SCHEMA_DIR, name + ".json")) as f:
            schema = json.load(f, parse_float=decimal.Decimal)
        cls = jsonschema.validators.validator_for(schema)
        v = _validators[name] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return v


def schema_errors(name, payload):
    try:
        v = validator(name)
    except OSError:
        return ["no official schema named %s" % name]
    return ["%s: %s at %s" % (name, e.message, "/".join(str(p) for p in e.absolute_path))
            for e in v.iter_errors(payload)]


class _CheckedCP(_CP):
    """One charge point's connection; every frame in and out passes the schema check here."""

    async def _send(self, message):
        msg = json.loads(message)
        if msg[0] == 2:                 # our CALL: remember which action its answer belongs to
            self.cs.pending[msg[1]] = msg[2]
        await super()._send(message)

    async def route_message(self, raw_msg):
        self.cs.check_frame(raw_msg)
        await super().route_message(raw_msg)


class OcttCentralSystem(CentralSystem):
    cp_class = _CheckedCP

    def __init__(self, tag_status=None, **kw):
        super().__init__(**kw)
        self.tag_status = dict(tag_status or {})   # idTag -> idTagInfo.status (others: accepted_tags)
        self.pending = {}        # uid of a CALL we sent -> its action
        self.checked = 0         # frames from the charger checked against a schema
        self.violations = []     # (frame, [errors])
        self.call_errors = []    # CALLERROR frames from the charger
        self.timeline = []       # (virtual us, action) of every CALL from the charger

    def _tag_status(self, tag):
        return self.tag_status.get(tag) or super()._tag_status(tag)

    def check_frame(self, raw):
        try:
            msg = json.loads(raw, parse_float=decimal.Decimal)
        except ValueError:
            self.violations.append((raw, ["not JSON"]))
            return
        errs = []
        if not isinstance(msg, list) or len(msg) < 3 or msg[0] not in (2, 3, 4):
            errs = ["not an OCPP-J frame"]
        elif msg[0] == 2:
            self.timeline.append((mm.clock.us, msg[2]))
            errs = schema_errors(msg[2], msg[3]) if len(msg) == 4 else ["CALL of %d elements" % len(msg)]
        elif msg[0] == 3:
            action = self.pending.pop(msg[1], None)
            errs = schema_errors(action + "Response", msg[2]) if action else []
        else:
            self.pending.pop(msg[1], None)
            self.call_errors.append(msg)
        self.checked += 1
        if errs:
            self.violations.append((raw, errs))

    async def ask(self, cp_id, payload):
        """A CALL to the charger; returns the library's answer object, or the CALLERROR's
        exception (tests assert on either)."""
        try:
            return await self.call(cp_id, payload)
        except Exception as e:  # ocpp.exceptions.OCPPError from a CALLERROR
            return e


def statuses(cs, connector=1):
    return [p["status"] for p in cs.actions("StatusNotification") if p["connectorId"] == connector]


def last_status(cs, connector=1):
    s = statuses(cs, connector)
    return s[-1] if s else None


async def booted(cs, tmp_path, **settings):
    """The charger powered on with this central system: returns the bench once the boot is
    accepted and both connectors (0 and 1) have reported their status since this power-on."""
    n = len(cs.calls)
    b = await Bench(cs, tmp_path, **settings).start()
    b.calls_at_boot = n
    await b.until(lambda: b.svc.accepted, what="boot accepted")
    await b.until(lambda: {0, 1} <= {p["connectorId"] for a, p in cs.calls[n:] if a == "StatusNotification"},
                  what="first StatusNotifications")
    return b


async def status_is(b, status, virtual_s=10.0, connector=1):
    await b.until(lambda: last_status(b.cs, connector) == status, virtual_s, "status " + status)


async def change_config(cs, key, value, cp="cp1"):
    return (await cs.call(cp, call.ChangeConfiguration(key=key, value=value))).status


async def charging(b, tag="GOOD"):
    """OCTT's reusable state Charging, plug-in first: returns the StartTransaction payload."""
    cs, d = b.cs, b.d
    d.plug()
    await status_is(b, "Preparing")
    await b.reply({"cmd": "authorize", "id_tag": tag})
    start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[-1]
    await b.until(lambda: b.svc.tx and b.svc.tx.get("txid") is not None, what="transaction id")
    d.ev("C")
    await b.until(lambda: d.coil, 6, "contactor closed")
    await status_is(b, "Charging")
    return start


def offering(b):
    """The pilot offers current (PWM on) and the contactor is closed: energy can flow."""
    return b.d.coil and b.d.duty < 100.0


async def car_draws(b, tag="GOOD"):
    """The card already taken, the car plugs in and asks for power (C): its StartTransaction names
    tag, the status is Charging, current is offered and the contactor closed."""
    b.d.plug()
    b.d.ev("C")
    start = (await b.until(lambda: b.cs.actions("StartTransaction"), what="StartTransaction"))[0]
    assert start["idTag"] == tag
    await status_is(b, "Charging")
    await b.until(lambda: offering(b), 6, "current offered, contactor closed")


def run_case(tmp_path, scenario, cs_kw=None, **settings):
    """Run one case: a fresh central system, scenario(cs, power_on) where `await power_on()`
    boots the charger on the bench (again after a reset: same flash), then every frame the
    charger sent must have met the official schemas."""
    async def main():
        cs = OcttCentralSystem(**(cs_kw or {}))
        await cs.start()
        benches = []

        async def power_on(wait_accepted=True, **kw):
            for old in benches:
                await old.stop()
            kw = dict(settings, **kw)
            benches.append(await booted(cs, tmp_path, **kw) if wait_accepted
                           else await Bench(cs, tmp_path, **kw).start())
            return benches[-1]
        try:
            await scenario(cs, power_on)
        finally:
            for b in benches:
                await b.stop()
            await cs.stop()
        assert cs.checked > 0
        assert not cs.violations, cs.violations
    run(main())


def virtual_s():
    return mm.clock.us / 1e6


__all__ = ["OcttCentralSystem", "run_case", "booted", "charging", "status_is", "change_config", "statuses",
           "last_status", "schema_errors", "call", "virtual_s"]
