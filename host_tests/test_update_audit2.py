"""Audit of installing and updating (the second round): firmware bundles, their rollback, and the
OCPP update's end. Bench scenarios on the host; the boots are real interpreter starts as boot.py
makes them (test_firmware_bundle.py's)."""
import os

import pytest

from evse.shell import bundle

from test_firmware_bundle import boot, stage, version_bundle, write


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_an_upload_during_a_trial_leaves_the_firmware_to_roll_back_to_whole(tmp_path, interp):
    """2.0.0 runs, confirmed; 3.0.0 is installed and boots on trial. Before it confirms itself the
    owner uploads again, and that upload is cut short. The trial then ends by a reset (3.0.0 never
    confirmed): the board must come back on 2.0.0, the firmware it ran before, not on the remains of
    the refused upload. (Before the fix the cut upload was unpacked over slot a, 2.0.0's: the
    rollback booted its half, as confirmed firmware, with no way back.)"""
    root = str(tmp_path / "fw")
    slot, _ = stage(root, write(tmp_path, version_bundle("2.0.0")))
    bundle.activate(root, slot)
    assert boot(interp, root, confirm=True) == "2.0.0"
    slot, _ = stage(root, write(tmp_path, version_bundle("3.0.0")))
    bundle.activate(root, slot)
    assert boot(interp, root) == "3.0.0" and bundle.state(root)["trial"]     # on trial, not confirmed
    cut = version_bundle("3.0.1")[:-1000]
    with pytest.raises(ValueError, match="on trial"):
        stage(root, write(tmp_path, cut))
    for _ in bundle.verify(root, "a"):                # 2.0.0 untouched on flash
        pass
    assert boot(interp, root) == "2.0.0"                # the trial rolls back to it
    st = bundle.state(root)
    assert st["active"] == "a" and st["failed"] == "b" and not st["trial"]
    slot, m = stage(root, write(tmp_path, version_bundle("3.0.1")))    # no trial now: taken
    assert slot == "b" and m["version"] == "3.0.1" and os.path.exists(os.path.join(root, "b", "manifest.json"))


def test_an_update_whose_manifest_cannot_be_parsed_ends_installation_failed(tmp_path):
    """OCPP UpdateFirmware of a file whose first line is 16,000 `[`: within the 16 KB manifest bound,
    but parsing it exhausts the board's heap (MicroPython: MemoryError even with 128 KB free;
    CPython: RecursionError). As TC_044_3 with any other invalid firmware: Installing, then
    InstallationFailed, no reboot, and the next UpdateFirmware is taken. (Before the fix only
    OSError/ValueError/KeyError were caught: the update's task died after Installing, the central
    system never heard the end, state.json kept the job, so every later UpdateFirmware was answered and
    ignored, and each boot downloaded the same file again.)"""
    from test_octt_firmware import call, files_case, fw_statuses, now_iso, update

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/deep.bin"))
        await b.until(lambda: "InstallationFailed" in fw_statuses(cs), 20, "InstallationFailed")
        assert fw_statuses(cs) == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
        assert b.svc.state["fw"] is None and "firmware:" in b.svc.last_error
        assert not any("ResetRequested" in e[1] for e in b.app.errors)
        res = await cs.call("cp1", call.UpdateFirmware(location=srv.url("/fw/9.0.0.bin"), retrieve_date=now_iso(b)))
        assert res is not None
        await b.until(lambda: fw_statuses(cs).count("Installing") == 2, 20, "the next update taken")
        assert bundle.state(str(tmp_path / "fw"))["active"] is None     # nothing activated before its reboot
    files_case(tmp_path, case, {"/fw/deep.bin": b"[" * 16000 + b"\n", "/fw/9.0.0.bin": version_bundle("9.0.0")})


