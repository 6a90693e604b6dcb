# esp32-ota transfer agent: receives an app image as binary frames on stdin
# and writes it into an OTA partition, 4 KiB block by block; or (target an
# absolute path, for esp32-ota fs put) a file on the board's filesystem.
# The host uploads this file through the raw REPL and appends one call:
#   _main(target, length, window, idle_ms, resume)
# Protocol: docs/transfer-protocol.md. Frame layout: src/ota/frames.ts.
# It never calls set_boot(): the OTA engine does that after checking the result.
import sys
import gc
import micropython
import binascii
import hashlib
import struct
import os
import esp32

try:
    import select
except ImportError:
    select = None
try:
    import io
    import deflate
except ImportError:
    deflate = None

_VERSION = 1
_SYNC = 0xA7
_HEADER = 12
_MAX_PAYLOAD = 8192
_BLOCK = 4096
_START = 0x53
_DATA = 0x44
_END = 0x45
_ABORT = 0x58


class _Fail(Exception):
    pass


def _stdin_capacity():
    # What stdin can hold while Python is busy (e.g. writing flash). A board's
    # UART ring is 260 bytes (ports/esp32/mphalport.c, stdin_ringbuf_array);
    # the esp32-ota virtual board (its esp32 module sits on _esp32_hw) has 64 KiB.
    try:
        import _esp32_hw  # noqa: F401

        return 32768
    except ImportError:
        return 256


