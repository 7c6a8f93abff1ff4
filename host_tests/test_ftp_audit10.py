"""FTP for GetDiagnostics and UpdateFirmware (OCPP 1.6 sections 5.8 and 5.19: `location` is a URI, and
SteVe's form suggests ftp://user:password@host/path). A real FTP server (PyPI pyftpdlib, host_tests/
ftp_server.py) on a free port of 127.0.0.1 with a password that needs every kind of percent-encoding;
the unmodified firmware on the virtual bench, the central system checking every frame against the
official schemas (octt_cs); the same client on the MicroPython unix port (host_tests/upy_live/
ftp_live.py). On the old code an ftp:// location was always UploadFailed / DownloadFailed."""
import asyncio
import hashlib
import os
import subprocess

import pytest

from evse.ocpp import connection, firmware, ftp
from evse.shell import bundle
from tools import bundle as make_bundle

from ftp_server import PASSWORD, PASSWORD_IN_URI, USER, FtpServer
from octt_cs import call, run_case, status_is
from test_firmware_bundle import firmware_files, slot_version, version_bundle
from test_octt_firmware import diag_statuses, fw_statuses, reboot, update
from test_octt_security import pki, pkis, signed_statuses, signed_update, trust   # noqa: F401 (pkis: a fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def prompt_wakeups(monkeypatch):
    monkeypatch.setattr(connection, "IDLE_WAKE_MS", 10)   # as test_octt_firmware: virtual time runs fast


def ftp_case(tmp_path, scenario, mode="ok", files=None):
    """scenario(cs, power_on, srv) with an FTP server of that mode over tmp_path/ftproot."""
    srv = FtpServer(tmp_path / "ftproot", mode)
    for name, data in (files or {}).items():
        srv.put(name, data)
    srv.start()
    try:
        run_case(tmp_path, lambda cs, power_on: scenario(cs, power_on, srv))
    finally:
        srv.stop()
    return srv


def flash_files_holding(tmp_path, secret):
    """The charger's files (not the server's) that hold `secret`."""
    found = []
    for d, dirs, names in os.walk(str(tmp_path)):
        dirs[:] = [x for x in dirs if x != "ftproot"]
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                if secret.encode() in f.read():
                    found.append(os.path.join(d, n))
    return found


# -- the location ------------------------------------------------------------------------------------
def test_a_location_gives_user_password_host_port_and_file_percent_decoded():
    url = "ftp://%s:%s@ftp.example.org:2121/diag/a%%20b.txt;type=i" % (USER, PASSWORD_IN_URI)
    assert ftp.parse_url(url) == (USER, PASSWORD, "ftp.example.org", 2121, "diag/a b.txt")
    assert ftp.parse_url("ftp://10.0.0.2/fw.bin") == ("anonymous", "anonymous@", "10.0.0.2", 21, "fw.bin")
    assert ftp.parse_url("ftp://u@[::1]/%2Fabs/fw.bin") == ("u", "", "::1", 21, "/abs/fw.bin")
    for bad in ("http://h/x", "ftp://h", "ftp://h/", "ftp://u:%4@h/x"):
        with pytest.raises(ftp.FtpError):
            ftp.parse_url(bad)


def test_a_location_never_smuggles_a_second_command_nor_shows_its_password(tmp_path):
    """A %0D%0A in the file name would end RETR and start a command of the location's choosing
    (here DELE of another file): refused before anything is sent."""
    srv = FtpServer(tmp_path / "ftproot").start()
    srv.put("fw/keep.bin", b"kept")
    try:
        with pytest.raises(ftp.FtpError, match="CR or LF"):
            asyncio.run(ftp.download(srv.url("/fw/x.bin%0D%0ADELE%20fw/keep.bin"), str(tmp_path / "dl"), 100))
    finally:
        srv.stop()
    assert srv.file("fw/keep.bin") == b"kept"
    loc = "ftp://%s:%s@127.0.0.1:21/fw/9.0.0.bin" % (USER, PASSWORD_IN_URI)
    assert firmware.public(loc) == "ftp://127.0.0.1:21/fw/9.0.0.bin"
    assert firmware.public("http://h/a@b") == "http://h/a@b"       # an @ in the path is no userinfo


def test_a_server_that_never_answers_is_given_up_after_the_deadline(monkeypatch):
    """A server that takes the connection and never greets (a firewall holding the port): given up
    after TIMEOUT_S (30 s; 0.3 s here), the attempt failed, the retries go on."""
    monkeypatch.setattr(ftp, "TIMEOUT_S", 0.3)

    async def main():
        held = []
        server = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(asyncio.TimeoutError):
            await ftp.upload("ftp://127.0.0.1:%d/diag/x.txt" % port, [b"x"])
        took = asyncio.get_running_loop().time() - t0
        server.close()
        return took
    assert asyncio.run(main()) < 2


