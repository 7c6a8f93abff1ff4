# What the live scripts beside it share (they import it before the mock machine wraps `time`): the
# control ticks driven from the script's asyncio loop, and the longest real gap between two.
import asyncio
import time               # the real one

GAP = [0, 0]              # the longest real time (us) between two driver steps, the last step


async def drive(rig):
    """Control ticks, one per loop turn; GAP is what the services' steps (a TLS handshake's
    computation among them) held the loop."""
    GAP[1] = time.ticks_us()
    while True:
        rig.run(0.01)
        await asyncio.sleep_ms(5)
        t = time.ticks_us()
        GAP[0] = max(GAP[0], time.ticks_diff(t, GAP[1]))
        GAP[1] = t
