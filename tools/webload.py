"""Load on the charger's web API from this host, as several browsers and scripts at once would:

    python -m tools.webload http://127.0.0.1:8080 --seconds 10 --clients 8 --password PW

Half the clients read /api/v1/status, half set the current limit (HTTP Basic auth); one JSON line:
requests answered, failed, and per second. The control loop's longest tick gap is the board's to
report (GET /api/v1/status, tick_gap_ms). On a shared host run it niced (the board is not this host).
"""
import argparse
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.request


def load(url, seconds, clients, password):
    auth = "Basic " + base64.b64encode(("admin:" + password).encode()).decode()
    done = [0, 0]
    stop = time.monotonic() + seconds

    def client(i):
        while time.monotonic() < stop:
            if i % 2:
                req = urllib.request.Request(url + "/api/v1/limit", data=json.dumps({"amps": 10 + i}).encode(),
                                             headers={"Authorization": auth, "Content-Type": "application/json"},
                                             method="POST")
            else:
                req = url + "/api/v1/status"
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
                done[0] += 1
            except (OSError, urllib.error.HTTPError):
                done[1] += 1
    ts = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"requests": done[0], "failed": done[1], "per_s": round(done[0] / seconds, 1),
            "seconds": seconds, "clients": clients}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.webload", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--password", default="")
    a = ap.parse_args(argv)
    print(json.dumps(load(a.url.rstrip("/"), a.seconds, a.clients, a.password)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
