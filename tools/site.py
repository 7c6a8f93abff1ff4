"""A site of chargers behind one supply: N chargers, each the unmodified firmware on its own virtual
bench (one process per charger, paced to real time), with cars that arrive, charge and leave, and one
central system on 127.0.0.1 (PyPI `ocpp`) that shares a site limit among the running transactions
with ChargePointMaxProfile (connector 0).

The central system lowers at once and raises only into current that is surely free: a lowered
charger counts at its old share until it has had time to act (delivery, the 1 s limit evaluation,
the car's 5 s to follow a lower duty), so the sum of the currents the pilots advertise stays within
the site limit. Every charger reports the current its
PWM really advertises (the duty, IEC 61851-1 table A.7) whenever it changes; the central system sums
them and counts any moment above the limit that is not within GRACE_S of a profile it sent.

The chargers reach it through a relay (Link) that a script beside them (run_site's `script`, given
a Control) can cut; the script can also stop and restart the central system and change the limit:
the site's bad days, with what each charger's queue delivered checked for order (order_faults).

    python -m tools.site --chargers 50 --seconds 120 --site-amps 160
"""
import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

GRACE_S = 10.0          # the allowance after a profile change (delivery + the 5 s rule)
RAISE_AFTER_S = 7.0     # a lowered share is free this long after (1 s evaluation + 5 s + margin)
MIN_A = 6               # IEC 61851-1: below 6 A the pilot offers nothing
MAX_A = 32              # each charger's own limit (its settings)


# -- what the pilot advertises -------------------------------------------------------------------
def advertised_amps(duty_x100):
    """Amperes a duty advertises (IEC 61851-1 table A.7; SAE J1772): 0 when not a PWM offer."""
    d = duty_x100 / 100
    if d < 8 or d > 97:
        return 0.0
    if d <= 85:
        return max(d, 10) * 0.6
    return min((d - 64) * 2.5, 80.0)


# -- one charger (a child process) ---------------------------------------------------------------
async def _charger(cp_id, url, seconds, seed, ocpp_config=None):
    from tools.sim.drive import Drive
    from tools.sim.pace import paced

    flash = tempfile.mkdtemp(prefix="site-" + cp_id + "-")
    d = Drive(config={"max_current": MAX_A, "ocpp_url": url, "ocpp_id": cp_id, "meter": "ct",
                      "ocpp_config": dict({"MeterValueSampleInterval": 60}, **(ocpp_config or {}))},
              flash_dir=flash, seed=seed)
    d.world.follow_max = float(MAX_A)          # the car draws what the pilot offers, 2 s late
    svc = d.app.ocpp
    last = [None]

    def report():
        a = advertised_amps(d.app.hw.duty_x100)
        if a != last[0]:
            last[0] = a
            sys.stdout.write(json.dumps({"id": cp_id, "a": a, "state": d.state}) + "\n")
            sys.stdout.flush()


    async def car():
        rnd = random.Random(seed)
        await asyncio.sleep(rnd.uniform(3, 15))
        while True:
            d.plug()
            await asyncio.sleep(1)
            svc.present_id("CAR" + cp_id)
            await asyncio.sleep(1)
            d.ev("C")
            await asyncio.sleep(rnd.uniform(20, 60))
            d.ev("B")
            await asyncio.sleep(1)
            d.unplug()
            await asyncio.sleep(rnd.uniform(5, 20))

    tasks = [asyncio.create_task(t) for t in (svc.run(), paced(d, each=report), car())]
    try:
        await asyncio.sleep(seconds)
    finally:
        svc.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        shutil.rmtree(flash, ignore_errors=True)


