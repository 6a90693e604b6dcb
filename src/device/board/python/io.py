# io of the esp32-ota virtual ESP32: the build's own io plus BufferedWriter as
# in MicroPython v1.23's extmod/modio.c: write() fills a buffer of `size`
# bytes and writes it out whole each time it is full; flush() writes the rest.
import io as _io

for _name in dir(_io):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_io, _name)
del _name


class BufferedWriter(_io.IOBase):
    def __init__(self, stream, size):
        self._stream = stream
        self._buffer = bytearray(size)
        self._used = 0

    def write(self, data):
        view = memoryview(data)
        total = len(view)
        size = len(self._buffer)
        while len(view):
            room = size - self._used
            if len(view) < room:
                self._buffer[self._used : self._used + len(view)] = view
                self._used += len(view)
                break
            self._buffer[self._used :] = view[:room]
            view = view[room:]
            self._write_exactly(self._buffer)
            self._used = 0
        return total

    def flush(self):
        if self._used:
            self._write_exactly(memoryview(self._buffer)[: self._used])
            self._used = 0

    def _write_exactly(self, data):
        view = memoryview(data)
        while len(view):
            written = self._stream.write(view)
            if written is None:
                raise OSError(11)  # EAGAIN
            view = view[written if written else len(view):]
