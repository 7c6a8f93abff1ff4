"""The network without fear (issue 14): Wi-Fi joined in steps and joined again after a loss, with
back-off, a set-up access point when no network is configured, and the board's clock from NTP after
a DNS lookup, both as single non-blocking datagrams, so the control tick never waits for the
network. Real UDP against DNS and NTP servers on 127.0.0.1, and on the virtual bench."""
import time
import types
from datetime import datetime, timezone

from evse.core import vocab as V
from evse.services import netclock as N
from host_tests.netfakes import DnsNtpServer, FakeUdp, dns_reply, ntp_reply
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive
from tools.sim.mock_machine import network
from tools.sim.rig import load_board

NOW_UTC = int(datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc).timestamp())


def host_ms():
    return int(time.monotonic() * 1000) & 0x3FFFFFFF


def ticks_diff(a, b):
    return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000


def ticks_add(a, b):
    return (a + b) & 0x3FFFFFFF


def _clock(host, srv, got):
    return N.NetClock(host, lambda: "127.0.0.1", got.append, ticks_diff, ticks_add,
                      dns_port=srv.dns_port, ntp_port=srv.ntp_port)


def _poll_until(c, pred, seconds=5.0):
    """Poll as the control loop does (every 10 ms); the longest poll, in wall time."""
    end, worst = time.monotonic() + seconds, 0.0
    while not pred() and time.monotonic() < end:
        t0 = time.perf_counter()
        c.poll(host_ms())
        worst = max(worst, time.perf_counter() - t0)
        time.sleep(0.01)
    assert pred(), c.status()
    return worst


def test_the_clock_is_set_from_ntp_after_a_dns_lookup_over_real_udp_without_waiting():
    srv, got = DnsNtpServer(NOW_UTC, delay_s=0.3), []      # each server takes 300 ms to answer
    try:
        c = _clock("time.example.net", srv, got)
        worst = _poll_until(c, lambda: got)
        assert got == [NOW_UTC] and srv.queries == ["dns", "ntp"] and c.status()["error"] is None
        assert worst < 0.1, worst        # no poll waited for an answer (a loaded machine still adds ms)
    finally:
        srv.close()


def test_an_answer_that_does_not_match_the_question_or_an_unsynchronised_server_is_not_believed():
    srv, got = DnsNtpServer(NOW_UTC), []
    try:
        for bad, why, echoed in ((lambda r: ntp_reply(r, NOW_UTC, echo=False), "spoofed: our nonce not echoed", False),
                                 (lambda r: ntp_reply(r, NOW_UTC, li=3), "the server is not synchronised", True),
                                 (lambda r: ntp_reply(r, NOW_UTC, stratum=0), "a kiss-o'-death", True),
                                 (lambda r: ntp_reply(r, 0), "a time in 1970", True),
                                 (lambda r: ntp_reply(r, NOW_UTC)[:40], "cut short", True)):
            srv.ntp = bad
            c = _clock("127.0.0.1", srv, got)
            _poll_until(c, lambda: c.status()["error"], 3)
            # a datagram without our nonce is no answer to our question: dropped, and the wait runs out
            assert got == [] and ("bad time" if echoed else "no answer") in c.status()["error"], why
    finally:
        srv.close()


def test_a_lost_answer_is_asked_again_later_with_back_off():
    fake = FakeUdp(lambda: NOW_UTC)
    fake.silent = True
    got = []
    c = N.NetClock("pool.ntp.org", lambda: "192.168.1.1", got.append, ticks_diff, ticks_add, sock_mod=fake)
    t = 0
    for _ in range(2):
        c.poll(t)
        t += N.ANSWER_MS + 10
        c.poll(t)
        assert "no answer" in c.status()["error"]
        t += N.RETRY_MAX_MS
    assert len(fake.sent) == 2
    fake.silent = False
    c.poll(t)
    c.poll(t + 10)      # DNS answered: the NTP question goes out
    c.poll(t + 20)
    assert got == [NOW_UTC]


def test_dns_answers_are_read_as_rfc_1035_lays_them_out():
    q = N.dns_query(0x1234, "pool.ntp.org")
    assert N.dns_answer(dns_reply(q, "162.159.200.1"), 0x1234) == "162.159.200.1"
    assert N.dns_answer(dns_reply(q, "162.159.200.1"), 0x1235) is None       # not our question
    assert N.dns_answer(dns_reply(q, "1.2.3.4", rcode=3), 0x1234) is None    # NXDOMAIN
    assert N.dns_answer(b"\x12\x34", 0x1234) is None


