"""Fourth audit, the edges: Modbus RTU noise and busy meters, the set-up access point's password,
the charging history's times.

The Modbus bench is test_modbus_audit3's RS-485 line with wire time (pymodbus's RTU framer builds
the meter's replies: an independent implementation), the master polled every 10 ms as the app does."""
import pytest
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse

from evse.core.modbus_maps import SDM120, SDM630
from evse.metering import modbus
from evse.metering.meter import ModbusSource
from test_modbus_audit3 import METER, WireBus, run


class NoisyBus(WireBus):
    """The driver's turn-around leaves `noise` on the line one character before each reply."""

    def __init__(self, baud, units, noise):
        super().__init__(baud, units)
        self.noise = bytes(noise)

    def write(self, data):
        n = super().write(data)
        if self.sched:
            t0 = self.sched[0][0] - self.char_ms * (len(self.noise) + 1)
            self.sched[:0] = [(t0 + i * self.char_ms, b) for i, b in enumerate(self.noise)]
        return n


@pytest.mark.parametrize("noise", [b"\x00", b"\xff", b"\x00\x00", b"\x01", b"\x01\x04", b"\x55\xff\x00"])
@pytest.mark.parametrize("regmap, amps", [(SDM120, [32.0]), (SDM630, [32.0, 31.0, 30.0])])
def test_a_byte_of_noise_before_every_reply_still_gives_every_reading(noise, regmap, amps):
    # Before: the master judged the frame from the noise byte on: a CRC error on every try, the
    # meter never read (5 s at 9600 baud, SDM120: 0 readings, 15 requests, 15 CRC errors). pymodbus
    # 3.16's own RTU client framer fails the same way on these bytes (it hunts only past bytes that
    # are followed by an unknown function code). Now the reply is found after the noise by its
    # unit, function and CRC.
    bus = NoisyBus(9600, {1: METER}, noise)
    master = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    src = ModbusSource(master, regmap, 1, interval_ms=1000)
    good = run(bus, [src], 5)
    assert good == [5] and src.ok and src.error is None
    assert src.amps == amps and src.kwh == 1234.5
    assert master.crc_errors == 0 and bus.collisions == 0
    assert bus.requests == 5 * len(regmap["reads"])           # no retry was needed


def test_noise_before_the_longest_reply_fits_the_buffer():
    # 125 registers (255 bytes) after 3 bytes of noise: read whole
    regs = {a: a for a in range(125)}
    bus = NoisyBus(19200, {1: regs}, b"\x00\xff\x00")
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=0)
    m.start(1, 4, 0, 125, 0)
    bus.drive(m, 2000)
    assert m.state == modbus.DONE
    assert [modbus.decode(m.data, 2 * a, modbus.T_UINT16) for a in range(125)] == list(range(125))


def test_a_real_crc_error_after_noise_is_still_one():
    # noise, then a reply with one bit flipped: a CRC error, retried; the retry reads
    class Flip(NoisyBus):
        flips = 1

        def write(self, data):
            n = super().write(data)
            if self.sched and self.flips:
                self.flips -= 1
                at, b = self.sched[5]
                self.sched[5] = (at, b ^ 0x10)
            return n

    bus = Flip(9600, {1: METER}, b"\x00")
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    m.start(1, 4, 0, 2, 0)
    bus.drive(m, 3000)
    assert m.state == modbus.DONE and bus.requests == 2 and bus.collisions == 0
    assert modbus.decode(m.data, 0, modbus.T_FLOAT32) == 230.0


class BusyMeter(WireBus):
    """A meter (or an RS-485 gateway) that answers SERVER DEVICE BUSY (6), or ACKNOWLEDGE (5), to
    `busy` requests out of every `every`, then reads normally."""

    def __init__(self, baud, units, code=6, busy=1, every=1000):
        super().__init__(baud, units)
        self.code, self.busy, self.every = code, busy, every
        self.n = 0
        self._exc = FramerRTU(DecodePDU(False))

    def write(self, data):
        k = self.n % self.every
        self.n += 1
        if k >= self.busy:
            return super().write(data)
        n = super().write(data)                   # counted, checked by pymodbus, then replaced
        at = self.sched[0][0]
        reply = self._exc.buildFrame(ExceptionResponse(data[1], self.code, device_id=data[0]))
        self.sched = [(at + i * self.char_ms, b) for i, b in enumerate(reply)]
        return n