def _compiled(arch, out):
    """The evse package compiled by mpy-cross for arch (None: this host's unix port, as the virtual
    board's), as a bundle's files."""
    import subprocess
    from tools.toolchain import mpy_build
    files = []
    for src, rel in mpy_build.sources():
        rel = rel.replace(os.sep, "/")
        if rel.startswith("evse/"):
            dst = os.path.join(out, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            rc, msg = mpy_build.compile_one(src, dst, arch, rel)
            assert rc == 0, msg
            with open(dst, "rb") as f:
                files.append((rel[:-3] + ".mpy", f.read()))
    return files


STAGE_UPY = """import sys
sys.path.insert(0, %r)
from evse.shell import bundle
out = {}
try:
    for _ in bundle.stage(%r, %r, out):
        pass
    bundle.activate(%r, out["slot"])
    print("STAGED", out["slot"])
except ValueError as e:
    print("REFUSED", e)
"""


def test_a_bundle_built_for_another_port_is_refused_before_anything_boots_it(tmp_path):
    """On the unix port (x64, like the virtual board): a bundle made for the Pico (armv6m .mpy, the
    charger's native-code modules included) and one made for this port. The Pico's cannot load here
    (`incompatible .mpy arch` in evse/shell/maint.py, the first module boot.py takes from the slot:
    boot.py then never starts the watchdog and main.py fails too, so the board sat at the REPL with
    no watchdog and the trial was never rolled back, until someone cut the power). It is refused at
    upload, as ESP-IDF's OTA refuses an image for another chip; nothing is activated. This port's
    own is taken and boots."""
    import subprocess
    from tools import bundle as make_bundle
    from tools.toolchain.upy_tests import micropython
    from test_firmware_bundle import FIRMWARE
    from evse.core.version import VERSION
    for arch, want in (("armv6m", "REFUSED evse/"), (None, "STAGED a")):
        root = str(tmp_path / ("fw-%s" % arch))
        path = write(tmp_path, make_bundle.make(_compiled(arch, str(tmp_path / str(arch))), "7.0.0"), "%s.bin" % arch)
        r = subprocess.run([micropython(), "-c", STAGE_UPY % (FIRMWARE, root, path, root)], capture_output=True,
                           text=True, timeout=120, env=dict(os.environ, MICROPYPATH=".frozen"), cwd="/")
        assert r.stdout.startswith(want), (arch, r.stdout, r.stderr)
        if arch:
            assert "another MicroPython version or port" in r.stdout
            assert bundle.state(root)["active"] is None          # the running firmware stays
            assert boot("micropython", root) == VERSION
        else:
            assert boot("micropython", root) == VERSION          # this port's bundle (same version.py) boots
            assert bundle.state(root)["active"] == "a" and bundle.state(root)["tries"] == 1


@pytest.mark.parametrize("key, value", [
    ("wifi_ap_password", "é" * 40),                 # 40 characters, 80 bytes: the radio keeps 63 of them
    ("wifi_password", "Wallbox-Paßwort-" + "ü" * 40),   # 56 characters, 97 bytes
    ("wifi_password", "pass\x01word"),             # a control character
    ("wifi_ap_password", "Garage 🚗 charger"),      # an emoji: outside 32-126
    ("wifi_ssid", "ü" * 30),                         # 30 characters, 60 bytes
])
def test_wifi_values_the_radio_cannot_take_are_refused_with_the_reason(key, value):
    """IEEE 802.11-2016: an SSID is 0-32 octets (9.4.2.2); a WPA2 pass-phrase is 8-63 ASCII
    characters, each 32-126 (Annex J.4.1; 64 hex digits are the PSK itself). The settings counted
    characters: a 56-character password with umlauts (97 bytes) or one with an emoji was saved and
    handed to the radio, which no standard network or access point takes (the radio's own handling
    of it was not run here: no ESP32 or Pico W). Refused now with the reason, the default kept, as a
    password of 7 characters always was."""
    from evse.services import settings
    cfg, errors = settings.validate({"max_current": 16, key: value})
    assert cfg[key] == "" and len(errors) == 1 and errors[0].startswith(key + ": a "), errors


def test_wifi_values_within_the_standard_still_pass():
    from evse.services import settings
    ok = {"max_current": 16, "wifi_ssid": "Café-Müller 5G",    # 16 characters, 18 bytes
          "wifi_password": "correct horse battery ~ staple!", "wifi_ap_password": "x" * 63}
    cfg, errors = settings.validate(ok)
    assert errors == [] and cfg["wifi_ssid"] == "Café-Müller 5G"
    cfg, errors = settings.validate({"max_current": 16, "wifi_password": "0123456789abcdefABCDEF" * 2 + "0" * 20})
    assert errors == [], errors                     # the PSK as 64 hex digits
    cfg, errors = settings.validate({"max_current": 16, "wifi_ssid": "ü" * 16})   # exactly 32 bytes
    assert errors == [], errors


def test_an_upload_whose_sender_goes_silent_is_given_up_and_the_next_one_is_taken(tmp_path, monkeypatch):
    """A phone uploads a bundle over the set-up Wi-Fi and leaves mid-way: 4 KB of 120 KB sent, then
    nothing, and no FIN (a vanished Wi-Fi peer sends none). The upload is given up after RECV_S of
    silence (cut to 0.3 s here) with the reason, and the next upload is taken. (Before the fix the
    read waited for ever: the update stayed `checking the bundle` and every later upload was
    refused 409 `an update is under way` until a reboot. ESP-IDF's httpd gives up after
    recv_wait_timeout, 5 s; the firmware's own OCPP download after 30 s per chunk.)"""
    import asyncio
    from evse.services import webfw
    monkeypatch.setattr(webfw, "RECV_S", 0.3, raising=False)

    class App:
        def status(self, now):
            return {"session": False, "contactor": False, "tick_gap_ms": 10}

    class Silent:
        def __init__(self, first):
            self.first = first

        async def read(self, n):
            if self.first:
                buf, self.first = self.first[:n], self.first[n:]
                return buf
            await asyncio.sleep(3600)       # the peer is gone: nothing, no end of stream

    class Req:
        content_length = 120000

        def __init__(self, first):
            self.stream = Silent(first)

    async def scenario():
        up = webfw.Updater(App(), None, str(tmp_path / "fw"))
        r, code = await asyncio.wait_for(up.upload(Req(b"x" * 4096)), 5)
        assert code == 400 and "upload stalled" in r["error"] and "4096 of 120000" in r["error"], r
        assert up.phase == webfw.IDLE and not os.path.exists(str(tmp_path / "fw" / "upload.bin"))
        r, code = await asyncio.wait_for(up.upload(Req(b"not a bundle\n")), 5)
        assert code == 400 and "already" not in r["error"] and "under way" not in r["error"], r
    asyncio.run(scenario())


def _running_version(port):
    from tools.evsectl.link import Link
    link = Link(port, timeout=10.0)
    try:
        return link.request("help")["version"]
    finally:
        link.close()


def test_make_flash_runs_the_firmware_it_flashed_not_an_older_web_update(tmp_path):
    """On the virtual board: installed with `make flash`, then updated from the page to 9.0.0 (a
    bundle staged, activated and confirmed, in slot a of its /fw); later the installer runs `make
    flash` from the checkout again to update it. The board must run the checkout's firmware. (Before
    the fix `make flash` copied the files to /evse and reset, but boot.py still put /fw/a first on
    sys.path: the board ran 9.0.0 on, `make flash` said nothing of it, and a second run copied
    nothing.) The flash removes /fw/boot.json: the base install, the one just flashed, runs."""
    from vboard_helpers import VBoard, make_flash, make_flash_installed, mpremote, needs_vboard, wait_a1
    from evse.core.version import VERSION
    if needs_vboard.args and needs_vboard.args[0]:
        pytest.skip(needs_vboard.kwargs.get("reason"))
    vb = VBoard(tmp_path)
    try:
        r = make_flash_installed(vb.tty)
        assert r.returncode == 0, r.stdout
        wait_a1(vb.tty)
        assert _running_version(vb.tty) == VERSION
        root = os.path.join(vb.flash, "fw")                # the page's update, as webfw leaves it
        slot, _ = stage(root, write(tmp_path, version_bundle("9.0.0")))
        bundle.activate(root, slot)
        bundle.confirm(root)
        r = mpremote(vb.tty, "reset")                      # the update's reboot: into slot a
        assert r.returncode == 0, r.stdout
        wait_a1(vb.tty)
        assert _running_version(vb.tty) == "9.0.0"         # the update runs (make flash was before it)
        r = make_flash_installed(vb.tty)                   # the installer updates from the checkout
        assert r.returncode == 0, r.stdout
        wait_a1(vb.tty)
        assert _running_version(vb.tty) == VERSION, "make flash said %r" % r.stdout
        assert "1 removed" in r.stdout, r.stdout
        assert bundle.state(root)["active"] is None
        r = make_flash(vb.tty)                             # nothing left to do (no SETTINGS= this time)
        assert "0 copied, 0 removed" in r.stdout, r.stdout
    finally:
        vb.stop()
