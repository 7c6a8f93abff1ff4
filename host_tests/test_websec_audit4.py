"""The web face against an attacker on the home LAN or a malicious page in the owner's browser (OWASP
ASVS 4.0; docs/web.md, "Who may do what"): each test a bench scenario that failed on the service
before its fix."""
import asyncio
import binascii
import time

from test_web_upy import PW, Bench


def _basic(pw):
    return "Basic " + binascii.b2a_base64(("admin:" + pw).encode()).decode().strip()


def _burst(b, auths):
    """POST /api/v1/disable sent at once with each Authorization: [(seconds to its answer, status)]."""
    t0 = time.monotonic()

    async def one(a):
        r = await b.client.request("POST", "/api/v1/disable", headers={"Authorization": a})
        return time.monotonic() - t0, r.status_code

    async def go():
        return await asyncio.gather(*[one(a) for a in auths])
    return asyncio.run(go())


def test_guesses_sent_in_parallel_learn_the_right_password_no_sooner_than_one_a_delay():
    """ASVS 2.2.1 (anti-automation). Five wrong passwords and the right one sent at once: the right
    one's answer came at once (0.00 s) while the wrong ones waited their turn, so an attacker who
    sends guesses in parallel and reads only the 200 tried them as fast as the board accepted
    connections (20 parallel logins on the unix port: the right one's token after 2.0 s, not 20 s).
    Now every guess is judged after the wrong ones before it: the right one after their five delays."""
    from evse.services import web as W
    b = Bench()
    W.FAIL_DELAY_S = 0.2                       # the board's 1 s, shortened for the bench
    try:
        rs = _burst(b, [_basic("wrong-password-%04d" % i) for i in range(5)] + [_basic(PW)])
        assert [code for _, code in rs] == [401] * 5 + [200]
        assert rs[-1][0] >= 5 * 0.2 * 0.9, rs          # judged after the five wrong ones
        assert not b.app.charger.enabled               # and it did disable
        rs = _burst(b, [_basic(PW)])                     # alone: never slowed
        assert rs[0][1] == 200 and rs[0][0] < 0.2, rs
    finally:
        W.FAIL_DELAY_S = 0


def test_a_login_in_a_burst_of_wrong_ones_waits_its_turn_too():
    from evse.services import web as W
    b = Bench()
    W.FAIL_DELAY_S = 0.2
    t0 = time.monotonic()

    async def login(pw):
        r = await b.client.post("/api/v1/login", body={"password": pw})
        return time.monotonic() - t0, r.status_code, r.json

    async def go():
        return await asyncio.gather(*[login("wrong-password-%04d" % i) for i in range(4)] + [login(PW)])
    try:
        rs = asyncio.run(go())
    finally:
        W.FAIL_DELAY_S = 0
    assert [r[1] for r in rs] == [401] * 4 + [200] and rs[-1][2]["token"]
    assert rs[-1][0] >= 4 * 0.2 * 0.9, rs
