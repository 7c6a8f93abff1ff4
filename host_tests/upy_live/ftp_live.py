# The FTP client (evse/ocpp/ftp.py) on the MicroPython unix port against a real server (pyftpdlib, run
# by host_tests/test_ftp_audit10.py). Arguments: the flash dir, then transfers "up=URL",
# "down=URL=MAX_BYTES"; prints one line per transfer ("up 226", "down 5000 <sha256 hex>", or the
# error's repr), then the longest gap (us) of a 10 ms ticker task that ran beside them: the transfers
# must leave the control loop its turn; and how long they took (ms).
import asyncio
import binascii
import hashlib
import sys
import time

from evse.ocpp import ftp

LONGEST = [0]


async def ticker(stop):
    t = time.ticks_us()
    while not stop:
        await asyncio.sleep_ms(10)
        now = time.ticks_us()
        LONGEST[0] = max(LONGEST[0], time.ticks_diff(now, t))
        t = now


async def one(flash, job):
    kind, rest = job.split("=", 1)
    try:
        if kind == "up":
            return "up %d" % await ftp.upload(rest, [b"diagnostics line\n" * 200, b"== end ==\n"])
        url, most = rest.rsplit("=", 1)
        h = hashlib.sha256()
        n = await ftp.download(url, flash + "/download.bin", int(most), None, h)
        return "down %d %s" % (n, binascii.hexlify(h.digest()).decode())
    except Exception as e:
        return "%s ERR %r" % (kind, e)


async def main(flash, jobs):
    stop = []
    t = asyncio.create_task(ticker(stop))
    await asyncio.sleep_ms(50)
    t0 = time.ticks_ms()
    for job in jobs:
        print(await one(flash, job))
    took = time.ticks_diff(time.ticks_ms(), t0)
    stop.append(1)
    await t
    print("GAP %d us over %d ms" % (LONGEST[0], took))


asyncio.run(main(sys.argv[1], sys.argv[2:]))
