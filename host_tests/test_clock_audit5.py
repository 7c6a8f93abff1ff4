"""The board's wall clock and who sets it (audit 5): OCPP 1.6 4.2 BootNotification.conf and 4.6
Heartbeat.conf give the central system's currentTime, with which "the Charge Point SHOULD
synchronize its internal clock". A charger with OCPP and no NTP (no Wi-Fi, or ntp_host empty)
had the time only inside its OCPP service: its board clock stayed unset, so the fault log and the
charging history kept null times and its charging windows never opened."""
import asyncio
import calendar
import time
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call_result

from host_tests.test_ocpp_bench import Bench, run
from ocpp_cs import CentralSystem, call
from evse.core import vocab as V
from evse.services import netclock as N
from host_tests.netfakes import DnsNtpServer
from tools.sim import mock_machine as mm  # noqa: F401 (the bench's machine)

NTP_UTC = int(datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc).timestamp())   # a time server's answer


def _now_utc():
    return calendar.timegm(time.gmtime())


def test_the_boot_notification_answer_sets_the_board_clock_of_a_charger_without_ntp(tmp_path):
    """The sim board has no Wi-Fi (no NTP). Before the central system answers, the charging window
    ("daily 00:00-24:00") is unknown: nothing offered. BootNotification.conf's currentTime sets
    the board's clock: the window opens, and a fault then (a shorted diode) is logged with its UTC
    time; the session's history record has its start and end."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await Bench(cs, tmp_path, charge_windows="daily 00:00-24:00", meter="ct", meter_phases=1).start()
        from evse.shell import hal
        assert hal.utc_seconds() is None
        await b.until(lambda: b.svc.accepted, what="boot")
        await b.wait(1.5)                  # the planner looks every second
        t = hal.utc_seconds()
        assert t is not None and abs(t - _now_utc()) <= 3, (t, _now_utc())
        sched = b.app.status(0)["planner"]["schedule"]
        assert "clock not set" not in (sched["why"] or ""), sched
        assert b.app.charger.limits.get(V.SRC_SCHEDULE) != 0
        b.d.plug()
        r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        assert r["ok"], r
        start = (await b.until(lambda: cs.actions("StartTransaction"), what="StartTransaction"))[0]
        await b.until(lambda: b.d.state == "B2", what="B2")
        b.d.ev("C")
        await b.until(lambda: b.d.coil, 3, "contactor closed")
        await b.wait(2)
        b.d.set(cp_short=True)             # the pilot shorted while charging: a fault, logged
        await b.until(lambda: b.app.journal.records, 2, "the fault's record")
        rec = b.app.journal.records[-1]
        assert rec[3] is not None and abs(rec[3] - hal.utc_seconds()) <= 1, rec
        b.d.set(cp_short=False)
        b.d.unplug()
        await b.until(lambda: b.app.sessions() and b.app.sessions()[-1].get("end"), 5, "the session's record")
        s = b.app.sessions()[-1]
        assert s["start"] is not None and s["end"] - s["start"] >= 2, s
        assert abs(s["start"] - calendar.timegm(time.strptime(start["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))) <= 2, (s, start)
        await b.stop()
        await cs.stop()
    run(main())


def test_a_central_system_moving_the_clock_moves_the_board_clock_and_says_setting_system_time(tmp_path):
    """The central system's clock is the board's when no NTP set it: a Heartbeat answer 2 hours
    ahead moves both (the fault log's and the windows' time too), and is still the security event
    SettingSystemTime (Stop 38: a clock already set moved by 60 s or more)."""
    async def main():
        cs = CentralSystem()
        await cs.start()
        b = await Bench(cs, tmp_path).start()
        from evse.shell import hal
        await b.until(lambda: b.svc.accepted, what="boot")
        await b.until(lambda: cs.actions("SecurityEventNotification"), what="StartupOfTheDevice")
        before = hal.utc_seconds()
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        cs.overrides["Heartbeat"] = lambda kw: call_result.Heartbeat(current_time=later.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert (await cs.call("cp1", call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
        ev = await b.until(lambda: [p for p in cs.actions("SecurityEventNotification") if p["type"] == "SettingSystemTime"],
                           5, "SettingSystemTime")
        assert abs(int(ev[0]["techInfo"].split()[0]) - 7200) <= 5, ev
        assert 7190 <= hal.utc_seconds() - before <= 7230, (before, hal.utc_seconds())
        await b.stop()
        await cs.stop()
    run(main())


def test_a_clock_set_by_ntp_is_kept_when_the_central_system_gives_another_time(tmp_path, monkeypatch):
    """NTP first (a time server answering on the network): the central system's currentTime, here
    4 days away from it, sets the OCPP service's own time line but not the board's clock, which
    NTP's next poll would set back (docs/network.md, docs/ocpp.md: NTP wins when it has answered)."""
    # virtual time runs up to 20x real time here: NTP's 2 s for an answer would be 0.1 s of a loaded machine's
    monkeypatch.setattr(N, "ANSWER_MS", 60000)

    async def main():
        cs = CentralSystem()
        await cs.start()
        srv = DnsNtpServer(NTP_UTC)
        try:
            b = Bench(cs, tmp_path)
            from evse.shell import hal
            nc = N.NetClock("127.0.0.1", lambda: "127.0.0.1", hal.set_utc, hal.ticks_diff, hal.ticks_add,
                            dns_port=srv.dns_port, ntp_port=srv.ntp_port)
            b.app.netclock = nc
            b.app.services.append(nc)
            b.tasks = [asyncio.create_task(b._drive())]
            await b.until(lambda: nc.synced, 60, "NTP's answer")   # (a loaded machine: a datagram judged lost, asked again)
            b.tasks.append(asyncio.create_task(b.svc.run()))
            await b.until(lambda: b.svc.accepted, what="boot")
            await b.wait(1)
            assert abs(hal.utc_seconds() - (NTP_UTC + 2)) <= 3, hal.utc_seconds() - NTP_UTC
            assert abs(b.svc.wall.now(b.svc.ticks()) - _now_utc()) <= 3
            assert abs(b.svc.cs_time(b.svc.ticks()) - _now_utc()) <= 3     # NTP's second opinion (stop 45)
            await b.stop()
        finally:
            srv.close()
            await cs.stop()
    run(main())
