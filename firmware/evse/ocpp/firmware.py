"""Firmware Management profile: UpdateFirmware (OCPP 1.6 section 5.19) with
FirmwareStatusNotification, GetDiagnostics (5.8) with DiagnosticsStatusNotification, over HTTP(S)
(http.py) or FTP (ftp.py), and the security extension's SignedUpdateFirmware (security.py starts it: the same
update, its notifications SignedFirmwareStatusNotification with the requestId, the signature over the
downloaded file checked against the signing certificate before anything is installed). Imported only when one of these messages arrives, or at boot while an update is under
way (state["fw"] in state.json): nothing of it is in RAM otherwise. The flash part, unpacking a
bundle into a slot, checking it, booting into it and rolling back, is evse/shell/bundle.py.

An update: at retrieveDate, Downloading, the bundle file to <flash>/fw/download.bin (`retries`
attempts, `retryInterval` apart; DownloadFailed after the last), Downloaded; then, once no
transaction runs, Installing: unpacked into the free slot with every file's sha256 checked
(InstallationFailed if not), activated on trial and the board reboots; after the reboot, when the
central system accepts the BootNotification, the new bundle confirms itself (Installed). A bundle
that never gets there is rolled back by the next boot (bundle.select): InstallationFailed."""
import asyncio
import binascii
import hashlib
from . import store
from .wallclock import parse_iso
from ..shell import bundle

NAT = (0, None)
INCOMING = {
    "UpdateFirmware": (("location", "s", True, None), ("retries", "i", False, NAT),
                       ("retrieveDate", "t", True, 1), ("retryInterval", "i", False, NAT)),
    "GetDiagnostics": (("location", "s", True, None), ("retries", "i", False, NAT),
                       ("retryInterval", "i", False, NAT), ("startTime", "t", False, 1),
                       ("stopTime", "t", False, 1)),
}
MAX_BUNDLE = 768 * 1024     # bytes: the whole firmware as .mpy is about 244 KB, as source 727 KB
PIN = "#sha256="            # a location's fragment pinning the whole file's hash
RETRY_S = 60                # retryInterval when the central system gives none
SLEEP_PART_S = 86400        # the longest wait one ticks_diff measures here (it spans 6.2 days)
POLL_S = 0.2                # how often a waiting transfer looks again (real seconds)
SENT_WAIT_S = 10            # Installing goes out before the reboot, or this long at most
# What GetDiagnostics uploads: the log (services/log.py) and the fault history (app.JOURNAL_FILE).
DIAG_FILES = ("log.txt.1", "log.txt", "faults.json")
DIAG_MAX = 32768            # bytes uploaded at most (the newest part of each file)
SIGNED = "signed.txt"       # in fw/: a signed update's certificate (PEM) and signature (base64)


def flash_root(svc):
    """The flash directory that holds the service's own (`<flash>/ocpp`)."""
    d = svc.flash_dir.rstrip("/")
    i = d.rfind("/")
    return "/" if i == 0 else (d[:i] if i > 0 else ".")


def fw_root(svc):
    return store.join(flash_root(svc), "fw")


def fw_dir(svc):
    """fw/, made if missing."""
    root = fw_root(svc)
    bundle.ensure_dir(root)
    return root


def _notify(svc, action, status):
    """The notification, and the status a TriggerMessage for it reports (operations.trigger_message).
    A signed update's go out as SignedFirmwareStatusNotification with its requestId."""
    setattr(svc, "fw_status" if action[0] == "F" else "diag_status", status)
    job = svc.state.get("fw")
    if action[0] == "F" and job and job.get("req") is not None:
        svc.signed_last = {"status": status, "requestId": job["req"]}
        return svc.queue_call("SignedFirmwareStatusNotification", svc.signed_last)
    svc.queue_call(action, {"status": status})


def notify_signed_status(svc):
    """ExtendedTriggerMessage(FirmwareStatusNotification): the last signed update status sent,
    Idle when none was or it was Installed (Security Whitepaper, SignedFirmwareStatusNotification)."""
    last = getattr(svc, "signed_last", None)
    if not last or last["status"] == "Installed":
        last = {"status": "Idle"}
    svc.queue_call("SignedFirmwareStatusNotification", last)


