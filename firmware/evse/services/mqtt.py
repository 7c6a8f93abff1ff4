# MQTT 3.1.1 with Home Assistant discovery (docs/mqtt.md), a service over the app's one interface:
# App.status() for what it publishes, App.command() for what it is told (the console's commands
# and checks). Imported only when mqtt_url is set.
#
# Two halves, like OCPP: poll(now) runs from the control loop and only compares the status with
# what was last published (once a second, or at once after an event); run() is an asyncio task
# that owns the socket: connect, publish the changes, read commands, ping, reconnect with backoff.
# Nothing here reads a socket without awaiting it, so the control tick never waits for the broker.
#
# Topics under <prefix> (mqtt_prefix):
#   status                    online / offline (retained; offline is the last will, LWT)
#   state contactor offered_a limit_a enabled fault power_w current_a session_wh total_wh temp_c
#                             retained, published on change
#   limit/set   amps, or "none" to remove MQTT's limit      enabled/set  ON / OFF
#   authorize/set  an id tag                                 stop/set     anything
#   unlock/set  anything: a plug lock releases the cable (the session stopped first)
#   grid/set    the house's grid power, W (import positive), grid_source mqtt (docs/planner.md)
#                             (one-shot: ignored when retained, section 3.3.1.3)
#   error                     why the last command was refused (not retained)
import asyncio
import binascii

from ..core import limits as L
from . import mqtt_wire as W
from .mqtt_cfg import mqtt_url_parts
from ..shell.dns import close_stream, is_ipv4, open_stream, pause, resolve
from ..shell.store import join, read_json, write_json_atomic

KEEPALIVE_S = 60               # section 3.1.2.10; a PINGREQ every half of it
CONNECT_TIMEOUT_S = 10         # TCP open, TLS handshake, CONNECT and its CONNACK together
RECONNECT_MIN_MS = 1000        # backoff after a failed connection or a drop, doubling ...
RECONNECT_MAX_MS = 120000      # ... up to two minutes
RESOLVE_AFTER = 3              # failed connections before the broker's name is looked up again
STATE_EVERY_MS = 1000          # power and energy move without events: compared once a second
ERRORS_QUEUED = 4              # refusals waiting for the broker; more are only counted in last_error
MAX_BODY = 512                 # bytes of one incoming packet kept; longer ones are dropped
# A limit above the number's old max waits this long after the wider config: Home Assistant applies
# a changed config in a task of its own, after a state of the same burst, which it refused as out
# of range (an error in its log, the old state kept under the new max). The max announced is kept
# on flash: a rating raised while the charger was off or away from its broker is held too.
WIDER_SETTLE_MS = 1000
DISCOVERY_PREFIX = "homeassistant"
ON, OFF = "ON", "OFF"


# No reading (a lost meter, no temperature sensor): Home Assistant's word for unknown. A numeric
# sensor ignores an empty payload and keeps showing its last value, and an empty retained message
# clears the broker's copy (the MQTT sensor and number pages).
UNKNOWN = "None"


def _num(x, digits):
    return UNKNOWN if x is None else str(round(x, digits)) if digits else str(int(round(x)))


def state_values(st):
    """{topic suffix: payload} of a status snapshot (App.status)."""
    r = {"state": st["state"], "contactor": ON if st["contactor"] else OFF,
         "offered_a": _num(st["amps"], 1), "limit_a": _num(st["limit"], 1),
         "enabled": ON if st["enabled"] else OFF, "fault": st["fault"] or "none",
         "temp_c": _num(st["temp_c"], 1)}
    e = st.get("energy")
    if e is not None:
        cur = e["current_a"]
        r["power_w"] = _num(e["power_w"], 0)
        r["current_a"] = UNKNOWN if cur is None or cur < 0 else _num(cur, 1)
        r["session_wh"] = _num(e["wh_session"], 0)
        r["total_wh"] = _num(e["wh_total"], 0)
    return r


