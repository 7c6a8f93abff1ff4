"""The console's `reboot`: its reply leaves the port before the reset. machine.reset() drops what
a UART's or USB's own buffer still holds: a reply written in the tick of the reset was cut, and
evsectl said "no reply" for a reboot that happened."""
from tools.sim import mock_machine as mm
from tools.sim.rig import Rig
from evse.services import console as C


class Port:
    """A serial port: what the host sends, and when each byte went out (virtual us)."""

    def __init__(self):
        self.rx = b""
        self.sent = []

    def read(self, n):
        d, self.rx = self.rx[:n], self.rx[n:]
        return d or None

    def write(self, data):
        self.sent.append((mm.clock.us, bytes(data)))
        return len(data)


def test_the_reboot_reply_has_a_tick_to_leave_the_port_before_the_reset(tmp_path):
    rig = Rig(config={"max_current": 32}, flash_dir=str(tmp_path))
    port = Port()
    C.attach(rig.app, port)
    rig.run(1.0)
    resets = []
    rig.app.reset = lambda: resets.append(mm.clock.us)
    port.rx = b'{"id": 7, "cmd": "reboot"}\n'
    rig.run(0.1)
    replied = [t for t, d in port.sent if b'"rebooting"' in d]
    assert replied and resets
    # 30 bytes at 115200 baud take 2.6 ms; the reset comes a tick (10 ms) after the reply was written
    # (before: in the same tick)
    assert resets[0] - replied[-1] >= 9000, (replied, resets[0])
