# esp of the esp32-ota virtual ESP32: MicroPython v1.23's ports/esp32/modesp.c
# for what programs use: flash_size, flash_user_start, flash_read, flash_write,
# flash_erase on the simulated flash, osdebug and the LOG_* levels.
import uctypes
import _esp32_lib

LOG_NONE = 0
LOG_ERROR = 1
LOG_WARNING = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_VERBOSE = 5

_SECTOR = 4096
_osdebug_level = LOG_ERROR


def osdebug(uart_or_none, level=LOG_ERROR):
    global _osdebug_level
    _osdebug_level = LOG_NONE if uart_or_none is None else level


def flash_size():
    return _esp32_lib.flash_size()


def flash_user_start():
    # The start of the filesystem partition, as the port's flash_user_start reports it.
    import flashbdev

    if flashbdev.bdev is None:
        return flash_size()
    return flashbdev.bdev.info()[2]


def _check(code):
    if code != 0:
        raise OSError(5)  # EIO, as a failed spi_flash call


def flash_read(offset, buf):
    _check(_esp32_lib.flash_read(offset, uctypes.addressof(buf), len(buf)))


def flash_write(offset, buf):
    _check(_esp32_lib.flash_write(offset, uctypes.addressof(buf), len(buf)))


def flash_erase(sector):
    _check(_esp32_lib.flash_erase(sector))
