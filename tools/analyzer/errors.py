class CaptureError(Exception):
    """A capture that cannot be analysed (bad file, no pilot, wrong column): exit status 2."""
