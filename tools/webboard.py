"""The virtual board serving the web page and API (`python -m tools.vboard --web PORT`), with a car
the caller plugs in (`evse car`, tools/vboard/car.py); and the longest control-tick gap under API load. Used by
host_tests/test_web_vboard.py and `make bench` (tools/benchmarks/bench_web.py)."""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from tools.waiting import free_port, stop_process, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PW = "bench-password-0123"
FLASH_TIMEOUT_S = 300
BOOT_TIMEOUT_S = 90
GAP_WINDOW_S = 20        # the status's tick_gap_ms covers the last 10-20 s


class WebBoard:
    """python -m tools.vboard --web PORT on a flash of its own, with a car the test plugs in."""

    def __init__(self, tmp, settings=None):
        """settings: more of the board's settings beside the installer's rating (OCPP, MQTT)."""
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        flash = os.path.join(tmp, "flash")
        os.makedirs(flash)
        with open(os.path.join(flash, "settings.json"), "w") as f:
            json.dump(dict(settings or {}, max_current=32), f)      # the installer's rating
        self.car_socket = os.path.join(tmp, "car.sock")       # beside the tty: the vboard's default
        env = dict(os.environ)
        self.err = open(os.path.join(tmp, "vboard.log"), "w")
        self.p = subprocess.Popen([sys.executable, "-m", "tools.vboard", "--flash", flash,
                                   "--link", os.path.join(tmp, "tty"), "--web", str(self.port),
                                   "--web-password", PW], cwd=ROOT, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=self.err)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for("make flash onto the virtual board", lambda: self._said("flash "), FLASH_TIMEOUT_S)
        if self._said("flash failed"):
            self.stop()
            raise AssertionError("".join(self.lines))
        wait_for("the web API answering A1", lambda: self.status_or_none("A1"), BOOT_TIMEOUT_S)

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)

    def _said(self, word):
        return any(x.startswith(word) or word in x for x in self.lines)

    def car(self, *words):
        """`evse car WORDS` against this board (plug, ask [AMPS], stop, unplug)."""
        subprocess.run([sys.executable, "-m", "tools.vboard.car", "--socket", self.car_socket] + list(words),
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    def get(self, path, headers=None):
        req = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()

    def post(self, path, body, auth=True, method="POST"):
        h = {"Content-Type": "application/json"}
        if auth:
            h["Authorization"] = "Basic " + base64.b64encode(("admin:" + PW).encode()).decode()
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def status(self):
        return json.loads(self.get("/api/v1/status")[2])

    def status_or_none(self, state=None):
        try:
            st = self.status()
        except (OSError, ValueError):
            return None
        return st if state is None or st["state"] == state else None

    def stop(self):
        stop_process(self.p, 30)
        self.err.close()


def tick_gap_under_load(board, seconds=10, clients=8):
    """(idle gap ms, loaded gap ms, tools.webload's figures): the load runs niced, as clients on
    other machines would leave the board its CPU."""
    time.sleep(GAP_WINDOW_S)
    idle = board.status()["tick_gap_ms"]
    r = subprocess.run([sys.executable, "-m", "tools.webload", board.url, "--seconds", str(seconds),
                        "--clients", str(clients), "--password", PW], cwd=ROOT, text=True,
                       stdout=subprocess.PIPE, timeout=seconds + 60, preexec_fn=lambda: os.nice(19))
    done = json.loads(r.stdout)
    return idle, board.status()["tick_gap_ms"], done
