# upy-heap: 256k
# (not a board budget: with the stall guard's few hundred bytes of firmware this test needed more
# than 24 KB more, a step of the unix port's name pools (docs/design.md, Memory); at 224k a 1.3 KB
# block was no longer found)
# The network's parts on both interpreters: DNS and NTP packets as the RFCs lay them out, the clock
# client stepped on a stand-in socket, Wi-Fi joined in steps on the mock radio.
import struct

from tools.sim.rig import Rig
from tools.sim import mock_machine as mm
mm.install()   # the firmware's `machine`
from tools.sim.mock_machine import network
from evse.services import netclock as N

NOW = 1796180400          # 2026-12-02 03:00 UTC


def diff(a, b):
    return a - b


def add(a, b):
    return a + b


class Udp:
    """Answers each datagram at once: DNS with 10.0.0.1, NTP with NOW (the nonce echoed)."""
    AF_INET = 2
    SOCK_DGRAM = 2

    def __init__(self):
        self.q = []
        self.sent = []

    def getaddrinfo(self, host, port):
        return [(2, 2, 0, "", (host, port))]

    def socket(self, *a):
        return self

    def setblocking(self, flag):
        pass

    def sendto(self, data, addr):
        self.sent.append(addr[1])
        if addr[1] == 53:
            end = data.index(b"\x00", 12) + 5
            self.q.append(data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + data[12:end]
                          + b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([10, 0, 0, 1]))
        else:
            b = bytearray(48)
            b[0], b[1] = 0x24, 2
            b[24:32] = data[40:48]
            b[40:44] = struct.pack(">I", NOW + N.NTP_DELTA)
            self.q.append(bytes(b))

    def recv(self, n):
        if not self.q:
            raise OSError(11)
        return self.q.pop(0)


def test_the_clock_client_looks_up_the_name_then_asks_the_time():
    got, udp = [], Udp()
    c = N.NetClock("pool.ntp.org", lambda: "192.168.1.1", got.append, diff, add, sock_mod=udp)
    for t in range(0, 50, 10):
        c.poll(t)
    assert got == [NOW] and udp.sent == [53, 123] and c.addr == "10.0.0.1"


def test_offline_it_asks_nothing():
    got, udp = [], Udp()
    c = N.NetClock("pool.ntp.org", lambda: None, got.append, diff, add, sock_mod=udp)
    c.poll(0)
    assert udp.sent == [] and got == []


def test_wifi_joins_in_steps_and_the_rtc_is_set():
    rig = Rig(config={"max_current": 16, "wifi_ssid": "home", "wifi_password": "correct horse"})
    from evse.shell.net import Net
    from evse.shell import hal
    network.access_points["home"] = "correct horse"
    net = Net(rig.app.cfg, mm.ticks_diff, mm.ticks_add)
    net.poll(mm.ticks_ms())
    assert net.status()["wifi"] == "connecting"
    rig.run(3.1)
    net.poll(mm.ticks_ms())
    assert net.status()["wifi"] == "connected" and net.dns_server() == network.dns_server
    hal.set_utc(NOW)
    assert hal.utc_seconds() == NOW


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
