"""Stop 50: firmware update and rollback attacked end to end, as an attacker and a site operator
try them. The unmodified firmware on the virtual bench, the central system the PyPI `ocpp` library
(every frame checked against the official schemas, octt_cs), the bundles those of the other
update tests (test_firmware_bundle)."""
import pytest

from evse.shell import bundle

from octt_cs import call, charging
from test_octt_firmware import files_case, fw_statuses, now_iso, reboot, update
from test_firmware_bundle import slot_version, stage, version_bundle, write


def test_a_car_that_comes_while_the_firmware_installs_is_not_cut_off_by_the_reboot(tmp_path, monkeypatch):
    """The install waited for the charger to be free; then a driver plugs in and shows a card while
    the bundle is unpacked (seconds on a board). Nothing may start a charge the reboot would cut
    under load: the connector says Unavailable until the new firmware runs, which then charges."""
    monkeypatch.setattr(bundle, "CHUNK", 64)       # a board's slower flash: the install takes a while

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/9.0.0.bin"))
        await b.until(lambda: "Installing" in fw_statuses(cs), 20, "Installing")
        b.d.plug()
        await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        b.d.ev("C")
        coil_at_reset = []
        await b.until(lambda: coil_at_reset.append(b.d.coil) or any("ResetRequested" in e[1] for e in b.app.errors),
                      60, "reboot requested")
        assert not any(coil_at_reset), "the contactor was closed while the new firmware was installed"
        assert not cs.actions("StartTransaction")
        assert "Unavailable" in [p["status"] for p in cs.actions("StatusNotification") if p["connectorId"] == 1]
        b = await reboot(b, power_on, tmp_path, boots=0)
        await b.until(lambda: "Installed" in fw_statuses(cs), 10, "Installed")
    files_case(tmp_path, case, {"/fw/9.0.0.bin": version_bundle("9.0.0")})


class _Body:
    """A web request's body, read as microdot reads it."""

    def __init__(self, data):
        self.data = data

    async def read(self, n):
        buf, self.data = self.data[:n], self.data[n:]
        return buf


class _Upload:
    def __init__(self, data):
        self.content_length = len(data)
        self.stream = _Body(data)


class _Console:
    def __init__(self):
        self.asked = []

    def answer(self, req, now):
        self.asked.append(req)


def test_a_web_upload_and_an_ocpp_update_at_once_never_lose_the_firmware_to_roll_back_to(tmp_path):
    """During a charge the owner uploads 8.0.0 on the page (it waits for the session to end) and the
    central system sends UpdateFirmware 9.0.0 (downloaded, it waits too). The car leaves: one update
    installs, the other is refused with the reason, and the firmware before both (the base install)
    stays the one a rollback returns to."""
    from evse.services import webfw

    async def case(cs, power_on, srv):
        b = await power_on()
        await charging(b)
        root = str(tmp_path / "fw")
        console = _Console()
        web = webfw.Updater(b.app, console, root)
        reply, code = await web.upload(_Upload(version_bundle("8.0.0")))
        assert code == 200 and reply["install"] == "when the session ends", reply
        await update(b, srv.url("/fw/9.0.0.bin"))
        await b.until(lambda: "Downloaded" in fw_statuses(cs), 20, "Downloaded")
        b.d.ev("B")
        b.d.unplug()
        await b.until(lambda: cs.actions("StopTransaction"), what="StopTransaction")
        await b.until(lambda: console.asked or any("ResetRequested" in e[1] for e in b.app.errors),
                      300, "the reboot into one of them")   # (the page looks once a real second)
        st = bundle.state(root)
        assert st["previous"] is None and st["active"] in ("a", "b"), st    # a rollback: the base install
        refused = "InstallationFailed" in fw_statuses(cs) or web.error
        assert refused, (fw_statuses(cs), web.phase, web.error)
        assert "another firmware update" in ((b.svc.last_error or "") + (web.error or ""))
    files_case(tmp_path, case, {"/fw/9.0.0.bin": version_bundle("9.0.0")})


def test_the_running_slot_is_never_activated_over_itself(tmp_path):
    """An install that activates the slot that already runs (two updaters that staged into the same
    slot) made it its own way back: previous == active, so a rollback kept the new firmware."""
    root = str(tmp_path / "fw")
    slot, _ = stage(root, write(tmp_path, version_bundle("9.0.0")))
    bundle.activate(root, slot)
    with pytest.raises(ValueError, match="runs now"):
        bundle.activate(root, slot)
    assert bundle.state(root)["previous"] is None