@pytest.mark.parametrize("code", [5, 6])
def test_a_meter_busy_once_is_asked_again_not_lost(code):
    # Modbus Application Protocol 1.1b3, section 7: 06 SERVER DEVICE BUSY, "the client should
    # retransmit the message later when the server is free" (05 ACKNOWLEDGE: the request is being
    # processed, the client asks later). Before: the first block's request of every cycle answered
    # busy made the meter lost (ok False, current -1: over-current protection blind) every
    # second, 0 readings in 5 s. Now asked again once the bus is quiet, within meter_retries.
    bus = BusyMeter(9600, {1: METER}, code=code, busy=1, every=2)
    src = ModbusSource(modbus.ModbusMaster(bus, timeout_ms=300, retries=2), SDM120, 1, interval_ms=1000)
    good = run(bus, [src], 5)
    assert good == [5] and src.ok and src.amps == [32.0]
    assert bus.collisions == 0 and min(bus.gaps) >= bus.t35_ms


def test_a_meter_that_stays_busy_fails_with_the_reason_after_the_retries():
    bus = BusyMeter(9600, {1: METER}, code=6, busy=1000)
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    m.start(1, 4, 0, 2, 0)
    bus.drive(m, 3000)
    assert m.state == modbus.FAILED and m.error == "exception 6 (busy)" and m.exception_code == 6
    assert bus.requests == 3 and bus.collisions == 0


def test_other_exceptions_are_still_not_retried():
    bus = BusyMeter(9600, {1: METER}, code=2, busy=1000)
    m = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    m.start(1, 4, 0, 2, 0)
    bus.drive(m, 3000)
    assert m.state == modbus.FAILED and m.error == "exception 2 (illegal address)" and bus.requests == 1


# --- the charging history's times ------------------------------------------------------------
def _session(tmp_path, clock, t_set_ms, t_end_ms, cut=False):
    """A session from t=0 (clock unknown) to t_end_ms; the RTC is set by SNTP at t_set_ms to
    1,800,000,000 s at that moment. cut: the power fails at t_end_ms (the record comes at boot)."""
    from evse.metering.energy import Energy

    now = [0]

    def wall():
        return None if now[0] < t_set_ms else clock + (now[0] - t_set_ms) // 1000

    e = Energy(str(tmp_path), wall=wall, checkpoint_ms=60000)
    e.session_start(0, user="card1")
    for t in range(0, t_end_ms + 1, 1000):
        now[0] = t
        e.add_mwh(3000, t)
    if cut:
        e.checkpoint()
        return Energy(str(tmp_path), wall=wall).restored
    return e.session_end(t_end_ms, "ev_stopped")


def test_a_session_started_before_the_clock_was_set_gets_its_start_from_its_end_and_duration(tmp_path):
    # The charger boots without Wi-Fi, a car plugs in at once; SNTP sets the clock 10 minutes later;
    # the session ends after 2 h. Before: start null, start_utc empty in the CSV (a spreadsheet or
    # evcc reading the history cannot place the session on a day). The end and the duration are
    # both known, so the start is too: end - duration.
    from evse.services.history import csv

    rec = _session(tmp_path, 1_800_000_000, 600_000, 7_200_000)
    assert rec["end"] == 1_800_000_000 + 6600 and rec["dur_s"] == 7200
    assert rec["start"] == 1_800_000_000 - 600
    line = csv([rec]).split("\r\n")[1]
    assert line.split(",")[1:4] == ["2027-01-15T07:50:00Z", "2027-01-15T09:50:00Z", "7200"]


def test_a_session_cut_by_a_power_failure_after_the_clock_was_set_gets_its_start_too(tmp_path):
    rec = _session(tmp_path, 1_800_000_000, 600_000, 3_600_000, cut=True)
    assert rec["reason"] == "power_loss" and rec["start"] == rec["end"] - rec["dur_s"]
    assert rec["start"] == 1_800_000_000 - 600


def test_a_session_whose_clock_was_never_set_keeps_both_times_unknown(tmp_path):
    rec = _session(tmp_path, 1_800_000_000, 10**9, 60_000)
    assert rec["start"] is None and rec["end"] is None and rec["dur_s"] == 60


