# ota: over-the-air updates of the MicroPython firmware on an ESP32, pulled by
# the board itself. Modules: ota.update (write new firmware from a URL, a file
# or a stream), ota.rollback (confirm or undo an update), ota.status (what will
# boot next). The same API as glenn20/micropython-esp32-ota, name for name.