class _Link:
    # Reads stdin in pieces of at most half the window and tells the host how
    # much it has consumed before the host could run out of window.
    def __init__(self, window, idle_ms):
        self.stdin = sys.stdin.buffer
        self.half = max(window // 2, 1)
        self.consumed = 0
        self.reported = 0
        self.idle_ms = idle_ms
        self.quiet_ms = min(200, idle_ms // 4)
        self.on_quiet = None
        self.poller = None
        if select is not None and idle_ms > 0:
            self.poller = select.poll()
            self.poller.register(sys.stdin, select.POLLIN)

    def say(self, text):
        print(text, self.consumed)
        self.reported = self.consumed

    def read_into(self, mv, step=0):
        # A read of k bytes blocks until all k are there: the idle timeout is
        # only checked between pieces. step=1 (used while lost) never blocks.
        n = len(mv)
        got = 0
        while got < n:
            if self.consumed - self.reported >= self.half:
                self.say("@C")
            k = min(n - got, step or self.half)
            if self.poller is not None and not self.poller.poll(0):
                # Nothing waiting. After a short quiet spell say so: the host
                # may count bytes a UART dropped as still in flight, or (while
                # the frames are lost) have sent all it had.
                if not self.poller.poll(self.quiet_ms):
                    self.say("@W")
                    if self.on_quiet is not None:
                        self.on_quiet()
                    if not self.poller.poll(self.idle_ms):
                        raise _Fail("timeout", "no data from the host for %d ms" % self.idle_ms)
            self.stdin.readinto(mv[got : got + k])
            got += k
            self.consumed += k


class _Frames:
    # Returns good frames in sequence order. A damaged frame is answered with
    # "@N seq" (seq = the frame expected next) and the host resends from seq;
    # after bytes that are no header, the reader slides along the stream to
    # the next sync byte with a valid header check. Frames other than the
    # expected one are skipped. The host has at most `window` bytes in flight
    # and completes the frame in progress before it goes back, so everything
    # later than window + one frame after a NAK was sent after the host saw
    # it: trouble there is new trouble, worth a new NAK.
    def __init__(self, link, window):
        self.link = link
        link.on_quiet = self._quiet
        self.renak = window + _HEADER + _MAX_PAYLOAD
        self.header = bytearray(_HEADER)
        self.hmv = memoryview(self.header)
        self.payload = bytearray(_MAX_PAYLOAD)
        self.pmv = memoryview(self.payload)
        self.expected = 0
        # Stream offset of the last frame taken: the host compares it with
        # where it sent that frame, and so learns how many bytes were lost.
        self.start = 0
        self.lost = False
        self.nak_at = 0

    def _nak(self):
        self.lost = True
        self.nak_at = self.link.consumed
        self.link.say("@N %d" % self.expected)

    def _trouble(self, start):
        if not self.lost or start >= self.nak_at + self.renak:
            self._nak()

    def _quiet(self):
        # Lost, and the host sends nothing more: ask again.
        if self.lost:
            self._nak()

    def _read(self, mv):
        self.link.read_into(mv, 1 if self.lost else 0)

    def next(self):
        # While lost (after a NAK) the stream is read byte by byte: a stale
        # agent then times out even when its host died mid-frame and a new
        # host sends only a few bytes (see the takeover in transfer.ts).
        h = self.header
        link = self.link
        self._read(self.hmv)
        while True:
            start = link.consumed - _HEADER
            if h[0] == _SYNC and binascii.crc32(self.hmv[0:10]) & 0xFFFF == h[10] | h[11] << 8:
                kind = h[1]
                seq = h[2] | h[3] << 8
                n = h[4] | h[5] << 8
                if n <= _MAX_PAYLOAD:
                    pmv = self.pmv[0:n]
                    self._read(pmv)
                    good = binascii.crc32(pmv) == struct.unpack_from("<I", h, 6)[0]
                    if good and kind == _ABORT:
                        raise _Fail("aborted", "the host stopped the transfer: " + bytes(pmv).decode())
                    if seq == self.expected:
                        if good:
                            self.expected += 1
                            self.lost = False
                            self.start = start
                            return kind, pmv
                        self._nak()
                    elif seq > self.expected or not good:
                        self._trouble(start)
                    self._read(self.hmv)
                    continue
            self._trouble(start)
            i = bytes(self.hmv[1:]).find(b"\xa7") + 1
            if i == 0:
                link.read_into(self.hmv, 1)
            else:
                h[0 : _HEADER - i] = h[i:_HEADER]
                link.read_into(self.hmv[_HEADER - i :], 1)


class _Writer:
    # Whole 4 KiB blocks into the partition (writeblocks erases, then writes),
    # a running SHA-256 of the image in block order: blocks that the host did
    # not send (kept by a resume) are read back from flash into the hash.
    def __init__(self, part, length):
        self.part = part
        self.length = length
        self.count = (length + _BLOCK - 1) // _BLOCK
        self.block = bytearray(_BLOCK)
        self.bmv = memoryview(self.block)
        self.sha = hashlib.sha256()
        self.pos = 0
        self.hashed = 0
        self.stream = None
        self.decoder = None
        self.written = 0

    def size_of(self, index):
        return min(_BLOCK, self.length - index * _BLOCK)

    def hash_kept(self, upto):
        while self.pos < upto:
            n = self.size_of(self.pos)
            self.part.readblocks(self.pos, self.block)
            self.sha.update(self.bmv[0:n])
            self.hashed += n
            self.pos += 1

    def start(self, payload):
        first, mode, wbits = struct.unpack("<IBB", payload)
        if first < self.pos or first >= self.count:
            raise _Fail("protocol", "run start %d out of order (at %d of %d)" % (first, self.pos, self.count))
        self.hash_kept(first)
        self.decoder = None
        self.stream = None
        gc.collect()
        if mode == 1:
            if deflate is None:
                raise _Fail("nodeflate", "this firmware has no deflate module")
            self.stream = io.BytesIO()
            self.decoder = deflate.DeflateIO(self.stream, deflate.RAW, wbits)

    def data(self, payload):
        if self.pos >= self.count:
            raise _Fail("protocol", "more blocks than the image has")
        n = self.size_of(self.pos)
        if self.decoder is None:
            if len(payload) != n:
                raise _Fail("protocol", "block %d: %d bytes, expected %d" % (self.pos, len(payload), n))
            self.bmv[0:n] = payload
        else:
            s = self.stream
            s.seek(0)
            s.write(payload)
            s.seek(0)
            try:
                got = self.decoder.readinto(self.bmv[0:n])
            except (OSError, EOFError) as e:
                raise _Fail("deflate", "block %d does not decompress: %r" % (self.pos, e))
            # The decoder must take the whole piece (the last one may end with the
            # final end-of-block code, which the decoder never needs to read).
            used = s.tell()
            if got != n or used > len(payload) or (used < len(payload) and self.pos < self.count - 1):
                raise _Fail("deflate", "block %d: %d bytes from %d of %d" % (self.pos, got, used, len(payload)))
        if n < _BLOCK:
            for i in range(n, _BLOCK):
                self.block[i] = 0xFF
        self.sha.update(self.bmv[0:n])
        self.hashed += n
        self.part.writeblocks(self.pos, self.block)
        self.written += n
        self.pos += 1

    def end(self, payload):
        length, = struct.unpack_from("<I", payload, 0)
        expected = binascii.hexlify(payload[4:36]).decode()
        if length != self.length:
            raise _Fail("length", "the end frame says %d bytes, the agent was told %d" % (length, self.length))
        self.hash_kept(self.count)
        got = binascii.hexlify(self.sha.digest()).decode()
        if self.hashed != length:
            raise _Fail("length", "received %d bytes of %d" % (self.hashed, length))
        if got != expected:
            raise _Fail("sha", "received data has SHA-256 %s, expected %s" % (got, expected))
        sha = hashlib.sha256()
        for i in range(self.count):
            self.part.readblocks(i, self.block)
            sha.update(self.bmv[0 : self.size_of(i)])
        back = binascii.hexlify(sha.digest()).decode()
        if back != expected:
            raise _Fail("readback", "the partition reads back as SHA-256 %s, expected %s" % (back, expected))
        return got


class _FileTarget:
    # A file as the target, with the block interface of a partition. It is
    # written under a temporary name and renamed over the file at the end, so
    # a failed or cut transfer leaves the old file (or none) in place.
    def __init__(self, path, length):
        self.path = path
        self.temp = path + ".esp32-ota"
        self.length = length
        self.file = None
        self.reading = False

    def info(self):
        # Room for the file: the free blocks (littlefs needs a few more for metadata).
        st = os.statvfs(self.path[: self.path.rfind("/")] or "/")
        return (-1, -1, 0, st[0] * st[4], "file")

    def writeblocks(self, index, buf):
        if self.file is None:
            self.file = open(self.temp, "wb")
        self.file.write(memoryview(buf)[0 : min(_BLOCK, self.length - index * _BLOCK)])

    def readblocks(self, index, buf):
        if not self.reading:
            self.file.close()
            self.file = open(self.temp, "rb")
            self.reading = True
        self.file.seek(index * _BLOCK)
        self.file.readinto(memoryview(buf)[0 : min(_BLOCK, self.length - index * _BLOCK)])

    def finish(self, ok):
        if self.file is not None:
            self.file.close()
            self.file = None
        if ok:
            os.rename(self.temp, self.path)
        else:
            try:
                os.remove(self.temp)
            except OSError:
                pass


def _partition(target, length):
    if target.startswith("/"):
        return _FileTarget(target, length)
    running = esp32.Partition(esp32.Partition.RUNNING)
    if target == "next":
        part = running.get_next_update()
    else:
        found = esp32.Partition.find(esp32.Partition.TYPE_APP, label=target)
        if not found:
            raise _Fail("nopartition", "no app partition labelled %s" % target)
        part = found[0]
    if part.info()[2] == running.info()[2]:
        raise _Fail("running", "%s is the running partition" % part.info()[4])
    return part


def _report_crcs(part, count, block):
    line = []
    for i in range(count):
        part.readblocks(i, block)
        line.append("%08x" % binascii.crc32(block))
        if len(line) == 16 or i == count - 1:
            print("@Q", i + 1 - len(line), " ".join(line))
            line = []


def _run(target, length, window, idle_ms, resume):
    part = _partition(target, length)
    if isinstance(part, _FileTarget):
        done = False
        try:
            sha = _receive(part, length, window, idle_ms, resume)
            done = True
        finally:
            part.finish(done)
    else:
        sha = _receive(part, length, window, idle_ms, resume)
    print("@E", sha, length)


def _receive(part, length, window, idle_ms, resume):
    info = part.info()
    if length > info[3]:
        if info[4] == "file":
            raise _Fail("nospace", "the file has %d bytes, the filesystem has %d free" % (length, info[3]))
        raise _Fail("toosmall", "the image has %d bytes, partition %s only %d" % (length, info[4], info[3]))
    if window <= 0:
        window = _stdin_capacity()
    writer = _Writer(part, length)
    link = _Link(window, idle_ms)
    frames = _Frames(link, window)
    gc.collect()
    print(
        "@H %d win=%d max=%d mem=%d deflate=%d part=%s addr=%d size=%d blocks=%d"
        % (_VERSION, window, _MAX_PAYLOAD, gc.mem_free(), deflate is not None, info[4], info[2], info[3], writer.count)
    )
    if resume:
        _report_crcs(part, writer.count, writer.block)
    print("@R")
    while True:
        kind, payload = frames.next()
        seq = frames.expected - 1
        if kind == _START:
            writer.start(payload)
        elif kind == _DATA:
            writer.data(payload)
        elif kind == _END:
            return writer.end(payload)
        else:
            raise _Fail("protocol", "unknown frame type %d" % kind)
        link.say("@A %d %d" % (seq, frames.start))


def _main(target, length, window, idle_ms, resume):
    micropython.kbd_intr(-1)
    try:
        _run(target, length, window, idle_ms, resume)
    except _Fail as e:
        print("@F", e.args[0], e.args[1])
    except MemoryError as e:
        print("@F nomem", repr(e))
    except OSError as e:
        print("@F flash", repr(e))
    except Exception as e:
        print("@F agent", repr(e))
    finally:
        micropython.kbd_intr(3)
