# The central system's (or the broker's) CA file named in the settings, missing or not a certificate:
# an operator who typed `ocpp_ca_file=/nope.pem` read `connect: no such file or directory (OSError 2)`
# (MicroPython's OSError carries no file name), and for a file that was no certificate `connect:
# ValueError('invalid cert',)`: which file, and that it is the CA file, was not said. The error names
# the setting's file now. Runs on CPython and on the MicroPython unix port.
import os

from evse.shell import tls

import upytest

DIR = "/tmp/evse-tls-ca-%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/evse-tls-ca"


def _error(ca):
    try:
        tls.make_tls_context(ca)
    except Exception as e:
        return str(e)
    return None


def test_a_missing_ca_file_is_named():
    said = _error(DIR + "/nope.pem")
    assert said is not None and DIR + "/nope.pem" in said and "CA file" in said, said


def test_a_ca_file_that_is_no_certificate_is_named():
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    path = DIR + "/ca.pem"
    with open(path, "w") as f:
        f.write("test\n")
    said = _error(path)
    assert said is not None and path in said and "CA file" in said, said


def test_no_ca_file_is_no_error():
    assert _error(None) is None and _error("") is None


if __name__ == "__main__":
    upytest.run(globals())
