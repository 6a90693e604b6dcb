# errno of the esp32-ota virtual ESP32: the numbers of the ESP32 port (newlib's
# sys/errno.h), not those of the WebAssembly build (WASI numbering), so that
# `e.errno == errno.ETIMEDOUT` holds for the OSErrors the board's modules raise.
EPERM = 1
ENOENT = 2
EIO = 5
EBADF = 9
EAGAIN = 11
ENOMEM = 12
EACCES = 13
EEXIST = 17
ENODEV = 19
EISDIR = 21
EINVAL = 22
ENOSPC = 28
EROFS = 30
EPIPE = 32
ENOTEMPTY = 90
ENAMETOOLONG = 91
EOPNOTSUPP = 95
ECONNRESET = 104
ENOBUFS = 105
ECONNREFUSED = 111
EADDRINUSE = 112
ECONNABORTED = 113
ETIMEDOUT = 116
EHOSTUNREACH = 118
EINPROGRESS = 119
EALREADY = 120
ENOTCONN = 128

errorcode = {value: name for name, value in globals().items() if name.startswith("E")}
