# The machine module of the esp32-ota virtual ESP32: what OTA updates need of
# MicroPython's ports/esp32/modmachine.c. A reset ends the running program and
# restarts the board through the bootloader model, as on a real chip.
import _esp32_hw

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset():
    _esp32_hw.reset("hard")


def soft_reset():
    _esp32_hw.reset("soft")


def reset_cause():
    return _esp32_hw.reset_cause()


def unique_id():
    import binascii

    return binascii.unhexlify(_esp32_hw.unique_id_hex())


def freq(hz=None):
    if hz is None:
        return 160000000


def idle():
    pass


class RTC:
    # The clock is the host's; datetime(tuple) keeps an offset to it, which
    # RTC().datetime() reports (time.time() and time.localtime() stay the host's).
    _offset = 0

    def datetime(self, value=None):
        import time

        if value is None:
            tm = time.gmtime(time.time() + RTC._offset)
            return (tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0)
        year, month, day, _weekday, hour, minute, second = value[:7]
        RTC._offset = time.mktime((year, month, day, hour, minute, second, 0, 0)) - time.time()

    def init(self, value):
        self.datetime(value)
