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
async def _charger(cp_id, url, seconds, seed):
    from tools.sim import mock_machine as mm
    from tools.sim.drive import Drive

    flash = tempfile.mkdtemp(prefix="site-" + cp_id + "-")
    d = Drive(config={"max_current": MAX_A, "ocpp_url": url, "ocpp_id": cp_id,
                      "ocpp_config": {"MeterValueSampleInterval": 60}}, flash_dir=flash, seed=seed)
    d.world.follow_max = float(MAX_A)          # the car draws what the pilot offers, 2 s late
    svc = d.app.ocpp
    loop = asyncio.get_running_loop()
    t0_real, t0_us = loop.time(), mm.clock.us
    last = [None]

    def report():
        a = advertised_amps(d.app.hw.duty_x100)
        if a != last[0]:
            last[0] = a
            sys.stdout.write(json.dumps({"id": cp_id, "a": a, "state": d.state}) + "\n")
            sys.stdout.flush()

    async def drive():
        while True:
            if (mm.clock.us - t0_us) / 1e6 > loop.time() - t0_real:
                await asyncio.sleep(0.005)      # ahead of real time: let the sockets run
                continue
            d.run(0.01)
            report()
            await asyncio.sleep(0)

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

    tasks = [asyncio.create_task(t) for t in (svc.run(), drive(), car())]
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
    pilot advertises, and every moment the sum went over the limit."""

    def __init__(self, site_amps):
        self.site = site_amps
        self.active = []            # charger ids with a running transaction, in start order
        self.given = {}             # id -> amps of the ChargePointMaxProfile in force
        self.lowered = {}           # id -> (amps before its last lowering, when)
        self.adv = {}               # id -> amps its pilot advertises now
        self.cps = {}
        self.last_change = -1e9     # loop time of the last profile sent
        self.sum_max = self.sum_now = self.amp_seconds = 0.0
        self.t_sum = None           # loop time of the first report
        self.over = []              # (time, sum) above the limit outside the grace window
        self.over_in_grace = 0
        self.profiles = 0
        self.booted = set()
        self.sessions = 0
        self.dirty = asyncio.Event()

    def targets(self):
        """A fair share for every running transaction, 6 A at least; who cannot get 6 A gets 0."""
        n = min(len(self.active), self.site // MIN_A)
        share = min(MAX_A, self.site // n) if n else 0
        return dict((cp, share if i < n else 0) for i, cp in enumerate(self.active))

    def on_report(self, msg, now):
        if self.t_sum is not None:
            self.amp_seconds += self.sum_now * (now - self.t_sum)
        self.t_sum = now
        self.adv[msg["id"]] = msg["a"]
        total = self.sum_now = sum(self.adv.values())
        self.sum_max = max(self.sum_max, total)
        if total > self.site + 1e-6:
            if now - self.last_change <= GRACE_S:
                self.over_in_grace += 1
            else:
                self.over.append((now, total))

    async def _send(self, cp_id, amps):
        from ocpp.v16 import call
        self.given[cp_id] = amps
        self.profiles += 1
        self.last_change = asyncio.get_running_loop().time()
        cp = self.cps.get(cp_id)
        if cp is None:
            return
        try:
            await cp.call(call.SetChargingProfile(connector_id=0, cs_charging_profiles={
                "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}))
        except Exception:
            pass        # gone: its share is recomputed when it comes back
        self.last_change = asyncio.get_running_loop().time()

    def bound(self, cp, now):
        """The most charger `cp` may still advertise: its profile, or the one before it while a lower
        one may not have taken effect yet; a charger never told anything may offer its own maximum."""
        amps = self.given.get(cp, MAX_A)
        old, at = self.lowered.get(cp, (0, -1e9))
        return max(amps, old) if now - at < RAISE_AFTER_S else amps

    async def rebalance(self, now):
        """Lower at once whoever must give; raise only into what is surely free."""
        want = self.targets()
        for cp in self.cps:
            want.setdefault(cp, 0)
        down = [(cp, a) for cp, a in want.items() if a < self.given.get(cp, MAX_A)]
        for cp, _ in down:
            self.lowered[cp] = (self.bound(cp, now), now)
        await asyncio.gather(*(self._send(cp, a) for cp, a in down))
        room = self.site - sum(self.bound(cp, now) for cp in set(self.given) | set(want))
        up = []
        for cp in self.active:
            rise = want.get(cp, 0) - self.bound(cp, now)
            if want.get(cp, 0) > self.given.get(cp, MAX_A) and rise <= room:
                room -= max(rise, 0)
                up.append((cp, want[cp]))
        await asyncio.gather(*(self._send(cp, a) for cp, a in up))

    async def balance(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self.dirty.wait(), 1.0)
            except asyncio.TimeoutError:
                pass        # look again: a lowered charger's old share may be free by now
            self.dirty.clear()
            await self.rebalance(loop.time())


def central_system_class(site):
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

    def now_iso():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    class CP(ChargePoint):
        @on("BootNotification")
        def on_boot(self, **kw):
            site.booted.add(self.id)
            site.dirty.set()            # a charger (re)booted: give it its share (0 without a car)
            return call_result.BootNotification(current_time=now_iso(), interval=300, status="Accepted")

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
            if self.id not in site.active:
                site.active.append(self.id)
            site.dirty.set()
            return call_result.StartTransaction(transaction_id=site.sessions, id_tag_info={"status": "Accepted"})

        @on("StopTransaction")
        def on_stop(self, **kw):
            if self.id in site.active:
                site.active.remove(self.id)
            site.dirty.set()
            return call_result.StopTransaction()

        @on("MeterValues")
        def on_meter(self, **kw):
            return call_result.MeterValues()

        @on("SecurityEventNotification")
        def on_security_event(self, **kw):      # StartupOfTheDevice at every boot
            return call_result.SecurityEventNotification()
    return CP


def _rss_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def run_site(chargers, seconds, site_amps, quiet=False):
    from websockets.asyncio.server import serve

    site = Site(site_amps)
    cp_class = central_system_class(site)

    async def handler(conn):
        cp_id = conn.request.path.rstrip("/").split("/")[-1]
        cp = cp_class(cp_id, conn, response_timeout=15)
        site.cps[cp_id] = cp
        try:
            await cp.start()
        except Exception:
            pass
        finally:
            if site.cps.get(cp_id) is cp:
                del site.cps[cp_id]

    server = await serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"])
    url = "ws://127.0.0.1:%d/ocpp" % server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    balancer = asyncio.create_task(site.balance())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(ROOT, "firmware"), ROOT, os.path.join(ROOT, "tools", "hostlib")]))
    rss0, cpu0, t0 = _rss_kb("VmRSS"), resource.getrusage(resource.RUSAGE_SELF), loop.time()

    async def one(i):
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tools.site", "--charger", "cp%02d" % i, "--url", url,
            "--seconds", str(seconds), "--seed", str(i + 1), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async for line in p.stdout:
            try:
                site.on_report(json.loads(line), loop.time())
            except ValueError:
                pass
        err = await p.stderr.read()
        return await p.wait(), err.decode(errors="replace")

    results = await asyncio.gather(*(one(i) for i in range(chargers)))
    wall = loop.time() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    balancer.cancel()
    server.close()
    await server.wait_closed()
    cs_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    failed = [(i, rc, err[-400:]) for i, (rc, err) in enumerate(results) if rc != 0]
    return {"chargers": chargers, "seconds": seconds, "site_amps": site_amps, "booted": len(site.booted),
            "sessions": site.sessions, "profiles": site.profiles, "sum_max_a": round(site.sum_max, 1),
            "sum_mean_a": round(site.amp_seconds / wall, 1),
            "over_outside_grace": len(site.over), "over_in_grace": site.over_in_grace,
            "cs_cpu_pct": round(100 * cs_cpu / wall, 1), "cs_rss_kb": _rss_kb("VmRSS"),
            "cs_rss_growth_kb": _rss_kb("VmRSS") - rss0, "failed": failed}


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
    a = ap.parse_args(argv)
    if a.charger:
        asyncio.run(_charger(a.charger, a.url, a.seconds, a.seed))
        return 0
    r = asyncio.run(run_site(a.chargers, a.seconds, a.site_amps))
    print(json.dumps(r) if a.json else summary(r))
    for i, rc, err in r["failed"]:
        print("charger %d exited %d: %s" % (i, rc, err), file=sys.stderr)
    return 0 if not r["over_outside_grace"] and not r["failed"] and r["booted"] == a.chargers else 1


if __name__ == "__main__":
    sys.exit(main())
