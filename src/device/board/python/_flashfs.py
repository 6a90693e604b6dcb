# The virtual ESP32's / : littlefs v2 in the vfs partition, as VfsLfs2 keeps it
# on a board. The filesystem itself is TypeScript (src/format/littlefs, run by
# _esp32_hw on the flash model); this is the user VFS object MicroPython mounts
# (vfs.mount), with the methods extmod/vfs.c calls, and its file objects.
# Errors are OSError with the errno a board raises (ENOENT 2, EEXIST 17, ...).
import io
import uctypes
import _esp32_hw as _hw


def _check(result):
    if isinstance(result, int) and result < 0:
        raise OSError(-result)
    return result


class _File(io.IOBase):
    def __init__(self, handle, text):
        self._h = handle
        self._text = text

    def __repr__(self):
        return "<io.TextIOWrapper>" if self._text else "<io.FileIO>"

    def _open(self):
        if self._h < 0:
            raise ValueError("I/O operation on closed file")
        return self._h

    def readinto(self, buf, n=-1):
        mv = memoryview(buf)
        if 0 <= n < len(mv):
            mv = mv[:n]
        if not len(mv):
            return 0
        return _check(_hw.lfs_read(self._open(), uctypes.addressof(mv), len(mv)))

    def read(self, n=-1):
        if n is None or n < 0:
            n = max(_check(_hw.lfs_size(self._open())) - _check(_hw.lfs_tell(self._h)), 0)
        buf = bytearray(n)
        got = self.readinto(buf)
        data = bytes(buf) if got == n else bytes(memoryview(buf)[:got])
        return data.decode() if self._text else data

    def readline(self, limit=-1):
        out = bytearray()
        one = bytearray(1)
        while limit < 0 or len(out) < limit:
            if not self.readinto(one):
                break
            out.extend(one)
            if one[0] == 10:
                break
        return out.decode() if self._text else bytes(out)

    def readlines(self):
        return list(self)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        mv = memoryview(data)
        if not len(mv):
            return 0
        return _check(_hw.lfs_write(self._open(), uctypes.addressof(mv), len(mv)))

    def seek(self, offset, whence=0):
        return _check(_hw.lfs_seek(self._open(), offset, whence))

    def tell(self):
        return _check(_hw.lfs_tell(self._open()))

    def flush(self):
        _check(_hw.lfs_sync(self._open()))

    def truncate(self, size=None):
        return _check(_hw.lfs_truncate(self._open(), self.tell() if size is None else size))

    def ioctl(self, request, arg):
        # MP_STREAM_FLUSH 1, MP_STREAM_SEEK 2 (not used by Python code), MP_STREAM_CLOSE 4
        if request == 1:
            self.flush()
            return 0
        if request == 4:
            self.close()
            return 0
        return -22

    def close(self):
        if self._h >= 0:
            handle = self._h
            self._h = -1
            _check(_hw.lfs_close(handle))

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __del__(self):
        self.close()


class FlashFs:
    def __init__(self):
        self._cwd = "/"

    def _path(self, path):
        if isinstance(path, bytes):
            path = path.decode()
        if not path.startswith("/"):
            path = self._cwd.rstrip("/") + "/" + path
        parts = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def open(self, path, mode):
        handle = _check(_hw.lfs_open(self._path(path), mode))
        return _File(handle, "b" not in mode)

    def ilistdir(self, path):
        listing = _check(_hw.lfs_listdir(self._path(path)))
        entries = []
        for line in listing.split("\n"):
            if line:
                kind, size, name = line.split(" ", 2)
                if isinstance(path, bytes):
                    name = name.encode()
                entries.append((name, 0x4000 if kind == "d" else 0x8000, 0, int(size)))
        return iter(entries)

    def stat(self, path):
        kind, size, mtime = _check(_hw.lfs_stat(self._path(path))).split(" ")
        return (0x4000 if kind == "d" else 0x8000, 0, 0, 0, 0, 0, int(size), int(mtime), int(mtime), int(mtime))

    def mkdir(self, path):
        _check(_hw.lfs_mkdir(self._path(path)))

    # Both remove a file or an empty directory, as VfsLfs2's (lfs_remove).
    def remove(self, path):
        _check(_hw.lfs_remove(self._path(path)))

    def rmdir(self, path):
        _check(_hw.lfs_remove(self._path(path)))

    def rename(self, old, new):
        _check(_hw.lfs_rename(self._path(old), self._path(new)))

    def chdir(self, path):
        path = self._path(path)
        if self.stat(path)[0] != 0x4000:
            raise OSError(20)
        self._cwd = path

    def getcwd(self):
        return self._cwd

    def statvfs(self, path):
        bsize, blocks, free = [int(x) for x in _hw.lfs_statvfs().split(" ")]
        return (bsize, bsize, blocks, free, free, 0, 0, 0, 0, 255)
