"""For the host tools and tests: wait on a condition (never on a wall-clock guess), pick a free TCP
port on 127.0.0.1 and stop a child process."""
import socket
import subprocess
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


def stop_process(p, seconds):
    """SIGTERM to p, then SIGKILL if it has not ended within seconds; returns once it has ended."""
    p.terminate()
    try:
        p.wait(seconds)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
