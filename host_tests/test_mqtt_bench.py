"""MQTT end to end on the virtual bench: the unmodified firmware (App with mqtt_url set, its real core
and hal on the mock machine, driven by tools.sim.drive) against a real broker (Debian's mosquitto on a
free port of 127.0.0.1), watched by a subscriber to '#'. As in test_ocpp_bench, a driver task
advances virtual time one control tick per loop iteration; the broker runs on real time."""
import asyncio
import json

import pytest

from live_bench import LiveBench, run
from mqtt_broker import Proxy, Subscriber, make_certs
from evse.services import ha
from tools.sim.drive import Drive

DUTY_PER_AMP = 1 / 0.6   # facts 2: duty % = A / 0.6 (6-51 A)


class Bench(LiveBench):
    def __init__(self, port, tmp_path, scheme="mqtt", **settings):
        LiveBench.__init__(self)
        cfg = {"max_current": 32, "meter": "ct", "mqtt_url": "%s://127.0.0.1:%d" % (scheme, port),
               "mqtt_prefix": "garage/evse", "serial": "SN42"}
        cfg.update(settings)
        self.d = Drive(config=cfg, flash_dir=str(tmp_path))
        self.app = self.d.app
        self.svc = self.app.mqtt
        self.world = self.d.world
        self.world.follow_max = 32.0

    def seen(self):
        return "mqtt %r" % ((self.svc.status(), self.app.errors, self.svc.sent, self.svc.wake.is_set()),)


async def eventually(pred, seconds=5):
    """Real time, for what the broker delivers to the test's subscriber."""
    end = asyncio.get_running_loop().time() + seconds
    while not pred():
        assert asyncio.get_running_loop().time() < end, "not within %s s" % seconds
        await asyncio.sleep(0.02)


P = "garage/evse/"


def test_app_starts_mqtt_only_when_configured(tmp_path):
    (tmp_path / "off").mkdir()
    d = Drive(config={"max_current": 32}, flash_dir=str(tmp_path / "off"))
    assert d.app.mqtt is None and d.app.fallback is None
    d = Drive(config={"max_current": 32, "mqtt_url": "mqtt://127.0.0.1:9"}, flash_dir=str(tmp_path))
    assert d.app.mqtt in d.app.services and d.app.mqtt in d.app.listeners
    d.run(2.0)
    d.charge(16)        # no broker there: the charger charges all the same
    assert d.state == "C2"


