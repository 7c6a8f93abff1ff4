"""Files written whole: under a name of this process's own, then renamed over the target. Two builds
at once (two boards flashed from one checkout, two test workers) never read a half-written file,
nor one another's."""
import os


def own_name(path):
    """A name beside path that no other process writes."""
    return "%s.%d.tmp" % (path, os.getpid())


def write_whole(path, data):
    """data (str or bytes) into path, which holds the old content or the new, never a mix."""
    tmp = own_name(path)
    with open(tmp, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    os.replace(tmp, path)
