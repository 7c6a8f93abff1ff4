# upy-heap: 128k
# The time zone parser's ranges on both interpreters (stop 44): a typo in an offset or a zone
# name is refused, the tz database's odd forms are read (Nuuk's /-1, Jerusalem's /26, Dublin's
# negative DST, <+0545>), and the planner with off-peak windows only offers the peak current while
# the board clock is unset; one NTP answer far off the clock it set is asked again.
import struct

from evse.services import timetable as T
from evse.services.netclock import NTP_DELTA, NetClock
from evse.services.planner import Planner
from test_planner_upy import raises, utc


def test_a_typo_in_an_offset_or_a_zone_name_is_refused():
    for bad in ("IST-5:75", "CET-25", "CET-1:00:60", "CET-1CEST,M3.5.0/3:60,M10.5.0",
                "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0/,M10.5.0", "<+03", "<>-3", "<+0,3>-3"):
        assert raises(T.parse_tz, bad), bad


def test_a_text_of_no_window_is_refused():
    assert raises(T.parse_windows, ";") and raises(T.parse_windows, "Sun 22:00-Mon 06:00")


def test_the_tz_databases_odd_forms_are_read():
    nuuk = T.parse_tz("<-02>2<-01>,M3.5.0/-1,M10.5.0/0")
    assert T.utc_offset(nuuk, utc(2026, 3, 28, 23, 0)) == -7200      # Saturday 21:00 local
    assert T.utc_offset(nuuk, utc(2026, 3, 29, 1, 0)) == -3600       # Saturday 23:00 -> 24:00
    jer = T.parse_tz("IST-2IDT,M3.4.4/26,M10.5.0")
    assert T.utc_offset(jer, utc(2026, 3, 27, 0, 0) - 1) == 7200     # Friday 01:59:59 IST
    assert T.utc_offset(jer, utc(2026, 3, 27, 0, 0)) == 10800        # Friday 02:00 IST -> 03:00 IDT
    dub = T.parse_tz("IST-1GMT0,M10.5.0,M3.5.0/1")
    assert T.utc_offset(dub, utc(2026, 1, 15)) == 0 and T.utc_offset(dub, utc(2026, 7, 15)) == 3600
    odd = T.parse_tz("<+1245>-12:45<-14>14,M7.5.5/-9,M12.5.0/27")    # DST to Dec 31 27:00: that year's
    assert T.utc_offset(odd, utc(2035, 12, 31, 11, 37)) == -50400      # (the UTC year, as glibc's)
    ktm = T.parse_tz("<+0545>-5:45")
    assert T.minute_of_week(ktm, utc(2026, 6, 1)) == 5 * 60 + 45      # Monday 05:45


class _App:
    def command(self, *a):
        pass


def test_off_peak_only_with_the_clock_unset_offers_the_peak_current():
    cfg = {"tz": "UTC0", "charge_windows": "", "offpeak_windows": "daily 23:00-07:00",
           "peak_current_a": 10, "solar_mode": "off", "grid_source": "mqtt"}
    assert Planner(_App(), cfg, lambda: None, lambda a, b: a - b).schedule_limit(None)[0] == 10
    cfg["charge_windows"] = "daily 23:00-07:00"
    assert Planner(_App(), cfg, lambda: None, lambda a, b: a - b).schedule_limit(None)[0] == 0


def test_the_status_shows_the_local_time_the_windows_read():
    cfg = {"tz": "CET-1CEST,M3.5.0,M10.5.0/3", "charge_windows": "daily 23:00-07:00", "offpeak_windows": "",
           "peak_current_a": 0, "solar_mode": "off", "grid_source": "mqtt"}
    p = Planner(_App(), cfg, lambda: utc(2026, 6, 1, 19, 59), lambda a, b: a - b)
    assert p.status()["schedule"]["local"] == "Mon 21:59 +02:00"
    cfg["tz"] = "<-0330>3:30"
    assert Planner(_App(), cfg, lambda: utc(2026, 6, 1, 1), lambda a, b: a - b).local_time() == "Sun 21:30 -03:30"


class _Udp:
    """A server that answers each question with the next of `answers` (UTC seconds)."""
    AF_INET, SOCK_DGRAM = 2, 2

    def __init__(self, answers):
        self.answers, self.queue = answers, []

    def socket(self, *a):
        return self

    def setblocking(self, flag):
        pass

    def getaddrinfo(self, host, port):
        return [(2, 2, 0, "", (host, port))]

    def sendto(self, data, addr):
        t = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        b = bytearray(48)
        b[0], b[1] = 0x24, 2
        b[24:32] = data[40:48]
        b[40:44] = struct.pack(">I", (t + NTP_DELTA) % (1 << 32))
        self.queue.append(bytes(b))

    def recv(self, n):
        if not self.queue:
            raise OSError(11)
        return self.queue.pop(0)


def _ntp(answers, until_ms, second=None, clock=None):
    got = []
    c = NetClock("192.0.2.123", lambda: "192.0.2.1", got.append, lambda a, b: a - b, lambda a, b: a + b,
                 sock_mod=_Udp(answers), second=second, read_utc=lambda: got[-1] if got else None)
    for now in range(0, until_ms, 10):
        c.poll(now)
    if clock is not None:
        clock.append(c)
    return got


def test_one_ntp_answer_far_off_is_asked_again_and_a_second_one_decides():
    t0, y2090 = utc(2026, 6, 1, 12), utc(2090, 6, 1, 12)
    assert _ntp([t0, y2090, t0 + 3606], 3610000) == [t0, t0 + 3606]
    assert _ntp([t0, y2090, y2090 + 5], 3610000) == [t0, y2090 + 5]


def test_the_central_systems_time_decides_a_far_off_ntp_answer_and_a_dispute_is_doubt():
    t0, y2090 = utc(2026, 6, 1, 12), utc(2090, 6, 1, 12)
    cs = lambda now: t0 + now // 1000    # noqa: E731
    assert _ntp([t0, y2090, y2090 + 5], 18000000, cs) == [t0]         # repeated: still not believed
    c = []
    assert _ntp([t0 - 365 * 86400], 60000, cs, c) == [] and c[0].status()["doubt"] and c[0].utc() is None


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