def test_discovery_states_and_commands_through_a_real_broker(tmp_path, mosquitto):
    broker = mosquitto()

    async def main():
        sub = await Subscriber(broker.port).start()
        b = await Bench(broker.port, tmp_path).start()
        d = b.d
        try:
            await b.until(lambda: sub.last(P + "status") == "online", what="online")
            # discovery: one retained config per entity, as ha.configs builds them
            want = dict(ha.configs("garage/evse", b.app.cfg))
            await b.until(lambda: all(sub.last(t) for t in want), what="discovery")
            for t, payload in want.items():
                assert json.loads(sub.last(t)) == json.loads(payload)
            await b.until(lambda: sub.last(P + "state") == "A1", what="state A1")
            # retained: a client that subscribes later (Home Assistant starting) gets them all
            late = await Subscriber(broker.port).start()
            await b.until(lambda: late.last(P + "total_wh"), what="retained states")
            got = dict((t, r) for t, _, r in late.msgs)
            assert all(got.get(t) for t in want) and got[P + "status"] and got[P + "state"]
            await late.close()
            assert sub.last(P + "limit_a") == "32.0" and sub.last(P + "enabled") == "ON"
            assert sub.last(P + "total_wh") == "0" and sub.last(P + "fault") == "none"
            # state updates on change: plug in, charge
            d.plug()
            await b.until(lambda: sub.last(P + "state") == "B2", what="B2")
            d.ev("C")
            d.world.draw_amps = 16
            await b.until(lambda: sub.last(P + "contactor") == "ON", what="contactor")
            await b.until(lambda: sub.last(P + "state") == "C2", what="C2")
            await b.until(lambda: int(sub.last(P + "power_w") or 0) > 3000, 5, "power")
            assert abs(d.duty - 32 * DUTY_PER_AMP) < 0.05
            # the limit command: the duty follows (a lower current at once)
            await sub.publish(P + "limit/set", "10")
            await b.until(lambda: b.app.charger.out.amps_x10 == 100, 3, "10 A advertised")
            assert abs(d.duty - 10 * DUTY_PER_AMP) <= 0.05 and d.coil
            await b.until(lambda: sub.last(P + "limit_a") == "10.0", what="limit published")
            st = b.app.status(0)
            assert st["limit_by"] == "mqtt" and st["mqtt"]["connected"] and st["mqtt"]["connects"] == 1
            # refused with a reason, nothing changed (the console's one check of every limit)
            for bad in ("ten", "81", "nan", "-1"):
                await sub.publish(P + "limit/set", bad)
            await b.until(lambda: len(sub.values(P + "error")) == 4, what="errors")
            assert all(e.startswith("limit: ") for e in sub.values(P + "error"))
            assert b.app.charger.limit_x10() == 100
            # the switch: disabled opens the contactor, enabled again offers again
            await sub.publish(P + "enabled/set", "OFF")
            await b.until(lambda: sub.last(P + "contactor") == "OFF", 10, "contactor open")
            assert not d.coil and sub.last(P + "enabled") == "OFF" and not b.app.charger.enabled
            await sub.publish(P + "enabled/set", "ON")
            await b.until(lambda: sub.last(P + "enabled") == "ON", 3, "enabled")
            # the number entity says none: MQTT's limit goes, the settings' 32 A is back
            await sub.publish(P + "limit/set", "none")
            await b.until(lambda: sub.last(P + "limit_a") == "32.0", 3, "limit removed")
            assert "mqtt" not in b.app.charger.limits
        finally:
            await b.stop()
            await sub.close()

    run(main())


def test_tls_with_the_brokers_ca_and_a_wrong_ca_refused(tmp_path, mosquitto):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca, cert, key = make_certs(tmp_path / "a")
    other_ca = make_certs(tmp_path / "b")[0]
    broker = mosquitto(tls=(ca, cert, key))

    async def main():
        sub = await Subscriber(broker.port).start()
        for name, pem in (("ok", ca), ("bad", other_ca)):      # the CA file on the flash
            (tmp_path / name).mkdir()
            (tmp_path / name / "ca.pem").write_bytes(open(pem, "rb").read())
        b = await Bench(broker.tls_port, tmp_path / "ok", "mqtts", mqtt_ca_file="ca.pem").start()
        bad = await Bench(broker.tls_port, tmp_path / "bad", "mqtts", mqtt_ca_file="ca.pem",
                          mqtt_prefix="bad/evse").start()
        try:
            await b.until(lambda: sub.last(P + "status") == "online", what="online over TLS")
            await sub.publish(P + "limit/set", "12")
            await b.until(lambda: b.app.charger.limits.get("mqtt") == 120, 3, "command over TLS")
            await bad.until(lambda: bad.svc.last_error and "connect" in bad.svc.last_error, 5, "refused")
            assert sub.last("bad/evse/status") is None and not bad.svc.connected
        finally:
            await b.stop()
            await bad.stop()
            await sub.close()

    run(main())


