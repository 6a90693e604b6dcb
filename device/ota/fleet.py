# ota.fleet: the board's side of a fleet rollout over MQTT (docs/fleet.md).
# The board publishes what it runs (retained, at every connect and change,
# with a retained "online" flag and a last will), follows its command topic
# (QoS 1, persistent session), acts once per rollout id (kept in
# /ota_fleet.json), pulls the update with ota.update, resets, and after the
# reset runs the app's health check: confirm and report success, or reset
# unconfirmed so the bootloader rolls back, and report that.
#
#   import ota.fleet
#   ota.fleet.run("mqtt://broker.local", "lab", health=check)       # blocks (main.py)
#   fleet = ota.fleet.Fleet("mqtt://broker.local", "lab", health=check)
#   while True: fleet.poll(); ...                                   # an app's own loop
import binascii
import json
import time

import machine
from esp32 import Partition

from . import __version__, rollback, status

try:
    from umqtt.simple import MQTTClient
except ImportError:  # firmware without the frozen umqtt.simple: ours (the same API)
    from .mqtt import MQTTClient

STATE_FILE = "/ota_fleet.json"
MIN_BACKOFF_MS = 1000  # reconnect after 1 s, then 2, 4, ... up to MAX_BACKOFF_MS
MAX_BACKOFF_MS = 60000
_STATE_NAMES = {0: "new", 1: "pending-verify", 2: "valid", 3: "invalid", 4: "aborted", 0xFFFFFFFF: "undefined"}


def default_device_id():
    """The default device id: machine.unique_id() as lowercase hex."""
    return binascii.hexlify(machine.unique_id()).decode()


def running_state():
    """The running slot's otadata state ('valid', 'pending-verify', ...), or 'factory' when no entry applies."""
    entries = status.otadata()
    slots = status.ota_partitions()
    if not entries or not slots:
        return "factory"
    best = None
    for seq, state, _crc, valid in entries:
        if valid and (best is None or seq > best[0]):
            best = (seq, state)
    running = Partition(Partition.RUNNING).info()[4]
    if best is None or slots[(best[0] - 1) % len(slots)].info()[4] != running:
        return "factory"
    return _STATE_NAMES.get(best[1], "undefined")


