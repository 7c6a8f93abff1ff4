"""MQTT commands as mosquitto_pub sends them (Debian's mosquitto-clients) to the charger on the
virtual bench, against a real broker (host_tests/mqtt_broker.py)."""
import asyncio
import shutil
import subprocess

import pytest

from mqtt_broker import Subscriber
from test_mqtt_bench import Bench, eventually, run

P = "garage/evse/"


def test_a_command_too_long_to_read_is_refused_on_the_error_topic_not_dropped_in_silence(tmp_path, mosquitto):
    """docs/mqtt.md: a limit/set that is not a number 0..80 or none is refused on `error`, nothing
    changed. One over the 512 bytes the charger reads (a template gone wrong) was dropped with no
    word: the controller waited for a limit that never came."""
    if not shutil.which("mosquitto_pub"):
        pytest.skip("mosquitto_pub not installed (apt-get install mosquitto-clients)")
    broker = mosquitto()

    async def main():
        sub = await Subscriber(broker.port).start()
        a = await Bench(broker.port, tmp_path).start()
        try:
            await a.until(lambda: a.svc.connects == 1 and sub.last(P + "limit_a"), 100, "connected")
            before = a.app.charger.limits.get("mqtt")
            for payload in (b"9" * 2000, b"1" + b" " * 600):
                n = len(sub.values(P + "error"))
                subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", P + "limit/set", "-s"],
                               input=payload, check=True, timeout=10)
                await eventually(lambda: len(sub.values(P + "error")) > n, 10)
                assert sub.values(P + "error")[-1] == "a message over 512 bytes: ignored"
                assert a.app.charger.limits.get("mqtt") == before
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", P + "limit/set", "-m", "10"],
                           check=True, timeout=10)
            await a.until(lambda: a.app.charger.limits.get("mqtt") == 100, 30, "the next command taken")
        finally:
            await a.stop()
            await sub.close()
    run(main())
