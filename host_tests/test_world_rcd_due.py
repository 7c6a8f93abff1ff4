"""The residual-current monitor's trip instant, which the emulated Pico is stopped at
(tools/rp2emu: `Pico._world_update`): the world says when the monitor will trip if the current
stays, so the trip reaches the chip then and not at the next 10 ms tick of the emulator's grid.

Bench scenario: charging (the contactor closed), a 300 mA residual current from t0: UL 2231's
curve at 80 % gives 0.8 x (20/300)^1.43 s ~ 16.7 ms; the monitor has not tripped 1 us before that
instant, has tripped at it, and then no instant is due; taken away, none is due either."""
from tools.sim import mock_machine as mm
from tools.sim.mock_machine.world import World
from tools import rp2emu


def test_the_monitor_says_when_it_will_trip():
    mm.install()
    mm.reset_world()
    board = rp2emu.load_board("rpi_pico")
    w = World(board)
    w.plugged, w.ev_ohms, w.pp_ohms = True, 882, 150
    w.recompute()
    mm.Pin(board.CONTACTOR_PINS[0], mm.Pin.OUT, value=1)     # charging
    rcd = mm.Pin(board.RCD_TRIP_PIN, mm.Pin.IN)
    tripped = board.RCD_TRIP_ACTIVE
    t0 = mm.clock.us
    w.rcd_ma = 300.0
    w.update()
    due = w.rcd_trip_due
    assert due is not None and abs(due - t0 - 0.8 * (20 / 300) ** 1.43 * 1e6) <= 1
    mm.clock.advance_us(due - t0 - 1)
    w.update()
    assert rcd.value() != tripped and w.rcd_trip_due == due
    mm.clock.advance_us(1)
    w.update()
    assert rcd.value() == tripped and w.rcd_trip_due is None
    w.rcd_ma = 0.0
    w.update()
    assert w.rcd_trip_due is None
