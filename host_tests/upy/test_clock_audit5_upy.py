"""The clock audit's board-side fixes under the MicroPython unix port (and CPython): the central
system's currentTime sets the board's clock (the clock object's set_utc, evse.shell.hal's on a
board) unless NTP has answered. The scenarios against a central system are
host_tests/test_clock_audit5.py."""
import asyncio
import json

from evse.core import ticks
from evse.ocpp.wallclock import WallClock, parse_iso
import upytest
from ocpp_fakes import tmpdir
from upytest import CoreLink

CS_TIME = "2026-12-06T12:00:00Z"


class _Board:
    """The board's ticks and its RTC: set_utc records what it is set to."""

    def __init__(self):
        self.t = 0
        self.rtc = []
        self.accepted = None    # the service's word once booted

    def ticks_ms(self):
        return self.t

    ticks_diff = staticmethod(ticks.ticks_diff)
    ticks_add = staticmethod(ticks.ticks_add)

    def set_utc(self, t):
        self.rtc.append(t)

    def utc_seconds(self):
        return self.rtc[-1] + self.t // 1000 if self.rtc else None


class _CentralSystem:
    """A transport that answers BootNotification Accepted at CS_TIME and every other CALL with {}."""

    def __init__(self):
        self.closed = False
        self.calls = []
        self.inbox = []

    async def send_text(self, text):
        msg = json.loads(text)
        if msg[0] == 2:
            self.calls.append(msg[2])
            res = {"status": "Accepted", "interval": 300, "currentTime": CS_TIME} \
                if msg[2] == "BootNotification" else {}
            self.inbox.append(json.dumps([3, msg[1], res]))

    async def recv(self):
        while not self.inbox:
            await asyncio.sleep(0.005)
        return 1, self.inbox.pop(0), False

    async def close(self):
        self.closed = True


def _booted(app=None):
    """A service booted against the central system; -> (the board, the service)."""
    import gc
    gc.collect()  # compiling chargepoint.py from source needs room (the board loads .mpy)
    from evse.ocpp.chargepoint import OcppService
    cs, board = _CentralSystem(), _Board()

    async def connect(url, subprotocol, user=None, password=None, ca_file=None):
        return cs

    async def main():
        svc = OcppService(CoreLink(app), None, {"ocpp_url": "ws://cs.invalid/", "ocpp_id": "cp1"},
                          tmpdir("clock_a5_upy"), board, connect=connect)
        task = asyncio.create_task(svc.run())
        for _ in range(400):
            if "StatusNotification" in cs.calls:
                break
            await asyncio.sleep(0.005)
        board.accepted = svc.accepted
        svc.stop()
        await asyncio.wait_for(task, 5)
        return svc

    return board, asyncio.run(main())


class _App:
    def __init__(self, synced):
        self.netclock = _NetClock(synced)


class _NetClock:
    def __init__(self, synced):
        self.synced = synced


def test_the_boot_notification_answer_sets_the_board_clock():
    board, svc = _booted()
    assert board.accepted and board.rtc == [parse_iso(CS_TIME)], board.rtc


def test_ntp_that_answered_keeps_the_board_clock():
    board, svc = _booted(_App(parse_iso("2026-12-02T03:00:00Z")))
    assert board.accepted and svc.wall.known() and board.rtc == []
    board, svc = _booted(_App(None))              # NTP set up, never answered: the central system's
    assert board.rtc == [parse_iso(CS_TIME)]


def test_the_ocpp_time_is_whole_seconds_from_integers():
    """On the boards a float is single precision: ref_epoch + ms / 1000 held an epoch to 128 s. On
    the stock rp2 image (tools/rp2emu, MicroPython v1.28.0) the old WallClock read a time just set
    as 64 s early, 1 s and 63 s later as 64 s early, 65 s later as 64 s late: the timestamps of
    StartTransaction and MeterValues, the clock-aligned intervals and the profiles' time were off
    by up to 64 s, and a Heartbeat answer with the right time could read as a 60 s move
    (SettingSystemTime). The time is now whole seconds from integers, rounded down."""
    t0 = parse_iso(CS_TIME)
    w = WallClock()
    w.set(t0, ticks.ticks_add(0, -500))
    got = [w.now(ms) for ms in (-500, 499, 500, 63500, 65000)]
    assert got == [t0, t0, t0 + 1, t0 + 64, t0 + 65], [g - t0 for g in got]
    assert all(type(g) is int for g in got)
    w.set(t0 - 1.5, 0)                            # a time with its fraction (a test's, the host's)
    assert w.now(0) == t0 - 2 and w.now(500) == t0 - 1