def test_the_ftp_client_is_imported_only_for_an_ftp_location():
    """The boot heap does not grow: firmware.py (itself lazy) does not import ftp.py."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.join(ROOT, p) for p in ("firmware", "tools/hostlib")))
    out = subprocess.run(["python3", "-c", "import sys, evse.ocpp.firmware as f; f.transfer('http://h/x');"
                          "print('evse.ocpp.ftp' in sys.modules); f.transfer('ftp://h/x');"
                          "print('evse.ocpp.ftp' in sys.modules)"], env=env, stdout=subprocess.PIPE, text=True)
    assert out.stdout.split() == ["False", "True"]


def test_an_ftps_location_fails_as_an_unknown_scheme_does():
    """No FTPS: such a location is a failed attempt (UploadFailed, DownloadFailed), never a plain
    FTP login that would send the password in clear to a server that expects TLS."""
    from evse.ocpp import http
    client = firmware.transfer("ftps://u:p@127.0.0.1/diag/x.txt")
    with pytest.raises(http.HttpError):
        asyncio.run(client.upload("ftps://u:p@127.0.0.1/diag/x.txt", [b"x"]))


# -- GetDiagnostics ----------------------------------------------------------------------------------
def test_get_diagnostics_uploads_to_an_ftp_location_with_a_percent_encoded_password(tmp_path):
    async def case(cs, power_on, srv):
        b = await power_on()
        b.d.set(cp_short=True)                         # a fault for the history
        await status_is(b, "Faulted")
        b.d.set(cp_short=False)
        await b.wait(1.0)
        res = await cs.call("cp1", call.GetDiagnostics(location=srv.url("/diag/")))
        await b.until(lambda: "Uploaded" in diag_statuses(cs), 20, "Uploaded")
        assert diag_statuses(cs) == ["Uploading", "Uploaded"]
        body = srv.file("diag/" + res.file_name).decode()
        assert "== faults.json" in body and "state_e" in body, body[:300]
        assert srv.logins == [(USER, True)]
    ftp_case(tmp_path, case)


def test_get_diagnostics_with_a_wrong_password_is_upload_failed_after_its_retries(tmp_path):
    async def case(cs, power_on, srv):
        b = await power_on()
        (tmp_path / "log.txt").write_text("a line of the charger's log\n")
        await cs.call("cp1", call.GetDiagnostics(location=srv.url("/diag/", password="wrong%40"), retries=2,
                                                 retry_interval=2))
        await b.until(lambda: "UploadFailed" in diag_statuses(cs), 20, "UploadFailed")
        assert diag_statuses(cs) == ["Uploading", "Uploading", "UploadFailed"]
        # (the server's thread records a refused login after its 530 reaches the charger)
        await b.until(lambda: len(srv.logins) >= 2, 5, "the second login recorded")
        assert srv.logins == [(USER, False), (USER, False)]
        assert "530" in b.svc.last_error and "wrong" not in b.svc.last_error     # the verb and code only
    ftp_case(tmp_path, case)


@pytest.mark.parametrize("mode", ["dead_pasv", "cut"])
def test_get_diagnostics_to_a_server_that_fails_the_data_connection_is_upload_failed(tmp_path, mode):
    """dead_pasv: the passive port the server names refuses the connection; cut: the server goes away
    after the first 1000 bytes of the file (no 226 ever confirms it)."""
    async def case(cs, power_on, srv):
        b = await power_on()
        (tmp_path / "log.txt").write_text("a line of the charger's log\n" * 200)      # more than the cut
        await cs.call("cp1", call.GetDiagnostics(location=srv.url("/diag/"), retries=2, retry_interval=2))
        await b.until(lambda: "UploadFailed" in diag_statuses(cs), 30, "UploadFailed")
        assert diag_statuses(cs) == ["Uploading", "Uploading", "UploadFailed"]
        await b.until(lambda: len(srv.logins) >= 2, 5, "the second login recorded")
        assert len(srv.logins) == 2
    ftp_case(tmp_path, case, mode)


# -- UpdateFirmware ----------------------------------------------------------------------------------
def test_update_firmware_over_ftp_installs_and_no_file_keeps_the_password(tmp_path):
    """The whole bundle (about 700 KB) over FTP, its sha256 pinned; installed as over HTTP. Once
    Installed, the FirmwareUpdated security event names the location without user:password."""
    data = version_bundle("9.0.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/9.0.0.bin#sha256=" + hashlib.sha256(data).hexdigest()))
        await b.until(lambda: "Installing" in fw_statuses(cs), 60, "Installing")
        b = await reboot(b, power_on, tmp_path)
        await b.until(lambda: "Installed" in fw_statuses(cs), 10, "Installed")
        assert fw_statuses(cs) == ["Downloading", "Downloaded", "Installing", "Installed"]
        assert slot_version(str(tmp_path / "fw"), "a") == "9.0.0"
        events = lambda: [e for e in cs.actions("SecurityEventNotification") if e["type"] == "FirmwareUpdated"]
        await b.until(events, 10, "FirmwareUpdated")
        assert events()[0]["techInfo"] == ("ftp://127.0.0.1:%d/fw/9.0.0.bin#sha256=%s" % (
            srv.port, hashlib.sha256(data).hexdigest()))[:100]       # (the event's 100 characters)
        assert flash_files_holding(tmp_path, PASSWORD_IN_URI) == [] and flash_files_holding(tmp_path, PASSWORD) == []
    ftp_case(tmp_path, case, files={"fw/9.0.0.bin": data})


def test_update_firmware_over_ftp_keeps_the_pin_and_the_rollback(tmp_path):
    """A wrong #sha256= pin: DownloadFailed, nothing installed; a bundle that crashes at start:
    rolled back, InstallationFailed. The checks are the transfer's caller's, whatever the scheme."""
    crash = make_bundle.make(firmware_files(b"raise RuntimeError('broken')\n"), "9.9.9")

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/crash.bin#sha256=" + "0" * 64))
        await b.until(lambda: "DownloadFailed" in fw_statuses(cs), 60, "DownloadFailed")
        assert "sha256" in b.svc.last_error and bundle.state(str(tmp_path / "fw"))["active"] is None
        await update(b, srv.url("/fw/crash.bin"))
        await b.until(lambda: "Installing" in fw_statuses(cs), 60, "Installing")
        b = await reboot(b, power_on, tmp_path, boots=2)
        await b.until(lambda: "InstallationFailed" in fw_statuses(cs), 10, "InstallationFailed")
        assert fw_statuses(cs) == ["Downloading", "DownloadFailed", "Downloading", "Downloaded", "Installing",
                                   "InstallationFailed"]
        assert bundle.state(str(tmp_path / "fw"))["failed"] == "a"
    ftp_case(tmp_path, case, files={"fw/crash.bin": crash})


@pytest.mark.parametrize("tampered", [False, True])
def test_a_signed_update_over_ftp_has_its_signature_checked(tmp_path, pkis, tampered):
    """SignedUpdateFirmware (Security Whitepaper, TC_080/TC_081) with an ftp:// location: the file's
    signature is checked as over HTTP; one signed over other bytes is InvalidSignature, not installed."""
    image = version_bundle("9.1.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await trust(cs, pkis["root"])
        signed = image + (b"tampered" if tampered else b"")
        res = await signed_update(b, cs, srv.url("/fw/9.1.0.bin"), pkis["signer"], pki.sign(pkis["signer_key"], signed))
        assert res.status == "Accepted"
        last = "InvalidSignature" if tampered else "InstallRebooting"
        await b.until(lambda: last in signed_statuses(cs), 60, last)
        assert signed_statuses(cs) == ["Downloading", "Downloaded"] + (
            ["InvalidSignature"] if tampered else ["SignatureVerified", "Installing", "InstallRebooting"])
        assert (bundle.state(str(tmp_path / "fw"))["active"] is None) == tampered
    ftp_case(tmp_path, case, files={"fw/9.1.0.bin": image})


def test_get_log_uploads_the_security_log_to_an_ftp_location(tmp_path):
    async def case(cs, power_on, srv):
        b = await power_on()
        res = await cs.call("cp1", call.GetLog(log={"remoteLocation": srv.url("/diag")}, log_type="SecurityLog",
                                               request_id=42))
        await b.until(lambda: [p["status"] for p in cs.actions("LogStatusNotification")][-1:] == ["Uploaded"],
                      20, "Uploaded")
        assert "StartupOfTheDevice" in srv.file("diag/" + res.filename).decode()
    ftp_case(tmp_path, case)


@pytest.mark.parametrize("mode", ["ok", "old"])
def test_update_firmware_larger_than_the_bound_is_download_failed(tmp_path, monkeypatch, mode):
    """ok: SIZE says the file is too large, refused before a byte moves; old (no SIZE, no EPSV): the
    download stops at the bound. Either way nothing larger than MAX_BUNDLE reaches the flash."""
    monkeypatch.setattr(firmware, "MAX_BUNDLE", 4096)

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/big.bin"), retries=0)
        await b.until(lambda: "DownloadFailed" in fw_statuses(cs), 30, "DownloadFailed")
        assert fw_statuses(cs) == ["Downloading", "DownloadFailed"]
        assert ("too large: 5000 bytes" if mode == "ok" else "too large") in b.svc.last_error
        assert not os.path.exists(str(tmp_path / "fw" / "download.bin"))
    ftp_case(tmp_path, case, mode, files={"fw/big.bin": os.urandom(5000)})


def test_update_firmware_from_a_server_that_goes_away_mid_file_is_download_failed(tmp_path):
    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/9.0.0.bin"), retries=2, retry_interval=2)
        await b.until(lambda: "DownloadFailed" in fw_statuses(cs), 30, "DownloadFailed")
        assert fw_statuses(cs) == ["Downloading", "Downloading", "DownloadFailed"]
        assert "connection closed" in b.svc.last_error and bundle.state(str(tmp_path / "fw"))["active"] is None
    ftp_case(tmp_path, case, "cut", files={"fw/9.0.0.bin": version_bundle("9.0.0")})


UPY_FILE = 40000         # bytes, served at UPY_RATE: a client that held the loop would hold it 2 s
UPY_MAX = 200000
UPY_RATE = 16000         # bytes per second (pyftpdlib sends a second's worth, then waits)


# -- the MicroPython unix port -----------------------------------------------------------------------
def upy_transfers(tmp_path, mode, files, rate=0):
    from tools.toolchain import upy_tests as U
    assert not U.precompile()
    srv = FtpServer(tmp_path / "ftproot", mode, rate)
    for name, data in files.items():
        srv.put(name, data)
    srv.start()
    flash = tmp_path / "flash"
    flash.mkdir()
    try:
        r = subprocess.run([U.micropython(), "-X", "heapsize=256k", os.path.join(ROOT, "host_tests", "upy_live", "ftp_live.py"),
                            str(flash), "up=" + srv.url("/diag/d.txt"), "down=" + srv.url("/fw/a.bin") + "=%d" % UPY_MAX,
                            "down=" + srv.url("/fw/a.bin") + "=4000", "up=" + srv.url("/diag/e.txt", password="no"),
                            "down=" + srv.url("/fw/a.bin", user=None) + "=%d" % UPY_MAX],
                           env=U.upy_env(), cwd=U.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
    finally:
        srv.stop()
    print("upy ftp %s: %s" % (mode, " | ".join(r.stdout.splitlines())))
    return r.stdout.splitlines(), srv


@pytest.mark.parametrize("mode", ["ok", "old"])
def test_upy_uploads_and_downloads_over_ftp_with_the_tick_running(tmp_path, mode):
    """On the unix port: STOR, RETR with sha256, a file over the bound refused, a wrong password,
    anonymous RETR, the data at UPY_RATE (ok); a 10 ms ticker beside them never waits for the
    server (its longest gap printed: 10-16 ms measured, the ok transfers about 4 s)."""
    data = os.urandom(UPY_FILE)
    rate = UPY_RATE if mode == "ok" else 0
    lines, srv = upy_transfers(tmp_path, mode, {"fw/a.bin": data}, rate)
    digest = hashlib.sha256(data).hexdigest()
    assert lines[0] == "up 226" and srv.file("diag/d.txt") == b"diagnostics line\n" * 200 + b"== end ==\n"
    assert lines[1] == "down %d %s" % (UPY_FILE, digest) and lines[4] == "down %d %s" % (UPY_FILE, digest)
    assert "too large" in lines[2] and "PASS answered 530" in lines[3]
    assert srv.logins == [(USER, True)] * 3 + [(USER, False), ("anonymous", True)]
    gap_us, took_ms = int(lines[5].split()[1]), int(lines[5].split()[4])
    assert gap_us < 100000 and (not rate or took_ms > 2000), lines


@pytest.mark.parametrize("mode", ["dead_pasv", "cut"])
def test_upy_a_refused_passive_port_or_a_server_gone_mid_file_is_an_error(tmp_path, mode):
    lines, _ = upy_transfers(tmp_path, mode, {"fw/a.bin": os.urandom(5000)})
    assert lines[0].startswith("up ERR") and lines[1].startswith("down ERR") and lines[4].startswith("down ERR"), lines