async def _until(pred):
    while not pred():
        await asyncio.sleep(POLL_S)


async def sleep_ticks(svc, s):
    """s seconds on the tick clock, a day at a time: a retryInterval (any natural number) past
    2**29 ms is never reached by one ticks_diff (the retry never came)."""
    while s > 0:
        part = min(s, SLEEP_PART_S)
        t0 = svc.ticks()
        await _until(lambda: svc.ticks_diff(svc.ticks(), t0) >= part * 1000)
        s -= part


def ca(svc):
    return svc.settings.get("ocpp_ca_file") or None


def transfer(url):
    """The client module for a location: ftp.py for ftp:// (imported only then), else http.py."""
    if url.startswith("ftp://"):
        from . import ftp
        return ftp
    from . import http
    return http


def public(loc):
    """The location without its user:password@ (RFC 3986 3.2.1): what may go into a log or an event."""
    i = loc.find("://") + 3
    j = loc.find("/", i)
    k = loc.rfind("@", i, len(loc) if j < 0 else j)
    return loc if k < 0 else loc[:i] + loc[k + 1:]


# -- UpdateFirmware ------------------------------------------------------------------------------
def update_firmware(svc, p):
    """A second UpdateFirmware while one is under way is answered and ignored, unless the first one
    still waits for its retrieveDate: it is replaced (a date a month ahead blocked every update
    until then). Once a
    ManufacturerRootCertificate is installed firmware must come signed: UpdateFirmware is then a
    CALLERROR NotSupported and starts nothing (Security Whitepaper L01.FR.20), so no unsigned
    update goes around the signature check."""
    from . import rpc, security
    if security.installed(svc, "ManufacturerRootCertificate"):
        raise rpc.CallError(rpc.NOT_SUPPORTED, "firmware must come signed (SignedUpdateFirmware): "
                                               "a ManufacturerRootCertificate is installed")
    job = svc.state.get("fw")
    if job:
        if not scheduled(svc, job):
            return {}
        cancel(svc)     # one that waits for its retrieveDate: the newest wins (EVerest re-arms its timer)
    svc.state["fw"] = {"loc": p["location"], "at": parse_iso(p["retrieveDate"]), "n": max(1, p.get("retries", 1)),
                       "iv": p.get("retryInterval", RETRY_S), "phase": "download"}
    svc.save()
    return {}, lambda: start(svc)


def start(svc):
    """Run the update in its own task (once)."""
    if getattr(svc, "fw_task", None) is None:
        svc.fw_task = asyncio.create_task(_update(svc))


def cancellable(svc):
    """The update under way has not begun to write the flash (downloading, checking or waiting)."""
    job = svc.state.get("fw")
    return bool(job) and job["phase"] == "download" and not svc.fw_installing


def scheduled(svc, job):
    """The update waits for its retrieveDate: nothing of it has begun (no Downloading yet)."""
    return job["phase"] == "download" and (job["at"] or 0) > (svc.wall.now(svc.ticks()) or 0)


def cancel(svc):
    """Drop the update under way (cancellable): its task ends at its next await, its file closed;
    the next update writes download.bin and signed.txt afresh."""
    task = getattr(svc, "fw_task", None)
    if task is not None:
        task.cancel()
    svc.fw_task = None
    svc.state["fw"] = None
    svc.save()


def _end(svc, status):
    _notify(svc, "FirmwareStatusNotification", status)
    svc.state["fw"] = None
    svc.save()
    svc.fw_task = None
    bundle.release("ocpp")
    store.remove(store.join(fw_root(svc), SIGNED))


async def _at(svc, t, status):
    """Wait for the wall-clock time t (epoch s, None: now), saying `status` first when it is later."""
    if (t or 0) > (svc.wall.now(svc.ticks()) or 0) and status:
        _notify(svc, "FirmwareStatusNotification", status)
    await _until(lambda: (svc.wall.now(svc.ticks()) or 0) >= (t or 0))


