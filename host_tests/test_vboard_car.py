"""A whole session on the virtual board, driven as a user would from the command line: `evse car
plug`, `ask`, `stop`, `unplug` against a running `evse vboard`, the charger watched with its console.
The car stays plugged across a reboot (the vboard, not the board's VM, keeps its state)."""
import subprocess
import sys

from tools.vboard import car
from vboard_helpers import ROOT, installed_board, needs_vboard, status_when, wait_a1

CAR_TIMEOUT_S = 30


def run_car(sock, *words):
    return subprocess.run([sys.executable, "-m", "tools.vboard.car", "--socket", sock] + list(words),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=CAR_TIMEOUT_S)


def test_car_commands_change_only_what_a_car_changes():
    s = car.command(car.UNPLUGGED, ["plug"])
    assert (s["plugged"], s["ev"], s["pp"]) == (1, car.EV_B_OHMS, car.PP_LATCHED)
    s = car.command(s, ["ask", "16"])
    assert (s["ev"], s["follow"]) == (car.EV_C_OHMS, 16.0)
    assert car.command(s, ["stop"])["ev"] == car.EV_B_OHMS
    assert car.command(s, ["unplug"]) == car.UNPLUGGED
    for bad in (["ask"], ["fly"]):
        try:
            car.command(car.UNPLUGGED, bad)
        except ValueError:
            continue
        raise AssertionError("%s accepted" % bad)
    assert car.state_line(car.UNPLUGGED) == "plugged=0 ev=- pp=- follow=-\n"


def test_no_vboard_is_exit_3(tmp_path):
    r = run_car(str(tmp_path / "car.sock"), "plug")
    assert r.returncode == car.EXIT_NO_BOARD and "evse vboard" in r.stderr


@needs_vboard
def test_plug_ask_stop_unplug_on_the_virtual_board(tmp_path, installed_flash):
    b = installed_board(tmp_path, installed_flash)      # a charger as `make flash` installed it
    sock = str(tmp_path / "car.sock")
    try:
        wait_a1(b.tty)
        r = run_car(sock, "ask")
        assert r.returncode == car.EXIT_REFUSED and "not plugged" in r.stderr
        r = run_car(sock, "plug")
        assert r.returncode == 0 and "plugged" in r.stdout, r.stderr
        status_when(b.tty, lambda st: st["state"].startswith("B"), "B after plug")
        assert run_car(sock, "ask", "16").returncode == 0
        st = status_when(b.tty, lambda st: st["state"] == "C2" and st["contactor"], "C2, contactor closed")
        assert st["fault"] is None
        assert run_car(sock, "stop").returncode == 0
        status_when(b.tty, lambda st: st["state"].startswith("B") and not st["contactor"], "B, open")
        r = subprocess.run([sys.executable, "-m", "tools.evsectl", "--port", b.tty, "--timeout", "30",
                            "reboot"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout
        status_when(b.tty, lambda st: st["state"].startswith("B"), "still plugged after the reboot")
        assert run_car(sock, "unplug").returncode == 0
        wait_a1(b.tty)
    finally:
        b.stop()
