"""evse cs: a local OCPP 1.6J central system for trying a charger (the PyPI `ocpp` library).

    evse cs [--port 9000] [--accept TAG ...] [--any-tag] [--boot Accepted|Pending|Rejected]

Listens on ws://HOST:PORT/ocpp; point the charger at it with `ocpp_url=ws://HOST:PORT/ocpp` (the
charger appends its ocpp_id). Every frame both ways is printed (`<-` from the charger, `->` to it).
It accepts the boot, answers Authorize and StartTransaction from its list of id tags, and takes
commands on its standard input, one per line (`help` lists them):

    start TAG          RemoteStartTransaction on connector 1
    stop [TXID]        RemoteStopTransaction (default: the open transaction)
    limit AMPS|none    SetChargingProfile TxDefaultProfile (a limit in A), or ClearChargingProfile
    accept TAG         add TAG to the accepted id tags;  reject TAG  take it off
    reset soft|hard    Reset;   trigger MESSAGE  TriggerMessage (e.g. StatusNotification, MeterValues)
    get [KEY]          GetConfiguration;   set KEY VALUE  ChangeConfiguration
    status             charge points connected, open transactions, accepted tags
    use ID             send the commands to charge point ID (default: the one that connected last)
    quit

The commands go to the charge point that connected last (`use ID` picks another). With --seconds it
stops by itself; otherwise Ctrl-C (or `quit`) ends it. See docs/ocpp.md.
"""
import argparse
import asyncio
import json
import sys
import threading
import time
from datetime import datetime, timezone

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.server import serve

DEFAULT_PORT = 9000
HEARTBEAT_S = 300           # the interval a Accepted boot gets
RETRY_S = 10                # the interval a Pending/Rejected boot gets (when to boot again)
ANSWER_TIMEOUT_S = 30       # how long a command waits for the charger's answer
EXIT_OK, EXIT_USAGE = 0, 2


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Printer:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.t0 = time.monotonic()

    def say(self, text):
        self.out.write("%8.3f  %s\n" % (time.monotonic() - self.t0, text))
        self.out.flush()


class Notifications:
    """The notifications a central system confirms with an empty answer (the tests' central system,
    host_tests/ocpp_cs.py, answers them the same)."""

    @on("DiagnosticsStatusNotification")
    def _diag(self, **kw):
        return call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    def _fw(self, **kw):
        return call_result.FirmwareStatusNotification()

    @on("SecurityEventNotification")
    def _security_event(self, **kw):
        return call_result.SecurityEventNotification()

    @on("LogStatusNotification")
    def _log_status(self, **kw):
        return call_result.LogStatusNotification()

    @on("SignedFirmwareStatusNotification")
    def _signed_fw(self, **kw):
        return call_result.SignedFirmwareStatusNotification()


class Charger(Notifications, ChargePoint):
    """One connected charge point as the central system sees it; prints every frame."""

    def __init__(self, cs, cp_id, connection):
        super().__init__(cp_id, connection, response_timeout=ANSWER_TIMEOUT_S)
        self.cs = cs

    async def route_message(self, raw_msg):
        self.cs.log.say("%s <- %s" % (self.id, raw_msg))
        await super().route_message(raw_msg)

    async def _send(self, message):
        self.cs.log.say("%s -> %s" % (self.id, message))
        await super()._send(message)

    @on("BootNotification")
    def _boot(self, **kw):
        st = self.cs.boot
        return call_result.BootNotification(current_time=now_iso(), status=st,
                                            interval=HEARTBEAT_S if st == "Accepted" else RETRY_S)

    @on("Heartbeat")
    def _heartbeat(self, **kw):
        return call_result.Heartbeat(current_time=now_iso())

    @on("StatusNotification")
    def _status(self, **kw):
        return call_result.StatusNotification()

    @on("Authorize")
    def _authorize(self, id_tag, **kw):
        return call_result.Authorize(id_tag_info={"status": self.cs.tag_status(id_tag)})

    @on("StartTransaction")
    def _start(self, id_tag, **kw):
        st = self.cs.tag_status(id_tag)
        txid = self.cs.next_txid
        self.cs.next_txid += 1
        if st == "Accepted":
            self.cs.open_tx[txid] = (self.id, id_tag)
        return call_result.StartTransaction(transaction_id=txid, id_tag_info={"status": st})

    @on("StopTransaction")
    def _stop(self, transaction_id, **kw):
        self.cs.open_tx.pop(transaction_id, None)
        return call_result.StopTransaction()

    @on("MeterValues")
    def _meter(self, **kw):
        return call_result.MeterValues()

    @on("SignCertificate")
    def _sign_certificate(self, **kw):
        return call_result.SignCertificate(status="Rejected")   # no certificate authority here


