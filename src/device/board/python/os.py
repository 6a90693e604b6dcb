# os of the esp32-ota virtual ESP32: MicroPython's own os (the filesystem at /
# raises an ESP32's errno numbers by itself, see _flashfs.py) plus what the
# ESP32 port's os has and the WebAssembly build lacks.
import os as _os

for _name in dir(_os):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_os, _name)
del _name


def sync():
    # As extmod/modos.c: every mounted filesystem that has sync() is synced.
    # littlefs (VfsLfs2 on a board, _flashfs here) has none: a file is on the
    # flash once it is flushed or closed.
    import vfs

    for mounted in vfs.mount():
        flush = getattr(mounted[0], "sync", None)
        if flush:
            flush()