def test_last_will_on_a_dropped_link_and_reconnect_after_a_broker_restart(tmp_path, mosquitto):
    broker = mosquitto()

    async def main():
        proxy = await Proxy(broker.port).start()
        sub = await Subscriber(broker.port).start()
        b = await Bench(proxy.port, tmp_path).start()
        d = b.d
        try:
            await b.until(lambda: sub.last(P + "status") == "online", what="online")
            d.plug()
            d.ev("C")
            d.world.draw_amps = 16
            await b.until(lambda: d.coil, 5, "charging")
            # the link drops (no DISCONNECT): the broker publishes the will, retained
            proxy.cut()
            await b.until(lambda: sub.last(P + "status") == "offline", 5, "last will")
            assert d.coil and d.state == "C2"     # the charger charges on, the tick never waited
            proxy.allow()
            await b.until(lambda: sub.last(P + "status") == "online", 300, "back online")
            assert b.svc.connects == 2
            # the broker restarts: it has forgotten everything; the charger reconnects with backoff
            broker.stop()
            await sub.close()
            await b.until(lambda: not b.svc.connected, 5, "broker gone")
            await asyncio.sleep(0.5)
            broker.start()
            sub2 = await Subscriber(broker.port).start()
            await b.until(lambda: sub2.last(P + "status") == "online", 600, "reconnected")
            await b.until(lambda: sub2.last(P + "state") == "C2", 5, "states again")
            assert sub2.last("homeassistant/number/garage_evse/current_limit/config")
            assert d.coil and b.app.errors == []
            await sub2.close()
        finally:
            await b.stop()
            await proxy.close()

    run(main())


@pytest.mark.parametrize("scheme", ["mqtt", "mqtts"])
def test_the_service_on_the_micropython_unix_port_against_the_broker(tmp_path, scheme, mosquitto):
    """The same service on MicroPython's asyncio (open_connection, readexactly, wait_for, Event),
    in the clear and over TLS (the port's own ssl, checking the broker against ca.pem on its
    flash): online, discovery, a state change, a limit command the duty follows; the heap it
    costs; and the last will when the process dies without a word (SIGKILL: a crash, a power cut)."""
    import os
    from tools.toolchain import upy_tests as U
    assert not U.precompile()
    (tmp_path / "certs").mkdir()
    (tmp_path / "flash").mkdir()
    ca, cert, key = make_certs(tmp_path / "certs") if scheme == "mqtts" else (None, None, None)
    broker = mosquitto(tls=(ca, cert, key) if ca else None)
    if ca:
        (tmp_path / "flash" / "ca.pem").write_bytes(open(ca, "rb").read())
    port = broker.tls_port if ca else broker.port
    script = os.path.join(os.path.dirname(__file__), "upy_live", "mqtt_live.py")

    async def main():
        sub = await Subscriber(broker.port).start()
        proc = await asyncio.create_subprocess_exec(
            # 288k: at 256k the TLS connect met a MemoryError once on a loaded machine (two emulated
            # Picos beside a clean-clone CI), after the core's quiet tick took 3.8 KB more at boot
            U.micropython(), "-X", "heapsize=288k", script, str(port), scheme, str(tmp_path / "flash"),
            env=U.upy_env(),
            cwd=U.ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        lines = []
        try:
            async def line_with(word):
                while True:
                    raw = await asyncio.wait_for(proc.stdout.readline(), 30)
                    assert raw, "micropython ended: %s" % "".join(lines)
                    lines.append(raw.decode())
                    if raw.startswith(word.encode()):
                        return raw.decode().split()

            assert (await line_with("NOT_CONFIGURED_IMPORTED"))[1] == "[]"   # no heap when off
            assert (await line_with("CONNECTED"))[1] == "True", lines
            await eventually(lambda: sub.last("upy/evse/status") == "online")
            await eventually(lambda: sub.last("homeassistant/number/upy_evse/current_limit/config"))
            assert (await line_with("STATE"))[1] == "B2"
            await sub.publish("upy/evse/limit/set", "10")
            duty = int((await line_with("DUTY"))[1]) / 100
            assert abs(duty - 10 / 0.6) <= 0.05, duty
            await line_with("READY")
            os.killpg(proc.pid, 9)       # the wrapper and the port's process: no DISCONNECT
            await proc.wait()
            await eventually(lambda: sub.last("upy/evse/status") == "offline")   # the will
            print("".join(x for x in lines if x.startswith(("HEAP", "HELD"))))
        finally:
            if proc.returncode is None:
                os.killpg(proc.pid, 9)
                await proc.wait()
            await sub.close()

    run(main())
