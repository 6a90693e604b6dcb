# os of the esp32-ota virtual ESP32: MicroPython's own os, but filesystem errors
# carry the errno numbers of an ESP32 (newlib). The WebAssembly build's VfsPosix
# passes on Emscripten's numbers (ENOENT is 44 there, 2 on a board), and host
# tools such as mpremote compare them with the board's.
import builtins
import os as _os

# Emscripten (WASI) errno -> ESP32 newlib errno
_BOARD_ERRNO = {
    2: 13,  # EACCES
    6: 11,  # EAGAIN
    8: 9,  # EBADF
    20: 17,  # EEXIST
    28: 22,  # EINVAL
    29: 5,  # EIO
    31: 21,  # EISDIR
    37: 91,  # ENAMETOOLONG
    44: 2,  # ENOENT
    48: 12,  # ENOMEM
    51: 28,  # ENOSPC
    54: 20,  # ENOTDIR
    55: 90,  # ENOTEMPTY
    63: 1,  # EPERM
    69: 30,  # EROFS
    75: 18,  # EXDEV
}


def _with_board_errno(function):
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except OSError as error:
            code = error.args[0] if error.args else None
            if code in _BOARD_ERRNO:
                raise OSError(_BOARD_ERRNO[code])
            raise

    return call


def _board_stat(path):
    # littlefs on a board: mode is the file type alone, no inode or owner, times in seconds
    st = _os.stat(path)
    return (st[0] & 0xF000, 0, 0, 0, 0, 0, st[6], st[7], st[8], st[9])


def _board_ilistdir(path="."):
    # littlefs entries are (name, type, inode 0, size); VfsPosix gives no size
    # Read eagerly, so a missing directory fails here, inside the errno translation.
    prefix = "" if path in ("", ".") else path.rstrip("/") + "/"
    entries = [(e[0], e[1], 0, _os.stat(prefix + e[0])[6] if e[1] == 0x8000 else 0) for e in _os.ilistdir(path)]
    return iter(entries)


for _name in dir(_os):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_os, _name)
for _name in ("chdir", "getcwd", "listdir", "mkdir", "remove", "rename", "rmdir", "statvfs"):
    if hasattr(_os, _name):
        globals()[_name] = _with_board_errno(getattr(_os, _name))
stat = _with_board_errno(_board_stat)
ilistdir = _with_board_errno(_board_ilistdir)
builtins.open = _with_board_errno(builtins.open)
del _name


def sync():
    # Saves the files to the vfs partition now (they are also saved after every REPL command).
    import _esp32_hw

    _esp32_hw.fs_sync()
