"""A site of 50 chargers (one firmware process each, real time) against one central system that
shares a 160 A site limit with ChargePointMaxProfile while cars arrive and leave (tools/site.py):
the highest sum of advertised currents, moments over the limit, and the central system's CPU and
memory. Then the site's bad days: the limit lowered while all charge, the central system restarted,
the internet link cut, clock-aligned MeterValues from all at the same second, 50 boots held
Pending after a power cut, and the reconnection storm the firmware's backoff makes (modelled)."""
import asyncio

from tools import site


def _spread(times):
    return "%d in %.1f-%.1f s, at most %d in one second" % site.arrivals(times) if times else "none"


def bad_day():
    """Limit 160 -> 80 A once the sum is 120 A; the central system down 5 s at 60 s; the link silent 60 s at
    95 s; ClockAlignedDataInterval 10 s."""
    async def script(ctl):
        out = {}
        await ctl.until(lambda: ctl.site.sum_now >= 120, 60)    # most cars charging
        ctl.site.set_limit(80)
        await asyncio.sleep(20)
        out["restart"] = await site.outage(ctl, 5, cut=False)
        await asyncio.sleep(95 - 60 - 5 - out["restart"][1])
        out["cut"] = await site.outage(ctl, 60, cut=True)
        return out
    return asyncio.run(site.run_site(chargers=50, seconds=200, site_amps=160, script=script,
                                     ocpp_config={"ClockAlignedDataInterval": 10}))


def pending_storm():
    """50 chargers boot at once against a central system that answers Pending (interval 10 s) for
    its first 30 s."""
    t0 = []

    def status(cp_id):
        loop = asyncio.get_running_loop()
        t0[:] = t0 or [loop.time()]
        return "Pending" if loop.time() - t0[0] < 30 else "Accepted"
    return asyncio.run(site.run_site(chargers=50, seconds=60, site_amps=160, boot_status=status,
                                     boot_interval=10))


def main():
    r = asyncio.run(site.run_site(chargers=50, seconds=120, site_amps=160))
    print(site.summary(r))
    for i, rc, err in r["failed"]:
        print("  charger %d exited %d: %s" % (i, rc, err))
    r = bad_day()
    print("bad day: " + site.summary(r))
    s, out = r["site"], r["script"]
    ch = s.limit_changes[0]
    print("  limit 160 -> 80 A at a sum of %.0f A: the sum met it %.1f s after" % (ch[3], (ch[2] or float("nan")) - ch[0]))
    if isinstance(out, dict):
        for k, what in (("restart", "central system restarted (down 5 s)"), ("cut", "link silent 60 s")):
            print("  %s: reconnections %s after it came back" % (what, _spread(out[k][0])))
    else:
        print("  script: %r" % (out,))
    m = s.meter_times
    print("  MeterValues (clock-aligned every 10 s, and each transaction's every 60 s): %d, at most %d "
          "within one second" % (len(m), site.arrivals(m)[3] if m else 0))
    print("  messages out of order: %d chargers %s; received twice (an answer lost): %d; profiles unanswered: %d" % (
        len(r["order_faults"]), list(r["order_faults"].items())[:2], r["redelivered"], s.unanswered))
    r = pending_storm()
    print("pending storm: 50 boots Pending 30 s (interval 10 s): %d BootNotifications, %d accepted; "
          "central system CPU %.1f %% of one core" % (sum(r["site"].boots.values()), r["booted"], r["cs_cpu_pct"]))
    for outage in (2, 10, 60, 3600):
        print("reconnection storm (model of connection.run's backoff, 50 chargers, central system away "
              "%d s): %s" % (outage, _spread(site.reconnect_model(50, outage))))
