"""A thread map without concurrent.futures (whose import, with logging, is 10 ms of the analyzer's
start): numpy, zlib and file reads release the GIL, so two threads keep both cores busy."""

import threading


def thread_map(fn, items, threads):
    """[fn(x) for x in items], the items shared out over `threads` threads in order of need; the
    first exception raised by fn is raised again here."""
    items = list(items)
    out = [None] * len(items)
    if threads < 2 or len(items) < 2:
        return [fn(x) for x in items]
    nxt = iter(range(len(items)))
    lock = threading.Lock()
    errors = []

    def work():
        while not errors:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            try:
                out[i] = fn(items[i])
            except BaseException as e:      # handed to the caller's thread
                errors.append(e)

    pool = [threading.Thread(target=work, daemon=True) for _ in range(min(threads, len(items)) - 1)]
    for t in pool:
        t.start()
    work()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return out