async def _update(svc):
    job = svc.state["fw"]
    # a signed update says that it waits for its retrieveDateTime (L01.FR.13; 1.6's own
    # FirmwareStatus has no such value)
    await _at(svc, job["at"], "DownloadScheduled" if job.get("req") is not None else None)
    root = fw_root(svc)
    tmp = store.join(root, "download.bin")
    if not await _fetch(svc, job, root, tmp):
        return
    await _at(svc, job.get("inst"), "InstallScheduled")
    await _until(_idle(svc))        # never during a session
    _installing(svc, True)          # from here on, no SignedUpdateFirmware cancels it
    _notify(svc, "FirmwareStatusNotification", "Installing")
    if not await _install(svc, job, root, tmp):
        return
    if job.get("req") is not None:
        _notify(svc, "FirmwareStatusNotification", "InstallRebooting")
    t0 = svc.ticks()
    await _until(lambda: not svc.immediate or svc.ticks_diff(svc.ticks(), t0) > SENT_WAIT_S * 1000)
    await _until(_idle(svc))   # the Reset path opens the contactor as it is: never under load
    svc.reset_kind = "Hard"    # the Reset path: reboot once nothing is open (chargepoint.poll)
    svc.reset_ms = svc.ticks()


async def _install(svc, job, root, tmp):
    """The downloaded bundle into the free slot, read back, activated on trial: True, or the
    update ended InstallationFailed."""
    try:
        bundle.claim("ocpp")          # not while a web upload holds the free slot
        out = {}
        for _ in bundle.stage(root, tmp, out):
            await asyncio.sleep(0)    # the control loop runs between chunks
        for _ in bundle.verify(root, out["slot"]):   # read back from flash
            await asyncio.sleep(0)
        job["phase"] = "reboot"       # first: a power cut after the activation boots the new
        job["slot"] = out["slot"]     # firmware, which must know to confirm itself (after_boot)
        svc.save()
        bundle.activate(root, out["slot"], True)
        return True
    except Exception as e:    # any: a manifest nested too deep is a MemoryError on a board (RecursionError
        svc.last_error = "firmware: %s" % (str(e) or type(e).__name__)    # on CPython): the task must end
        _installing(svc, False)
        _end(svc, "InstallationFailed")
        return False
    finally:
        store.remove(tmp)


def _installing(svc, flag):
    """From Installing to the reboot nothing starts a charge the reboot would cut under load: the
    connector is Unavailable and the core offers nothing, as EVerest's libocpp does for a pending
    update; an install that fails gives the connector back as it was (switched off by its owner,
    or Inoperative, it stays so)."""
    if flag:
        svc.fw_enabled = getattr(svc.charger, "enabled", True)
    svc.fw_installing = flag
    svc.charger.enable(not flag and svc.fw_enabled and svc.state["operative"])


def _idle(svc):
    return lambda: svc.tx is None and not svc.contactor


async def _fetch(svc, job, root, tmp):
    """Download (Downloaded), and a signed update's signature checked: True, or the update ended."""
    digest = await download(svc, job, root, tmp)
    if digest is None:
        store.remove(tmp)   # up to MAX_BUNDLE of a refused or partial file: not kept until the next update
        _end(svc, "DownloadFailed")
        return False
    _notify(svc, "FirmwareStatusNotification", "Downloaded")
    if job.get("req") is None:
        return True
    await _until(_idle(svc))        # the check's steps (up to 11 ms on a Pico) wait for no session
    if await _signature_ok(svc, root, digest):
        return True
    store.remove(tmp)
    from . import secevents
    secevents.report(svc, "InvalidFirmwareSignature")
    _end(svc, "InvalidSignature")
    return False


async def _signature_ok(svc, root, digest):
    """The downloaded file's SHA-256 signed with the signing certificate's key (SignatureVerified)."""
    from . import security, x509
    try:
        with open(store.join(root, SIGNED)) as f:
            pem, sig = f.read().rsplit("\n", 1)
        out = {}
        await security.run_steps(x509.verify(x509.parse(x509.pem_to_der(pem)), digest,
                                             binascii.a2b_base64(sig), out, pss=True))
    except (OSError, ValueError) as e:
        svc.last_error = "firmware signature: " + repr(e)
        return False
    if out["ok"]:
        _notify(svc, "FirmwareStatusNotification", "SignatureVerified")
    return out["ok"]