# --- the set-up access point's password ------------------------------------------------------
def wifi_board():
    import types

    from tools.sim.rig import load_board

    b = types.ModuleType("board_with_wifi")
    b.__dict__.update({k: v for k, v in vars(load_board("sim")).items() if not k.startswith("__")})
    b.WIFI = True
    return b


def first_boot(flash_dir, **cfg):
    """A new board with Wi-Fi and no network: its set-up access point, as a phone sees it (the
    name and the WPA2 key it was opened with) and the console's status of the network."""
    from tools.sim.drive import Drive
    from tools.sim.mock_machine import network

    flash_dir.mkdir(exist_ok=True)
    d = Drive(board=wifi_board(), config=dict({"max_current": 32}, **cfg), flash_dir=str(flash_dir))
    d.run(1)
    ap = network.WLAN(network.AP_IF).config
    return d, ap("ssid"), ap("key"), d.app.status(0)["net"]


def test_the_set_up_access_points_password_cannot_be_guessed_from_its_name(tmp_path):
    # ETSI EN 303 645 provision 5.1-2: a password set per device must not be derivable from public
    # information. Before: "evse-" and the board id's last 8 hex digits, the name showing 6 of
    # them: one of 256 guesses from the name alone (on the ESP32 the id is the MAC address, which
    # the access point's BSSID shows whole). Now 12 random characters (60 bits), made on the first
    # boot and kept on flash; the console's status (USB) shows them while the access point is up.
    import binascii

    from tools.sim import mock_machine as mm

    d, ssid, key, net = first_boot(tmp_path / "a")
    guesses = {"evse-%02x%s" % (b, ssid[5:]) for b in range(256)}
    board_id = binascii.hexlify(mm.unique_id()).decode()
    assert net["setup_ap"] == ssid and ssid.startswith("evse-")
    assert key not in guesses and board_id[-6:] not in key and len(key) == 12
    assert net["setup_key"] == key
    # another board (its own flash) gets its own; the same board keeps its own over a reboot
    _, _, other, _ = first_boot(tmp_path / "b")
    _, _, again, _ = first_boot(tmp_path / "a")
    assert other != key and again == key


def test_the_password_is_on_the_console_and_evsectl_but_not_on_the_web_status(tmp_path):
    from evse.services import web
    from tools.evsectl.__main__ import fmt_status

    d, ssid, key, _ = first_boot(tmp_path)
    st = d.app.status(0)
    assert key not in repr(web.view(st))
    assert "wifi set-up join %s  password %s" % (ssid, key) in fmt_status(dict(st, ok=True))


def test_a_password_of_ones_own_is_used_and_never_shown(tmp_path):
    d, ssid, key, net = first_boot(tmp_path, wifi_ap_password="my own set-up key")
    assert key == "my own set-up key" and "setup_key" not in net
    assert not (tmp_path / "ap_key.json").exists()


class EchoBus(WireBus):
    """An RS-485 adapter whose receiver stays on while it sends: the request comes back (its 8
    bytes), then, after the meter's latency, the reply."""

    def write(self, data):
        n = super().write(data)
        if self.sched:
            self.sched[:0] = [(self.t + (i + 1) * self.char_ms, b) for i, b in enumerate(bytes(data))]
        return n


@pytest.mark.parametrize("regmap", [SDM120, SDM630])
def test_the_echo_of_the_request_before_the_reply_is_skipped(regmap):
    # Before (even with the reply found after a byte of noise): the echo's first 5 bytes made a
    # complete "frame" that failed its CRC before the reply had begun, and the reply's bytes were
    # thrown away: 0 readings in 5 s, 15 CRC errors. A bad frame is judged once the bus is quiet
    # (the retry waited for that anyway), so the reply after it is read.
    bus = EchoBus(9600, {1: METER})
    master = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    src = ModbusSource(master, regmap, 1, interval_ms=1000)
    assert run(bus, [src], 5) == [5] and src.ok and master.crc_errors == 0
    assert bus.collisions == 0 and bus.requests == 5 * len(regmap["reads"])


def test_a_burst_of_noise_before_the_reply_is_skipped():
    bus = NoisyBus(9600, {1: METER}, bytes(12))            # 12 bytes of 0x00: two "frames" that fail
    master = modbus.ModbusMaster(bus, timeout_ms=300, retries=2)
    src = ModbusSource(master, SDM630, 1, interval_ms=1000)
    assert run(bus, [src], 5) == [5] and src.amps == [32.0, 31.0, 30.0] and master.crc_errors == 0