def _split_broker(url):
    """(host, port, tls, user, password) of mqtt://[user:pw@]host[:port] or mqtts://..."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "mqtts"):
        raise ValueError("the broker must be an mqtt:// or mqtts:// URL, not %s" % url)
    rest = rest.split("/")[0]
    user = password = None
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
    host, _, port = rest.partition(":")
    tls = scheme == "mqtts"
    return host, int(port) if port else (8883 if tls else 1883), tls, user, password or None


def _load_state():
    try:
        with open(STATE_FILE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Fleet:
    """One board of a fleet. poll() does a little of the work each call; run() loops over it."""

    def __init__(self, broker, fleet, health=None, user=None, password=None, ssl=None, device_id=None, prefix="esp32-ota", pubkey=None, keepalive=60, auth=None, token=None, ca=None, verbose=True):
        host, port, tls, url_user, url_password = _split_broker(broker)
        if tls and ssl is None:
            import ssl as ssl_module

            ssl = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_CLIENT)  # encrypted, not authenticated: pass ssl= with a CA to verify
        self.device = device_id or default_device_id()
        self.fleet = fleet
        self.health = health
        self.pubkey = pubkey
        self.keepalive = keepalive
        self.verbose = verbose
        self.request_args = {key: value for key, value in (("auth", auth), ("token", token), ("ca", ca)) if value is not None}
        self.topic = "%s/%s/devices/%s/" % (prefix, fleet, self.device)
        self.client = MQTTClient(prefix + "-" + self.device, host, port, user or url_user, password or url_password, keepalive, ssl)
        self.client.set_callback(self._message)
        self.client.set_last_will(self.topic + "online", "0", True, 1)
        self.state = _load_state()  # {"rollout", "version", "result", "error", "target", "previous"}
        self.connected = False
        self.pending = None  # a command to act on
        self.retry_at = time.ticks_ms()
        self.backoff = MIN_BACKOFF_MS
        self.last_sent = self.last_heard = 0
        self.poller = None
        self.started = False

    def _log(self, text):
        if self.verbose:
            print("fleet: " + text)

    # --- what the board runs, published retained ---

    def report(self):
        """The status payload (docs/fleet.md)."""
        state = running_state()
        update_info = None
        if self.state.get("rollout"):
            update_info = {key: self.state.get(key) for key in ("rollout", "version", "result", "error")}
        return {
            "device": self.device,
            "fleet": self.fleet,
            "chip": status.chip(),
            "version": status.firmware_version(),
            "partition": Partition(Partition.RUNNING).info()[4],
            "state": state,
            "confirmed": state in ("valid", "undefined", "factory"),
            "update": update_info,
            "package": __version__,
            "time": time.ticks_ms() // 1000,
        }

    def _record(self, **changes):
        """Change the update's state, keep it in STATE_FILE, and tell the broker."""
        self.state.update(changes)
        with open(STATE_FILE, "w") as f:
            json.dump(self.state, f)
        self._log("%s %s: %s%s" % (self.state.get("rollout"), self.state.get("version"), self.state.get("result"), (" (%s)" % self.state["error"]) if self.state.get("error") else ""))
        if self.connected:
            try:
                self._publish_status()
            except OSError as error:  # told again at the next connect
                self._lost(error)

    def _publish(self, name, payload, retain=True, qos=1):
        self.client.publish(self.topic + name, payload, retain, qos)
        self.last_sent = time.ticks_ms()

    def _publish_status(self):
        self._publish("status", json.dumps(self.report()))

    # --- after a reset: what became of the last update ---

    def _check_boot(self):
        result = self.state.get("result")
        running = Partition(Partition.RUNNING).info()[4]
        if result == "downloading":
            self._record(result="failed", error="the board reset during the download; the boot partition was not changed")
        elif result == "installed" and running != self.state.get("target"):
            self._record(result="rolled-back", error="the new firmware did not confirm itself (no health check passed on %s): the bootloader went back to %s" % (self.state.get("target"), running))
        elif result == "installed":
            self._verify_new_firmware()

    def _verify_new_firmware(self):
        pending = running_state() == "pending-verify"
        error = None
        try:
            if self.health and self.health() is False:
                error = "the health check returned False"
        except Exception as exc:  # any failure of the app's check is a failed check
            error = "the health check raised %s: %s" % (type(exc).__name__, exc)
        if error is None:
            if pending:
                rollback.cancel()
            self._record(result="success", error=None)
            return
        self._record(result="rolled-back", error=error)
        if not pending:  # a bootloader without rollback: boot the previous firmware ourselves
            Partition(self.state["previous"]).set_boot()
        self._log("resetting unconfirmed: the bootloader boots %s again" % self.state.get("previous"))
        machine.reset()

    # --- the connection ---

    def _connect(self):
        self._log("connecting to %s:%d as %s" % (self.client.server, self.client.port, self.client.client_id))
        try:
            self.client.connect(False, 10)  # a persistent session: commands sent while away are kept
        except TypeError:  # v1.23's frozen umqtt.simple has no timeout
            self.client.connect(False)
        self.connected = True
        self.last_sent = self.last_heard = time.ticks_ms()
        import select

        self.poller = select.poll()
        self.poller.register(self.client.sock, select.POLLIN)
        self._publish("online", "1")
        self._publish_status()
        self.client.subscribe(self.topic + "command", 1)
        self.backoff = MIN_BACKOFF_MS
        self._log("connected; following %scommand" % self.topic)

    def _lost(self, error):
        self._log("connection lost (%r); reconnecting in %d s" % (error, self.backoff // 1000))
        self.connected = False
        try:
            self.client.sock.close()
        except Exception:
            pass
        self.client.sock = None
        self.retry_at = time.ticks_add(time.ticks_ms(), self.backoff)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_MS)

    def _message(self, topic, msg):
        self.last_heard = time.ticks_ms()
        if topic.decode() != self.topic + "command":
            return
        if not msg:
            self.pending = None  # the host deleted the command
            return
        try:
            command = json.loads(msg)
            command["rollout"], command["manifest"]
        except (ValueError, KeyError, TypeError):
            self._log("ignoring a command that is not JSON with rollout and manifest: %r" % msg[:80])
            return
        if command["rollout"] != self.state.get("rollout"):
            self.pending = command

    def _receive(self, timeout_ms):
        while self.poller.poll(timeout_ms):
            self.client.wait_msg()
            self.last_heard = time.ticks_ms()
            timeout_ms = 0
        now = time.ticks_ms()
        if not self.keepalive:  # 0: no keepalive, as in MQTT
            return
        if time.ticks_diff(now, self.last_heard) > self.keepalive * 1500:
            raise OSError(-1)  # no answer to our pings: the connection is dead
        if time.ticks_diff(now, self.last_sent) > self.keepalive * 500:
            self.client.ping()
            self.last_sent = now

    # --- the update ---

    def _act(self, command):
        self.pending = None
        running = Partition(Partition.RUNNING).info()[4]
        self.state = {"rollout": command["rollout"], "version": command.get("version")}
        if command.get("version") == status.firmware_version() and not command.get("force"):
            self._record(result="success", error=None)
            return
        self._record(result="downloading", error=None, previous=running)
        decile = [0]

        def progress(done, total):
            if not self.connected:
                return
            try:
                if total and done * 10 // total > decile[0]:
                    decile[0] = done * 10 // total
                    self._publish("progress", json.dumps({"rollout": command["rollout"], "bytes": done, "total": total}), False, 0)
                elif self.keepalive and time.ticks_diff(time.ticks_ms(), self.last_sent) > self.keepalive * 500:
                    self.client.ping()  # the answer is read after the download
                    self.last_sent = time.ticks_ms()
            except OSError as error:  # the download goes on; the status is told at the next connect
                self._lost(error)

        try:
            from . import update  # imported only for an update: ~45 KB of compiled code on a board

            with update.OTA(verbose=self.verbose, progress=progress) as ota_update:
                changed = ota_update.from_json(command["manifest"], force=bool(command.get("force")), pubkey=self.pubkey, **self.request_args)
                target = ota_update.label
        except Exception as exc:  # anything refused or failed: nothing was set to boot
            self._record(result="failed", error="%s: %s" % (type(exc).__name__, exc))
            return
        if not changed:
            self._record(result="success", error=None)
            return
        self._record(result="installed", target=target)
        if self.connected:
            try:
                self._publish("online", "0")
                self.client.disconnect()
            except OSError:
                pass
            self.connected = False
        self._log("resetting into %s" % target)
        machine.reset()

    def poll(self, timeout_ms=0):
        """Do what is due: the boot check (first call), (re)connect, read messages (waiting up to
        timeout_ms), keep the connection alive, and act on a new command (which downloads, and resets)."""
        if not self.started:
            self.started = True
            self._check_boot()
        if not self.connected:
            wait = time.ticks_diff(self.retry_at, time.ticks_ms())
            if wait > 0:
                time.sleep_ms(min(wait, timeout_ms))
                return
            try:
                self._connect()
            except Exception as exc:  # OSError, MQTTException: the broker is away or refused
                self._lost(exc)
                return
        try:
            self._receive(timeout_ms)
            if self.pending:
                self._act(self.pending)
        except Exception as exc:  # OSError, or a broker that sends what MQTT 3.1.1 does not allow: start again
            self._lost(exc)

    def run(self):
        while True:
            self.poll(1000)


def run(broker, fleet, health=None, **options):
    """Follow the fleet forever (for main.py). options: those of Fleet."""
    Fleet(broker, fleet, health, **options).run()
