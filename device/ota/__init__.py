# ota: over-the-air updates of the MicroPython firmware on an ESP32, pulled by
# the board itself. Modules: ota.update (write new firmware from a URL, a file
# or a stream), ota.rollback (confirm or undo an update), ota.status (what will
# boot next). The same API as glenn20/micropython-esp32-ota, name for name.
# ota.fleet follows a fleet's rollouts over MQTT (docs/fleet.md).

__version__ = "0.2.0"  # the package's version, as in package.json