# -- the central system ----------------------------------------------------------------------------
class Site:
    """The central system's view of the site: who runs a transaction, what each may draw, what each
    pilot advertises, and every moment the sum went over the limit.

    A profile is in force once the charger answered Accepted (OCPP 1.6 5.16): until then, or when no
    answer came (a link that dropped under it), the charger counts at the higher of its old and
    new share; a charger offline keeps the share it confirmed (its profile stays, section 3.13), and
    the others share what is left."""

    def __init__(self, site_amps):
        self.site = site_amps
        self.active = []            # charger ids with a running transaction, in start order
        self.given = {}             # id -> amps of the ChargePointMaxProfile it confirmed
        self.unsure = {}            # id -> amps it may draw while a profile is unanswered (or was lost)
        self.sending = set()        # ids with a SetChargingProfile on the wire
        self.lowered = {}           # id -> (amps before its last lowering, when confirmed)
        self.adv = {}               # id -> amps its pilot advertises now
        self.cps = {}
        self.last_change = -1e9     # loop time of the last profile sent
        self.sum_max = self.sum_now = self.amp_seconds = 0.0
        self.t_sum = None           # loop time of the first report
        self.over = []              # (time, sum) above the limit outside the grace window
        self.over_in_grace = 0
        self.profiles = self.unanswered = 0
        self.booted = set()
        self.boots = {}             # id -> BootNotifications
        self.connects = []          # (loop time, id) of every connection
        self.sessions = 0
        self.log = {}               # id -> [(action, payload)] of its transaction messages, as arrived
        self.meter_times = []       # loop time of every MeterValues
        self.limit_changes = []     # [loop time, new limit, loop time the sum first met it or None, sum then]
        self.tasks = set()
        self.dirty = asyncio.Event()

    def targets(self, now=None):
        """A fair share for every running transaction online, 6 A at least; who cannot get 6 A gets
        0. A charger offline keeps what it may draw (bound) and the others share the rest."""
        online = [cp for cp in self.active if cp in self.cps]
        fixed = dict((cp, self.bound(cp, now)) for cp in self.active if cp not in self.cps)
        room = max(self.site - sum(fixed.values()), 0)
        n = min(len(online), int(room // MIN_A))
        share = min(MAX_A, int(room // n)) if n else 0
        fixed.update((cp, share if i < n else 0) for i, cp in enumerate(online))
        return fixed

    def on_report(self, msg, now):
        if self.t_sum is not None:
            self.amp_seconds += self.sum_now * (now - self.t_sum)
        self.t_sum = now
        self.adv[msg["id"]] = msg["a"]
        total = self.sum_now = sum(self.adv.values())
        self.sum_max = max(self.sum_max, total)
        for ch in self.limit_changes:
            if ch[2] is None and total <= ch[1] + 1e-6:
                ch[2] = now
        if total > self.site + 1e-6:
            if now - self.last_change <= GRACE_S:
                self.over_in_grace += 1
            else:
                self.over.append((now, total))

    def set_limit(self, amps):
        """The site's limit changes (a tariff, the building's load): the sum must follow."""
        self.site = amps
        self.limit_changes.append([asyncio.get_running_loop().time(), amps, None, self.sum_now])
        if self.sum_now <= amps + 1e-6:
            self.limit_changes[-1][2] = self.limit_changes[-1][0]
        self.dirty.set()

    def send(self, cp_id, amps, now):
        """SetChargingProfile to a charger online, on its own task (a charger that does not answer
        holds no other); until it answers it may draw the higher of both."""
        self.unsure[cp_id] = max(self.bound(cp_id, now), amps)
        self.sending.add(cp_id)
        self.profiles += 1
        self.last_change = now
        t = asyncio.ensure_future(self._send(cp_id, amps, self.bound(cp_id, now)))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _send(self, cp_id, amps, before):
        from ocpp.v16 import call
        ok = False
        try:
            r = await self.cps[cp_id].call(call.SetChargingProfile(connector_id=0, cs_charging_profiles={
                "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}))
            ok = getattr(r, "status", None) == "Accepted"
        except Exception:
            pass        # no answer: it may draw either until a later profile is confirmed
        finally:
            self.sending.discard(cp_id)
        now = asyncio.get_running_loop().time()
        self.last_change = now
        if ok:
            self.unsure.pop(cp_id, None)
            if amps < before:
                self.lowered[cp_id] = (before, now)
            self.given[cp_id] = amps
        else:
            self.unanswered += 1
        self.dirty.set()

    def bound(self, cp, now=None):
        """The most charger `cp` may still advertise: its profile, or the one before it while a lower
        one may not have taken effect yet (now None: it has), or either while one is unanswered; a
        charger never told anything may offer its own maximum."""
        amps = self.given.get(cp, MAX_A)
        old, at = self.lowered.get(cp, (0, -1e9))
        if now is not None and now - at < RAISE_AFTER_S:
            amps = max(amps, old)
        return max(amps, self.unsure.get(cp, 0))

    async def rebalance(self, now):
        """Lower at once whoever must give; raise only into what is surely free. Only chargers online
        are told, one profile on the wire each."""
        want = self.targets(now)
        for cp in self.cps:
            want.setdefault(cp, 0)
        ready = [cp for cp in want if cp in self.cps and cp not in self.sending]
        for cp in ready:
            if want[cp] < self.bound(cp):
                self.send(cp, want[cp], now)
        room = self.site - sum(self.bound(cp, now) for cp in set(self.given) | set(want) | set(self.unsure))
        for cp in self.active:
            if cp not in ready or cp in self.sending:
                continue
            rise = want.get(cp, 0) - self.bound(cp, now)
            if want.get(cp, 0) > self.given.get(cp, MAX_A) and rise <= room:
                room -= max(rise, 0)
                self.send(cp, want[cp], now)
        await asyncio.sleep(0)

    async def balance(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self.dirty.wait(), 1.0)
            except asyncio.TimeoutError:
                pass        # look again: a lowered charger's old share may be free by now
            self.dirty.clear()
            await self.rebalance(loop.time())


def central_system_class(site, boot_status="Accepted", boot_interval=300):
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

    def now_iso():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    class CP(ChargePoint):
        def _log(self, action, kw):
            site.log.setdefault(self.id, []).append((action, kw))

        @on("BootNotification")
        def on_boot(self, **kw):
            site.boots[self.id] = site.boots.get(self.id, 0) + 1
            status = boot_status(self.id) if callable(boot_status) else boot_status
            if status == "Accepted":
                site.booted.add(self.id)
                site.dirty.set()        # a charger (re)booted: give it its share (0 without a car)
            return call_result.BootNotification(current_time=now_iso(), interval=boot_interval, status=status)

        @on("Heartbeat")
        def on_heartbeat(self, **kw):
            return call_result.Heartbeat(current_time=now_iso())

        @on("StatusNotification")
        def on_status(self, **kw):
            return call_result.StatusNotification()

        @on("Authorize")
        def on_authorize(self, **kw):
            return call_result.Authorize(id_tag_info={"status": "Accepted"})

        @on("StartTransaction")
        def on_start(self, **kw):
            site.sessions += 1
            kw["transaction_id"] = site.sessions
            self._log("StartTransaction", kw)
            if self.id not in site.active:
                site.active.append(self.id)
            site.dirty.set()
            return call_result.StartTransaction(transaction_id=site.sessions, id_tag_info={"status": "Accepted"})

        @on("StopTransaction")
        def on_stop(self, **kw):
            self._log("StopTransaction", kw)
            if self.id in site.active:
                site.active.remove(self.id)
            site.dirty.set()
            return call_result.StopTransaction()

        @on("MeterValues")
        def on_meter(self, **kw):
            site.meter_times.append(asyncio.get_running_loop().time())
            self._log("MeterValues", kw)
            return call_result.MeterValues()

        @on("SecurityEventNotification")
        def on_security_event(self, **kw):      # StartupOfTheDevice at every boot
            return call_result.SecurityEventNotification()
    return CP


def redelivered(log):
    """The messages of one charger's log that repeat one already received (its answer was lost with
    the link: OCPP-J delivers at least once, the charger sends it again), and the log without them."""
    seen, out, n = set(), [], 0
    for action, kw in log:
        key = (action, json.dumps(dict((k, v) for k, v in kw.items()
                                       if action != "StartTransaction" or k != "transaction_id"),
                                  sort_keys=True, default=str))
        if key in seen:
            n += 1
            continue
        seen.add(key)
        out.append((action, kw))
    return n, out


def order_faults(log):
    """What is out of order in one charger's transaction messages as the central system got them
    (OCPP 1.6 4.10: queued messages are delivered in the order they were made): a MeterValues or
    StopTransaction of a transaction not started or already stopped, a timestamp or register that
    goes back; a message received again (redelivered) is no fault. An empty list when all is in
    order."""
    faults, started, stopped, last_ts, last_wh = [], {}, set(), {}, None
    for action, kw in redelivered(log)[1]:
        txid = kw.get("transaction_id")
        if action == "MeterValues" and txid is None:
            continue                    # clock-aligned values outside a transaction
        if action == "StartTransaction":
            started[txid] = kw["timestamp"]
            last_ts[txid] = kw["timestamp"]
            wh = kw["meter_start"]
        elif txid not in started or txid in stopped:
            faults.append("%s of transaction %s not running" % (action, txid))
            continue
        elif action == "MeterValues":
            for mv in kw.get("meter_value", []):
                if mv["timestamp"] < last_ts[txid]:
                    faults.append("MeterValues of %s at %s after %s" % (txid, mv["timestamp"], last_ts[txid]))
                last_ts[txid] = mv["timestamp"]
            wh = None
        else:
            stopped.add(txid)
            if kw["timestamp"] < last_ts[txid]:
                faults.append("StopTransaction of %s at %s after %s" % (txid, kw["timestamp"], last_ts[txid]))
            wh = kw["meter_stop"]
        if wh is not None:
            if last_wh is not None and wh < last_wh:
                faults.append("register %s after %s" % (wh, last_wh))
            last_wh = wh
    return faults


class Link:
    """The site's internet link: a TCP relay between the chargers and the central system. Cut, it
    goes silent as behind a router whose uplink died: nothing crosses, a new connection is taken and
    never answered; restored, what was open through the cut is gone (the NAT forgot it)."""

    def __init__(self, upstream_port):
        self.up, self.cut = upstream_port, False
        self.open = set()           # every writer of a connection through it
        self.server, self.port = None, 0

    async def start(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                if not self.cut:
                    w.write(data)
                    await w.drain()
        except Exception:
            pass
        if not self.cut:                # an end behind a cut is not seen before it is restored
            w.close()

    async def _client(self, r, w):
        self.open.add(w)
        try:
            if self.cut:                # taken, never answered
                while self.cut and await r.read(65536):
                    pass
                return
            try:
                ur, uw = await asyncio.open_connection("127.0.0.1", self.up)
            except OSError:             # the central system is down: refused, as without the link
                w.close()
                return
            self.open.add(uw)
            await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))
        except Exception:
            pass

    def set_cut(self, cut):
        self.cut = cut
        if not cut:
            for w in list(self.open):   # through the cut: dead on both sides now
                w.close()
            self.open.clear()

    def close(self):
        self.server.close()
        self.set_cut(False)


def _rss_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Control:
    """What a script does to a running site (run_site's `script`): stop and start the central
    system, cut and restore the link, change the limit; `site` is its view, `loop` its clock."""

    def __init__(self, site, start_cs, link):
        self.site, self._start_cs, self.link, self.server = site, start_cs, link, None
        self.loop = asyncio.get_running_loop()
        self.downs = []             # loop times the central system or the link came back

    async def cs_down(self):
        """The central system stops (a restart, a crash): every connection closed, none taken."""
        self.server.close()
        await self.server.wait_closed()
        self.site.cps.clear()

    async def cs_up(self):
        self.server = await self._start_cs()
        self.downs.append(self.loop.time())
        self.site.dirty.set()

    def link_cut(self):
        self.link.set_cut(True)

    def link_up(self):
        self.link.set_cut(False)
        self.downs.append(self.loop.time())

    async def until(self, pred, timeout):
        """Wait (at most timeout s) until pred() holds; its last value."""
        end = self.loop.time() + timeout
        while not pred() and self.loop.time() < end:
            await asyncio.sleep(0.1)
        return pred()


async def run_site(chargers, seconds, site_amps, quiet=False, script=None, ids=None, dup_close=False,
                   boot_status="Accepted", boot_interval=300, ocpp_config=None):
    """`chargers` chargers for `seconds` against one central system behind a Link; `script(ctl)`
    (a Control) runs beside them. ids: the charge point id of each (default cp00, cp01...);
    dup_close: a second connection under an id closes the first, as many central systems do."""
    from websockets.asyncio.server import serve

    site = Site(site_amps)
    cp_class = central_system_class(site, boot_status, boot_interval)
    loop = asyncio.get_running_loop()

    async def handler(conn):
        cp_id = conn.request.path.rstrip("/").split("/")[-1]
        site.connects.append((loop.time(), cp_id))
        cp = cp_class(cp_id, conn, response_timeout=15)
        was = site.cps.get(cp_id)
        site.cps[cp_id] = cp
        site.dirty.set()
        if was is not None and dup_close:
            await was._connection.close()
        try:
            await cp.start()
        except Exception:
            pass
        finally:
            if site.cps.get(cp_id) is cp:
                del site.cps[cp_id]

    port = [0]

    async def start_cs():
        srv = await serve(handler, "127.0.0.1", port[0], subprotocols=["ocpp1.6"])
        port[0] = srv.sockets[0].getsockname()[1]
        return srv

    server = await start_cs()
    link = Link(port[0])
    await link.start()
    ctl = Control(site, start_cs, link)
    ctl.server = server
    url = "ws://127.0.0.1:%d/ocpp" % link.port
    balancer = asyncio.create_task(site.balance())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")]))
    rss0, cpu0, t0 = _rss_kb("VmRSS"), resource.getrusage(resource.RUSAGE_SELF), loop.time()
    ids = ids or ["cp%02d" % i for i in range(chargers)]
    extra = ["--ocpp-config", json.dumps(ocpp_config)] if ocpp_config else []

    async def one(i):
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tools.site", "--charger", ids[i], "--url", url,
            "--seconds", str(seconds), "--seed", str(i + 1), *extra, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async for line in p.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            msg["id"] = "%s#%d" % (msg["id"], i)        # two chargers under one id are two pilots
            site.on_report(msg, loop.time())
        err = await p.stderr.read()
        return await p.wait(), err.decode(errors="replace")

    scripted = asyncio.create_task(script(ctl)) if script else None
    results = await asyncio.gather(*(one(i) for i in range(chargers)))
    wall = loop.time() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    script_out = None
    if scripted:
        scripted.cancel()
        script_out = (await asyncio.gather(scripted, return_exceptions=True))[0]
    balancer.cancel()
    for t in list(site.tasks):
        t.cancel()
    link.close()
    ctl.server.close()
    await ctl.server.wait_closed()
    cs_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    failed = [(i, rc, err[-400:]) for i, (rc, err) in enumerate(results) if rc != 0]
    return {"chargers": chargers, "seconds": seconds, "site_amps": site_amps, "booted": len(site.booted),
            "sessions": site.sessions, "profiles": site.profiles, "sum_max_a": round(site.sum_max, 1),
            "sum_mean_a": round(site.amp_seconds / wall, 1),
            "over_outside_grace": len(site.over), "over_in_grace": site.over_in_grace,
            "cs_cpu_pct": round(100 * cs_cpu / wall, 1), "cs_rss_kb": _rss_kb("VmRSS"),
            "cs_rss_growth_kb": _rss_kb("VmRSS") - rss0, "failed": failed,
            "redelivered": sum(redelivered(lg)[0] for lg in site.log.values()),
            "order_faults": dict((cp, f) for cp, f in ((cp, order_faults(lg)) for cp, lg in site.log.items()) if f),
            "site": site, "ctl": ctl, "script": script_out}


async def outage(ctl, seconds, cut):
    """The central system down (cut False: its restart) or the link silent (cut True) for `seconds`;
    then wait (2 min at most) until every charger seen before is connected again. Returns (the
    reconnection times after it came back, how long that wait took)."""
    seen = set(cp for _, cp in ctl.site.connects)
    if cut:
        ctl.link_cut()
    else:
        await ctl.cs_down()
    await asyncio.sleep(seconds)
    if cut:
        ctl.link_up()
    else:
        await ctl.cs_up()
    up = ctl.loop.time()

    def back():
        return dict((cp, t - up) for t, cp in ctl.site.connects if t >= up)
    await ctl.until(lambda: seen <= set(back()), 120)
    return sorted(back().values()), ctl.loop.time() - up


def arrivals(times):
    """(how many, first, last, most within one second) of arrival times."""
    t = sorted(times)
    return len(t), t[0], t[-1], max(sum(1 for y in t if x <= y < x + 1) for x in t)


def reconnect_model(n, outage_s, seed=1):
    """When n chargers that lost the central system together (after sessions long enough to reset
    their backoff) connect again once it is back after outage_s: connection.run's pause, the
    delay doubling from RECONNECT_MIN_MS to RECONNECT_MAX_MS, each plus up to a random quarter
    (shell/dns.pause: os.urandom(1)[0] / 1024), a refused dial taking no time."""
    from evse.ocpp import connection as C
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        t, d = 0.0, C.RECONNECT_MIN_MS / 1000
        while True:
            t += d * (1 + rnd.randrange(256) / 1024)
            if t >= outage_s:
                out.append(t - outage_s)
                break
            d = min(d * 2, C.RECONNECT_MAX_MS / 1000)
    return out


def summary(r):
    return ("site: %d chargers, %d s, limit %d A: %d sessions, %d profiles, sum of advertised currents "
            "max %.1f A (mean %.1f A), %d moments over the limit outside %d s of a change (%d within); "
            "central system CPU %.1f %% of one core, its memory +%.1f MB over the run" % (
                r["chargers"], r["seconds"], r["site_amps"], r["sessions"], r["profiles"],
                r["sum_max_a"], r["sum_mean_a"], r["over_outside_grace"], GRACE_S, r["over_in_grace"],
                r["cs_cpu_pct"], r["cs_rss_growth_kb"] / 1024))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.split("\n\n")[0])
    ap.add_argument("--chargers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--site-amps", type=int, default=160)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--charger", help=argparse.SUPPRESS)   # a child: one charger
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--ocpp-config", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.charger:
        asyncio.run(_charger(a.charger, a.url, a.seconds, a.seed, json.loads(a.ocpp_config or "{}")))
        return 0
    r = asyncio.run(run_site(a.chargers, a.seconds, a.site_amps))
    print(json.dumps(dict((k, v) for k, v in r.items() if k not in ("site", "ctl"))) if a.json else summary(r))
    for i, rc, err in r["failed"]:
        print("charger %d exited %d: %s" % (i, rc, err), file=sys.stderr)
    return 0 if not r["over_outside_grace"] and not r["failed"] and r["booted"] == a.chargers else 1


if __name__ == "__main__":
    sys.exit(main())
