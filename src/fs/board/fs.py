# esp32-ota fs on a board: helpers defined once per connection through the
# raw REPL, then called by one-line commands from src/fs/board-store.ts.
# Each prints one JSON line, except _fso_get, which prints report lines:
#   @S <size>                 the file's size
#   @G <crc32> <hex> <read>   a piece of the (deflate-compressed) stream; file bytes read so far
#   @E <sha256> <size>        the end: SHA-256 and length of the file read
# Errors are raised as the board raises them (OSError with its errno).
import os
import json


def _fso_entry(path):
    st = os.stat(path)
    is_dir = st[0] & 0x4000
    return [path, "dir" if is_dir else "file", 0 if is_dir else st[6], st[8]]


def _fso_stat(path):
    try:
        print(json.dumps(_fso_entry(path)))
    except OSError as e:
        if e.args[0] != 2:
            raise
        print("null")


def _fso_children(path):
    prefix = "/" if path == "/" else path + "/"
    return sorted([_fso_entry(prefix + e[0]) for e in os.ilistdir(path)])


def _fso_list(path):
    print(json.dumps(_fso_children(path)))


def _fso_walk(path):
    out = []
    todo = [path]
    while todo:
        for entry in _fso_children(todo.pop()):
            out.append(entry)
            if entry[1] == "dir":
                todo.append(entry[0])
    print(json.dumps(out))


def _fso_usage():
    st = os.statvfs("/")
    print(json.dumps([st[0], st[2], st[2] - st[3], st[3]]))


def _fso_get(path, wbits):
    import binascii
    import hashlib

    class _Lines:
        # What the compressor writes, as CRC-checked hex lines of up to 512 bytes.
        def __init__(self):
            self.buf = bytearray()
            self.read = 0

        def write(self, data):
            self.buf.extend(data)
            if len(self.buf) >= 512:
                self.flush()
            return len(data)

        def flush(self):
            if self.buf:
                print("@G %08x %s %d" % (binascii.crc32(self.buf), binascii.hexlify(self.buf).decode(), self.read))
                self.buf = bytearray()

    size = os.stat(path)[6]
    print("@S", size)
    lines = _Lines()
    sink = lines
    if wbits:
        import io
        import deflate

        class _Out(io.IOBase):
            def write(self, data):
                return lines.write(data)

        sink = deflate.DeflateIO(_Out(), deflate.RAW, wbits)
    sha = hashlib.sha256()
    buf = bytearray(1024)
    mv = memoryview(buf)
    total = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            sha.update(mv[0:n])
            total += n
            lines.read = total
            sink.write(mv[0:n])
    if wbits:
        sink.close()
    lines.flush()
    print("@E", binascii.hexlify(sha.digest()).decode(), total)
