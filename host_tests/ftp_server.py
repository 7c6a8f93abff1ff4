"""A real FTP server for the tests: PyPI's pyftpdlib on a free port of 127.0.0.1, in a thread, over a
temporary folder, with one account and anonymous read access; and the misbehaving servers the
firmware's client must survive (`mode`): "old" (no EPSV nor SIZE: PASV only), "dead_pasv" (the
passive port it names refuses the connection), "cut" (the server goes away after CUT_AT bytes of a
file, either way)."""
import logging
import os
import threading
import warnings

from tools.waiting import free_port

with warnings.catch_warnings():            # pyftpdlib 2.2 on Python 3.11: asyncore, asynchat
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import DTPHandler, FTPHandler, ThrottledDTPHandler
    from pyftpdlib.servers import FTPServer

USER = "cp1"
PASSWORD = "p@ss:w/rd %#1"                        # every character a URI's userinfo must encode
PASSWORD_IN_URI = "p%40ss%3Aw%2Frd%20%25%231"
CUT_AT = 1000                                     # bytes of a file before "cut" goes away
_LOG = logging.getLogger("pyftpdlib")      # quiet: "cut" makes it print tracebacks
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False


class _CutDTP(DTPHandler):
    ac_in_buffer_size = 256         # an upload read in small pieces: the cut comes inside it

    def handle_read(self):          # upload: CUT_AT bytes in, then the server is gone
        super().handle_read()
        if self.tot_bytes_received >= CUT_AT:
            self.cmd_channel.close()
    handle_read_event = handle_read

    def send(self, data):           # download: CUT_AT bytes out, then the server is gone
        n = super().send(data[:max(1, CUT_AT - self.tot_bytes_sent)])
        if self.tot_bytes_sent + n >= CUT_AT:
            self.cmd_channel.close()
        return n


class FtpServer:
    def __init__(self, root, mode="ok", rate=0):
        """rate: bytes per second on the data connection, either way (0: no limit)."""
        self.root = str(root)
        self.logins = []              # (user, ok) in order
        os.makedirs(os.path.join(self.root, "diag"), exist_ok=True)   # STOR makes no folder
        auth = DummyAuthorizer()
        auth.add_user(USER, PASSWORD, self.root, perm="elradfmw")
        auth.add_anonymous(self.root, perm="elr")
        logins = self.logins

        class Handler(FTPHandler):
            authorizer = auth
            auth_failed_timeout = 0.05
            use_sendfile = False
            banner = "test server ready"

            def on_login(self, username):
                logins.append((username, True))

            def on_login_failed(self, username, password):
                logins.append((username, False))

            def ftp_EPSV(self, line):
                if mode in ("old", "dead_pasv"):
                    return self.respond("502 EPSV not implemented.")
                return super().ftp_EPSV(line)

            def ftp_SIZE(self, path):
                if mode == "old":
                    return self.respond("502 SIZE not implemented.")
                return super().ftp_SIZE(path)

            def ftp_PASV(self, line):
                if mode == "dead_pasv":
                    p = free_port()          # nothing listens on it
                    return self.respond("227 Entering passive mode (127,0,0,1,%d,%d)." % (p >> 8, p & 255))
                return super().ftp_PASV(line)
        if mode == "cut":
            Handler.dtp_handler = _CutDTP
        elif rate:
            Handler.dtp_handler = type("Throttled", (ThrottledDTPHandler,), {"read_limit": rate, "write_limit": rate})
        self.server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self.server.close_all()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def url(self, path, user=USER, password=PASSWORD_IN_URI):
        cred = "" if user is None else "%s:%s@" % (user, password)
        return "ftp://%s127.0.0.1:%d%s" % (cred, self.port, path)

    def file(self, name):
        with open(os.path.join(self.root, name), "rb") as f:
            return f.read()

    def put(self, name, data):
        path = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
