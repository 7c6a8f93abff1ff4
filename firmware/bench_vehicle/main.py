# The bench vehicle's entry point: copy to the board as /main.py, with /bench_vehicle/ (this
# package) and /evse/core/vocab.py (the state and fault names the scenario parser accepts). Reads
# scenario lines from the USB serial (or the pin map's UART) and answers one JSON line per command.
import sys

import machine

from bench_vehicle import runner


def pin_map():
    if sys.platform == "rp2":
        from bench_vehicle import pins_rpi_pico as pm
    else:
        from bench_vehicle import pins_esp32_devkitc as pm
    return pm


def main():
    pm = pin_map()
    session = runner.build(pm, machine)     # pins come up in the safe state (all off: state A)
    print('{"line": 0, "ok": true, "text": "bench vehicle %s ready"}' % pm.NAME)
    if pm.SERIAL_UART is None:
        while True:
            raw = sys.stdin.readline()
            out = session.handle(raw)
            if out is not None:
                print(out)
    uart = machine.UART(pm.SERIAL_UART, 115200)
    reader = runner.LineReader()
    while True:
        if not runner.serve_uart_once(session, uart, reader):
            machine.idle()


main()
