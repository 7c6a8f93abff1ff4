# What the meter service needs from the board (evse.metering.meter.make_meter's `hw`), built only when a
# meter is configured so a charger without one spends no RAM on it: CT ADCs, an optional mains
# voltage ADC, the Modbus UART behind an RS-485 transceiver, the S0 pulse interrupt.
import machine
from micropython import const

from .hal import adc_input, sleep_us, ticks_add, ticks_diff, ticks_us

_CT_SLICE_US = const(8000)  # a CT poll samples at most this long (the app's deadline ends it first)
_BITS_PER_BYTE = const(10)  # 8N1 on the wire


class Rs485:
    """A UART behind an RS-485 transceiver whose DE/RE pin the shell drives: DE high for the
    request, released as soon as the UART has sent it (txdone(), or the bytes' time on the wire
    where the port has no txdone). Never waits."""

    def __init__(self, uart, de_pin, baud):
        self.uart = uart
        self.de = machine.Pin(de_pin, machine.Pin.OUT, value=0)
        self._us_per_byte = _BITS_PER_BYTE * 1000000 // baud
        self._tx_end = None
        self._has_txdone = hasattr(uart, "txdone")

    def write(self, buf):
        self.de.value(1)
        n = self.uart.write(buf)
        self._tx_end = ticks_add(ticks_us(), len(buf) * self._us_per_byte)
        return n

    def _release(self):
        if self._tx_end is None:
            return
        done = self.uart.txdone() if self._has_txdone else ticks_diff(ticks_us(), self._tx_end) >= 0
        if done:
            self.de.value(0)
            self._tx_end = None

    def any(self):
        self._release()
        return 0 if self._tx_end is not None else self.uart.any()

    def read(self, n=-1):
        self._release()
        return self.uart.read(n)

    def readinto(self, buf, n=-1):
        self._release()
        return self.uart.readinto(buf) if n < 0 else self.uart.readinto(buf, n)


def modbus_uart(board, cfg):
    """The board's Modbus UART behind its transceiver, or None: for the grid meter (evse.metering.grid)
    when no Modbus charging meter has opened it."""
    return MeterIO._open_uart(board, cfg)


class MeterIO:
    """What make_meter needs from the board, built for the configured kind only (a UART or an
    S0 irq is claimed only when that meter is fitted)."""

    def __init__(self, board, cfg):
        kind = cfg["meter"]
        self.ticks_us = ticks_us
        self.sleep_us = sleep_us
        self.ct_slice_us = _CT_SLICE_US
        self.ct_spc_max = getattr(board, "CT_SPC_MAX", None)   # a slow board's cap on ct_spc
        atten = board.ADC_ATTEN
        self.ct_adcs = ()
        self.v_adc = None
        self.uart = None
        self._board = board
        self._s0_pin = None
        if kind == "ct":
            self.ct_adcs = tuple(adc_input(p, atten) for p in getattr(board, "CT_ADC_PINS", ()))
            self.v_adc = adc_input(getattr(board, "V_ADC_PIN", None), atten)
        elif kind != "none" and kind != "s0":    # a Modbus meter: "modbus" or a model of modbus_maps
            self.uart = self._open_uart(board, cfg)

    @staticmethod
    def _open_uart(board, cfg):
        uid = getattr(board, "MODBUS_UART", None)
        if uid is None:
            return None                   # make_meter reports the meter blind with the reason
        baud = cfg["meter_baud"]
        kw = {}
        tx = getattr(board, "MODBUS_TX_PIN", None)
        if tx is not None:
            kw["tx"] = machine.Pin(tx)
            kw["rx"] = machine.Pin(board.MODBUS_RX_PIN)
        uart = machine.UART(uid, baudrate=baud, bits=8, parity=None, stop=1, **kw)
        de = getattr(board, "MODBUS_DE_PIN", None)
        return uart if de is None else Rs485(uart, de, baud)

    def attach_s0(self, s0):
        """Pin irq on the S0 input: the handler only stamps the pulse (integers, no allocation)."""
        pin = getattr(self._board, "S0_PIN", None)
        if pin is None or s0 is None:
            return False
        on_pulse = s0.on_pulse
        tus = ticks_us

        def irq(p):
            on_pulse(tus())
        self._s0_pin = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_DOWN)
        self._s0_pin.irq(handler=irq, trigger=machine.Pin.IRQ_RISING)
        return True