async def download(svc, job, root, tmp):
    """The file's SHA-256 once downloaded, or None. `location` may end in #sha256=<hex>: the whole
    file must have that hash (1.6 has no field for it; the fragment never goes to the server)."""
    bundle.ensure_dir(root)
    i = job["loc"].find(PIN)
    url, pin = (job["loc"], None) if i < 0 else (job["loc"][:i], job["loc"][i + len(PIN):].lower())
    for n in range(job["n"]):
        if n:
            await sleep_ticks(svc, job["iv"])
        _notify(svc, "FirmwareStatusNotification", "Downloading")
        try:
            h = hashlib.sha256()
            await transfer(url).download(url, tmp, MAX_BUNDLE, ca(svc), h, svc.dns_server)
            digest = h.digest()
            if pin is None or binascii.hexlify(digest).decode() == pin:
                return digest
            svc.last_error = "firmware download: sha256 differs from the location's"
        except Exception as e:  # any transfer error: the next attempt
            svc.last_error = "firmware download: " + repr(e)
    return None


def tail(path, most):
    """The last `most` bytes of a file, or None when there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - most))
            return f.read()
    except OSError:
        return None


def after_boot(svc):
    """The BootNotification was accepted with an update under way: the rebooted bundle confirms
    itself (Installed), or it was rolled back (InstallationFailed); an update a reboot
    interrupted before installing starts over."""
    job = svc.state["fw"]
    if job.get("phase") != "reboot":
        return start(svc)
    root = fw_root(svc)
    if bundle.state(root)["active"] == job["slot"]:
        bundle.confirm(root)
        from . import secevents
        secevents.report(svc, "FirmwareUpdated", public(job.get("loc", ""))[:100])
        return _end(svc, "Installed")
    m = store.read_json(store.join(root, job["slot"] + "/manifest.json"), None) or {}
    svc.last_error = "firmware %s %s" % (m.get("version", "?"), (
        "rolled back: it never confirmed itself (a crash, a hang or a reset on its first boot)"
        if bundle.state(root)["failed"] == job["slot"] else "not installed: the power went before it was started"))
    _end(svc, "InstallationFailed")


# -- GetDiagnostics -----------------------------------------------------------------------------
def get_diagnostics(svc, p):
    if not diagnostics_parts(svc):
        return {}                       # nothing to upload: no fileName (section 6.33)
    name = "diagnostics-%s-%d.txt" % (svc.settings.get("ocpp_id", "evse"), svc.state["boot"])
    return {"fileName": name}, lambda: asyncio.create_task(upload_diagnostics(svc, p, name))


def diagnostics_parts(svc):
    """The files as byte strings, each after a header line; the newest DIAG_MAX bytes in all."""
    parts = []
    left = DIAG_MAX
    for n in reversed(DIAG_FILES):
        data = tail(store.join(flash_root(svc), n), left)
        if data is None:
            continue
        head = ("== %s (%d bytes) ==\n" % (n, len(data))).encode()
        parts.insert(0, head + data + b"\n")
        left -= len(data)
        if left <= 0:
            break
    return parts


async def upload_diagnostics(svc, p, name):
    notify = lambda st: _notify(svc, "DiagnosticsStatusNotification", st)
    ok = await upload(svc, p["location"].rstrip("/") + "/" + name, lambda: diagnostics_parts(svc), p, notify,
                      "diagnostics")
    notify("Uploaded" if ok else "UploadFailed")


async def upload(svc, url, parts, p, notify, what):
    """An HTTP PUT (or FTP STOR) of parts() to url, `retries` attempts `retryInterval` apart (p: the
    request's fields), notify("Uploading") before each: True once one went through (GetDiagnostics, GetLog)."""
    for i in range(max(1, p.get("retries", 1))):
        if i:
            await sleep_ticks(svc, p.get("retryInterval", RETRY_S))
        notify("Uploading")
        try:
            await transfer(url).upload(url, parts(), ca(svc), dns_server=svc.dns_server)
            return True
        except Exception as e:  # any transfer error: the next attempt
            svc.last_error = what + " upload: " + repr(e)
    return False
