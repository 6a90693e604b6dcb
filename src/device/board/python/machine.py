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


class UART:
    # machine.UART of ports/esp32/machine_uart.c (v1.23) for UART0, the REPL's
    # (the only UART the virtual board has). make_new leaves the REPL UART's
    # driver alone (none is installed: uart.c has its own interrupt handler
    # and stdin ring), so init() sets the rate with uart_set_baudrate, which
    # needs no driver, and the REPL goes on at the new rate. Then, with
    # timeout_char shorter than a character, it calls
    # uart_set_rx_full_threshold, which returns ESP_ERR_INVALID_STATE without
    # a driver: OSError, after the rate has changed. rxbuf/txbuf are refused.
    # uart_stdout_init puts back 115200 at each boot, not at a soft reset.
    def __init__(self, id, baudrate=0, bits=0, parity=None, stop=0, **kw):
        if id != 0:
            raise ValueError("UART(%d) is not modelled by the virtual board (only UART(0), the REPL's)" % id)
        self._timeout_char = 0
        self.init(baudrate, bits, parity, stop, **kw)

    def init(self, baudrate=0, bits=0, parity=None, stop=0, *, rxbuf=-1, txbuf=-1, timeout=-1, timeout_char=-1, **other):
        if rxbuf >= 0 or txbuf >= 0:
            raise ValueError("UART buffer size is fixed")
        if baudrate > 0:
            _esp32_hw.uart_repl_baud(baudrate)
        baud = _esp32_hw.uart_repl_baud(0)
        if timeout_char != -1:
            self._timeout_char = timeout_char
        if self._timeout_char // (12000 // baud + 1) < 1:
            raise OSError(-259, "ESP_ERR_INVALID_STATE")

    def __repr__(self):
        return "UART(0, baudrate=%d, timeout_char=%d)" % (_esp32_hw.uart_repl_baud(0), self._timeout_char)


class Timer:
    # machine.Timer of ports/esp32/machine_timer.c: id & 3 picks a hardware
    # timer (group id >> 1, index id & 1). Each alarm schedules the callback
    # with the timer as argument (None is called too, and raises TypeError as
    # on a board) and wakes the main task. The virtual board runs scheduled
    # callbacks when the program waits (sleep, stdin, poll, sockets), not
    # between the bytecodes of a busy loop. A soft reset stops every timer.
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, **kw):
        self._id = id & 3
        self._mode = 1
        self._period = 0
        self._callback = None
        if kw:
            self.init(**kw)

    def init(self, *, mode=1, callback=None, period=0xFFFFFFFF, tick_hz=1000, freq=None):
        if freq is not None:
            period_ms = 1000 / freq
        else:
            # The port takes period as an unsigned 32-bit count of ticks.
            period_ms = (period & 0xFFFFFFFF) * 1000 / tick_hz
        self._mode = 1 if mode else 0
        self._period = period_ms
        self._callback = callback
        _esp32_hw.timer_start(self._id, period_ms, self._mode, self._fire)

    def _fire(self):
        self._callback(self)

    def deinit(self):
        _esp32_hw.timer_stop(self._id)

    def value(self):
        return _esp32_hw.timer_value(self._id)

    def __repr__(self):
        return "Timer(%u, mode=%s, period=%d)" % (self._id, "PERIODIC" if self._mode else "ONE_SHOT", int(self._period))