def test_a_power_cut_right_after_the_new_firmware_is_activated_still_ends_installed(tmp_path, monkeypatch):
    """The power goes the moment boot.json names the new bundle: the flash is as it was then (a
    copy taken at that instant comes back at the power-on). The board comes back on the new
    firmware (on trial): it must confirm itself and report Installed, not download the update again
    and call it InstallationFailed while it runs it (then roll back, unconfirmed, at the next
    reboot)."""
    import shutil
    flash, at_cut = tmp_path / "flash", tmp_path / "at_cut"
    flash.mkdir()
    real = bundle.activate

    def cut(*a, **kw):
        real(*a, **kw)
        shutil.copytree(flash, at_cut)
    monkeypatch.setattr(bundle, "activate", cut)

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/9.0.0.bin"))
        await b.until(lambda: at_cut.exists(), 30, "the power cut")
        await b.stop()                                 # the supply is gone
        shutil.rmtree(flash)
        shutil.copytree(at_cut, flash)                 # what the flash held at that instant
        bundle.select(str(flash / "fw"))               # boot.py when the power comes back
        b = await power_on()
        await b.until(lambda: fw_statuses(cs)[-1] in ("Installed", "InstallationFailed"), 30, "the update's end")
        assert fw_statuses(cs) == ["Downloading", "Downloaded", "Installing", "Installed"], fw_statuses(cs)
        st = bundle.state(str(flash / "fw"))
        assert st["active"] == "a" and not st["trial"], st
    files_case(flash, case, {"/fw/9.0.0.bin": version_bundle("9.0.0")})


def test_an_update_scheduled_far_ahead_is_replaced_by_the_next_update_firmware(tmp_path):
    """The operator schedules an update for a month ahead (a wrong date, or plans changed), then
    sends UpdateFirmware for now. The new request replaces the one that has not begun (as
    EVerest re-arms its timer; OCPP 2.0.1 L01.FR.24: the newest wins): before, every later
    UpdateFirmware was answered and ignored for the month, across reboots."""
    async def case(cs, power_on, srv):
        b = await power_on()
        res = await cs.call("cp1", call.UpdateFirmware(location=srv.url("/fw/8.0.0.bin"),
                                                       retrieve_date=now_iso(b, 30 * 86400)))
        assert res is not None
        await b.wait(2.0)
        assert fw_statuses(cs) == []                   # 1.6 has no status for a wait
        await update(b, srv.url("/fw/9.0.0.bin"))
        await b.until(lambda: "Installing" in fw_statuses(cs), 20, "Installing")
        b = await reboot(b, power_on, tmp_path)
        await b.until(lambda: "Installed" in fw_statuses(cs), 10, "Installed")
        assert slot_version(str(tmp_path / "fw"), "a") == "9.0.0"
        await b.wait(2.0)
        assert b.svc.state["fw"] is None                # the month-ahead one is gone for good
    files_case(tmp_path, case, {"/fw/8.0.0.bin": version_bundle("8.0.0"), "/fw/9.0.0.bin": version_bundle("9.0.0")})


def test_a_rolled_back_update_says_why_in_the_ocpp_status(tmp_path):
    """A bundle that crashes at its first start is rolled back; the central system hears
    InstallationFailed, and the operator at the console (the status's ocpp error) reads why, not
    nothing."""
    from tools import bundle as make_bundle
    from test_firmware_bundle import firmware_files

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/crash.bin"))
        await b.until(lambda: "Installing" in fw_statuses(cs), 20, "Installing")
        b = await reboot(b, power_on, tmp_path, boots=2)
        await b.until(lambda: "InstallationFailed" in fw_statuses(cs), 10, "InstallationFailed")
        err = b.svc.last_error or ""
        assert "9.9.9" in err and "rolled back" in err, err
    crash = make_bundle.make(firmware_files(b"raise RuntimeError('broken')\n"), "9.9.9")
    files_case(tmp_path, case, {"/fw/crash.bin": crash})


