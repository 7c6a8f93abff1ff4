# The Pico W's board file on the MicroPython unix port: boards/rpi_pico.py's values, then its own
# (BASE), as make flash writes them into /board.py; the charger charges with it and starts its Wi-Fi.
from tools.sim import mock_machine
mock_machine.install()   # the firmware's `machine`
from tools.sim.drive import Drive
from tools.sim.rig import load_board

import upytest


def test_the_pico_w_is_the_pico_with_wifi_and_charges():
    b = load_board("rpi_pico_w")
    assert (b.NAME, b.MAX_CURRENT_A, b.PILOT_PWM_PIN, b.WIFI, b.LED_PIN) == ("rpi_pico_w", 32, 16, True, "LED")
    d = Drive(config={"max_current": 40}, board=b)
    d.run(0.5).charge()
    assert d.state == "C2" and d.coil and d.app.charger.out.amps_x10 == 320
    assert d.app.net is not None and d.app.errors == [], d.app.errors


if __name__ == "__main__":
    upytest.run(globals())
