# esp32-ota transfer agent: receives an app image as binary frames on stdin
# and writes it into an OTA partition, 4 KiB block by block; or (target an
# absolute path, for esp32-ota fs put) a file on the board's filesystem.
# The host uploads this file through the raw REPL and appends one call:
#   _main(target, length, window, idle_ms, resume, group, text, baud, old_baud)
# group: 4 KiB blocks written at once (16: one 64 KiB block erase).
# text=1: each frame comes as base64 (header, then payload, each encoded on its
# own), for links that carry only text (a browser's WebSocket to WebREPL).
# baud: run the REPL UART at this rate for the transfer (0: stay at old_baud).
# Protocol: docs/transfer-protocol.md. Frame layout: src/ota/frames.ts.
# It never calls set_boot(): the OTA engine does that after checking the result.
import sys
import gc
import micropython
import binascii
import hashlib
import struct
import os
import time
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
# Writing group blocks of 4 KiB at once where the partition allows: one 64 KiB
# block erase (150 ms typical) instead of 16 sector erases (16 x 45 ms).
# Worth it from 5 blocks on: 5 x (45 + 6.4) ms > 150 + 16 x 6.4 ms.
_GROUP_WORTH = 5
_PADDING = b"\xff" * 256
_START = 0x53
_DATA = 0x44
_END = 0x45
_ABORT = 0x58
# The base64 of a frame header (12 bytes: 16 characters) starts with 'p' (0xA7 >> 2 = 41).
_TEXT_HEADER = 16
_TEXT_SYNC = 0x70


def _text_size(n):
    return (n + 2) // 3 * 4


class _Fail(Exception):
    pass


def _forgiving_board():
    # The esp32-ota virtual board (its esp32 module sits on _esp32_hw), unless
    # it runs board-faithful (strict): 64 KiB of stdin, and a program waiting
    # for input wakes when bytes come.
    try:
        import _esp32_hw

        return not _esp32_hw.strict()
    except ImportError:
        return False


def _stdin_capacity():
    # What stdin can hold while Python is busy (e.g. writing flash). A board's
    # UART ring holds 259 bytes (ports/esp32/mphalport.c, stdin_ringbuf_array).
    return 32768 if _forgiving_board() else 256


# What the host sends at the new rate to prove it follows (no sync byte, no Ctrl-C).
_BAUD_PROBE = b"#esp32-ota-baud#"
# After switching, how long the agent waits for the probe; then, back at the
# old rate, how long after the switch it reports the fall back (by then the
# host, which gives up waiting for the answer earlier, is back there too).
_PROBE_MS = 800
_FALLBACK_MS = 1600
# After the last report at the new rate, time for the host to go back first.
_RESTORE_MS = 300


