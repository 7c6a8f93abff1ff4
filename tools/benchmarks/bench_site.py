"""A site of 50 chargers (one firmware process each, real time) against one central system that
shares a 160 A site limit with ChargePointMaxProfile while cars arrive and leave (tools/site.py):
the highest sum of advertised currents, moments over the limit, and the central system's CPU and
memory."""
import asyncio

from tools import site


def main():
    r = asyncio.run(site.run_site(chargers=50, seconds=120, site_amps=160))
    print(site.summary(r))
    for i, rc, err in r["failed"]:
        print("  charger %d exited %d: %s" % (i, rc, err))
