# The esp32 module of the esp32-ota virtual ESP32: esp32.Partition as in
# MicroPython v1.23 ports/esp32/esp32_partition.c, on the simulated flash.
# Flash access and the ESP-IDF OTA calls are done by _esp32_hw (TypeScript,
# src/device/board/esp32-hardware.ts), which returns ESP-IDF error codes.
import json
import uctypes
import _esp32_hw

_NATIVE_BLOCK_SIZE = 4096
_ERROR_NAMES = {
    -1: "ESP_FAIL",
    0x101: "ESP_ERR_NO_MEM",
    0x102: "ESP_ERR_INVALID_ARG",
    0x103: "ESP_ERR_INVALID_STATE",
    0x104: "ESP_ERR_INVALID_SIZE",
    0x105: "ESP_ERR_NOT_FOUND",
    0x1503: "ESP_ERR_OTA_VALIDATE_FAILED",
    0x1506: "ESP_ERR_OTA_ROLLBACK_FAILED",
}
_EINVAL = 22
_ENOENT = 2


def _check(code):
    # mphalport.c check_esp_err_: OSError(-code, esp_err_to_name(code))
    if code != 0:
        raise OSError(-code, _ERROR_NAMES.get(code, "ERROR"))


def _entry(address):
    for entry in _table():
        if entry[2] == address:
            return entry
    return None


def _table():
    # (type, subtype, address, size, label, encrypted) in partition table order
    return [tuple(row) for row in json.loads(_esp32_hw.partitions())]


def _first(type, label):
    for entry in _table():
        if entry[0] == type and entry[4] == label:
            return entry
    return None


def _new(entry, block_size):
    if entry is None:
        raise OSError(_ENOENT)
    partition = Partition(_INTERNAL, block_size)
    partition._entry = entry
    return partition


_INTERNAL = object()


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=_NATIVE_BLOCK_SIZE):
        self._block_size = block_size
        if id is _INTERNAL:
            return
        if isinstance(id, int):
            if id == Partition.BOOT:
                entry = _entry(_esp32_hw.boot_partition())
            elif id == Partition.RUNNING:
                entry = _entry(_esp32_hw.running_partition())
            else:
                raise ValueError
        else:
            entry = _first(Partition.TYPE_APP, id) or _first(Partition.TYPE_DATA, id)
        if entry is None:
            raise OSError(_ENOENT)
        self._entry = entry

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=_NATIVE_BLOCK_SIZE):
        found = []
        for entry in _table():
            if entry[0] != type or (subtype != 0xFF and entry[1] != subtype):
                continue
            if label is not None and entry[4] != label:
                continue
            found.append(_new(entry, block_size))
        return found

    def info(self):
        return self._entry

    def readblocks(self, block_num, buf, offset=0):
        start = block_num * self._block_size + offset
        _check(_esp32_hw.read(self._entry[2], start, uctypes.addressof(buf), len(buf)))

    def writeblocks(self, block_num, buf, offset=None):
        start = block_num * self._block_size
        address = self._entry[2]
        if offset is None:
            if self._block_size >= _NATIVE_BLOCK_SIZE:
                _check(_esp32_hw.erase(address, start, len(buf)))
            else:
                self._erase_around(start, len(buf))
        else:
            start += offset
        _check(_esp32_hw.write(address, start, uctypes.addressof(buf), len(buf)))

    def _erase_around(self, start, length):
        # Blocks smaller than a flash sector: keep the rest of each sector (esp32_partition.c).
        cache = bytearray(_NATIVE_BLOCK_SIZE)
        address = self._entry[2]
        sector = (start // _NATIVE_BLOCK_SIZE) * _NATIVE_BLOCK_SIZE
        head = start % _NATIVE_BLOCK_SIZE
        top = start + length
        while sector < top:
            if head > 0 or top < sector + _NATIVE_BLOCK_SIZE:
                _check(_esp32_hw.read(address, sector, uctypes.addressof(cache), _NATIVE_BLOCK_SIZE))
            _check(_esp32_hw.erase(address, sector, _NATIVE_BLOCK_SIZE))
            if head > 0:
                _check(_esp32_hw.write(address, sector, uctypes.addressof(cache), head))
            if top < sector + _NATIVE_BLOCK_SIZE:
                tail = top - sector
                _check(_esp32_hw.write(address, top, uctypes.addressof(cache) + tail, _NATIVE_BLOCK_SIZE - tail))
            head = 0
            sector += _NATIVE_BLOCK_SIZE

    def ioctl(self, cmd, arg):
        if cmd in (1, 2, 3):  # INIT, DEINIT, SYNC
            return 0
        if cmd == 4:  # BLOCK_COUNT
            return self._entry[3] // self._block_size
        if cmd == 5:  # BLOCK_SIZE
            return self._block_size
        if cmd == 6:  # BLOCK_ERASE
            if self._block_size != _NATIVE_BLOCK_SIZE:
                return -_EINVAL
            _check(_esp32_hw.erase(self._entry[2], arg * _NATIVE_BLOCK_SIZE, _NATIVE_BLOCK_SIZE))
            return 0
        return None

    def set_boot(self):
        _check(_esp32_hw.set_boot(self._entry[2]))

    def get_next_update(self):
        return _new(_entry(_esp32_hw.next_update_partition(self._entry[2])), _NATIVE_BLOCK_SIZE)

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        _check(_esp32_hw.mark_app_valid_cancel_rollback())

    def __repr__(self):
        e = self._entry
        return "<Partition type=%u, subtype=%u, address=%u, size=%u, label=%s, encrypted=%u>" % (
            e[0], e[1], e[2], e[3], e[4], 1 if e[5] else 0)
