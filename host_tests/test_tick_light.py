"""The tick light: a board with TICK_LED lights its LED while the control tick runs (measure, step,
apply, feed) and never while the services do (the core's events to the console, OCPP, MQTT, the
journal, the polls). A scope on the Pico's GP25 times the tick; the emulated Pico's bench counts the
cycles while it is lit (`rp2_control_cpu` in `make bench`)."""
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive


class LedAtEvents:
    """A service listening to the core's events: the LED's level at each one."""

    def __init__(self, led):
        self.led = led
        self.levels = []

    def on_event(self, ev, now_ms):
        self.levels.append(mm.Pin(self.led).value())


def test_the_picos_led_is_lit_once_a_tick_and_dark_while_the_services_hear_its_events():
    d = Drive(config={"max_current": 32}, board="rpi_pico")
    led = d.rig.board.LED_PIN
    edges = []
    d.rig.add_pin_hook(lambda pin, level: edges.append(level) if pin == led else None)
    heard = LedAtEvents(led)
    d.app.listeners.append(heard)
    d.run(0.5)
    d.charge(amps=32)                                # plug, 0.5 s, C, 1 s: closed
    d.run(0.5)
    d.unplug()
    d.run(0.5)
    ticks = 300                                      # 3 s of 10 ms ticks after the hooks
    assert edges[:2] == [1, 0]
    assert edges == [1, 0] * (len(edges) // 2)       # on, off: never left lit
    assert abs(len(edges) // 2 - ticks) <= 2
    assert len(heard.levels) >= 6 and set(heard.levels) == {0}   # plug, B->C, close, unplug ...
    assert mm.Pin(led).value() == 0


def test_a_board_without_a_tick_light_drives_no_led():
    d = Drive(config={"max_current": 32}, board="sim")      # LED_PIN None
    assert not getattr(d.rig.board, "TICK_LED", False)
    changed = []
    d.rig.add_pin_hook(lambda pin, level: changed.append(pin))
    d.run(0.5)
    assert set(changed) <= set(d.rig.board.CONTACTOR_PINS) | {d.rig.board.RCD_TEST_PIN, d.rig.board.PILOT_PWM_PIN}


def test_the_emulated_picos_control_ticks_join_each_capture_start_to_its_tick():
    from tools.rp2emu import control_ticks
    lit = [(0, 1100, 110000),                      # A: a tick alone
           (10000, 10800, 80000),
           (18000, 18100, 10000), (20000, 23800, 380000),   # the capture's start, its tick
           (28000, 28100, 10000), (30000, 32000, 200000),
           (38000, 38100, 10000), (40000, 45900, 590000),   # a long tick: the next capture still 8 ms on
           (48000, 48100, 10000), (50000, 51000, 100000)]
    assert control_ticks(lit) == [(1100, 110000), (10800, 80000), (23800, 390000), (32000, 210000),
                                  (45900, 600000), (51000, 110000)]