def tx_default_profile(amps):
    """A TxDefaultProfile limiting connector 1 to AMPS from now on (OCPP 1.6 section 3.13.2)."""
    return {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {"startSchedule": now_iso(), "chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}


class CentralSystem:
    def __init__(self, tags=(), any_tag=False, boot="Accepted", out=sys.stdout):
        self.tags = set(tags)
        self.any_tag = any_tag
        self.boot = boot
        self.log = Printer(out)
        self.cps = {}
        self.current = None          # the charge point commands go to
        self.next_txid = 1
        self.open_tx = {}            # txid: (charge point id, id tag)

    def tag_status(self, tag):
        return "Accepted" if self.any_tag or tag in self.tags else "Invalid"

    async def handler(self, connection):
        cp_id = connection.request.path.rstrip("/").split("/")[-1]
        cp = Charger(self, cp_id, connection)
        self.cps[cp_id] = cp
        self.current = cp_id
        self.log.say("%s connected from %s" % (cp_id, connection.remote_address[0]))
        try:
            await cp.start()
        except Exception as e:           # the connection closed: the library raises what ended it
            self.log.say("%s disconnected (%s)" % (cp_id, type(e).__name__))
        finally:
            if self.cps.get(cp_id) is cp:
                del self.cps[cp_id]

    # --- commands ---
    async def command(self, line):
        """Run one command line; returns False for quit."""
        words = line.split()
        if not words:
            return True
        verb, args = words[0], words[1:]
        if verb == "quit":
            return False
        local = {"help": self._help, "status": self._show, "accept": self._accept, "reject": self._reject,
                 "use": self._use}
        if verb in local:
            local[verb](args)
            return True
        payload = self.request(verb, args)
        if payload is not None:
            await self.send(payload)
        return True

    def request(self, verb, args):
        """The CALL for a remote command, or None (with the reason printed)."""
        try:
            if verb == "start":
                return call.RemoteStartTransaction(id_tag=args[0], connector_id=1)
            if verb == "stop":
                txid = int(args[0]) if args else max(self.open_tx) if self.open_tx else None
                if txid is None:
                    raise ValueError("no open transaction")
                return call.RemoteStopTransaction(transaction_id=txid)
            if verb == "limit":
                if args[0] == "none":
                    return call.ClearChargingProfile(charging_profile_purpose="TxDefaultProfile")
                return call.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_default_profile(float(args[0])))
            if verb == "reset":
                return call.Reset(type=args[0].capitalize())
            if verb == "trigger":
                return call.TriggerMessage(requested_message=args[0], connector_id=1)
            if verb == "get":
                return call.GetConfiguration(key=args)
            if verb == "set":
                return call.ChangeConfiguration(key=args[0], value=" ".join(args[1:]))
        except (IndexError, ValueError) as e:
            self.log.say("%s: %s (help lists the commands)" % (verb, e or "missing argument"))
            return None
        self.log.say("unknown command %r (help lists them)" % verb)
        return None

    async def send(self, payload):
        cp = self.cps.get(self.current)
        if cp is None:
            self.log.say("no charge point connected")
            return
        try:
            await cp.call(payload, suppress=False)
        except Exception as e:           # a CALLERROR, or no answer in time: said, never fatal
            self.log.say("%s: %s: %s" % (cp.id, type(e).__name__, e))

    def _help(self, args):
        self.log.say(__doc__.split("one per line (`help` lists them):\n")[1].split("\nThe commands")[0])

    def _show(self, args):
        self.log.say("charge points: %s (commands go to %s)" % (", ".join(self.cps) or "none", self.current))
        self.log.say("open transactions: %s" % (json.dumps({str(k): v for k, v in self.open_tx.items()})))
        self.log.say("accepted id tags: %s" % ("any" if self.any_tag else ", ".join(sorted(self.tags)) or "none"))

    def _accept(self, args):
        self.tags.update(args)
        self._show([])

    def _reject(self, args):
        self.tags.difference_update(args)
        self._show([])

    def _use(self, args):
        if args and args[0] in self.cps:
            self.current = args[0]
        else:
            self.log.say("use: no charge point %s connected (status lists them)" % (args[0] if args else "given"))
        self._show([])


async def read_commands(cs):
    """Commands from stdin until quit; at end of input the central system keeps serving. A daemon
    thread reads (a blocked read never holds up the exit)."""
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
    threading.Thread(target=reader, daemon=True).start()
    while await cs.command(await lines.get()):
        pass


async def serve_until_done(cs, host, port, seconds):
    async with serve(cs.handler, host, port, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        cs.log.say("central system at ws://%s:%d/ocpp  (on the charger: set ocpp_url=ws://%s:%d/ocpp)"
                   % (host, port, host, port))
        task = asyncio.ensure_future(read_commands(cs))
        try:
            await asyncio.wait_for(task, seconds)
        except asyncio.TimeoutError:
            pass


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.cs", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default %(default)s; 0: any free one)")
    ap.add_argument("--accept", nargs="*", default=[], metavar="TAG", help="id tags to accept")
    ap.add_argument("--any-tag", action="store_true", help="accept every id tag")
    ap.add_argument("--boot", choices=("Accepted", "Pending", "Rejected"), default="Accepted",
                    help="the BootNotification answer (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C or quit)")
    a = ap.parse_args(argv)
    cs = CentralSystem(a.accept, a.any_tag, a.boot)
    try:
        asyncio.run(serve_until_done(cs, a.host, a.port, a.seconds))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print("cs: cannot listen on %s:%d: %s" % (a.host, a.port, e), file=sys.stderr)
        return 1
    return EXIT_OK


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