class _Baud:
    # The REPL UART's rate for the transfer. machine.UART(0, baudrate=...)
    # changes the REPL's rate and keeps its interrupt handler and stdin ring
    # (ports/esp32/machine_uart.c v1.23 leaves the REPL UART's driver alone);
    # timeout_char=10 keeps the port's own RX timeout of 10 symbols, and with
    # less it raises OSError after changing the rate. A hard reset always
    # puts back 115200 (uart_stdout_init), so the board cannot be lost.
    def __init__(self, old, target):
        self.old = old
        self.rate = old
        self.target = target

    def _set(self, rate):
        # uart_wait_tx_done fails without a driver: wait out the 128-byte TX FIFO first (and some).
        time.sleep_ms(128 * 10 * 1000 // self.rate + 20)
        import machine

        machine.UART(0, baudrate=rate, timeout_char=10)
        self.rate = rate

    def switch(self, link):
        # Announce at the old rate, switch, and wait for the host's probe at
        # the new one; without it, go back to the old rate and say so there.
        if link.poller is None:
            print("@B fail", self.old)
            return
        print("@B", self.target)
        self._set(self.target)
        start = time.ticks_ms()
        if link.wait_for(_BAUD_PROBE, _PROBE_MS):
            print("@B ok", self.target)
            return
        self._set(self.old)
        time.sleep_ms(max(0, _FALLBACK_MS - time.ticks_diff(time.ticks_ms(), start)))
        link.discard()
        print()
        print("@B fail", self.old)

    def restore(self):
        if self.rate != self.old:
            time.sleep_ms(_RESTORE_MS)
            self._set(self.old)


class _Link:
    # Reads stdin in pieces of at most a quarter of the window and tells the
    # host how much it has consumed before the host could run out of window
    # (room comes back in small steps, so a slow round trip idles the link less).
    def __init__(self, window, idle_ms):
        self.stdin = sys.stdin.buffer
        self.piece = max(window // 4, 1)
        self.consumed = 0
        self.reported = 0
        self.idle_ms = idle_ms
        self.quiet_ms = min(200, idle_ms // 4)
        self.on_quiet = None
        # Microseconds spent waiting for stdin (reported in @T).
        self.wait_us = 0
        self.poller = None
        if select is not None and idle_ms > 0:
            self.poller = select.poll()
            self.poller.register(sys.stdin, select.POLLIN)

    def say(self, text):
        print(text, self.consumed)
        self.reported = self.consumed

    def wait_for(self, marker, ms):
        # Reads (outside the frame stream's count) until `marker` has come, at most ms.
        seen = b""
        one = bytearray(1)
        deadline = time.ticks_add(time.ticks_ms(), ms)
        while True:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0 or not self.poller.poll(left):
                return False
            self.stdin.readinto(one)
            seen = (seen + one)[-len(marker) :]
            if seen == marker:
                return True

    def discard(self):
        one = bytearray(1)
        while self.poller.poll(20):
            self.stdin.readinto(one)

    def read_into(self, mv, step=0):
        # A read of k bytes blocks until all k are there: the idle timeout is
        # only checked between pieces. step=1 (used while lost) never blocks.
        n = len(mv)
        got = 0
        while got < n:
            if self.consumed - self.reported >= self.piece:
                self.say("@C")
            k = min(n - got, step or self.piece)
            t = time.ticks_us()
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
            self.wait_us += time.ticks_diff(time.ticks_us(), t)
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
    # With text=1 a frame arrives as base64 and the reader slides over the
    # characters; `raw` holds the header as it comes on the link.
    def __init__(self, link, window, text):
        self.link = link
        link.on_quiet = self._quiet
        self.text = text
        self.header = bytearray(_HEADER)
        self.hmv = memoryview(self.header)
        if text:
            self.renak = window + _TEXT_HEADER + _text_size(_MAX_PAYLOAD)
            self.raw = bytearray(_TEXT_HEADER)
            self.sync = _TEXT_SYNC
            self.payload = bytearray(_text_size(_MAX_PAYLOAD))
        else:
            self.renak = window + _HEADER + _MAX_PAYLOAD
            self.raw = self.header
            self.sync = _SYNC
            self.payload = bytearray(_MAX_PAYLOAD)
        self.rmv = memoryview(self.raw)
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

    def _header_ok(self):
        h = self.header
        if self.text:
            try:
                d = binascii.a2b_base64(self.raw)
            except Exception:
                return False
            if len(d) != _HEADER:
                return False
            h[:] = d
        return h[0] == _SYNC and binascii.crc32(self.hmv[0:10]) & 0xFFFF == h[10] | h[11] << 8

    def _read_payload(self, n):
        # The payload, or None when its base64 is damaged.
        if not self.text:
            pmv = self.pmv[0:n]
            self._read(pmv)
            return pmv
        tmv = self.pmv[0 : _text_size(n)]
        self._read(tmv)
        try:
            d = binascii.a2b_base64(tmv)
        except Exception:
            return None
        return d if len(d) == n else None

    def next(self):
        # While lost (after a NAK) the stream is read byte by byte: a stale
        # agent then times out even when its host died mid-frame and a new
        # host sends only a few bytes (see the takeover in transfer.ts).
        h = self.header
        raw = self.raw
        link = self.link
        size = len(raw)
        self._read(self.rmv)
        while True:
            start = link.consumed - size
            if self._header_ok():
                kind = h[1]
                seq = h[2] | h[3] << 8
                n = h[4] | h[5] << 8
                if n <= _MAX_PAYLOAD:
                    pmv = self._read_payload(n)
                    good = pmv is not None and binascii.crc32(pmv) == struct.unpack_from("<I", h, 6)[0]
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
                    self._read(self.rmv)
                    continue
            self._trouble(start)
            i = bytes(self.rmv[1:]).find(bytes((self.sync,))) + 1
            if i == 0:
                link.read_into(self.rmv, 1)
            else:
                raw[0 : size - i] = raw[i:size]
                link.read_into(self.rmv[size - i :], 1)


class _Writer:
    # 4 KiB blocks into the partition, with a running SHA-256 of the image in
    # block order: blocks that the host did not send (kept by a resume) are
    # read back from flash into the hash. Blocks are collected in a buffer of
    # `group` blocks and written with one writeblocks() when a whole 64 KiB
    # flash block is there (esp32.Partition erases len(buf), and ESP-IDF
    # erases an aligned 64 KiB range with one block erase); otherwise (a run
    # that starts or ends inside a group, a failure) each block on its own.
    def __init__(self, part, length, group):
        self.part = part
        self.length = length
        self.count = (length + _BLOCK - 1) // _BLOCK
        self.blocks = part.info()[3] // _BLOCK
        self.group = 1
        buf = None
        if group > 1:
            try:
                buf = bytearray(group * _BLOCK)
                self.group = group
            except MemoryError:
                pass
        if buf is None:
            buf = bytearray(_BLOCK)
        self.buf = memoryview(buf)
        # For reads (CRCs, kept blocks, read-back): only used while nothing is pending.
        self.block = self.buf[0:_BLOCK]
        self.pending = 0
        self.sha = hashlib.sha256()
        self.pos = 0
        self.hashed = 0
        self.stream = None
        self.decoder = None
        self.written = 0
        # Microseconds in writeblocks (reported in @T).
        self.flash_us = 0

    def size_of(self, index):
        return min(_BLOCK, self.length - index * _BLOCK)

    def hash_kept(self, upto):
        while self.pos < upto:
            n = self.size_of(self.pos)
            self.part.readblocks(self.pos, self.block)
            self.sha.update(self.block[0:n])
            self.hashed += n
            self.pos += 1

    def start(self, payload):
        first, mode, wbits = struct.unpack("<IBB", payload)
        if first < self.pos or first >= self.count:
            raise _Fail("protocol", "run start %d out of order (at %d of %d)" % (first, self.pos, self.count))
        self.flush()
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
        at = self.pending * _BLOCK
        out = self.buf[at : at + n]
        if self.decoder is None:
            if len(payload) != n:
                raise _Fail("protocol", "block %d: %d bytes, expected %d" % (self.pos, len(payload), n))
            out[0:n] = payload
        else:
            s = self.stream
            s.seek(0)
            s.write(payload)
            s.seek(0)
            try:
                got = self.decoder.readinto(out)
            except (OSError, EOFError) as e:
                raise _Fail("deflate", "block %d does not decompress: %r" % (self.pos, e))
            # The decoder must take the whole piece (the last one may end with the
            # final end-of-block code, which the decoder never needs to read).
            used = s.tell()
            if got != n or used > len(payload) or (used < len(payload) and self.pos < self.count - 1):
                raise _Fail("deflate", "block %d: %d bytes from %d of %d" % (self.pos, got, used, len(payload)))
        self.sha.update(out)
        self.hashed += n
        self.pending += 1
        self.pos += 1
        if self.pos % self.group == 0 or self.pos == self.count:
            self.flush()

    def flush(self):
        # Writes the pending blocks: as one group when they fill (or end the
        # image in) a whole aligned group inside the partition, else one by one.
        k = self.pending
        if k == 0:
            return
        first = self.pos - k
        g = self.group
        whole = g > 1 and first % g == 0 and first + g <= self.blocks and (k == g or (self.pos == self.count and k >= _GROUP_WORTH))
        buf = self.buf
        i = (k - 1) * _BLOCK + self.size_of(self.pos - 1)
        end = g * _BLOCK if whole else k * _BLOCK
        while i < end:
            m = min(end - i, len(_PADDING))
            buf[i : i + m] = _PADDING[0:m]
            i += m
        t = time.ticks_us()
        if whole:
            self.part.writeblocks(first, buf)
        else:
            for i in range(k):
                self.part.writeblocks(first + i, buf[i * _BLOCK : (i + 1) * _BLOCK])
        self.flash_us += time.ticks_diff(time.ticks_us(), t)
        self.written += min(k * _BLOCK, self.length - first * _BLOCK)
        self.pending = 0

    def end(self, payload):
        length, = struct.unpack_from("<I", payload, 0)
        expected = binascii.hexlify(payload[4:36]).decode()
        if length != self.length:
            raise _Fail("length", "the end frame says %d bytes, the agent was told %d" % (length, self.length))
        self.flush()
        self.hash_kept(self.count)
        got = binascii.hexlify(self.sha.digest()).decode()
        if self.hashed != length:
            raise _Fail("length", "received %d bytes of %d" % (self.hashed, length))
        if got != expected:
            raise _Fail("sha", "received data has SHA-256 %s, expected %s" % (got, expected))
        sha = hashlib.sha256()
        for i in range(self.count):
            self.part.readblocks(i, self.block)
            sha.update(self.block[0 : self.size_of(i)])
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
        # Blocks come in order, one or a group at a time; the last is cut to the file's length.
        if self.file is None:
            self.file = open(self.temp, "wb")
        self.file.write(memoryview(buf)[0 : min(len(buf), self.length - index * _BLOCK)])

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


def _run(target, length, window, idle_ms, resume, group, text, baud):
    part = _partition(target, length)
    if isinstance(part, _FileTarget):
        done = False
        try:
            sha = _receive(part, length, window, idle_ms, resume, group, text, baud)
            done = True
        finally:
            part.finish(done)
    else:
        sha = _receive(part, length, window, idle_ms, resume, group, text, baud)
    print("@E", sha, length)


def _receive(part, length, window, idle_ms, resume, group, text, baud):
    info = part.info()
    if length > info[3]:
        if info[4] == "file":
            raise _Fail("nospace", "the file has %d bytes, the filesystem has %d free" % (length, info[3]))
        raise _Fail("toosmall", "the image has %d bytes, partition %s only %d" % (length, info[4], info[3]))
    if window <= 0:
        window = _stdin_capacity()
    writer = _Writer(part, length, group)
    link = _Link(window, idle_ms)
    frames = _Frames(link, window, text)
    gc.collect()
    print(
        "@H %d win=%d max=%d mem=%d deflate=%d part=%s addr=%d size=%d blocks=%d group=%d framing=%s"
        % (_VERSION, window, _MAX_PAYLOAD, gc.mem_free(), deflate is not None, info[4], info[2], info[3], writer.count, writer.group, "base64" if text else "binary")
    )
    if resume:
        _report_crcs(part, writer.count, writer.block)
    if baud.target:
        baud.switch(link)
    print("@R")
    start = time.ticks_us()
    try:
        while True:
            kind, payload = frames.next()
            seq = frames.expected - 1
            if kind == _START:
                writer.start(payload)
            elif kind == _DATA:
                writer.data(payload)
            elif kind == _END:
                sha = writer.end(payload)
                # Where the agent's time went, for the benchmark: waiting for stdin, writing flash, all.
                print("@T wait=%d flash=%d total=%d" % (link.wait_us, writer.flash_us, time.ticks_diff(time.ticks_us(), start)))
                return sha
            else:
                raise _Fail("protocol", "unknown frame type %d" % kind)
            # A data frame's block is decoded; it is in flash once its group is written.
            link.say("@A %d %d" % (seq, frames.start))
    except _Fail:
        # The blocks received so far are good: keep them for a resume.
        writer.flush()
        raise


# A read that finds stdin empty sleeps until something wakes MicroPython's
# main task or the next FreeRTOS tick (10 ms). The REPL UART's interrupt
# handler wakes nothing (ports/esp32/uart.c), and at 921,600 baud 10 ms is
# 920 bytes: the agent would take at most one ring of 259 bytes per tick. A
# timer alarm wakes the task (machine_timer.c): one every millisecond, for
# the transfer. Timer 2 (group 1, timer 0) is there on every ESP32 chip.
_WAKER_TIMER = 2


def _wake(timer):
    pass


def _start_waker():
    if _forgiving_board():
        return None
    try:
        import machine

        return machine.Timer(_WAKER_TIMER, mode=machine.Timer.PERIODIC, period=1, callback=_wake)
    except Exception:
        return None


def _main(target, length, window, idle_ms, resume, group, text, baud=0, old_baud=0):
    micropython.kbd_intr(-1)
    rate = _Baud(old_baud, baud)
    waker = _start_waker()
    try:
        _run(target, length, window, idle_ms, resume, group, text, rate)
    except _Fail as e:
        print("@F", e.args[0], e.args[1])
    except MemoryError as e:
        print("@F nomem", repr(e))
    except OSError as e:
        print("@F flash", repr(e))
    except Exception as e:
        print("@F agent", repr(e))
    finally:
        if waker is not None:
            waker.deinit()
        rate.restore()
        micropython.kbd_intr(3)
