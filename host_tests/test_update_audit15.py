"""Stop 50: firmware update and rollback attacked end to end, as an attacker and a site operator
try them. The unmodified firmware on the virtual bench, the central system the PyPI `ocpp` library
(every frame checked against the official schemas, octt_cs), the bundles those of the other
update tests (test_firmware_bundle)."""
from evse.shell import bundle

from octt_cs import run_case, status_is
from test_octt_firmware import FileServer, fw_statuses, reboot, update
from test_firmware_bundle import version_bundle


def files_case(tmp_path, scenario, files=None, **kw):
    async def case(cs, power_on):
        srv = await FileServer(files).start()
        try:
            await scenario(cs, power_on, srv)
        finally:
            await srv.stop()
    run_case(tmp_path, case, **kw)


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
