"""Firmware update from the web page (POST /api/v1/firmware, docs/web.md): the same mechanism as
OCPP's UpdateFirmware, evse/shell/bundle.py, for a bundle that arrives by upload instead of download.
Imported only when the page asks for it, or at boot while a web update waits for its confirmation.

The upload is written to <flash>/fw/upload.bin a chunk at a time, then unpacked into the free slot
with every file's size and sha256 checked, and read back from flash (bundle.stage, bundle.verify,
one chunk per step: the control loop runs between them). A bad bundle is refused with the reason
and nothing changes. A good one is installed once no session runs: verified again, activated on
trial, and the board reboots into it. The new firmware confirms itself when its web service has run
CONFIRM_S with the control loop ticking; one that never gets there (a crash, a hang, a reset) is
rolled back by the next boot (bundle.select), and the page says so."""
import asyncio
import gc
import json

from ..core.version import VERSION
from ..shell import bundle
from ..shell.hal import ticks_ms
from ..shell.store import remove
from .web import FW_MARK, UPLOAD_MAX   # the mark: {"slot", "version", "from"} of the trial

UPLOAD = "upload.bin"
WAIT_S = 1                  # how often a staged bundle looks whether the session has ended
REBOOT_DELAY_S = 1          # the reply reaches the browser before the reboot
CONFIRM_S = 10              # the new firmware runs this long before it confirms itself
CONFIRM_GAP_MS = 1000       # ...with the control loop ticking (status tick_gap_ms below this)
RECV_S = 30                 # an upload that sends nothing this long is given up (ocpp/http.py's chunk wait)
IDLE, STAGING, WAITING, REBOOTING = "idle", "checking the bundle", "waiting for the session to end", "rebooting"


async def receive(stream, size, path):
    """The request body (size bytes) into the file at path, a chunk per await; a sender silent for
    RECV_S (a phone gone from the Wi-Fi sends no FIN) is given up, or the update would stay under
    way and refuse every later upload until a reboot."""
    left = size
    with open(path, "wb") as f:
        while left:
            try:
                buf = await asyncio.wait_for(stream.read(min(bundle.CHUNK, left)), RECV_S)
            except asyncio.TimeoutError:
                raise ValueError("upload stalled: nothing for %d s after %d of %d bytes" % (RECV_S, size - left, size))
            if not buf:
                raise ValueError("upload cut short: %d of %d bytes" % (size - left, size))
            f.write(buf)
            left -= len(buf)


class Updater:
    def __init__(self, app, console, root):
        self.app = app
        self.console = console
        self.root = root            # <flash>/fw (bundle.ROOT on a board)
        self.phase = IDLE
        self.error = None
        self.result = None          # what became of the last web update, after its reboot
        self.slot = None

    def status(self):
        st = bundle.state(self.root)
        return {"ok": True, "version": VERSION, "active": st["active"], "trial": st["trial"],
                "failed": st["failed"], "update": self.phase, "error": self.error, "result": self.result}

    def _busy(self):
        st = self.app.status(ticks_ms())
        return st["session"] or st["contactor"]

    async def upload(self, req):
        """(reply, status code) for POST /api/v1/firmware."""
        if self.phase != IDLE:
            return {"ok": False, "error": "an update is under way: " + self.phase}, 409
        size = req.content_length
        if not 0 < size <= UPLOAD_MAX:
            return {"ok": False, "error": "a bundle of 1-%d bytes is expected (python -m tools.bundle)" % UPLOAD_MAX}, 400
        try:
            bundle.claim("web")         # not while OCPP installs one: the same free slot
        except ValueError as e:
            return {"ok": False, "error": str(e)}, 409
        self.phase, self.error = STAGING, None
        path = self.root + "/" + UPLOAD
        try:
            bundle.ensure_dir(self.root)
            await receive(req.stream, size, path)
            gc.collect()                    # room in one piece for the manifest (about 8 KB) and its dict
            out = {}
            for _ in bundle.stage(self.root, path, out):
                await asyncio.sleep(0)      # the control loop runs between chunks
            for _ in bundle.verify(self.root, out["slot"]):   # read back from flash
                await asyncio.sleep(0)
        except Exception as e:              # any: a manifest nested too deep is a MemoryError on a
            self.phase, self.error = IDLE, "firmware: %s" % (str(e) or type(e).__name__)   # board
            bundle.release("web")
            return {"ok": False, "error": self.error}, 400
        finally:
            remove(path)
        self.slot = out["slot"]
        version = out["manifest"]["version"]
        self.phase = WAITING if self._busy() else REBOOTING
        asyncio.create_task(self._install(version))
        return {"ok": True, "version": version, "slot": self.slot,
                "install": "now: the charger reboots" if self.phase == REBOOTING else "when the session ends"}, 200

    async def _install(self, version):
        """Once no session runs: verify again, activate on trial, reboot (the console's reboot)."""
        while self._busy():
            self.phase = WAITING
            await asyncio.sleep(WAIT_S)
        try:
            for _ in bundle.verify(self.root, self.slot):
                await asyncio.sleep(0)
            with open(self.root + FW_MARK, "w") as f:
                json.dump({"slot": self.slot, "version": version, "from": VERSION}, f)
            bundle.activate(self.root, self.slot, True)
        except Exception as e:
            self.phase, self.error = IDLE, "firmware: %s" % (str(e) or type(e).__name__)
            bundle.release("web")
            return
        self.phase = REBOOTING
        await asyncio.sleep(REBOOT_DELAY_S)
        while self._busy():                 # a car came in the meantime: its session first
            self.phase = WAITING
            await asyncio.sleep(WAIT_S)
        self.console.answer({"cmd": "reboot"}, ticks_ms())

    async def after_boot(self):
        """The first boot after a web update: confirm the new firmware once it has run CONFIRM_S
        with the control loop ticking, or say that it was rolled back."""
        try:
            with open(self.root + FW_MARK) as f:
                mark = json.load(f)
        except (OSError, ValueError):
            return
        st = bundle.state(self.root)
        if st["active"] == mark.get("slot") and st["trial"]:
            await asyncio.sleep(CONFIRM_S)
            if self.app.status(ticks_ms())["tick_gap_ms"] >= CONFIRM_GAP_MS:
                return                      # not healthy: the next boot rolls it back
            bundle.confirm(self.root)
            self.result = "installed %s" % mark.get("version")
        elif st["failed"] == mark.get("slot"):
            self.result = "rolled back: %s did not confirm itself (running %s)" % (mark.get("version"), VERSION)
        elif st["active"] != mark.get("slot"):     # the power went before boot.json named it
            self.result = "not installed: %s was never started (running %s)" % (mark.get("version"), VERSION)
        remove(self.root + FW_MARK)