def test_the_page_does_not_call_an_update_the_power_cut_before_its_activation_rolled_back(tmp_path):
    """The page's update had written its mark (what it installs) and the power went before
    boot.json named the new slot: the old firmware runs, and it was never tried. The page said
    `rolled back: 8.0.0 did not confirm itself`; it says the update was not installed."""
    import asyncio
    import json
    from evse.services import webfw
    from evse.services.web import FW_MARK

    class App:
        def status(self, now):
            return {"session": False, "contactor": False, "tick_gap_ms": 10}

    root = str(tmp_path / "fw")
    slot, _ = stage(root, write(tmp_path, version_bundle("8.0.0")))
    with open(root + FW_MARK, "w") as f:
        json.dump({"slot": slot, "version": "8.0.0", "from": "7.0.0"}, f)
    up = webfw.Updater(App(), None, root)
    asyncio.run(up.after_boot())
    assert "rolled back" not in up.result and "not installed" in up.result, up.result


def test_nothing_starts_a_charge_while_the_firmware_installs(tmp_path, monkeypatch):
    """While the bundle is unpacked the connector is Unavailable: a RemoteStartTransaction is
    Rejected (1.6: the connector cannot take it), a card is not sent to the central system, and a
    ChangeAvailability Operative sent meanwhile does not give the core back before the reboot. A
    bad bundle then fails the install and the connector is Available again."""
    monkeypatch.setattr(bundle, "CHUNK", 64)       # a board's slower flash: the install takes a while
    good = version_bundle("9.0.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/bad.bin"))
        await b.until(lambda: "Installing" in fw_statuses(cs), 20, "Installing")
        b.d.plug()
        res = await cs.call("cp1", call.RemoteStartTransaction(id_tag="GOOD", connector_id=1))
        assert res.status == "Rejected"
        res = await cs.call("cp1", call.ChangeAvailability(connector_id=0, type="Operative"))
        assert res.status == "Accepted"
        reply = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
        assert not reply.get("authorized"), reply
        b.d.ev("C")
        await b.until(lambda: "InstallationFailed" in fw_statuses(cs), 60, "InstallationFailed")
        assert not cs.actions("StartTransaction") and not cs.actions("Authorize")
        assert not b.d.coil
        await b.until(lambda: [p["status"] for p in cs.actions("StatusNotification")
                               if p["connectorId"] == 1][-1] in ("Available", "Preparing"), 10, "connector back")
    files_case(tmp_path, case, {"/fw/bad.bin": good[:-4] + b"BAD\n"})


def test_a_failed_install_leaves_a_charger_the_owner_disabled_disabled(tmp_path):
    """The owner disabled the charger on the console; an update's install fails. The connector
    comes back as it was: still disabled, not switched on by the update."""
    good = version_bundle("9.0.0")

    async def case(cs, power_on, srv):
        b = await power_on()
        assert (await b.reply({"cmd": "disable"}))["enabled"] is False
        await update(b, srv.url("/fw/bad.bin"))
        await b.until(lambda: "InstallationFailed" in fw_statuses(cs), 20, "InstallationFailed")
        assert b.app.charger.enabled is False
    files_case(tmp_path, case, {"/fw/bad.bin": good[:-4] + b"BAD\n"})


def test_a_power_cut_just_before_the_activation_ends_installation_failed_with_the_reason(tmp_path, monkeypatch):
    """The power goes after the update's reboot step is on flash, before boot.json names the new
    bundle: the old firmware comes back, reports InstallationFailed, and says why."""
    import shutil
    flash, at_cut = tmp_path / "flash", tmp_path / "at_cut"
    flash.mkdir()
    real = bundle.activate

    def cut(*a, **kw):
        shutil.copytree(flash, at_cut)
        real(*a, **kw)
    monkeypatch.setattr(bundle, "activate", cut)

    async def case(cs, power_on, srv):
        b = await power_on()
        await update(b, srv.url("/fw/9.0.0.bin"))
        await b.until(lambda: at_cut.exists(), 30, "the power cut")
        await b.stop()
        shutil.rmtree(flash)
        shutil.copytree(at_cut, flash)
        bundle.select(str(flash / "fw"))
        b = await power_on()
        await b.until(lambda: fw_statuses(cs)[-1] in ("Installed", "InstallationFailed"), 30, "the update's end")
        assert fw_statuses(cs) == ["Downloading", "Downloaded", "Installing", "InstallationFailed"], fw_statuses(cs)
        assert "not installed" in (b.svc.last_error or ""), b.svc.last_error
        assert bundle.state(str(flash / "fw"))["active"] is None
    files_case(flash, case, {"/fw/9.0.0.bin": version_bundle("9.0.0")})
