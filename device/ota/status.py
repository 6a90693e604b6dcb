# ota.status: which firmware runs, what boots next, the partition table and
# otadata, read by ESP-IDF's rules (bootloader_common_loader.c): an otadata
# entry is valid when its seq is set, its state is not INVALID or ABORTED and
# its CRC (over the seq alone) matches; NEW, PENDING_VERIFY and UNDEFINED count.
import struct
import sys

import binascii
from esp32 import Partition

_STATES = {0: "NEW", 1: "PENDING_VERIFY", 2: "VALID", 3: "INVALID", 4: "ABORTED", 0xFFFFFFFF: "UNDEFINED"}
_CHIPS = {0: "esp32", 2: "esp32s2", 5: "esp32c3", 9: "esp32s3", 12: "esp32c2", 13: "esp32c6", 16: "esp32h2", 18: "esp32p4", 20: "esp32c61", 23: "esp32c5"}
_PENDING_VERIFY = 1
_INVALID = 3
_ABORTED = 4
_TYPE_DATA = 1
_SUBTYPE_OTA = 0


def _label(which):
    try:
        return Partition(which).info()[4]
    except OSError:
        return None


def firmware_version():
    """The running MicroPython's version, e.g. 'v1.23.0' (from sys.version)."""
    text = sys.version
    start = text.find("MicroPython ")
    if start < 0:
        return text
    return text[start + 12 :].split(" ")[0].rstrip(";,")


def chip():
    """The chip the running firmware was built for, from its image header."""
    header = bytearray(32)
    Partition(Partition.RUNNING).readblocks(0, header)
    chip_id = struct.unpack_from("<H", header, 12)[0]
    return _CHIPS.get(chip_id, "chip id 0x%x" % chip_id)


def partition_table():
    """The partition table as info() tuples (type, subtype, offset, size, label, encrypted), by offset."""
    table = [p.info() for kind in (Partition.TYPE_APP, Partition.TYPE_DATA) for p in Partition.find(kind)]
    table.sort(key=lambda info: info[2])
    return table


def ota_partitions():
    """The OTA app partitions (ota_0, ota_1, ...) in subtype order."""
    slots = [p for p in Partition.find(Partition.TYPE_APP) if 0x10 <= p.info()[1] < 0x20]
    slots.sort(key=lambda p: p.info()[1])
    return slots


def otadata():
    """The two otadata entries as (seq, state, crc, valid), or None without an otadata partition."""
    found = Partition.find(_TYPE_DATA, _SUBTYPE_OTA)
    if not found:
        return None
    entries = []
    raw = bytearray(32)
    for sector in (0, 1):
        found[0].readblocks(sector, raw)
        seq, state, crc = struct.unpack_from("<I20xII", raw)
        good_crc = crc == binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF
        valid = seq != 0xFFFFFFFF and state not in (_INVALID, _ABORTED) and good_crc
        entries.append((seq, state, crc, valid))
    return entries


def _active(entries, rollback=False):
    """Index of the entry the bootloader follows; with rollback, PENDING_VERIFY counts as ABORTED (next reset)."""
    best = None
    for i, (seq, state, _crc, valid) in enumerate(entries):
        if valid and not (rollback and state == _PENDING_VERIFY):
            if best is None or seq > entries[best][0]:
                best = i
    return best


def _fallback():
    apps = Partition.find(Partition.TYPE_APP)
    for p in apps:
        if p.info()[1] == 0:  # factory
            return p
    slots = ota_partitions()
    return slots[0] if slots else None


def boot_ota():
    """The partition the bootloader will boot at the next reset (rolling back an unconfirmed update)."""
    entries = otadata()
    if entries is None:
        return _fallback()
    slots = ota_partitions()
    index = _active(entries, rollback=True)
    if index is None or not slots:
        return _fallback()
    return slots[(entries[index][0] - 1) % len(slots)]


def ready():
    """True when the board can take an OTA update: it has otadata and a next update partition."""
    if otadata() is None:
        return False
    try:
        Partition(Partition.RUNNING).get_next_update()
    except OSError:
        return False
    return True


def _thousands(n):
    text = str(n)
    groups = []
    while len(text) > 3:
        groups.insert(0, text[-3:])
        text = text[:-3]
    groups.insert(0, text)
    return ",".join(groups)


def status():
    """Print what the board runs, what it boots next, its partition table and otadata."""
    running = _label(Partition.RUNNING)
    print("Micropython firmware %s has booted from partition '%s'." % (firmware_version(), running))
    nxt = boot_ota()
    entries = otadata()
    pending = False
    if entries is not None:
        index = _active(entries)
        pending = index is not None and entries[index][1] == _PENDING_VERIFY
    if nxt is not None:
        note = " (the running firmware is not confirmed: the bootloader rolls back)" if pending else ""
        print("Micropython will boot from partition '%s' on next reset%s." % (nxt.info()[4], note))
    try:
        print("The next OTA partition is '%s'." % Partition(Partition.RUNNING).get_next_update().info()[4])
    except OSError as error:
        print("There is no OTA partition to update (%s)." % (error,))
    try:
        import flashbdev

        print("The / filesystem is mounted from partition '%s'." % flashbdev.bdev.info()[4])
    except (ImportError, AttributeError):
        pass
    print("Partition table:")
    print("# Name       Type     SubType      Offset       Size (bytes)")
    for kind, subtype, offset, size, label, _enc in partition_table():
        kind_name = {0: "app", 1: "data"}.get(kind, str(kind))
        print("  %-10s %-8s %-10s %#9x %#10x %10s" % (label, kind_name, _subtype_name(kind, subtype), offset, size, _thousands(size)))
    if entries is None:
        print("No otadata partition: the bootloader always boots the factory app.")
        return
    print("OTA data:")
    for i, (seq, state, crc, valid) in enumerate(entries):
        print("  entry %d: seq=%#x state=%s crc=%#010x %s" % (i, seq, _STATES.get(state, "%#x" % state), crc, "valid" if valid else "invalid"))


def _subtype_name(kind, subtype):
    if kind == 0:
        if subtype == 0:
            return "factory"
        if 0x10 <= subtype < 0x20:
            return "ota_%d" % (subtype - 0x10)
        if subtype == 0x20:
            return "test"
    else:
        names = {0: "ota", 1: "phy", 2: "nvs", 3: "coredump", 4: "nvs_keys", 5: "efuse", 0x80: "esphttpd", 0x81: "fat", 0x82: "spiffs", 0x83: "littlefs"}
        if subtype in names:
            return names[subtype]
    return "%#x" % subtype
