"""For the host tools and tests: wait on a condition (never on a wall-clock guess) and pick a free TCP
port on 127.0.0.1."""
import socket
import time

POLL_S = 0.1


def wait_for(what, pred, timeout):
    """pred()'s first true value, polled until the deadline; else AssertionError saying what."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("waited %.0f s for %s" % (timeout, what))
        time.sleep(POLL_S)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