def _wifi_board():
    b = types.ModuleType("board_with_wifi")
    b.__dict__.update({k: v for k, v in vars(load_board("sim")).items() if not k.startswith("__")})
    b.WIFI = True
    return b


def _bench(tmp_path, **cfg):
    d = Drive(board=_wifi_board(), config=dict({"max_current": 32}, **cfg), flash_dir=str(tmp_path))
    fake = FakeUdp(lambda: NOW_UTC + mm.clock.us // 1000000)
    if d.app.netclock is not None:
        d.app.netclock.sock_mod = fake
    return d, fake


def test_a_new_board_opens_a_set_up_access_point_and_still_charges(tmp_path):
    d, _ = _bench(tmp_path)
    d.run(1)
    st = d.app.status(0)["net"]
    assert st["wifi"] == "access point" and st["setup_ap"].startswith("evse-")
    ap = network.WLAN(network.AP_IF).config
    assert ap("ssid") == st["setup_ap"] and 8 <= len(ap("key")) <= 63     # WPA2, never open
    d.charge()
    assert d.coil


def test_the_board_joins_its_network_sets_its_clock_and_opens_its_charging_window(tmp_path):
    d, fake = _bench(tmp_path, wifi_ssid="home", wifi_password="correct horse", ntp_host="pool.ntp.org",
                     charge_windows="daily 00:00-24:00")
    network.access_points["home"] = "correct horse"       # (the bench's power-on resets the radio world)
    from evse.shell import hal          # the mock machine is in place once a bench exists
    d.plug()
    d.run(2)
    assert d.state == V.ST_PAUSED and hal.utc_seconds() is None      # no clock yet: nothing offered
    d.run(3)                                                          # joined after 3 s, then DNS, NTP
    assert d.app.status(0)["net"]["wifi"] == "connected"
    d.run(2)
    assert abs(hal.utc_seconds() - (NOW_UTC + mm.clock.us // 1000000)) <= 1
    assert [a[1] for a in fake.sent] == [53, 123] and fake.sent[1][0] == fake.ip
    assert d.state == "B2"


def test_a_central_system_that_disputes_the_time_server_closes_the_window_until_they_agree(tmp_path):
    """Stop 45: the OCPP central system's currentTime is NTP's second opinion (the app wires it). A
    year apart, the time is in doubt: the charging window is not known open (the schedule's 0 A).
    Once the central system's time agrees with the server's, the next answer is believed."""
    d, fake = _bench(tmp_path, wifi_ssid="home", wifi_password="correct horse", ntp_host="pool.ntp.org",
                     charge_windows="daily 00:00-24:00", ocpp_url="ws://cs.invalid/ocpp", ocpp_id="cp1")
    network.access_points["home"] = "correct horse"
    from evse.shell import hal
    svc = d.app.ocpp
    assert d.app.netclock.second == svc.cs_time and d.app.planner.clock == d.app.netclock.utc
    svc.cs_said = (NOW_UTC - 365 * 86400, hal.ticks_ms())        # a central system a year back
    d.plug()
    d.run(7)
    ntp = d.app.status(0)["net"]["ntp"]
    sched = d.app.status(0)["planner"]["schedule"]
    assert ntp["doubt"] and "central system" in ntp["error"] and sched["limit"] == 0, (ntp, sched)
    svc.cs_said = (NOW_UTC + mm.clock.us // 1000000, hal.ticks_ms())   # it corrected its own clock
    d.run(12)                                                     # asked again after 5 s, then 10 s
    ntp = d.app.status(0)["net"]["ntp"]
    sched = d.app.status(0)["planner"]["schedule"]
    assert not ntp["doubt"] and ntp["error"] is None and sched["limit"] is None, (ntp, sched)


def test_a_lost_link_is_joined_again_with_back_off_while_the_car_charges_on(tmp_path):
    d, _ = _bench(tmp_path, wifi_ssid="home", wifi_password="correct horse")
    network.access_points["home"] = "correct horse"
    d.run(1)
    d.charge()
    d.run(4)
    net = d.app.status(0)["net"]
    assert net["wifi"] == "connected" and net["attempts"] == 1
    network.drop()
    d.run(1)
    assert d.app.status(0)["net"]["wifi"] == "waiting to retry" and d.coil
    d.run(5 + 20 + 10)               # 5 s, an attempt of 20 s that fails, 10 s
    assert d.app.status(0)["net"]["attempts"] == 3 and d.coil
    network.restore()
    d.run(25)
    net = d.app.status(0)["net"]
    assert net["wifi"] == "connected" and net["losses"] == 1 and d.coil