def parse_limit(payload):
    """Amps (float) or None (remove) from a limit/set payload; ValueError when it is neither. Only
    `none` removes: an empty payload (a retained topic cleared, a template rendered empty) is
    refused, never taken for the maximum."""
    text = payload.decode().strip()
    if text.lower() == "none":
        return None
    try:
        amps = float(text)
    except ValueError:
        raise ValueError("must be a number 0..%d or none" % L.AMPS_MAX)
    return L.check_number(amps, 0, L.AMPS_MAX)


def announced_before(saved):
    """(prefix, number's max) last announced to Home Assistant, as mqtt_ha.json keeps them: (None,
    None) before any. A prefix alone (the file before stop 43) or a damaged max: the max is not
    known, 0, so any limit waits for the number (a second late is the safe side; refused is not)."""
    if isinstance(saved, dict):
        hi = saved.get("max")
        return saved.get("prefix"), hi if type(hi) in (int, float) and hi == hi else 0
    return saved, None if saved is None else 0


class MqttService:
    def __init__(self, app, cfg, clock, flash_dir="/", dns_server=None):
        """clock: ticks_ms, ticks_add, ticks_diff (evse.shell.hal; the bench's virtual clock).
        flash_dir: where a relative mqtt_ca_file lies. dns_server: the Wi-Fi network's DNS server
        (a callable, boards with Wi-Fi): the broker's name is then looked up in steps."""
        self.app = app
        self.dns_server = dns_server
        self.cfg = cfg
        self.clock = clock
        ca = cfg.get("mqtt_ca_file") or None
        self.ca_file = ca if ca is None or ca.startswith("/") else join(flash_dir, ca)
        self.ha_file = join(flash_dir, "mqtt_ha.json")    # the prefix and max last announced (_send_discovery)
        self.tls, self.host, self.port = mqtt_url_parts(cfg["mqtt_url"])
        self.prefix = cfg["mqtt_prefix"] or "evse"
        self.running = True
        self.connected = False
        self.connects = 0             # sessions opened since boot
        self.last_error = None
        self.wake = asyncio.Event()   # something to send: the broker task wakes
        self.topics = {}              # suffix -> payload, as the status says now
        self.sent = {}               # suffix -> payload, as the broker holds it
        self._dirty = True
        self._due_ms = None
        self._ping = False
        self._discover = False
        self._forget = False          # MQTT switched off: leave Home Assistant and the broker (forget)
        self._rating = cfg.get("max_current")   # the number's max announced (a live setting)
        self._max_said = None         # the number's max last announced
        self._held_ms = None          # until then limit_a waits (WIDER_SETTLE_MS)
        self.errors = []             # refusals not yet said on <prefix>/error
        self._ip = None               # the broker's name looked up (see _address)
        self._failures = 0            # connections failed since that lookup

    def topic(self, suffix):
        return self.prefix + "/" + suffix

    def status(self):
        return {"connected": self.connected, "connects": self.connects, "error": self.last_error}

    # --- the control loop's side: cheap, never waits ---
    def on_event(self, ev, now_ms):
        self._dirty = True

    def poll(self, now_ms):
        clock = self.clock
        if not self._dirty and self._due_ms is not None and clock.ticks_diff(now_ms, self._due_ms) < 0:
            return
        self._dirty = False
        self._due_ms = clock.ticks_add(now_ms, STATE_EVERY_MS)
        if self._held_ms is not None and clock.ticks_diff(now_ms, self._held_ms) >= 0:
            self._held_ms = None          # the limit held for a wider number goes out now
            self.wake.set()
        if self.cfg.get("max_current") != self._rating:   # set without a reboot: the limit's number
            self._rating = self.cfg.get("max_current")    # announced again with its new max, or
            self._discover = True                         # Home Assistant refuses its state
            self.wake.set()
        new = state_values(self.app.status(now_ms))
        en = getattr(getattr(self.app, "meter", None), "energy", None)
        if en is not None and "total_wh" in new:   # the count as on flash: a power cut never takes
            new["total_wh"] = _num(en.wh_saved, 0)  # it back below a total already published
        if new != self.topics:
            self.topics = new
            self.wake.set()

    # --- the broker's side (an asyncio task) ---
    async def run(self):
        """Connect, run the session, again after a pause that doubles (1 s to 2 min, each plus a
        random quarter at most) while connecting fails or sessions end soon: only one that
        outlived the keep-alive resets it (a broker that accepts, then drops at once, is not
        dialled every second for ever)."""
        clock = self.clock
        delay = RECONNECT_MIN_MS
        while self.running:
            try:
                reader, writer = await self._open()
            except Exception as e:
                self.last_error = "connect: %r" % (e,)
                self._failures += 1
            else:
                began = clock.ticks_ms()
                try:
                    await self._session(reader, writer)
                except Exception as e:
                    self.last_error = "session: %r" % (e,)
                self.connected = False
                await close_stream(writer)
                # past the keep-alive, or so long that ticks_diff wrapped (negative)
                if not 0 <= clock.ticks_diff(clock.ticks_ms(), began) <= KEEPALIVE_S * 1000:
                    delay = RECONNECT_MIN_MS
            if self.running:
                await pause(delay)
                delay = min(delay * 2, RECONNECT_MAX_MS)

    def stop(self):
        self.running = False
        self.wake.set()

    def forget(self):
        """MQTT switched off (mqtt_url cleared; it applies at the next boot, after which nothing of
        MQTT runs): now, or at the next connection, an empty retained payload on each discovery
        config (Home Assistant's MQTT discovery: it removes the entity), state and the status topic,
        then DISCONNECT (no will), and the service ends. Before, the device stayed in Home
        Assistant, unavailable for ever, and the broker kept its last states."""
        self._forget = True
        self.wake.set()

    async def _address(self):
        """The broker's IP address. A name is looked up once and the answer kept until connecting
        to it fails RESOLVE_AFTER times: on a board with Wi-Fi in steps from the network's DNS
        server (shell/dns.py), elsewhere by the host's getaddrinfo, which blocks the whole loop
        for as long as it takes (an IP address in mqtt_url is never looked up)."""
        h = self.host
        if is_ipv4(h) or ":" in h:
            return h
        if self._ip is None or self._failures >= RESOLVE_AFTER:
            self._failures = 0
            self._ip = await resolve(h, self.port, self.dns_server)
        return self._ip

    async def _open(self):
        """TCP (TLS), CONNECT with the last will, CONNACK, SUBSCRIBE: each step awaited, all of
        them within CONNECT_TIMEOUT_S. MicroPython's open_connection returns before the TLS
        handshake, which runs while CONNECT is sent: a broker that never answers the hello is
        given up here too."""
        ctx = None
        if self.tls:
            from ..shell.tls import make_tls_context      # only for mqtts://: it costs heap
            ctx = make_tls_context(self.ca_file)
        return await asyncio.wait_for(self._connect(ctx), CONNECT_TIMEOUT_S)

    async def _connect(self, ctx):
        # the broker's certificate is for its name: checked against it
        reader, writer = await open_stream(await self._address(), self.port, ctx, name=self.host)
        try:
            writer.write(W.connect(self.client_id(), KEEPALIVE_S, self.cfg["mqtt_user"],
                                   self.cfg["mqtt_password"], self.topic("status"), "offline"))
            await writer.drain()
            first, body = await W.read_packet(reader, MAX_BODY)
            why = "not a CONNACK" if first != W.CONNACK else W.connack_error(body)
            if why:
                raise OSError("broker refused: " + why)
            writer.write(W.subscribe(1, self._filters()))
            await writer.drain()
        except BaseException:
            await close_stream(writer)
            raise
        return reader, writer

    def _filters(self):
        return self.topic("+/set"), DISCOVERY_PREFIX + "/status"

    def _suback(self, body):
        """Section 3.9.3: a return code 0x80 refuses its filter (in SUBSCRIBE's order), typically
        the broker's ACL: said (status, log, <prefix>/error), never taken for a working link."""
        for i, t in enumerate(self._filters()):
            if body[2 + i:3 + i] == b"\x80":
                msg = "subscription to %s refused by the broker: not heard" % t
                self.app.report("mqtt", msg)
                self._error(msg)

    def client_id(self):
        """MQTT 3.1.1 section 3.1.3.1: 1-23 characters of 0-9a-zA-Z are accepted by every broker.
        The serial's letters and digits (readable, cut) and the CRC-32 of the whole serial: one id
        per charger (SN-1 and SN1, or two long serials, are two), else the broker drops one."""
        name = self.cfg.get("serial") or self.prefix
        keep = "".join(c for c in name if "0" <= c <= "z" and (c.isalpha() or c.isdigit()))
        return ("evse" + keep)[:15] + "%08x" % binascii.crc32(name.encode())

    async def _session(self, reader, writer):
        self.connected = True
        self.connects += 1
        self.last_error = None
        self.sent = {}
        self._discover = True
        rx = asyncio.create_task(self._rx(reader))
        pinger = asyncio.create_task(self._pinger())
        try:
            while self.running and not rx.done():
                self.wake.clear()            # before sending: a change during a drain wakes again
                await self._send(writer)
                if not rx.done() and not self.wake.is_set():
                    await self.wake.wait()
        finally:
            for t in (rx, pinger):
                t.cancel()

    async def _send(self, writer):
        if self._forget:
            from . import ha
            for topic in ha.forgotten(self.prefix, "", DISCOVERY_PREFIX):
                writer.write(W.publish(topic, b"", True))
            writer.write(W.DISCONNECT)
            await writer.drain()
            self.running = False
            return
        online = self._discover
        if online:
            self._discover = False
            await self._send_discovery(writer)
        held = self._held_ms is not None
        for k in self.topics:
            v = self.topics[k]
            if self.sent.get(k, 0) != v and not (held and k == "limit_a"):
                writer.write(W.publish(self.topic(k), "" if v is None else v, True))
                self.sent[k] = v
        if online:    # after the states: Home Assistant shows its last ones the moment it reads
            writer.write(W.publish(self.topic("status"), "online", True))   # online (before a cut)
        while self.errors:
            writer.write(W.publish(self.topic("error"), self.errors.pop(0)))
        if self._ping:
            self._ping = False
            writer.write(W.PINGREQ)
        await writer.drain()

    def announced_cfg(self):
        """The settings as announced: the limit's number ends at the board's rating too (no amps it
        never offers); `plug_lock` on a board with one (its Unlock cable button: ha.WITH_LOCK)."""
        cfg = self.cfg
        rating = getattr(self.app.board, "MAX_CURRENT_A", None)
        if rating and (cfg.get("max_current") or 0) > rating:
            cfg = dict(cfg, max_current=rating)
        if self.app.charger.lock is not None:     # a plug lock: its button (ha.WITH_LOCK)
            cfg = dict(cfg, plug_lock=True)
        return cfg

    async def _send_discovery(self, writer):
        """One retained config per entity, one payload in the heap at a time; an empty retained
        payload for each entity no longer announced and its state (ha.retired), and for what the
        charger announced under another prefix (ha.forgotten; the prefix and the number's max
        announced are kept on flash, written when they change)."""
        from . import ha          # imported at the first connection
        from .mqtt_cfg import check
        old, was = announced_before(read_json(self.ha_file))
        if old != self.prefix:
            try:
                check("mqtt_prefix", old)      # a topic prefix, not a damaged file's text (or none)
            except Exception:
                old = None
            if old:
                for topic in ha.forgotten(old, self.prefix, DISCOVERY_PREFIX):
                    writer.write(W.publish(topic, b"", True))
        cfg = self.announced_cfg()
        for topic, payload in ha.configs(self.prefix, cfg, DISCOVERY_PREFIX):
            writer.write(W.publish(topic, payload, True))
            await writer.drain()
            await asyncio.sleep(0)            # the control loop runs between two payloads
        hi = ha.number_max(cfg)
        said = was if self._max_said is None else self._max_said     # since boot, or from flash
        if said is not None and hi > said:
            self._held_ms = self.clock.ticks_add(self.clock.ticks_ms(), WIDER_SETTLE_MS)
        self._max_said = hi
        for topic in ha.retired(self.prefix, cfg, DISCOVERY_PREFIX):
            writer.write(W.publish(topic, b"", True))
        await writer.drain()
        if old != self.prefix or was != hi:
            try:
                write_json_atomic(self.ha_file, {"prefix": self.prefix, "max": hi})
            except OSError as e:           # cleared again at the next connection: no harm
                self.app.report("mqtt", "%s: %r" % (self.ha_file, e))

    async def _pinger(self):
        while True:
            await asyncio.sleep(KEEPALIVE_S / 2)
            self._ping = True
            self.wake.set()

    async def _rx(self, reader):
        """Packets from the broker until the connection ends or goes silent for 1.5 keep-alives
        (we ping every half one, so a live broker always answers in time)."""
        try:
            while True:
                first, body = await asyncio.wait_for(W.read_packet(reader, MAX_BODY),
                                                     KEEPALIVE_S * 3 // 2)
                if body is None:                 # over MAX_BODY: dropped unread, but said
                    if first & 0xF0 == W.PUBLISH:
                        self._error("a message over %d bytes: ignored" % MAX_BODY)
                    continue
                if first & 0xF0 == W.PUBLISH:
                    topic, payload = W.parse_publish(first, body)
                    self.on_message(topic, payload, first & 1)
                elif first == W.SUBACK:
                    self._suback(body)
        except Exception as e:
            self.last_error = "read: %r" % (e,)
        finally:
            self.wake.set()

    # --- commands: the console's, through App.command ---
    def on_message(self, topic, payload, retained=False):
        """retained: the RETAIN flag, set on a message stored before we subscribed (section
        3.3.1.3), delivered again at each connection: a value (limit, enabled) is applied, a
        one-shot command (stop, authorize) is not, or each reconnection would do it again."""
        if topic == DISCOVERY_PREFIX + "/status":
            if payload == b"online":      # Home Assistant restarted: discovery and states again
                self._discover = True
                self.sent = {}
                self.wake.set()
            return
        verb = topic[len(self.prefix) + 1:-4] if topic.endswith("/set") else None
        try:
            if retained and verb in ("stop", "authorize", "grid", "unlock"):   # a grid reading is of its moment
                raise ValueError("retained: ignored (publish it without retain)")
            self._command(verb, payload, self.clock.ticks_ms(), retained)
        except UnicodeError:               # MicroPython's has no words of its own
            self._error("%s: not UTF-8 text" % verb)
        except ValueError as e:
            self._error("%s: %s" % (verb, e))
        except Exception as e:             # never into the loop: said on the error topic
            self._error("%s failed: %r" % (verb, e))
        self._dirty = True

    def _command(self, verb, payload, now, retained=False):
        app = self.app
        if verb == "limit":
            amps = parse_limit(payload)
            # a retained limit is the broker's stored copy, not the controller speaking: MQTT's
            # limit, but no sign of life for the fallback's watch (docs/mqtt.md)
            app.command("limit", amps, now, "mqtt", not retained or amps is None)
        elif verb == "enabled":
            on = payload.decode().strip().upper()
            if on not in (ON, OFF):
                raise ValueError("must be ON or OFF")
            app.command("enable" if on == ON else "disable", None, now, "mqtt")
        elif verb == "authorize":
            tag = payload.decode().strip()
            if not 0 < len(tag) <= 64:
                raise ValueError("id tag must be 1..64 characters")
            if "ocpp" in app.status(now):  # the central system decides who charges, not MQTT
                raise ValueError("OCPP is on: present the id tag to the central system")
            app.command("authorize", tag, now, "mqtt")
        elif verb == "stop":
            app.command("stop", "mqtt", now, "mqtt")
        elif verb == "unlock":             # a Type 2 socket's plug lock: the cable released
            app.command("unlock", None, now, "mqtt")
        elif verb == "grid":
            try:
                watts = float(payload.decode().strip())
            except ValueError:
                raise ValueError("must be watts, import positive")
            app.command("grid", watts, now, "mqtt")
        else:
            raise ValueError("unknown command topic")

    def _error(self, msg):
        self.last_error = msg
        if len(self.errors) < ERRORS_QUEUED:
            self.errors.append(msg)
        self.wake.set()
