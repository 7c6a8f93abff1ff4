"""Firmware Management's transfer code on this interpreter: the HTTP client downloads a bundle from a
local server into flash, the bundle is staged (sha256 per file) and activated, and GetDiagnostics'
upload reaches the server. Under CPython (pytest) and the MicroPython unix port
(python -m tools.toolchain.upy_tests host_tests/upy/test_ocpp_firmware_upy.py)."""
import asyncio
import gc
import hashlib
import json
import os

from ocpp_fakes import tmpdir

PORT = 18000 + int.from_bytes(os.urandom(1), "big") * 8


def _bundle():
    body = b"VERSION = '9.0.0'\n"
    files = [("evse/app.py", b"#\n"), ("evse/core/charger.py", b"#\n"), ("evse/core/version.py", body),
             ("evse/shell/bundle.py", b"#\n")]
    m = {"format": "evse-bundle/1", "version": "9.0.0", "files": [
        {"path": p, "size": len(b), "sha256": "".join("%02x" % x for x in hashlib.sha256(b).digest())}
        for p, b in files]}
    return json.dumps(m).encode() + b"\n" + b"".join(b for _, b in files)


class _Server:
    def __init__(self, files):
        self.files = files
        self.received = {}

    async def serve(self, reader, writer):
        method, path, _ = (await reader.readline()).decode().split(" ", 2)
        length = 0
        while True:
            line = (await reader.readline()).decode().strip()
            if not line:
                break
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if method == "PUT":
            self.received[path] = await reader.readexactly(length)
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        elif path in self.files:
            body = self.files[path]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()


class _Svc:
    def __init__(self, d):
        self.flash_dir = d + "/ocpp"
        os.mkdir(self.flash_dir)
        self.settings = {"ocpp_id": "cp1"}
        self.state = {"boot": 3}
        self.sent = []
        self.last_error = None
        self.dns_server = None        # no Wi-Fi of its own: the host's getaddrinfo
        self.t = 0

    def ticks(self):
        self.t += 1000
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def queue_call(self, action, payload):
        self.sent.append((action, payload["status"]))


def test_download_stage_activate_and_upload_over_http():
    gc.collect()
    from evse.ocpp import firmware
    from evse.shell import bundle
    d = tmpdir("ocpp_fw_upy")
    svc = _Svc(d)
    with open(d + "/faults.json", "w") as f:
        f.write('{"records": [[1, "state_e", "fault"]]}')
    srv = _Server({"/b.bin": _bundle()})
    base = "http://127.0.0.1:%d" % PORT

    async def main():
        server = await asyncio.start_server(srv.serve, "127.0.0.1", PORT)
        job = {"loc": base + "/b.bin", "n": 1, "iv": 1}
        root = firmware.fw_root(svc)
        ok = await firmware.download(svc, job, root, root + "/download.bin")
        missing = await firmware.download(svc, {"loc": base + "/nope", "n": 1, "iv": 1}, root, root + "/x.bin")
        await firmware.upload_diagnostics(svc, {"location": base + "/diag/"}, "diag.txt")
        server.close()
        return ok, missing, root
    ok, missing, root = asyncio.run(main())
    assert ok and not missing and "404" in svc.last_error
    out = {}
    for _ in bundle.stage(root, root + "/download.bin", out):
        pass
    bundle.activate(root, out["slot"])
    assert bundle.state(root)["active"] == "a" and bundle.select(root) == root + "/a"
    assert svc.sent == [("FirmwareStatusNotification", "Downloading")] * 2 + [
        ("DiagnosticsStatusNotification", "Uploading"), ("DiagnosticsStatusNotification", "Uploaded")]
    assert b"state_e" in srv.received["/diag/diag.txt"]


if __name__ == "__main__":
    import upytest
    upytest.run(globals())
