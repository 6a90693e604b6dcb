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
    return _esp32_hw.unique_id()


def freq(hz=None):
    if hz is None:
        return 160000000


def idle():
    pass