def test_the_ocpp_time_runs_on_across_the_tick_wrap():
    """A charger offline for a week (no Heartbeat answer sets the time again) polls as ever: the
    ports' ticks wrap at 2**30 ms and their ticks_diff reads a span over 2**29 ms (6.2 days) as
    negative. The old clock then read 12.4 days early; it runs on now, to the second."""
    t0 = parse_iso(CS_TIME)
    w = WallClock()
    w.set(t0, 123)
    tk, minute = 123, 60000
    for m in range(1, 7 * 24 * 60 + 1):           # a poll a minute (the service polls every 10 ms)
        tk = ticks.ticks_add(tk, minute)
        assert w.now(tk) == t0 + m * 60, (m, w.now(tk) - t0)
    assert w.now(ticks.ticks_add(tk, -30000)) == t0 + 7 * 86400 - 30   # a message made before


def test_a_clock_set_by_ntp_places_the_profiles_while_the_central_system_is_away():
    """The board's clock set by NTP, the charger rebooted while its central system is away (no
    currentTime this boot). A Recurring Daily TxDefaultProfile on flash, the site's tariff, allows
    8 A until noon and 16 A after. At 09:00 the service knew no time: the profile was ignored, no
    OCPP limit, and the car was offered max_current (32 A). The board's NTP time places it: 8 A."""
    import gc
    gc.collect()
    from evse.ocpp.chargepoint import OcppService
    day = parse_iso("2026-12-06T00:00:00Z")
    d, board = tmpdir("clock_a5_upy"), _Board()
    board.set_utc(day + 9 * 3600)                  # NTP: 09:00 UTC
    tariff = {"chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
              "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
              "chargingSchedule": {"startSchedule": "2026-12-01T00:00:00Z", "chargingRateUnit": "A",
                                   "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8},
                                                              {"startPeriod": 12 * 3600, "limit": 16}]}}
    svc = OcppService(CoreLink(), None, {"ocpp_url": ""}, d, board)
    assert svc.profiles.add(1, tariff, None) == "Accepted"      # kept on flash: the reboot reads it
    ch = CoreLink(_App(day + 9 * 3600))
    svc = OcppService(ch, None, {"ocpp_url": ""}, d, board)
    board.t = 1000
    svc.poll(board.t)
    assert svc.wall.known() and ch.limits[-1:] == [("ocpp", 8.0)], ch.limits
    board.t = 3 * 3600 * 1000 + 2000                              # 12:00:03
    svc.poll(board.t)
    assert ch.limits[-1] == ("ocpp", 16.0), ch.limits
    ch2 = CoreLink(_App(None))                                    # NTP set up, not answered: no time
    svc = OcppService(ch2, None, {"ocpp_url": ""}, d, board)
    svc.poll(board.t)
    assert not svc.wall.known() and ch2.limits[-1:] == [("ocpp", 8.0)], ch2.limits   # its lowest


def _default(pid, level, amps, kind="Relative", **kw):
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": "TxDefaultProfile",
         "chargingProfileKind": kind, "chargingSchedule": {"chargingRateUnit": "A",
                                                           "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}]}}
    for k, v in kw.items():
        if k == "startSchedule":
            p["chargingSchedule"][k] = v
        else:
            p[k] = v
    return p


def test_a_profile_the_unknown_clock_cannot_date_never_raises_the_limit():
    """No clock at all (no NTP, the central system away after a reboot): the site's TxDefaultProfile
    of 6 A, and above it a 32 A one valid only until 2026-01-01 (a holiday boost long over). With
    the clock known the 6 A stands; with none, the expired 32 A won (validTo not read) and the car
    was offered 32 A. An Absolute TxDefaultProfile of 6 A alone gave no limit (max_current). A
    profile the clock cannot place or date may be in force or not: its lowest period caps the one
    below it, it never lifts it."""
    from evse.ocpp.schedule import Profiles
    t = parse_iso(CS_TIME)
    pr = Profiles(None)
    assert pr.add(1, _default(1, 0, 6), None) == "Accepted"
    assert pr.add(1, _default(2, 1, 32, validTo="2026-01-01T00:00:00Z"), None) == "Accepted"
    assert pr.limit_at(t, 1, tx_start=t, in_tx=True) == 6.0
    assert pr.limit_at(100, 1, tx_start=100, clock_known=False, in_tx=True) == 6.0
    assert pr.add(1, _default(2, 1, 4, validTo="2026-01-01T00:00:00Z"), None) == "Accepted"   # lower: it may be
    assert pr.limit_at(100, 1, tx_start=100, clock_known=False, in_tx=True) == 4.0
    only = Profiles(None)
    assert only.add(1, _default(3, 0, 6, "Absolute", startSchedule="2026-01-01T00:00:00Z"), None) == "Accepted"
    assert only.limit_at(t, 1) == 6.0 and only.limit_at(100, 1, clock_known=False) == 6.0


if __name__ == "__main__":
    upytest.run(globals())
