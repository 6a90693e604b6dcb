# esp32-ota status, the board's side: what the board knows about its firmware and
# partitions, printed as one JSON line. The host interprets otadata itself, with
# ESP-IDF's rules. Runs through the raw REPL; leaves no names in __main__.
def _esp32_ota_status():
    import binascii
    import json
    import sys

    import esp32

    def label(which):
        try:
            return esp32.Partition(which).info()[4]
        except OSError:
            return None

    try:
        next_update = esp32.Partition(esp32.Partition.RUNNING).get_next_update().info()[4]
        next_error = None
    except OSError as error:
        next_update, next_error = None, repr(error)

    otadata = None
    found = esp32.Partition.find(esp32.Partition.TYPE_DATA, 0)  # subtype ota
    if found:
        entry = bytearray(32)
        otadata = []
        for sector in (0, 1):
            found[0].readblocks(sector, entry)
            otadata.append(binascii.hexlify(entry).decode())

    try:
        import flashbdev

        vfs = flashbdev.bdev.info()[4] if flashbdev.bdev else None
    except ImportError:
        vfs = None

    header = bytearray(32)  # the running app's image header names the chip
    esp32.Partition(esp32.Partition.RUNNING).readblocks(0, header)

    table = [list(p.info()) for kind in (esp32.Partition.TYPE_APP, esp32.Partition.TYPE_DATA) for p in esp32.Partition.find(kind)]
    print(json.dumps({
        "version": sys.version,
        "machine": sys.implementation._machine,
        "platform": sys.platform,
        "running": label(esp32.Partition.RUNNING),
        "boot": label(esp32.Partition.BOOT),
        "nextUpdate": next_update,
        "nextUpdateError": next_error,
        "vfs": vfs,
        "table": table,
        "otadata": otadata,
        "runningHeader": binascii.hexlify(header).decode(),
    }))


_esp32_ota_status()
del _esp32_ota_status
