"""The emulated Pico with nothing plugged in, reachable like a USB board:

    python -m tools.rp2emu [--tcp PORT] [--link build/rp2emu/tty] [--seconds N] [--image UF2]
    make rp2emu-run [TCP=PORT] [IMAGE=build/firmware/rpi_pico/firmware.uf2]

prints `rp2emu: ready port=socket://127.0.0.1:PORT tty=LINK` and runs until stopped (SIGINT/SIGTERM)
or for N emulated seconds. Then e.g. `make flash BOARD=rpi_pico PORT=socket://127.0.0.1:PORT`,
`mpremote connect socket://127.0.0.1:PORT`, or the pty at LINK for tools that want a serial device.
An idle board keeps to the wall clock unless --fast (then it skips its sleeps: faster than real
time, and a running watchdog's 2 s pass in a fraction of the host's time).
Each run starts from the stock image (a fresh flash), or from --image (e.g. the frozen image of
`make firmware BOARD=rpi_pico`, docs/flashing.md); resets within the run keep the flash.
"""
import argparse
import os
import signal
import sys
import threading

from tools import rp2emu


def _pty_bridge(link, tcp):
    """A pseudo-terminal at `link` for tools that want a serial device: it takes the board's TCP
    serial (one client at a time) when it writes, so socket:// clients can come and go too."""
    import pty
    import socket
    import tty
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        os.remove(link)
    except OSError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(link)), exist_ok=True)
    os.symlink(os.ttyname(slave), link)
    conn = {"sock": None}

    def down(sock):
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                if conn["sock"] is sock:
                    conn["sock"] = None
                return
            os.write(master, data)

    def connect():
        sock = socket.create_connection(("127.0.0.1", tcp))
        conn["sock"] = sock
        threading.Thread(target=down, args=(sock,), daemon=True).start()
        return sock

    def up():
        while True:
            data = os.read(master, 4096)
            try:
                (conn["sock"] or connect()).sendall(data)
            except OSError:
                connect().sendall(data)

    threading.Thread(target=up, daemon=True).start()
    return slave


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.rp2emu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tcp", type=int, default=0, help="TCP port of the USB serial (0: any free one)")
    ap.add_argument("--link", default=None, help="also a pty, symlinked here (one client at a time)")
    ap.add_argument("--fast", action="store_true",
                    help="an idle board runs ahead of the wall clock (default: paced like a real one)")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this much emulated time")
    ap.add_argument("--image", default=rp2emu.IMAGE, help="the UF2 (or .bin) to boot (default: the stock one)")
    a = ap.parse_args(argv)
    why = rp2emu.missing() or (None if os.path.exists(a.image) else "no image %s" % a.image)
    if why:
        print("rp2emu: " + why, file=sys.stderr)
        return 1
    stop = []
    signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
    signal.signal(signal.SIGINT, lambda *x: stop.append(1))
    with rp2emu.Pico(rp2emu.load_board("rpi_pico"), tcp=a.tcp, image=a.image, realtime=not a.fast) as pico:
        if a.link:
            _pty_bridge(a.link, pico.tcp)
        print("rp2emu: ready port=%s%s" % (pico.port, " tty=" + a.link if a.link else ""), flush=True)
        pico.pump(until=lambda: bool(stop), wall_s=1e9, emu_s=a.seconds)
        print("rp2emu: stopped at %.3f s emulated, %d boots, CPU %.0f %%" % (
            pico.t_us / 1e6, pico.boots, 100 * pico.cpu_load()), flush=True)
    return 0


if __name__ == "__main__":
    from tools.cli import module_main
    sys.exit(module_main(__spec__.name, main))
