# The console under MicroPython's own json (third audit): what a script sends that the port reads
# differently from CPython, and a flood of requests, against a real App on the Rig.
import json

from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`

import upytest


def test_nan_from_python_json_dumps_is_answered_with_its_id():
    # Python's json.dumps writes NaN and Infinity; MicroPython's json reads neither ("not JSON"),
    # which came without the id: the client waited for ever. Nothing changes.
    rig, s = upytest.console_rig()
    s.rx += b'{"id": 7, "cmd": "limit", "amps": NaN}\n{"id": "x", "cmd": "limit", "amps": -Infinity}\n'
    rig.run(0.2)
    r = s.replies()
    assert [(x["id"], x["ok"]) for x in r] == [(7, False), ("x", False)], r
    # MicroPython's json: "not JSON"; CPython's reads the numbers and the limit refuses them
    assert all(x["error"] == "not JSON" or "finite" in x["error"] for x in r), r
    assert rig.app.charger.limits.get("console") is None


def test_a_flood_of_requests_is_answered_every_one():
    # 100 status requests at once (about 2.7 KB): 10 answers before, the others pushed out and
    # counted as dropped event lines.
    rig, s = upytest.console_rig()
    s.rx += b"".join(b'{"cmd": "status", "id": %d}\n' % i for i in range(100))
    lines = []
    for _ in range(100):             # the host reads as it goes (the test's heap is 256 KB)
        rig.run(0.1)
        i = s.tx.rfind(b"\n") + 1
        done, s.tx = s.tx[:i], s.tx[i:]
        for x in done.decode().split("\n"):
            if x.strip():
                x = json.loads(x)
                lines.append(x.get("id", x.get("ev")))
    assert lines == list(range(100)), lines


if __name__ == "__main__":
    upytest.run(globals())
