# The services the settings turn on, started once at boot by App.__init__ (evse/app.py): the meter,
# OCPP, the network, the planner, the grid meter, the fallback, MQTT. Code that runs once: the App
# drops this module when start() returns, so its bytecode is freed after boot (docs/design.md,
# "Memory"). Nothing here is kept by a service: the callbacks they hold are the App's methods.
from .shell import hal
from .core import vocab as V
from .shell.hal import ticks_ms, ticks_diff, ticks_add
from .shell.store import join
from .app import OCPP_DIR, _SetupLater


def start(app, board, flash_dir):
    cfg = app.cfg
    if getattr(board, "LOCK_PINS", None):     # a Type 2 socket's plug lock (not imported without)
        from .core.socket_lock import SocketLock
        from .shell.socket_lock import LockDriver
        app.lock = LockDriver(board, app.hw)
        app.charger.lock = SocketLock()
    _start_meter(app, board, flash_dir)
    app.reset_cause = hal.reset_cause(board.PWM_PORT)
    if app.reset_cause == hal.WDT_RESET:
        app.journal.add(ticks_ms(), "watchdog_reset", V.ST_BOOT)
    for e in app.settings_errors:
        app.report(V.SRC_SETTINGS, e)
    if app.charger.settings_error:
        app.report(V.SRC_SETTINGS, "nothing is offered: " + app.charger.settings_error)
    if cfg["ocpp_url"]:                        # after the meter: it reads it at boot (power-loss stop)
        _start_ocpp(app)
    _start_net(app, board)
    _start_planner(app)
    if app.planner is not None and cfg["grid_source"] == V.GRID_MODBUS:
        _start_grid_meter(app, board)
    if cfg["fallback_timeout_s"]:
        _start_fallback(app, cfg, flash_dir)
    if cfg["mqtt_url"]:
        _start_mqtt(app)


def _start_fallback(app, cfg, flash_dir):
    """The silent controller's watch (core/fallback.py): MQTT, REST, and the central system while
    OCPP runs; a controller kept on flash whose service is off is forgotten."""
    from .core.fallback import Fallback
    from .shell.store import read_json, write_json_atomic
    kept = (join(flash_dir, "fallback.json"), read_json, write_json_atomic, app.report)
    app.fallback = Fallback(app.charger, cfg["fallback_current_a"],
                            cfg["fallback_timeout_s"] * 1000, ticks_diff, kept, ticks_ms(), _warner(app))
    if app.ocpp is not None:    # the central system's limit watched too: its frames are its words
        app.watched = app.watched + (Fallback.OCPP,)
        app.fallback.listen(Fallback.OCPP, app.ocpp.heard)
    app.fallback.only([s for s, on in (("mqtt", cfg["mqtt_url"]), ("rest", cfg["web_port"]),
                                        (Fallback.OCPP, app.ocpp is not None)) if on])


def _warner(app):
    """The fallback's lines: a warning on the console and in the log on flash (print before it)."""
    def warn(msg):
        if app.log is not None:
            app.log.warn(msg)
        else:
            print("evse:", msg)
    return warn


def _start_net(app, board):
    if not getattr(board, "WIFI", False):
        return                                 # not imported: it costs heap
    try:
        from .shell.net import Net
        app.net = Net(app.cfg, ticks_diff, ticks_add, app.flash_dir)
        app.services.append(app.net)
        if not app.cfg["wifi_ssid"]:
            app._start_captive()
        else:                                  # loaded if the access point reopens
            app.services.append(_SetupLater(app))
        if app.cfg["ntp_host"]:
            from .services.netclock import NetClock
            app.netclock = NetClock(app.cfg["ntp_host"], app.net.dns_server, hal.set_utc,
                                    ticks_diff, ticks_add, second=app.ocpp.cs_time if app.ocpp is not None else None,
                                    read_utc=hal.utc_seconds)
            app.services.append(app.netclock)
    except Exception as e:     # no network rather than no charger
        app.report("net", repr(e))


def _start_planner(app):
    cfg = app.cfg
    if not (cfg["charge_windows"] or cfg["offpeak_windows"] or cfg["solar_mode"] != "off"):
        return                                 # not imported: it costs heap
    try:
        from .services.planner import Planner
        clock = app.netclock.utc if app.netclock is not None else hal.utc_seconds   # None in doubt
        app.planner = Planner(app, cfg, clock, ticks_diff)
    except Exception as e:     # settings were checked when set: a planner that cannot start offers nothing
        app.report("planner", repr(e))
        app.charger.set_limit(V.SRC_SCHEDULE, 0)
        return
    app.services.append(app.planner)


def _start_grid_meter(app, board):
    """A second unit on the charging meter's bus (its master shared), or the bus alone."""
    cfg = app.cfg
    try:
        from .metering.grid import GridMeter, make_master
        src = app.meter.source if app.meter is not None else None
        master = getattr(src, "master", None)
        if master is not None and getattr(src, "unit", None) == cfg["grid_meter_addr"]:
            raise ValueError("grid_meter_addr %d is the charging meter's unit (meter_addr)" % cfg["grid_meter_addr"])
        if master is None:
            from .shell.meter_io import modbus_uart
            uart = modbus_uart(board, cfg)
            if uart is None:
                raise ValueError("no MODBUS_UART on this board")
            master = make_master(uart, cfg)
        app.grid_meter = GridMeter(master, cfg, app._grid_reading)
    except Exception as e:     # no readings: the planner's silence rule takes the lower current
        app.report("grid_meter", repr(e))
        return
    app.services.append(app.grid_meter)


def _start_ocpp(app):
    # The central system decides who charges: no contactor close without an accepted idTag.
    # Forced on the core, not in cfg, so a settings save never writes it into the file.
    app.charger.auth_forced = True
    try:
        from .ocpp.chargepoint import OcppService    # imported only when used: it costs heap
        from .ocpp.corelink import CoreLink
        app.ocpp = OcppService(CoreLink(app, "ocpp"), app.meter, app.cfg,
                               join(app.flash_dir, OCPP_DIR), hal, on_reset=app._ocpp_reset,
                               dns_server=app._dns())
    except Exception as e:     # no OCPP rather than no charger (auth stays required)
        app.report("ocpp", repr(e))
        return
    app.services.append(app.ocpp)
    app.listeners.append(app.ocpp)


def _start_mqtt(app):
    try:
        from .services.mqtt import MqttService     # imported only when used: it costs heap
        app.mqtt = MqttService(app, app.cfg, hal, app.flash_dir, app._dns())
    except Exception as e:     # no MQTT rather than no charger
        app.report("mqtt", repr(e))
        return
    app.services.append(app.mqtt)
    app.listeners.append(app.mqtt)


def _start_meter(app, board, flash_dir):
    if app.cfg["meter"] == "none":
        return
    try:
        from .metering.meter import make_meter
        from .shell.meter_io import MeterIO
        io = MeterIO(board, app.cfg)
        meter = make_meter(app.cfg, io, flash_dir, wall=hal.utc_seconds)   # session start and end
        if meter.kind == "ct" and getattr(meter.source, "slice_us", 0):
            app._ct = meter.source
            app.hw.attach_ct(app._ct)
        if meter.s0 is not None and not io.attach_s0(meter.s0):
            meter.error = "no S0_PIN on this board"
        app.meter = meter
        if meter.energy is not None and meter.energy.restored is not None:
            app.report("meter", "session closed at boot: %r" % (meter.energy.restored,))
    except Exception as e:     # no meter rather than no charger: the core sees None
        app.report("meter", repr(e))
